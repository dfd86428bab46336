"""Re-run lessons top to bottom headlessly and save their outputs (what nbval then checks).

    python scripts/run_notebooks.py [notebooks/04_compound_scaling_explorer.ipynb ...]

With no arguments every notebooks/NN_*.ipynb is run. Run it in the test environment with the
settings `make test` uses (quick mode, Agg backend): `make notebooks` does exactly that.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata.pop("widgets", None)  # live widget state is not documentation
    nbformat.write(nb, path)
    # the wall time is what the lessons' "Time" lines quote (say the load it ran under)
    print(f"ran and saved {path} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        sys.exit(0)
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in paths if p.suffix != ".ipynb" or not p.is_file()]
    if missing:
        sys.exit(f"run_notebooks.py: not a notebook file: {', '.join(missing)}")
    for p in paths:
        run(p)
