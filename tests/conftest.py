"""Shared fixtures: one verifier pool per session, small problems built in code."""

from __future__ import annotations

import pytest

from tdrl.execution import TimePolicy, Verifier
from tdrl.records import Problem, Sample, Test


@pytest.fixture(scope="session")
def verifier():
    with Verifier(workers=2, sandbox="auto", time_policy=TimePolicy(timeout=1.0, load_timeout=3.0, max_sample=10.0)) as v:
        yield v


def make_problem(pid: str = "add", tests: list[Test] | None = None) -> Problem:
    tests = tests or [
        Test("call", input="[1, 2]", output="3"),
        Test("call", input="[5, -5]", output="0"),
        Test("assert", code="assert add(2, 2) == 4"),
    ]
    return Problem(id=pid, tests=tests, entry_point="add", prompt="def add(a, b):\n")


CORRECT_ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def add_problem() -> Problem:
    return make_problem()


def run(verifier: Verifier, problem: Problem, code: str):
    return verifier.check(problem, Sample(problem.id, "s", code))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A ~30K-parameter Llama and BPE tokenizer with a chat template, built once per session."""
    pytest.importorskip("transformers")
    from tdrl.llm.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", chat=True)
