"""Every lesson has the same frame: goals and a time at the top; a recap and exercises at the end,
among them at least one "predict, then run" and one "explain why" question checked by code; the
answers collapsed in the saved notebook and blanked (and shown) in the `make student` copy."""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from effnet_lab.lessons import questions

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHOICE = re.compile(r'questions\.check_choice\("(?P<key>[^"]+)"')
TIME = re.compile(r"\*\*Time:\*\*[^\n]*\b\d+\s*min[^\n]*reading[^\n]*\b\d+\s*min[^\n]*running", re.I)

spec = importlib.util.spec_from_file_location("student_copies", ROOT / "scripts" / "student_copies.py")
student_copies = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_copies)


def _markdown(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def test_there_are_nine_lessons():
    assert [p.name[:2] for p in LESSONS] == [f"{i:02d}" for i in range(9)]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_a_lesson_opens_with_goals_and_a_time(path):
    nb = nbformat.read(path, as_version=4)
    opening = "\n".join(_markdown(nb)[:2])
    assert opening.lstrip().startswith("# "), "a lesson starts with its title"
    assert "## Learning goals" in opening
    assert TIME.search(opening), "the opening says how long reading and running take (**Time:** … min reading … min running)"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_a_lesson_ends_with_a_recap_and_exercises(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(_markdown(nb))
    recap, exercises_at = text.rfind("## Recap"), text.rfind("## Exercises")
    assert 0 <= recap < exercises_at, "a recap, then the exercises"
    assert not re.search(r"^## ", text[exercises_at + 1:], flags=re.M), "the exercises are the last section"
    assert "make student" in text[exercises_at:], "the exercises say how to get a blank copy"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_a_lesson_has_checked_predict_and_explain_questions(path):
    nb = nbformat.read(path, as_version=4)
    keys = [m["key"] for c in nb.cells if c.cell_type == "code" for m in CHOICE.finditer(c.source)]
    assert all(k in questions.QUESTIONS for k in keys), keys
    kinds = {questions.QUESTIONS[k].kind for k in keys}
    assert {"predict", "explain"} <= kinds, f"{path.name}: questions of kinds {kinds}"
    asked = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for key in keys:
        assert f'questions.ask("{key}")' in asked, f"{key} is checked but never asked"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_answers_are_collapsed_and_the_student_copy_shows_them_blank(path):
    nb = nbformat.read(path, as_version=4)
    answers = [i for i, c in enumerate(nb.cells) if "answer" in c.metadata.get("tags", [])]
    assert answers
    for i in answers:
        assert nb.cells[i].metadata.get("jupyter", {}).get("source_hidden") is True, f"cell {i} is not collapsed"
    student, blanked = student_copies.student_copy(nb)
    assert blanked == len(answers)
    for i in answers:
        cell = student.cells[i]
        assert "source_hidden" not in cell.metadata.get("jupyter", {}), f"cell {i} stays collapsed in the copy"
        assert "YOUR ANSWER" in cell.source or "YOUR CODE HERE" in cell.source or "Your answer" in cell.source


@pytest.mark.parametrize("key", sorted(questions.QUESTIONS))
def test_every_question_has_a_valid_checked_answer(key, capsys):
    q = questions.QUESTIONS[key]
    assert q.kind in ("predict", "explain") and len(q.options) >= 2
    right = q.correct()
    assert right in q.options
    questions.ask(key)
    printed = capsys.readouterr().out
    assert q.prompt in printed and all(f"({letter}) {text}" in printed for letter, text in q.options.items())
    questions.check_choice(key, right)
    for wrong in set(q.options) - {right}:
        with pytest.raises(AssertionError, match="Hint"):
            questions.check_choice(key, wrong)
    with pytest.raises(NotImplementedError):
        questions.check_choice(key, ...)
