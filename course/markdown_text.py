"""The lessons' Markdown as text: the `{{ … }}` live-number syntax, plain text for search, escaping, headings.

Lesson Markdown is CommonMark with `$...$` / `$$...$$` math and `{{ resolver(k=v) | spec }}` live numbers
(filled in by :mod:`course.placeholders`). Pure Python, no imports from the rest of the course.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)  # a live number: {{ name(k=v, ...) }} or {{ ... | spec }}

_TEX_WORDS = {
    r"\sqrt": "√",
    r"\cdot": "·",
    r"\times": "×",
    r"\log": "log",
    r"\approx": "≈",
    r"\le": "≤",
    r"\ge": "≥",
    r"\infty": "∞",
    r"\top": "ᵀ",
    r"\to": "→",
    r"\ll": "≪",
    r"\alpha": "α",
    r"\varepsilon": "ε",
    r"\ell": "ℓ",
    r"\dots": "…",
    r"\tanh": "tanh",
    r"\exp": "exp",
    r"\max": "max",
    r"\sum": "Σ",
}


def _inline_math_as_text(match: re.Match) -> str:
    tex = match.group(1)
    for command, symbol in _TEX_WORDS.items():
        tex = re.sub(re.escape(command) + r"(?![A-Za-z])", symbol, tex)
    tex = re.sub(r"\\[A-Za-z]+|\\.", " ", tex)  # any other command or spacing macro
    return re.sub(r"[{}]", "", tex)


def plain_text(markdown: str) -> str:
    """Markdown → plain text for search and snippets: inline math as rough text, display math, code fences,
    markup and placeholders dropped."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"\$\$.*?\$\$", " … ", text, flags=re.DOTALL)
    text = re.sub(r"\$([^$\n]+)\$", _inline_math_as_text, text)
    text = PLACEHOLDER.sub(" … ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links → their text
    text = re.sub(r"^\s*(?:[-*]|\d+\.)\s+", " ", text, flags=re.MULTILINE)  # list markers
    text = re.sub(r"[#*`>|]|(?<!\w)_|_(?!\w)", " ", text)  # markup; d_k keeps its underscore
    return re.sub(r"\s+", " ", text).strip()


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown and math markers so text shows literally in st.markdown / st.caption."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~$<])", r"\\\1", text)


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Shift Markdown headings down (## → ####) so a lesson's sections sit below its title on the page."""
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * min(6, len(m.group(1)) + levels) + " ", markdown, flags=re.MULTILINE)
