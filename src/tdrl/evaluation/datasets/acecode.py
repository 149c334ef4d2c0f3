"""AceCode-87K and AceCode-V2 rows (``TIGER-Lab/AceCode-87K``, ``TIGER-Lab/AceCode-V2-122K``).

``question`` is the prompt and ``test_cases`` (V2: ``tests``) a list of assert statements,
each one ``assert`` test (AceCoder's pass rate is the share of asserts that pass, which is
tdrl's per-test pass rate). The entry point is the function the first assert calls.
``inferences`` (``model_name``, ``completion_id``, ``completion``, ``pass_rate``) become
samples, with their recorded results written next to them in ``tdrl verify``'s shape, so
``tdrl pairs --results`` builds AceCoder's preference pairs without running anything.
"""

from __future__ import annotations

import ast

from tdrl.evaluation.benchmarks import first_called_name
from tdrl.evaluation.datasets.common import Converted, Drop, RowError, need, require_tests
from tdrl.records import Problem, Sample, Test

WHAT = "an AceCode file"


def convert(row: dict, index: int) -> Converted:
    """One AceCode row (see the module doc)."""
    pid = need(row, "id", (str, int), WHAT)
    question = need(row, "question", str, WHAT)
    key = "test_cases" if "test_cases" in row else "tests"
    asserts = need(row, key, list, WHAT)
    tests = []
    for n, code in enumerate(asserts):
        if not isinstance(code, str):
            raise RowError(f"{key}[{n}]", f"expected an assert statement, got {type(code).__name__}")
        try:
            ast.parse(code)
        except SyntaxError as exc:
            raise Drop(f"{key}[{n}]", f"not valid Python ({exc.msg})") from None
        tests.append(Test("assert", code=code))
    entry = first_called_name(asserts[0]) if asserts else None
    if not entry:
        raise Drop(key, "no function call found in the first assert")
    problem = Problem(str(pid), require_tests(tests, key), prompt=question, entry_point=entry, meta={"source": "acecode"})
    if isinstance(row.get("source"), str):
        problem.meta["origin"] = row["source"]
    out = Converted(problem)
    for n, inf in enumerate(row.get("inferences") or []):
        if not isinstance(inf, dict) or not isinstance(inf.get("completion"), str):
            raise RowError(f"inferences[{n}]", "expected an object with a 'completion' string")
        rate = inf.get("pass_rate")
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise RowError(f"inferences[{n}].pass_rate", f"expected a number in [0, 1], got {rate!r}")
        sid = str(inf.get("completion_id", n))
        extra = {"model": str(inf.get("model_name", "")), "recorded_pass_rate": float(rate)}
        out.samples.append(Sample(str(pid), sid, inf["completion"], extra))
        out.results.append(
            {
                "problem_id": str(pid),
                "sample_id": sid,
                "status": "pass" if rate >= 1 else "fail",
                "pass_rate": float(rate),
                "tests": [],
                "passed": round(rate * len(tests)),
                "total": len(tests),
                "recorded": "acecode",
            }
        )
    return out
