import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current():
    render = runpy.run_path(str(ROOT / "scripts" / "gen_cli_docs.py"))["render"]
    assert (ROOT / "docs" / "cli.md").read_text() == render(), "run `make docs`"


def test_readme_opens_with_the_two_commands():
    lines = [ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block[0].startswith("make demo") and block[1].startswith("make test")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_ci_lints_and_type_checks_before_the_tests():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("rm -rf .venv") < ci.index("make lint") < ci.index("make test")
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile[makefile.index("\nlint:") :].split("\n\n")[0]
    assert "pip install -q -e '.[test]'" in lint  # the venv and its tools exist before they run
    assert "ruff check src tests bench" in lint and "ruff format --check src tests bench" in lint and "mypy" in lint
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(dep.startswith("mypy==") for dep in project["project"]["optional-dependencies"]["test"])
    assert project["tool"]["mypy"]["files"] == ["src/tdrl"]
