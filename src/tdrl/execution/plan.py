"""Compile a problem once into what the sandbox runs and what the parent judges with.

A :class:`ProblemPlan` holds, per test, the *input side* (sent to the sandbox: function
name and argument literal, probe expressions, a stdin text, or a script) and the *judging
side* (kept in the parent: the expected value, the trusted assert check, the expected
stdout). Expected outputs exist only in the judging side.
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from tdrl.execution.asserts import AssertPlan, CallPlan, Unsupported, compile_assert, own_names
from tdrl.execution.pytest_style import pytest_script
from tdrl.execution.rules import call_matches, stdout_matches
from tdrl.execution.values import encode, has_nan, parse_expected
from tdrl.records import Problem

_keys = itertools.count()


class RawJSON(str):
    """A string that :func:`dump_job` inserts into a job as JSON text, not as a string."""


@dataclass
class Check:
    """The parent's half of one test."""

    kind: str  # call | probes | script | stdio
    expected: Any = None
    expected_encoded: Any = None  # tagged form of ``expected``: equal tagged forms mean a pass
    atol: float = 0.0
    assert_plan: AssertPlan | None = None
    weak: bool = False  # verdict reported by the sandbox itself (script tests)
    rule: str = ""  # a dataset harness's verdict rule (tdrl.execution.rules); "" is tdrl's own

    def value_passes(self, actual: Any) -> bool:
        """Whether a decoded return value passes this call check."""
        return call_matches(actual, self.expected, self.rule or "exact", self.atol)

    def stdout_passes(self, out: str) -> bool:
        """Whether a program's stdout passes this stdio check."""
        return stdout_matches(out, self.expected, self.rule or "tokens", self.atol)


@dataclass
class ProblemPlan:
    problem: Problem
    mode: str  # function | stdio
    job_tests: list[dict]
    checks: list[Check]
    timeouts: list[float] = field(default_factory=list)
    key: int = field(default_factory=lambda: next(_keys))  # names the plan's compiled inputs in the zygote
    max_sample: float | None = None  # overrides the verifier's whole-sample budget cap
    after_timeout: str | None = None  # overrides the verifier's TimePolicy.after_timeout
    reference_ms: list[float | None] | None = None  # the reference's per-test times, once calibrated

    @functools.cached_property
    def job_tests_json(self) -> RawJSON:
        """The input side, serialised once: jobs for the same problem reuse it."""
        return RawJSON(json.dumps(self.job_tests))

    @property
    def weak_tests(self) -> int:
        return sum(c.weak for c in self.checks)


_NO_FAST_PATH = object()


def _fast_form(expected: Any) -> Any:
    """The tagged form to compare raw answers with, or a sentinel when NaN makes it unsound."""
    try:
        return _NO_FAST_PATH if has_nan(expected) else encode(expected)
    except (TypeError, RecursionError):
        return _NO_FAST_PATH


def content_key(problem: Problem) -> tuple:
    """What a plan depends on, as a hashable value: equal problems (new objects each call) share one plan."""
    tests = tuple(tuple(vars(t).values()) for t in problem.tests)  # every field of a test: a new one is never missed
    return (problem.id, problem.prompt, problem.entry_point, problem.reference, tests)


def compile_problem(problem: Problem) -> ProblemPlan:
    """Split each test of ``problem`` into its sandbox half and its trusted half."""
    job_tests: list[dict] = []
    checks: list[Check] = []
    mode = "stdio" if problem.tests and problem.tests[0].type == "stdio" else "function"
    own = own_names(problem.entry_point, problem.prompt)  # never trusted as built-ins
    for test in problem.tests:
        if test.type in ("call", "method"):
            expected, floats = parse_expected(test.output or "")
            # a harness's own rule compares as that harness does: exactly, unless atol is given
            atol = test.atol if test.atol or test.rule else (1e-6 if floats else 0.0)
            job = {"k": "call", "fn": problem.entry_point, "args": test.input}
            if test.type == "method":  # the zygote calls the method on a fresh instance of the class
                job = {"k": "call", "cls": problem.entry_point, "fn": test.method, "args": test.input}
            job_tests.append(job)
            checks.append(
                Check("call", expected=expected, atol=atol, expected_encoded=_fast_form(expected), rule=test.rule or "")
            )
        elif test.type == "assert":
            try:
                plan = compile_assert(test.code or "", own)
            except Unsupported:
                job_tests.append({"k": "script", "src": test.code})
                checks.append(Check("script", weak=True))
                continue
            if isinstance(plan, CallPlan):
                expected = parse_expected(plan.output)[0]
                job_tests.append({"k": "call", "fn": plan.fn, "args": plan.args})
                checks.append(Check("call", expected=expected, atol=0.0, expected_encoded=_fast_form(expected)))
            else:
                job_tests.append({"k": "probes", "probes": plan.probes, **({"need": plan.need} if plan.need else {})})
                checks.append(Check("probes", assert_plan=plan))
        elif test.type == "script":
            job_tests.append({"k": "script", "src": test.code})
            checks.append(Check("script", weak=True))
        elif test.type == "pytest":
            job_tests.append({"k": "script", "src": pytest_script(test.code or "", test.function or "")})
            checks.append(Check("script", weak=True))
        else:
            job_tests.append({"k": "stdio", "stdin": test.stdin})
            checks.append(Check("stdio", expected=test.stdout, atol=test.atol, rule=test.rule or ""))
    return ProblemPlan(problem, mode, job_tests, checks)


def dump_job(job: dict) -> bytes:
    """Serialise a job, splicing in pre-serialised :class:`RawJSON` fields as they are."""
    raw = {k: v for k, v in job.items() if isinstance(v, RawJSON)}
    rest = json.dumps({k: v for k, v in job.items() if k not in raw})
    parts = [rest[:-1]] + [f', "{k}": {v}' for k, v in raw.items()]
    return ("".join(parts) + "}").encode()
