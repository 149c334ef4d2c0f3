"""The time-limit policy (docs/verifier.md, "Time limits"): what a slow or looping sample may cost.

No wall-clock assertions: each test checks what the policy charges in statuses and counts
(how many tests ran into a limit, how many were left ``not_run``) and that samples without
a timeout get the same verdicts and pass rates under every policy.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tdrl.execution import TimePolicy, Verifier
from tdrl.execution.calibration import CalibrationCache, annotate, calibration_key, known_reference_ms
from tdrl.execution.run import latency_summary
from tdrl.records import Problem, Sample, Test

N = 12
LIMIT = 0.3
PROBLEM = Problem("add", [Test("call", input=f"[{i}, 0]", output=f"{i}") for i in range(N)], entry_point="add")
LOOP_ALL = "def add(a, b):\n    while True:\n        pass\n"
LOOP_ONE = "def add(a, b):\n    while a == 3:\n        pass\n    return a + b\n"
LOOP_TWO = "def add(a, b):\n    while a in (3, 6):\n        pass\n    return a + b\n"
CLEAN = {
    "correct": "def add(a, b):\n    return a + b\n",
    "wrong": "def add(a, b):\n    return a - b if a % 3 else a + b\n",
    "raises": "def add(a, b):\n    if a == 5:\n        raise ValueError(a)\n    return a + b\n",
    "crashes": "import os\ndef add(a, b):\n    if a == 2:\n        os._exit(3)\n    return a + b\n",
    "load_error": "def add(a, b)\n    return a\n",
}


@pytest.fixture(scope="module")
def verifiers():
    vs = {
        mode: Verifier(workers=1, time_policy=TimePolicy(timeout=LIMIT, after_timeout=mode))
        for mode in ("exact", "stop", "shared")
    }
    yield vs
    for v in vs.values():
        v.close()


def statuses(result) -> list[str]:
    return [t.status for t in result.tests]


def test_a_sample_looping_on_every_test_costs_at_most_the_documented_budget(verifiers):
    exact = verifiers["exact"].check(PROBLEM, Sample("add", "loop", LOOP_ALL))
    assert statuses(exact) == ["timeout"] * N  # today's rule: one full limit per test
    stop = verifiers["stop"].check(PROBLEM, Sample("add", "loop", LOOP_ALL))
    assert statuses(stop) == ["timeout"] + ["not_run"] * (N - 1)  # one limit
    shared = verifiers["shared"].check(PROBLEM, Sample("add", "loop", LOOP_ALL))
    # one limit, then the shared budget (shared_factor 1 x the largest limit, 0.3 s) spent on tests of
    # shared_floor (0.1 s) each: at most 1 + 0.3 / 0.1 timeouts (+1 when the budget ends with a test)
    st = statuses(shared)
    assert st[0] == "timeout" and 2 <= st.count("timeout") <= 5 and st.count("not_run") == N - st.count("timeout")
    assert st == sorted(st, key=lambda x: x != "timeout")  # the timeouts first, then only not_run
    assert shared.tests[st.count("timeout") - 1].error in ("sample time budget exhausted", "time limit exceeded")
    for r in (exact, stop, shared):
        assert r.status == "fail" and r.pass_rate == 0.0
    assert stop.pass_rate_lower_bound and shared.pass_rate_lower_bound and not exact.pass_rate_lower_bound
    assert stop.to_dict()["pass_rate_lower_bound"] is True and "pass_rate_lower_bound" not in exact.to_dict()


def test_samples_without_a_timeout_are_judged_the_same_under_every_policy(verifiers):
    for name, code in CLEAN.items():
        results = [v.check(PROBLEM, Sample("add", name, code)) for v in verifiers.values()]
        assert len({(r.status, r.pass_rate, tuple(statuses(r))) for r in results}) == 1, name
        assert "timeout" not in statuses(results[0]) and "not_run" not in statuses(results[0])
    assert verifiers["shared"].check(PROBLEM, Sample("add", "c", CLEAN["correct"])).status == "pass"


def test_shared_budget_keeps_the_exact_pass_rate_when_one_test_loops(verifiers):
    exact, stop, shared = (verifiers[m].check(PROBLEM, Sample("add", "one", LOOP_ONE)) for m in ("exact", "stop", "shared"))
    assert statuses(shared) == statuses(exact) == ["pass"] * 3 + ["timeout"] + ["pass"] * (N - 4)
    assert shared.pass_rate == exact.pass_rate == (N - 1) / N
    assert statuses(stop) == ["pass"] * 3 + ["timeout"] + ["not_run"] * (N - 4)
    assert stop.pass_rate == 3 / N and stop.pass_rate_lower_bound  # a lower bound, flagged


def test_shared_budget_keeps_the_exact_pass_rate_when_two_tests_loop(verifiers):
    exact = verifiers["exact"].check(PROBLEM, Sample("add", "two", LOOP_TWO))
    shared = verifiers["shared"].check(PROBLEM, Sample("add", "two", LOOP_TWO))
    assert statuses(exact).count("timeout") == 2 and exact.pass_rate == (N - 2) / N
    assert statuses(shared) == statuses(exact)  # the second loop cost shared_floor, not a full limit


def test_when_the_shared_budget_runs_out_the_rest_is_a_flagged_lower_bound():
    policy = TimePolicy(timeout=LIMIT, after_timeout="shared", shared_factor=0.5, shared_floor=1.0)  # 0.15 s for the rest
    with Verifier(workers=1, time_policy=policy) as v:
        r = v.check(PROBLEM, Sample("add", "two", LOOP_TWO))
    assert statuses(r)[:6] == ["pass"] * 3 + ["timeout"] + ["pass"] * 2
    assert statuses(r)[6] == "timeout" and r.tests[6].error == "sample time budget exhausted"
    assert set(statuses(r)[7:]) == {"not_run"} and r.pass_rate == 5 / N and r.pass_rate_lower_bound


def test_value_runs_stay_exact_whatever_the_policy(verifiers):
    values = verifiers["stop"].run_values(PROBLEM, LOOP_ONE)
    assert [s for s, _ in values] == ["ok"] * 3 + ["timeout"] + ["ok"] * (N - 4)
    assert values[5] == ("ok", 5)


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="after_timeout"):
        TimePolicy(after_timeout="sometimes")


def test_plans_are_shared_by_equal_problems():
    with Verifier(workers=1) as v:
        copy = Problem.from_dict(PROBLEM.to_dict())
        assert copy is not PROBLEM and v.plan(copy) is v.plan(PROBLEM)
        other = Problem.from_dict({**PROBLEM.to_dict(), "tests": [{"type": "call", "input": "[1, 1]", "output": "2"}]})
        assert v.plan(other) is not v.plan(PROBLEM)


def _with_reference(tests=None) -> Problem:
    p = Problem.from_dict(PROBLEM.to_dict())
    p.reference = "def add(a, b):\n    return a + b\n"
    if tests is not None:
        p.tests = tests
    return p


def test_calibration_is_cached_by_content(tmp_path):
    cache = CalibrationCache(tmp_path)
    policy = TimePolicy(timeout=7.0, min_timeout=0.5)
    with Verifier(workers=1, time_policy=policy) as v:
        ran = v.calibrate(_with_reference(), cache)
        assert ran is not None and ran.status == "pass"  # measured: the reference ran
        limits = v.plan(_with_reference()).timeouts
    assert limits == [0.5] * N and len(list(tmp_path.rglob("*.json"))) == 1
    with Verifier(workers=1, time_policy=policy) as v:
        assert v.calibrate(_with_reference(), cache) is None  # from the cache: nothing ran
        assert v.plan(_with_reference()).timeouts == limits
        edited = _with_reference(PROBLEM.tests[:5])
        assert cache.get(edited) is None and v.calibrate(edited, cache) is not None  # new content: measured again


def test_time_limits_written_into_the_problem_spare_the_reference_run():
    problem = _with_reference(PROBLEM.tests[:3] + [Test("call", input="[1, 1]", output="3")])  # the reference fails the last
    with Verifier(workers=1) as v:
        assert annotate(problem, v)
    stored = problem.meta["time_limits"]
    assert stored["key"] == calibration_key(problem) and len(stored["reference_ms"]) == 4
    assert stored["reference_ms"][3] is None and all(ms >= 0 for ms in stored["reference_ms"][:3])
    reread = Problem.from_dict(json.loads(json.dumps(problem.to_dict())))
    assert known_reference_ms(reread) == stored["reference_ms"]
    with Verifier(workers=1, time_policy=TimePolicy(timeout=7.0)) as v:
        assert v.calibrate(reread) is None  # nothing ran
        assert v.plan(reread).timeouts == [1.0, 1.0, 1.0, 7.0]  # the failing test keeps --timeout
    reread.reference += "\n# edited\n"
    assert known_reference_ms(reread) is None  # the hash no longer matches: measure again


def test_latency_percentiles_are_nearest_rank():
    assert latency_summary([]) == {"p50": 0.0, "p95": 0.0, "max": 0.0}
    assert latency_summary([float(x) for x in range(1, 101)]) == {"p50": 50.0, "p95": 95.0, "max": 100.0}
    assert latency_summary([3.0, 1.0, 2.0]) == {"p50": 2.0, "p95": 3.0, "max": 3.0}


def test_convert_then_verify_uses_the_stored_times_and_prints_latency(tmp_path):
    source = tmp_path / "he.jsonl.gz"
    rows = [
        {
            "task_id": f"T/{i}",
            "prompt": f"def f{i}(x):\n",
            "entry_point": f"f{i}",
            "canonical_solution": f"    return x + {i}\n",
            "test": f"def check(candidate):\n    assert candidate(1) == {1 + i}\n    assert candidate(2) == {2 + i}\n",
        }
        for i in range(2)
    ]
    with gzip.open(source, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "TDRL_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    cli = [sys.executable, "-m", "tdrl.cli"]
    problems, samples, out = tmp_path / "p.jsonl", tmp_path / "s.jsonl", tmp_path / "r.jsonl"
    done = subprocess.run(
        [*cli, "convert", str(source), "--from", "humaneval", "--out", str(problems)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "2 references timed" in done.stdout
    assert all("time_limits" in json.loads(line)["meta"] for line in problems.read_text().splitlines())
    samples.write_text(
        json.dumps({"problem_id": "T/0", "sample_id": "a", "completion": "    return x - 1\n"})
        + "\n"
        + json.dumps({"problem_id": "T/1", "sample_id": "b", "completion": "    return x + 1\n"})
        + "\n"
    )
    args = [
        *cli,
        "verify",
        "--problems",
        str(problems),
        "--samples",
        str(samples),
        "--out",
        str(out),
        "--no-progress",
        "--workers",
        "1",
    ]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "sample latency p50" in done.stdout and "0 pass rates are lower bounds" in done.stdout
    assert not (tmp_path / "cache" / "calibration").exists()  # the stored times were used: no reference ran
    results = {json.loads(line)["sample_id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert results["a"]["status"] == "fail" and results["b"]["status"] == "pass" and results["b"]["time_ms"] > 0


def test_plans_of_problems_that_differ_only_in_a_test_field_are_not_shared():
    from tdrl.execution.plan import content_key

    a = Problem("p", [Test("call", input="[1]", output="[1]")], entry_point="f")
    b = Problem("p", [Test("call", input="[1]", output="[1]", rule="apps")], entry_point="f")
    assert content_key(a) != content_key(b)
