"""The "Use the core from Python" example runs as written (docs/core_example.md, and README.md once it has it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Use the core from Python"


def python_blocks(markdown: str) -> list[str]:
    """Every ```python fenced block of the section under HEADING (the whole text if it has no such heading)."""
    if HEADING in markdown:
        section = markdown.split(HEADING, 1)[1]
        markdown = re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


def example_sources() -> list[Path]:
    sources = [ROOT / "docs" / "core_example.md"]
    readme = ROOT / "README.md"
    if readme.exists() and HEADING in readme.read_text(encoding="utf-8"):
        sources.append(readme)
    return sources


@pytest.mark.parametrize("path", example_sources(), ids=lambda p: p.name)
def test_example_runs(path: Path, capsys):
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    assert len(blocks) == 1, f"{path.name}: expected one ```python block under {HEADING!r}, found {len(blocks)}"
    code = blocks[0]
    assert 10 <= len(code.strip().splitlines()) <= 20
    exec(compile(code, str(path), "exec"), {"__name__": "__example__"})
    assert "torch.Size" in capsys.readouterr().out
