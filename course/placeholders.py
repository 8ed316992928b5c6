"""Fill in a lesson's live numbers: `{{ name(k=v, ...) }}` or `{{ name(k=v) | spec }}` → formatted text.

`name` must be one of the whitelisted :data:`course.live_numbers.RESOLVERS`. Placeholders are parsed with `ast`
and keyword values must be literals: nothing in a lesson file is ever evaluated. A placeholder that fails is a
bug in the lesson (tests resolve every one); it renders as 'n/a' and its message is returned so the page says so.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from course.lesson_format import Lesson
from course.live_numbers import RESOLVERS
from course.markdown_text import PLACEHOLDER


class PlaceholderError(ValueError):
    """A placeholder that is malformed, names an unknown resolver, or whose resolver failed."""


def _parse_placeholder(inner: str) -> tuple[str, dict[str, Any], str]:
    expr, _, spec = inner.partition("|")
    try:
        call = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        raise PlaceholderError(f"not a call: {expr.strip()!r}") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)) or call.args:
        raise PlaceholderError(f"expected name(key=value, ...), got {expr.strip()!r}")
    if call.func.id not in RESOLVERS:
        raise PlaceholderError(f"unknown resolver {call.func.id!r}; known: {sorted(RESOLVERS)}")
    try:
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except ValueError:
        raise PlaceholderError(f"arguments must be literals in {expr.strip()!r}") from None
    return call.func.id, kwargs, spec.strip()


@cache
def _call(name: str, frozen_kwargs: tuple[tuple[str, Any], ...]) -> int | float:
    return RESOLVERS[name](**dict(frozen_kwargs))


def resolve_value(placeholder: str) -> int | float:
    """The number a single `{{ ... }}` placeholder stands for (raises PlaceholderError)."""
    match = PLACEHOLDER.fullmatch(placeholder.strip())
    if not match:
        raise PlaceholderError(f"not a placeholder: {placeholder!r}")
    name, kwargs, _ = _parse_placeholder(match.group(1))
    try:
        return _call(name, tuple(sorted(kwargs.items())))
    except Exception as err:  # bad arguments, or the core refused them (e.g. heads that do not divide d_model)
        raise PlaceholderError(f"{name}({kwargs}) failed: {type(err).__name__}: {err}") from err


def format_value(value: int | float, spec: str = "") -> str:
    """Format a resolved number: `bytes` → binary units, else a Python format spec (default: thousands commas)."""
    if spec == "bytes":
        for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(value) >= size:
                return f"{value / size:,.2f} {unit}"
        return f"{value:,.0f} B"
    if not spec:
        spec = "," if float(value).is_integer() else ",.4g"
        value = int(value) if float(value).is_integer() else value
    try:
        return format(value, spec)
    except ValueError:
        raise PlaceholderError(f"bad format spec {spec!r}") from None


def render_placeholders(text: str, resolve: Callable[[str], int | float] = resolve_value) -> tuple[str, list[str]]:
    """Replace every placeholder in `text`; a failing one becomes 'n/a' and its message is returned."""
    errors: list[str] = []

    def substitute(match: re.Match) -> str:
        try:
            _, _, spec = _parse_placeholder(match.group(1))
            return format_value(resolve(match.group(0)), spec)
        except PlaceholderError as err:
            errors.append(str(err))
            return "n/a"

    return PLACEHOLDER.sub(substitute, text), errors


def placeholders_in(lesson: Lesson) -> list[str]:
    """Every placeholder in a lesson: body, objectives, prompts, options, explanations, numeric answers."""
    texts = [lesson.body, *lesson.objectives]
    for q in lesson.quiz:
        texts += [q.prompt, q.explanation, *q.options, q.answer if isinstance(q.answer, str) else ""]
    return [m.group(0) for t in texts for m in PLACEHOLDER.finditer(t)]
