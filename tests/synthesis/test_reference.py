import json
import subprocess
import sys

from tdrl.records import Problem, Sample, Test
from tdrl.synthesis.reference import SynthConfig, synthesize_reference
from tests.conftest import kill_then_resume

TDRL = [sys.executable, "-m", "tdrl.cli"]
REFERENCE = "def count_pos_even(xs: list[int]) -> int:\n    return sum(1 for x in xs if x > 0 and x % 2 == 0)\n"
WRONG = [
    "def count_pos_even(xs):\n    return sum(1 for x in xs if x >= 0 and x % 2 == 0)\n",  # counts zero
    "def count_pos_even(xs):\n    return sum(1 for x in xs if x % 2 == 0)\n",  # counts negatives
    "def count_pos_even(xs):\n    return sum(1 for x in xs[1:] if x > 0 and x % 2 == 0)\n",  # skips the first
    "def count_pos_even(xs):\n    return len([x for x in xs if x > 0]) // 2\n",
]


def problem(**kw):
    base = dict(
        id="cpe", entry_point="count_pos_even", reference=REFERENCE, tests=[Test("call", input="[[1, 2, 3, 4]]", output="2")]
    )
    return Problem(**{**base, **kw})


def test_synthesized_tests_are_right_and_catch_wrong_programs(verifier):
    # the CLI's defaults (50 tests from 150 candidates)
    out = synthesize_reference(problem(), verifier, SynthConfig(tests_per_problem=50))
    assert out.problem is not None, out.reason
    tests = out.problem.tests
    assert 30 <= len(tests) <= 50 and tests[0].input == "[[1, 2, 3, 4]]"
    assert verifier.check(out.problem, Sample("cpe", "ref", REFERENCE)).status == "pass"
    original = problem()
    caught_original = sum(verifier.check(original, Sample("cpe", str(i), w)).status != "pass" for i, w in enumerate(WRONG))
    caught_synth = sum(verifier.check(out.problem, Sample("cpe", str(i), w)).status != "pass" for i, w in enumerate(WRONG))
    assert caught_synth == len(WRONG) > caught_original
    stats = out.problem.meta["synth"]
    assert stats["mutants_killable"] > 0 and stats["mutation_score"] == 1.0


def test_reference_errors_and_nondeterminism_are_dropped(verifier):
    flaky = "import random\ndef count_pos_even(xs: list[int]) -> int:\n    if len(xs) > 3:\n        return random.random()\n    if not xs:\n        raise ValueError\n    return len(xs)\n"
    out = synthesize_reference(
        problem(reference=flaky, tests=[Test("call", input="[[1, 2]]", output="2")]),
        verifier,
        SynthConfig(tests_per_problem=30, min_tests=1, mutants=4),
    )
    assert out.problem is not None
    for t in out.problem.tests:
        args = eval(t.input)  # test inputs we just wrote
        assert 0 < len(args[0]) <= 3
    assert out.stats["reference_failed"] > 0 and out.stats["nondeterministic"] > 0


def test_drop_reasons(verifier):
    assert synthesize_reference(problem(reference=None), verifier, SynthConfig()).reason == "no reference solution"
    no_seeds = problem(
        reference="def count_pos_even(xs):\n    return 0\n", tests=[Test("assert", code="assert count_pos_even([1]) < 5")]
    )
    assert "no seed inputs" in synthesize_reference(no_seeds, verifier, SynthConfig()).reason
    few = synthesize_reference(problem(), verifier, SynthConfig(tests_per_problem=3, min_tests=5, mutants=2))
    assert few.problem is None and "min 5" in few.reason


def test_synth_cli_resumes_after_kill_9(tmp_path):
    problems = tmp_path / "p.jsonl"
    with problems.open("w") as f:
        for i in range(30):
            f.write(
                json.dumps(
                    {
                        "id": f"p{i}",
                        "entry_point": "f",
                        "reference": f"def f(x: int, y: int) -> int:\n    return x * {i} + y\n",
                        "tests": [{"type": "call", "input": "[1, 2]", "output": str(i + 2)}],
                    }
                )
                + "\n"
            )
    out = tmp_path / "out.jsonl"
    args = [
        *TDRL,
        "synth",
        "--problems",
        str(problems),
        "--out",
        str(out),
        "--tests-per-problem",
        "10",
        "--mutants",
        "4",
        "--no-progress",
        "--workers",
        "2",
    ]
    assert 5 <= kill_then_resume(args, out, 5) < 30
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert sorted(ids) == sorted(f"p{i}" for i in range(30))


def test_decontamination_drops_problems_that_copy_benchmark_prompts(tmp_path):
    from tdrl.synthesis.decontaminate import BenchmarkIndex

    bench = tmp_path / "bench.jsonl"
    leaked = "Given a list of integers, return the number of elements that are both positive and even, counting duplicates."
    bench.write_text(json.dumps({"task_id": "B/1", "prompt": leaked}) + "\n")
    assert BenchmarkIndex([bench]).overlap("Task: " + leaked) == ["bench.jsonl:B/1"]
    assert BenchmarkIndex([bench]).overlap("Count the positive even numbers in a list.") == []
    problems = tmp_path / "p.jsonl"
    rows = [problem(id="leak", prompt=leaked).to_dict(), problem(id="clean", prompt="Count positive even numbers.").to_dict()]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [
            *TDRL,
            "synth",
            "--problems",
            str(problems),
            "--out",
            str(out),
            "--decontaminate",
            str(bench),
            "--mutants",
            "2",
            "--tests-per-problem",
            "10",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["clean"]
    dropped = [json.loads(x) for x in (tmp_path / "out.jsonl.dropped.jsonl").read_text().splitlines()]
    assert dropped[0]["id"] == "leak" and "overlaps benchmark prompts: bench.jsonl:B/1" in dropped[0]["reason"]


def test_stdio_problems_get_stdin_tests_from_the_reference(verifier):
    ref = "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\nxs = list(map(int, data[1:1 + n]))\nprint(max(xs) - min(xs))\n"
    seed = Problem(
        "spread", [Test("stdio", stdin="3\n1 5 2\n", stdout="4\n"), Test("stdio", stdin="1\n7\n", stdout="0\n")], reference=ref
    )
    out = synthesize_reference(seed, verifier, SynthConfig(tests_per_problem=20, mutants=10))
    assert out.problem is not None, out.reason
    assert all(t.type == "stdio" for t in out.problem.tests) and 10 <= len(out.problem.tests) <= 20
    assert out.stats["reference_failed"] > 0  # mutated inputs the reference rejects are gone
    assert verifier.check(out.problem, Sample("spread", "ref", ref)).status == "pass"
    wrong = "import sys\ndata = sys.stdin.read().split()\nxs = list(map(int, data[1:]))\nprint(max(xs) - xs[0])\n"
    assert verifier.check(seed, Sample("spread", "w", wrong)).status == "pass"  # the original tests miss it
    assert verifier.check(out.problem, Sample("spread", "w", wrong)).status == "fail"
