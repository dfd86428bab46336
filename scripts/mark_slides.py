"""Mark slide boundaries in lessons 01-04 for presenting them with jupyterlab-rise.

    python scripts/mark_slides.py [notebooks/01_*.ipynb ...]

Rule: the title cell and every "## " section heading start a slide; every other text cell starts
a sub-slide (the next screen of that section: one idea, then the code and figure that show it);
code cells continue the screen they follow. Space walks through them all in lesson order. Run again
after editing a lesson.
Only cell metadata changes; sources and outputs stay as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("0[1-4]_*.ipynb"))


def slide_type(cell) -> str:
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        if first.startswith("# ") or first.startswith("## "):
            return "slide"
        return "subslide"
    return "-"


def mark(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    changed = 0
    for i, cell in enumerate(nb.cells):
        kind = "slide" if i == 0 else slide_type(cell)
        if cell.metadata.get("slideshow", {}).get("slide_type") != kind:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed += 1
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    for p in [Path(a) for a in sys.argv[1:]] or LESSONS:
        print(f"{p.name}: {mark(p)} cell(s) marked")
