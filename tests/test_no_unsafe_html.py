"""User text is never rendered as HTML: no `unsafe_allow_html`, `st.html` or `components.html` outside an allow-list.

Scans every .py file of app.py, pages/, ui/, figures/ and course/. A call site may only be allowed when the markup
it passes is a constant or fully `html.escape`d; each allowed site is listed in `ALLOWED` by file and by the text of
its line (not the line number, so edits elsewhere in the file do not break the list), with the reason it is safe.
An entry that no longer matches any line fails too, so the list never keeps stale permissions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("app.py", "pages", "ui", "figures", "course")

# {(path relative to the repository root, the stripped source line): why the markup there cannot carry user text}
ALLOWED: dict[tuple[str, str], str] = {
    ("ui/learner.py", "st.html(_cookie_script(learner.id), unsafe_allow_javascript=True)"): (
        "a constant script that sets the learner cookie; the only value in it is a learner id that _cookie_script "
        "checks against LEARNER_ID ([A-Za-z0-9_-]{22}) and that the server minted (or found in its database)"
    ),
}

# `unsafe_allow_html` set to anything but a literal False (True, a variable, or a **kwargs dict key).
UNSAFE_FLAG = re.compile(r"unsafe_allow_html[\s'\"]*[=:](?!\s*False\b)")
HTML_MODULES = {"st", "streamlit", "components", "v1"}  # st.html, streamlit.html, components(.v1).html


def _scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def html_sites(source: str) -> list[tuple[int, str]]:
    """(line number, what) of every place in `source` that can put raw HTML on the page."""
    sites: list[tuple[int, str]] = []
    for number, line in enumerate(source.splitlines(), start=1):
        if UNSAFE_FLAG.search(line.split("#", 1)[0]):
            sites.append((number, "unsafe_allow_html"))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "html":
            if _base_name(node.func.value) in HTML_MODULES:
                sites.append((node.lineno, f"{ast.unparse(node.func)}(...)"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit"):
            if any(alias.name == "html" for alias in node.names):
                sites.append((node.lineno, f"from {node.module} import html"))
    return sorted(set(sites))


def test_the_scanner_finds_every_kind_of_raw_html():
    source = "\n".join(
        [
            "st.markdown(text, unsafe_allow_html=True)",
            "st.markdown(text, unsafe_allow_html=allow)",
            "st.write(**{'unsafe_allow_html': True})",
            "st.markdown(text, unsafe_allow_html=False)",
            "st.caption(text, unsafe_allow_html = False)  # unsafe_allow_html=True in a comment is not code",
            "st.caption(text, unsafe_allow_html =True)",
            "st.html(text)",
            "components.html(text)",
            "streamlit.components.v1.html(text, height=10)",
            "from streamlit import html",
            "figure.to_html()",
        ]
    )
    assert [n for n, _ in html_sites(source)] == [1, 2, 3, 6, 7, 8, 9, 10]


def test_no_raw_html_outside_the_allow_list():
    found, used = [], set()
    for path in _scanned_files():
        rel = path.relative_to(ROOT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, what in html_sites("\n".join(lines)):
            entry = (rel, lines[number - 1].strip())
            if entry in ALLOWED:
                used.add(entry)
            else:
                found.append(f"{rel}:{number}: {what}: {lines[number - 1].strip()}")
    assert not found, (
        "raw HTML can reach the page here; render user text as text (st.markdown/st.text without "
        "unsafe_allow_html), or pass only constant or html.escape()d markup and add the site to ALLOWED:\n"
        + "\n".join(found)
    )
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f"ALLOWED lists call sites that no longer exist: {stale}"
