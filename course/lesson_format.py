"""The lesson file format: parse `lessons/*.md` into typed lessons, load them all, find one by page or id.

A lesson file is JSON front matter between two `---` lines, then Markdown (with `$...$` / `$$...$$` math):

    ---
    {"title": "...", "section": "Foundations", "order": 2, "page": "<registry slug>",
     "objectives": ["..."], "prerequisites": ["01_why_attention"], "code": ["core.attention.attention"],
     "quiz": [{"id": "q1", "kind": "mc", "prompt": "...", "options": ["a", "b"], "answer": 1,
               "explanation": "..."},
              {"id": "q2", "kind": "numeric", "prompt": "...", "answer": "{{ mha_params(d_model=512, n_heads=8) }}",
               "tolerance": 0, "explanation": "..."}]}
    ---
    Markdown body ...

Numbers about the model are never typed in: they are `{{ … }}` placeholders (:mod:`course.placeholders`) that
the live core computes (:mod:`course.live_numbers`). `code:` names core objects shown with their source
(:mod:`course.code_refs`). Pure Python: parsing needs neither torch nor the core.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from course.markdown_text import PLACEHOLDER, plain_text
from course.registry import ROOT, SECTIONS

LESSONS_DIR = ROOT / "lessons"
QUESTION_KINDS = ("mc", "numeric")


class LessonError(ValueError):
    """A lesson file that does not follow the format (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class Question:
    """One predict-then-check question. `answer`: option index (mc) or a number / placeholder (numeric)."""

    id: str
    kind: str
    prompt: str
    answer: int | float | str
    explanation: str
    options: tuple[str, ...] = ()
    tolerance: float = 0.0  # numeric only: accepted relative error (0 = exact up to rounding)
    unit: str = ""


@dataclass(frozen=True)
class Lesson:
    """One parsed lesson file; `id` is the file stem (e.g. ``02_scaled_dot_product``)."""

    id: str
    path: Path
    title: str
    section: str
    order: int
    page: str
    objectives: tuple[str, ...]
    prerequisites: tuple[str, ...]
    code: tuple[str, ...]
    quiz: tuple[Question, ...]
    body: str = field(repr=False)
    short_title: str = ""  # tab label when a page shows several lessons (defaults to the title)

    @property
    def word_count(self) -> int:
        """Words of prose (math, code and markup stripped)."""
        return len(re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*", plain_text(self.body)))


def _split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise LessonError(f"{name}: must start with a '---' line opening the JSON front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise LessonError(f"{name}: front matter is not closed by a second '---' line") from None
    try:
        meta = json.loads("\n".join(lines[1:end]))
    except json.JSONDecodeError as err:
        raise LessonError(f"{name}: front matter is not valid JSON ({err.msg}, line {err.lineno + 1})") from None
    if not isinstance(meta, dict):
        raise LessonError(f"{name}: front matter must be a JSON object")
    return meta, "\n".join(lines[end + 1 :]).strip() + "\n"


def _str_list(meta: dict, key: str, name: str) -> tuple[str, ...]:
    value = meta.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LessonError(f"{name}: '{key}' must be a list of non-empty strings")
    return tuple(value)


def _parse_question(raw: Any, name: str) -> Question:
    if not isinstance(raw, dict):
        raise LessonError(f"{name}: every quiz entry must be an object")
    qid = raw.get("id")
    where = f"{name}, question {qid!r}"
    if not isinstance(qid, str) or not qid:
        raise LessonError(f"{name}: a quiz question has no 'id'")
    kind = raw.get("kind")
    if kind not in QUESTION_KINDS:
        raise LessonError(f"{where}: 'kind' must be one of {QUESTION_KINDS}")
    for key in ("prompt", "explanation"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise LessonError(f"{where}: '{key}' must be a non-empty string")
    answer, options = raw.get("answer"), tuple(raw.get("options", ()))
    if kind == "mc":
        if len(options) < 2 or not all(isinstance(o, str) and o for o in options):
            raise LessonError(f"{where}: a multiple-choice question needs at least two text options")
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(options):
            raise LessonError(f"{where}: 'answer' must be an option index in 0..{len(options) - 1}")
    elif isinstance(answer, bool) or not isinstance(answer, (int, float, str)):
        raise LessonError(f"{where}: a numeric answer must be a number or a '{{{{ resolver(...) }}}}' placeholder")
    elif isinstance(answer, str) and not PLACEHOLDER.fullmatch(answer.strip()):
        raise LessonError(f"{where}: a text answer must be exactly one placeholder")
    tolerance = raw.get("tolerance", 0.0)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise LessonError(f"{where}: 'tolerance' must be a number >= 0")
    return Question(
        qid, kind, raw["prompt"], answer, raw["explanation"], options, float(tolerance), str(raw.get("unit", ""))
    )


def parse_lesson(text: str, path: Path) -> Lesson:
    """Parse one lesson file's text; raises LessonError naming the file and the problem."""
    name = path.name
    meta, body = _split_front_matter(text, name)
    for key in ("title", "section", "page"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise LessonError(f"{name}: '{key}' must be a non-empty string")
    if meta["section"] not in SECTIONS:
        raise LessonError(f"{name}: section {meta['section']!r} is not one of {SECTIONS}")
    if not isinstance(meta.get("order"), int):
        raise LessonError(f"{name}: 'order' must be an integer")
    quiz = meta.get("quiz")
    if not isinstance(quiz, list):
        raise LessonError(f"{name}: 'quiz' must be a list of questions")
    questions = tuple(_parse_question(q, name) for q in quiz)
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise LessonError(f"{name}: quiz question ids must be unique, got {ids}")
    return Lesson(
        path.stem,
        path,
        meta["title"],
        meta["section"],
        meta["order"],
        meta["page"],
        _str_list(meta, "objectives", name),
        _str_list(meta, "prerequisites", name),
        _str_list(meta, "code", name),
        questions,
        body,
        str(meta.get("short_title") or meta["title"]),
    )


@cache
def load_lessons(directory: Path = LESSONS_DIR) -> tuple[Lesson, ...]:
    """Every lesson under `directory`, in course order (section, then order)."""
    lessons = [parse_lesson(p.read_text(encoding="utf-8"), p) for p in sorted(directory.glob("*.md"))]
    return tuple(sorted(lessons, key=lambda x: (SECTIONS.index(x.section), x.order, x.id)))


def lessons_for_page(slug: str, extra_lesson_file: str | None = None) -> list[Lesson]:
    """The lessons that belong to page `slug`, plus the registry's lesson file for it if that one points elsewhere."""
    found = [x for x in load_lessons() if x.page == slug or x.path.name == extra_lesson_file]
    return sorted(found, key=lambda x: (x.page != slug, x.order))


def lesson_by_id(lesson_id: str) -> Lesson:
    """The lesson whose file stem is `lesson_id` (raises KeyError)."""
    for lesson in load_lessons():
        if lesson.id == lesson_id:
            return lesson
    raise KeyError(f"no lesson {lesson_id!r}")

