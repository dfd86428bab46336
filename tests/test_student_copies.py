"""`make student` writes copies of the lessons with the answers blanked and everything else kept."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "student_copies.py"
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MY_LESSONS = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))

spec = importlib.util.spec_from_file_location("student_copies", SCRIPT)
student_copies = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_copies)


def _notebook():
    done = new_output("stream", name="stdout", text="✓ Correct.\n")
    return new_notebook(cells=[
        new_markdown_cell("# A lesson"),
        new_code_cell("x = 1 + 1\nx", outputs=[new_output("execute_result", data={"text/plain": "2"},
                                                           execution_count=1)], execution_count=1),
        new_code_cell("import math\n"
                      "answer = math.sqrt(16)  # ANSWER\n"
                      "check(answer)", outputs=[done], execution_count=2,
                      metadata={"tags": ["answer"]}),
        new_code_cell("# BEGIN ANSWER\n"
                      "def helper(n):\n"
                      "    return n * 2\n"
                      "# END ANSWER\n"
                      "for i in range(2):\n"
                      "    values, total = [helper(i)], helper(i)  # ANSWER\n"
                      "print(sorted(values))  # ANSWER\n"
                      "check(values)", outputs=[done], execution_count=3),
        new_markdown_cell("The answer is 4 because ...", metadata={"tags": ["answer"]}),
        new_code_cell("y = x == 2  # a comparison, not an answer\ny", execution_count=4),
    ])


def test_answers_are_blanked_and_everything_else_kept():
    nb = _notebook()
    student, blanked = student_copies.student_copy(nb)
    assert blanked == 3
    assert len(student.cells) == len(nb.cells)
    for i in (0, 1, 5):  # untouched cells: source, outputs, counts
        assert student.cells[i] == nb.cells[i]
    assert student.cells[2].source == "import math\nanswer = ...  # YOUR ANSWER\ncheck(answer)"
    assert student.cells[3].source == ("# YOUR CODE HERE\n"
                                       "for i in range(2):\n"
                                       "    values, total = ..., ...  # YOUR ANSWER\n"
                                       "...  # YOUR ANSWER\n"
                                       "check(values)")
    assert student.cells[4].source == "*Your answer here.*"
    for cell in student.cells[2:4]:
        assert cell.outputs == [] and cell.execution_count is None
        assert "sqrt" not in cell.source and "helper" not in cell.source and "sorted" not in cell.source
    assert nb.cells[2].outputs and "sqrt" in nb.cells[2].source  # the reference is not modified
    nbformat.validate(student)


def test_a_blanked_answer_runs_into_the_checker():
    from effnet_lab.lessons import exercises

    source, found = student_copies.blank_source("n_blocks = 26  # ANSWER\nexercises.check_b3_blocks(n_blocks)")
    assert found
    with pytest.raises(NotImplementedError, match="replace the `...`"):
        exec(source, {"exercises": exercises})


@pytest.mark.parametrize("source, message", [
    ("# BEGIN ANSWER\nx = 1", "without '# END ANSWER'"),
    ("x = 1\n# END ANSWER", "without '# BEGIN ANSWER'"),
    ("# BEGIN ANSWER\n# BEGIN ANSWER\n# END ANSWER", "inside another"),
])
def test_unbalanced_blocks_are_errors(source, message):
    with pytest.raises(ValueError, match=message):
        student_copies.blank_source(source)


def test_an_unmarked_answer_cell_is_an_error():
    nb = new_notebook(cells=[new_code_cell("x = 4", metadata={"tags": ["answer"]})])
    with pytest.raises(ValueError, match="tagged 'answer' but has no"):
        student_copies.student_copy(nb)


def test_the_lessons_blank_into_student_copies(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), *map(str, LESSONS)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.count("blanked") == len(LESSONS)
    for path in LESSONS:
        reference = nbformat.read(path, as_version=4)
        student = nbformat.read(tmp_path / path.name, as_version=4)
        nbformat.validate(student)
        assert len(student.cells) == len(reference.cells)
        assert student.metadata == reference.metadata
        answers = 0
        for ref, stu in zip(reference.cells, student.cells):
            if "ANSWER" not in ref.source and "answer" not in ref.get("metadata", {}).get("tags", []):
                assert stu == ref
                continue
            answers += 1
            assert "# ANSWER" not in stu.source and "BEGIN ANSWER" not in stu.source
            assert stu.get("outputs", []) == []
            for line in ref.source.splitlines():  # no answer expression survives
                if line.rstrip().endswith("# ANSWER") and "=" in line:
                    assert line.split("=", 1)[1].split("#")[0].strip() not in stu.source
        if path.name in MY_LESSONS:
            assert answers >= 2, f"{path.name} should have code-checked exercises"


def test_every_answer_cell_of_lessons_00_to_04_is_tagged_and_checked():
    for name in MY_LESSONS:
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        for cell in nb.cells:
            if "# ANSWER" in cell.source:
                assert "answer" in cell.metadata.get("tags", []), (name, cell.source)
                assert "exercises.check_" in cell.source or "questions.check_choice" in cell.source, (name, cell.source)
