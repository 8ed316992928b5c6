"""Quiz checking and the learner's progress record (pure Python; drawn by ui/quiz.py and ui/progress.py).

Progress is one JSON-friendly dict, kept in ``st.session_state["progress"]`` and downloadable as a file:

    {"version": 1, "lessons": {"<lesson id>": {"read": bool, "quiz": {"<question id>": bool}}}}

`quiz[qid]` is present once the learner checked that question, True when the latest check was right. The
database behind it is ``course.progress_store``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from course.lesson_format import Lesson, Question
from course.placeholders import resolve_value

PROGRESS_VERSION = 1
MAX_PROGRESS_BYTES = 1_000_000


class ProgressError(ValueError):
    """An uploaded progress file that is not valid JSON or not in the progress schema (message says why)."""


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str  # one line: what the right answer is; the question's explanation is shown beside it


def expected_answer(question: Question) -> int | float:
    """The right answer: the option index (mc) or the number, computed live when it is a placeholder."""
    if isinstance(question.answer, str):
        return resolve_value(question.answer)
    return question.answer


def numeric_matches(given: float, expected: float, tolerance: float) -> bool:
    """True when `given` is within relative `tolerance` of `expected` (0 → equal up to float rounding)."""
    if not math.isfinite(given):
        return False
    return math.isclose(given, expected, rel_tol=max(tolerance, 1e-9), abs_tol=1e-12)


def parse_number(text: str) -> float | None:
    """A learner's typed number: '1,050,624', '1 050 624', '2.5e9', '0.91' → float; blank → None.

    Raises ValueError with a short hint when the text is not a number.
    """
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "").replace("\u202f", "")
    if not cleaned:
        return None
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError("Type a plain number, for example 1050624, 1,050,624 or 0.91.") from None
    if not math.isfinite(value):
        raise ValueError("Type a finite number.")
    return value


def check_answer(question: Question, response: int | float | None) -> Feedback:
    """Grade one response: an option index for mc, a number for numeric. None → not answered."""
    if response is None:
        return Feedback(False, "Pick or type an answer first.")
    expected = expected_answer(question)
    if question.kind == "mc":
        correct = int(response) == expected
        return Feedback(correct, f"The answer is: {question.options[int(expected)]}")
    correct = numeric_matches(float(response), float(expected), question.tolerance)
    shown = f"{int(expected):,}" if float(expected).is_integer() else f"{expected:,.4g}"
    margin = f" (within {question.tolerance:.0%})" if question.tolerance else ""
    return Feedback(correct, f"The answer is {shown}{' ' + question.unit if question.unit else ''}{margin}.")


# ---------------------------------------------------------------- progress


def empty_progress() -> dict[str, Any]:
    return {"version": PROGRESS_VERSION, "lessons": {}}


def lesson_record(progress: dict[str, Any], lesson_id: str) -> dict[str, Any]:
    """The (created on demand) record of one lesson inside `progress`."""
    return progress["lessons"].setdefault(lesson_id, {"read": False, "quiz": {}})


def set_read(progress: dict[str, Any], lesson_id: str, read: bool) -> None:
    lesson_record(progress, lesson_id)["read"] = bool(read)


def record_answer(progress: dict[str, Any], lesson_id: str, question_id: str, correct: bool) -> None:
    lesson_record(progress, lesson_id)["quiz"][question_id] = bool(correct)


def validate_progress(
    data: Any, known_lessons: Iterable[Lesson] = (), ignored: list[str] | None = None
) -> dict[str, Any]:
    """Check an uploaded progress object against the schema; return a clean copy (unknown lessons dropped).

    Lessons and questions this course does not have are left out and, when `ignored` is a list, named in it
    (``"lesson 'x'"``, ``"question 'l/q'"``). Raises ProgressError with a sentence a learner can act on.
    """
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), dict):
        raise ProgressError('This is not an Attention Lab progress file: expected {"version": 1, "lessons": {...}}.')
    if data.get("version") != PROGRESS_VERSION:
        raise ProgressError(f"Unsupported progress file version {data.get('version')!r} (expected {PROGRESS_VERSION}).")
    known = {x.id: {q.id for q in x.quiz} for x in known_lessons}
    clean = empty_progress()
    for lesson_id, record in data["lessons"].items():
        if not isinstance(record, dict) or not isinstance(record.get("read", False), bool):
            raise ProgressError(f"Lesson {lesson_id!r}: expected {{'read': true/false, 'quiz': {{...}}}}.")
        quiz = record.get("quiz", {})
        if not isinstance(quiz, dict) or not all(isinstance(v, bool) for v in quiz.values()):
            raise ProgressError(f"Lesson {lesson_id!r}: 'quiz' must map question ids to true/false.")
        if known and lesson_id not in known:
            if ignored is not None:
                ignored.append(f"lesson {lesson_id!r}")
            continue
        keep = {q: v for q, v in quiz.items() if not known or q in known[lesson_id]}
        if ignored is not None:
            ignored.extend(f"question '{lesson_id}/{q}'" for q in quiz if q not in keep)
        clean["lessons"][lesson_id] = {"read": record.get("read", False), "quiz": keep}
    return clean


def progress_to_json(progress: dict[str, Any]) -> str:
    return json.dumps(progress, indent=2, sort_keys=True)


def progress_from_json(
    raw: bytes | str, known_lessons: Iterable[Lesson] = (), ignored: list[str] | None = None
) -> dict[str, Any]:
    """Parse and validate an uploaded progress file (raises ProgressError, never anything else); what the course
    does not know is left out and named in `ignored` (see :func:`validate_progress`)."""
    if len(raw) > MAX_PROGRESS_BYTES:
        raise ProgressError("This file is too large to be a progress file.")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProgressError(f"The file is not valid JSON ({err}).") from None
    return validate_progress(data, known_lessons, ignored)


@dataclass(frozen=True)
class LessonProgress:
    """One lesson's counts in a learner's progress."""

    lesson: Lesson
    read: bool
    questions: int
    answered: int  # questions checked at least once
    correct: int  # questions whose latest check was right

    @property
    def finished(self) -> bool:
        """Read, and every question checked at least once."""
        return self.read and self.answered == self.questions


def lesson_progress(progress: dict[str, Any], lessons: Iterable[Lesson]) -> list[LessonProgress]:
    """Per-lesson counts of `progress`, in the order of `lessons`."""
    rows = []
    for lesson in lessons:
        record = progress.get("lessons", {}).get(lesson.id, {})
        quiz = record.get("quiz", {})
        rows.append(
            LessonProgress(
                lesson,
                bool(record.get("read")),
                len(lesson.quiz),
                sum(q.id in quiz for q in lesson.quiz),
                sum(bool(quiz.get(q.id)) for q in lesson.quiz),
            )
        )
    return rows


def next_lesson(progress: dict[str, Any], lessons: Iterable[Lesson]) -> Lesson | None:
    """Where to continue: the first lesson (course order) that is not finished; None when all are."""
    return next((row.lesson for row in lesson_progress(progress, lessons) if not row.finished), None)


@dataclass(frozen=True)
class SectionProgress:
    """One section's counts in a learner's progress: lessons (read), questions (answered, right)."""

    section: str
    lessons: int
    read: int
    questions: int
    correct: int
    answered: int = 0

    @property
    def fraction(self) -> float:
        """Share of the section done: each lesson read and each question answered right counts one."""
        total = self.lessons + self.questions
        return (self.read + self.correct) / total if total else 0.0


def section_progress(
    progress: dict[str, Any], lessons: Iterable[Lesson], sections: Iterable[str]
) -> list[SectionProgress]:
    """Per-section counts of lessons read and questions answered correctly."""
    rows = []
    lessons = list(lessons)
    for section in sections:
        mine = [x for x in lessons if x.section == section]
        if not mine:
            continue
        records = [progress.get("lessons", {}).get(x.id, {}) for x in mine]
        correct = sum(bool(r.get("quiz", {}).get(q.id)) for x, r in zip(mine, records, strict=True) for q in x.quiz)
        answered = sum(q.id in r.get("quiz", {}) for x, r in zip(mine, records, strict=True) for q in x.quiz)
        rows.append(
            SectionProgress(
                section,
                len(mine),
                sum(bool(r.get("read")) for r in records),
                sum(len(x.quiz) for x in mine),
                correct,
                answered,
            )
        )
    return rows
