"""The engines' packages for the engine tests: skipped where absent, except under ``make test``
(``TDRL_REQUIRE_ENGINES=1``), where a missing engine is an error, not a silent skip."""

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def need(module: str):
    """Import ``module``, or skip the test module when it is absent and not required."""
    if os.environ.get("TDRL_REQUIRE_ENGINES") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def documented_args(entry: str) -> list[str]:
    """The arguments after ``entry`` in the docs/rl.md command that runs it, its ``$(python -c ...)`` run as written."""
    text = (ROOT / "docs" / "rl.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if entry in b)
    command = block.split(entry, 1)[1].replace("\\\n", " ")

    def run(m):
        return subprocess.run([sys.executable, "-c", m.group(1)], capture_output=True, text=True, check=True).stdout.strip()

    return shlex.split(re.sub(r"\$\(python -c '([^']*)'\)", run, command))
