"""The engines' packages for the engine tests: skipped where absent, except under ``make test``
(``TDRL_REQUIRE_ENGINES=1``), where a missing engine is an error, not a silent skip."""

import importlib
import os

import pytest


def need(module: str):
    """Import ``module``, or skip the test module when it is absent and not required."""
    if os.environ.get("TDRL_REQUIRE_ENGINES") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)
