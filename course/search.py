"""Search the lessons: every word of a query in a lesson's title, objectives, prose or quiz prompts, best first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from course.lesson_format import Lesson, load_lessons
from course.markdown_text import plain_text


@dataclass(frozen=True)
class SearchHit:
    """One lesson that matches, the plain text around the match, and the registry slug of its page."""

    lesson: Lesson
    snippet: str  # plain text (markdown and math markers stripped); escape it before rendering as markdown
    page_slug: str


def _snippet(text: str, terms: list[str], width: int = 180) -> str:
    """About `width` characters of `text` around the first query term, cut at word boundaries."""
    lowered = text.lower()
    first = lowered.find(terms[0])
    hit = first if first >= 0 else min((i for t in terms if (i := lowered.find(t)) >= 0), default=0)
    start = max(0, hit - width // 3)
    if start > 0:
        start = text.find(" ", start) + 1 or start  # do not begin mid-word
    stop = min(len(text), start + width)
    if stop < len(text):
        stop = text.rfind(" ", start, stop) if text.rfind(" ", start, stop) > hit else stop
    return ("…" if start > 0 else "") + text[start:stop].strip() + ("…" if stop < len(text) else "")


def search_lessons(query: str, lessons: tuple[Lesson, ...] | None = None) -> list[SearchHit]:
    """Lessons whose title, objectives, text or quiz prompts contain every word of `query` (case-insensitive),
    best first.

    Title matches rank above body matches; the snippet is plain text around the first match, taken from the prose
    or, when only a quiz prompt has the first word, from that prompt (then it starts with "Quiz: ").
    """
    terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1]
    if not terms:
        return []
    scored = []
    for lesson in lessons if lessons is not None else load_lessons():
        text = plain_text(lesson.body)
        prompts = [plain_text(q.prompt) for q in lesson.quiz]
        haystack = " ".join([lesson.title, *lesson.objectives, text, *prompts]).lower()
        if not all(t in haystack for t in terms):
            continue
        score = sum(10 * lesson.title.lower().count(t) + haystack.count(t) for t in terms)
        prompt = next((p for p in prompts if terms[0] in p.lower()), None)
        snippet = _snippet(text, terms) if terms[0] in text.lower() or prompt is None else "Quiz: " + _snippet(prompt, terms)
        scored.append((-score, lesson.order, SearchHit(lesson, snippet, lesson.page)))
    return [hit for *_, hit in sorted(scored, key=lambda s: s[:2])]
