"""The README's promises: one install-and-run line, one test line, and .ci/run runs that same test line."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _indented_lines() -> list[str]:
    return [line.strip() for line in README.splitlines() if line.startswith("    ") and line.strip()]


def test_quickstart_has_one_install_and_run_line():
    run_lines = [line for line in _indented_lines() if "streamlit run app.py" in line]
    assert run_lines == ["pip install -r requirements.txt && streamlit run app.py"]


def test_test_line_installs_tools_and_runs_pytest_and_ci_uses_it():
    test_lines = [line for line in _indented_lines() if "pytest" in line]
    assert len(test_lines) == 1
    assert "requirements-dev.txt" in test_lines[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m pip install -r requirements-dev.txt && python3 -m pytest" in ci
    assert "torch==2.13.0" in ci
