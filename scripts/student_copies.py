"""Write student copies of the lessons: the same notebooks with the exercise answers blanked.

    python scripts/student_copies.py                      # notebooks/*.ipynb -> student/
    python scripts/student_copies.py --out DIR a.ipynb …  # chosen notebooks -> DIR

The saved lessons hold working reference answers (so the automatic tests can run them). Answers
are marked in the code:

* a line ending in ``# ANSWER`` becomes ``name = ...  # YOUR ANSWER`` (or ``...  # YOUR ANSWER``
  when the line is not an assignment);
* the lines between ``# BEGIN ANSWER`` and ``# END ANSWER`` become one ``# YOUR CODE HERE``;
* a markdown cell tagged ``answer`` becomes "*Your answer here.*".

A cell with an answer loses its outputs (they would show the answer) and its execution count, and
is shown expanded (the saved lessons collapse answer cells with JupyterLab's ``source_hidden``).
Every other cell is copied unchanged, outputs included. A code cell tagged ``answer`` without any
marker is an error, so an answer cannot slip through unmarked.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(?P<indent>\s*)(?P<code>.*?)\s*#\s*ANSWER\s*$")
ASSIGNMENT = re.compile(r"^(?P<target>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)")
BEGIN = re.compile(r"^(?P<indent>\s*)#\s*BEGIN ANSWER\s*$")
END = re.compile(r"^\s*#\s*END ANSWER\s*$")
PLACEHOLDER = "# YOUR ANSWER"
CODE_PLACEHOLDER = "# YOUR CODE HERE"
MARKDOWN_PLACEHOLDER = "*Your answer here.*"


def blank_source(source: str) -> tuple[str, bool]:
    """(source with every answer blanked, whether there was any answer)."""
    out: list[str] = []
    found = False
    block_indent: str | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        if block_indent is not None:
            if BEGIN.match(line):
                raise ValueError(f"line {number}: '# BEGIN ANSWER' inside another answer block")
            if END.match(line):
                out.append(f"{block_indent}{CODE_PLACEHOLDER}")
                block_indent = None
            continue
        if (begin := BEGIN.match(line)) is not None:
            block_indent, found = begin["indent"], True
            continue
        if END.match(line):
            raise ValueError(f"line {number}: '# END ANSWER' without '# BEGIN ANSWER'")
        if (answer := LINE.match(line)) is not None and "BEGIN ANSWER" not in line:
            found = True
            target = ASSIGNMENT.match(answer["code"])
            if target is not None:
                names = [n.strip() for n in target["target"].split(",")]
                value = ", ".join("..." for _ in names)
                out.append(f"{answer['indent']}{', '.join(names)} = {value}  {PLACEHOLDER}")
            else:
                out.append(f"{answer['indent']}...  {PLACEHOLDER}")
            continue
        out.append(line)
    if block_indent is not None:
        raise ValueError("'# BEGIN ANSWER' without '# END ANSWER'")
    return "\n".join(out), found


def _expand(cell) -> None:
    """Show a blanked cell: the reference collapses its answer, the student fills it in."""
    view = cell.metadata.get("jupyter", {})
    view.pop("source_hidden", None)
    view.pop("outputs_hidden", None)
    if "jupyter" in cell.metadata and not view:
        del cell.metadata["jupyter"]


def student_copy(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` with its answers blanked, and the number of cells that had answers."""
    nb = nbformat.from_dict(nb)  # a deep copy: the reference notebook is never modified
    blanked = 0
    for index, cell in enumerate(nb.cells):
        tagged = "answer" in cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            if tagged:
                cell.source = MARKDOWN_PLACEHOLDER
                _expand(cell)
                blanked += 1
            continue
        if cell.cell_type != "code":
            continue
        try:
            source, found = blank_source(cell.source)
        except ValueError as exc:
            raise ValueError(f"cell {index} ({cell.get('id', '?')}): {exc}") from None
        if tagged and not found:
            raise ValueError(f"cell {index} ({cell.get('id', '?')}) is tagged 'answer' but has no "
                             f"'# ANSWER' or '# BEGIN ANSWER' marker")
        if found:
            cell.source = source
            cell.outputs = []
            cell.execution_count = None
            _expand(cell)
            blanked += 1
    return nb, blanked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="output folder (default: student/)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        parser.error("no notebooks found")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        if path.resolve().parent == args.out.resolve():
            parser.error(f"{path} is already in the output folder {args.out}")
        nb, blanked = student_copy(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        target = args.out / path.name
        nbformat.write(nb, target)
        print(f"{target}: {blanked} answer cell(s) blanked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
