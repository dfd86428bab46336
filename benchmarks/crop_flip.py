"""The two ways of cropping and flipping a training batch, on this CPU, side by side.

    python benchmarks/crop_flip.py [--repeats 20] [--threads 1]

``loader.crop_flip`` slices image by image on a CPU; ``loader.gather_crop_flip`` gathers the whole
batch in one indexing call (what a GPU runs). Both give the same pixels (the benchmark checks it).
For a batch of 50 uint8 images at 32 px (CIFAR-10, padding 4) and at 224 px (Imagenette as
decoded, padding 28), interleaved, ``--repeats`` times each; prints the median milliseconds and
the ratio. Run it on an otherwise idle CPU for figures to quote.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from effnet_lab import loader


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    print(f"batch of 50 uint8 images, {args.threads} thread(s), median of {args.repeats}")
    for size, padding in ((32, 4), (224, 28)):
        x = torch.randint(0, 256, (50, 3, size, size), dtype=torch.uint8, generator=g)
        draws = loader.draw_crop_flip(50, padding, g)
        ways = {"slices (CPU path)": lambda: loader.crop_flip(x, padding, draws),
                "one gather (GPU path)": lambda: loader.gather_crop_flip(F.pad(x, (padding,) * 4), draws, size, size)}
        outputs = [way() for way in ways.values()]
        assert torch.equal(*outputs), "the two paths disagree"
        times = {name: [] for name in ways}
        for _ in range(args.repeats):
            for name, way in ways.items():
                start = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - start)
        med = {name: 1000 * statistics.median(t) for name, t in times.items()}
        a, b = med.values()
        print(f"{size:>4} px: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in med.items())
              + f"; the gather takes {b / a:.1f}x as long")


if __name__ == "__main__":
    main()
