"""Dependencies point one way: pages → ui → figures → core. Checked on the import statements themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package → top-level modules it must never import
FORBIDDEN = {
    "core": {"streamlit", "plotly", "figures", "ui", "pages", "matplotlib"},
    "figures": {"streamlit", "ui", "pages"},
    "ui": {"pages"},
    "course": {"streamlit", "plotly", "ui", "pages", "figures"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_layering(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    violations = {
        str(f.relative_to(ROOT)): sorted(imported_top_levels(f) & FORBIDDEN[package]) for f in files
    }
    violations = {f: v for f, v in violations.items() if v}
    assert not violations, f"{package} imports what it must not: {violations}"


def test_core_root_never_imports_core_lab():
    """The transformer the lessons cite (core/*.py) stands on its own: page experiments (core.lab) build on it."""
    violations = {}
    for f in sorted((ROOT / "core").glob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
        modules |= {
            f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module for a in n.names
        }
        bad = sorted(m for m in modules if m == "core.lab" or m.startswith("core.lab."))
        if bad:
            violations[f.name] = bad
    assert not violations, f"core's root imports core.lab: {violations}"


def test_core_root_stays_small():
    """At most 16 modules in core/'s root: the rest lives in sub-packages named for their job."""
    modules = sorted(p.name for p in (ROOT / "core").glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 16, modules


def test_checker_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\nfrom plotly import graph_objects\n")
    assert {"streamlit", "plotly"} <= imported_top_levels(bad)
