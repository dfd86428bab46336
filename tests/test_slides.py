"""Lessons 01-04 present as slides (jupyterlab-rise): boundaries marked by scripts/mark_slides.py."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mark_slides", ROOT / "scripts" / "mark_slides.py")
mark_slides = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mark_slides)


@pytest.mark.parametrize("path", mark_slides.LESSONS, ids=lambda p: p.name)
def test_lessons_carry_their_slide_boundaries(path):
    nb = nbformat.read(path, as_version=4)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    assert kinds[0] == "slide"
    # exactly what the script would write: run `python scripts/mark_slides.py` after editing a lesson
    assert kinds == ["slide"] + [mark_slides.slide_type(c) for c in nb.cells[1:]]
    assert kinds.count("slide") >= 3 and kinds.count("subslide") >= 5


def test_four_lessons_are_slides():
    assert [p.name[:2] for p in mark_slides.LESSONS] == ["01", "02", "03", "04"]
