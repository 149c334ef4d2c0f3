"""Dataset converters on rows written from each published schema (tests/fixtures/datasets,
made by make_fixtures.py, never downloaded): for each format a correct program passes and a
wrong one fails through the real verifier; bad rows fail with file, line and field; unusable
problems are dropped with their reason."""

import json
from pathlib import Path

import pytest

from tdrl.evaluation.datasets import CONVERTERS, convert_rows, iter_rows
from tdrl.io import InputError, read_problems, write_jsonl
from tdrl.records import Problem, Sample, Test
from tests.conftest import run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"


def converted(fmt: str, tmp_path: Path, source: Path | None = None):
    """Convert a fixture; returns the problems by id, the summary and the output path."""
    source = source or FIXTURES / f"{fmt}.jsonl"
    out = tmp_path / f"{fmt}.jsonl"
    summary = convert_rows(iter_rows(source), fmt, str(source), out)
    return {p.id: p for p in read_problems(out)}, summary, out


def dropped(out: Path) -> list[dict]:
    return [json.loads(x) for x in Path(str(out) + ".dropped.jsonl").read_text().splitlines()]


def check(verifier, problem: Problem, right: str, wrong: str):
    good, bad = run(verifier, problem, right), run(verifier, problem, wrong)
    assert good.status == "pass", (good.error, [t.error for t in good.tests])
    assert bad.status != "pass"
    return good, bad


def test_every_registered_format_has_a_fixture():
    assert {p.stem for p in FIXTURES.glob("*.jsonl")} == set(CONVERTERS)


# ---------------------------------------------------------------- LiveCodeBench


def test_livecodebench_private_tests_are_decoded_and_a_malicious_pickle_is_refused(tmp_path):
    marker = Path("/tmp/tdrl-fixture-pickle-ran")
    marker.unlink(missing_ok=True)
    problems, summary, out = converted("livecodebench", tmp_path)
    stdin = problems["abc900_a"]
    assert [t.stdin for t in stdin.tests] == ["1 2\n", "5 7\n", "-4 4\n"]  # public, then the two private ones
    assert {t.rule for t in stdin.tests} == {"livecodebench"}
    assert stdin.meta["contest_date"] == "2023-06-17T00:00:00"
    (refused,) = dropped(out)
    assert refused["id"] == "abc900_b" and refused["field"] == "private_test_cases"
    assert refused["reason"].startswith("refused") and refused["row"] == 3
    assert not marker.exists()  # nothing in the pickle ran
    assert summary.problems == 2


def test_livecodebench_stdin_and_functional_verdicts(tmp_path, verifier):
    problems, _, _ = converted("livecodebench", tmp_path)
    check(verifier, problems["abc900_a"], "a, b = map(int, input().split())\nprint(a + b)\n", "print(3)\n")
    leet = problems["3900"]
    assert leet.entry_point == "Solution" and leet.tests[0].type == "method" and leet.tests[0].method == "maxSum"
    assert [t.input for t in leet.tests] == ["[[1, 5, 3], 2]", "[[4, 4, 4], 3]", "[[-1, -2], 1]"]
    # the answer uses List without importing it, as LeetCode allows; the prompt's prelude supplies it
    right = (
        "```python\nclass Solution:\n    def maxSum(self, nums: List[int], k: int) -> int:\n"
        "        return sum(sorted(nums)[-k:])\n```"
    )
    wrong = "class Solution:\n    def maxSum(self, nums, k):\n        return sum(nums[:k])\n"
    _, bad = check(verifier, leet, right, wrong)
    assert [t.status for t in bad.tests] == ["fail", "pass", "pass"]  # per-test verdicts


def test_livecodebench_method_runs_on_a_fresh_instance(tmp_path, verifier):
    problems, _, _ = converted("livecodebench", tmp_path)
    # state kept on the instance would leak between tests if the instance were shared
    stateful = (
        "class Solution:\n    def __init__(self):\n        self.calls = 0\n"
        "    def maxSum(self, nums, k):\n        self.calls += 1\n"
        "        return sum(sorted(nums)[-k:]) if self.calls == 1 else 0\n"
    )
    assert run(verifier, problems["3900"], stateful).status == "pass"


def test_livecodebench_bad_row_names_file_line_and_field(tmp_path):
    rows = [json.loads(x) for x in (FIXTURES / "livecodebench.jsonl").read_text().splitlines()]
    del rows[1]["question_content"]
    path = write_jsonl(tmp_path / "lcb.jsonl", rows[:2]) and tmp_path / "lcb.jsonl"
    with pytest.raises(InputError, match=r"lcb\.jsonl:2: field 'question_content': missing"):
        convert_rows(iter_rows(path), "livecodebench", str(path), tmp_path / "out.jsonl")


# ---------------------------------------------------------------- TACO and APPS


def test_taco_call_tests_with_wrapped_outputs(tmp_path, verifier):
    problems, _, out = converted("taco", tmp_path)
    add = problems["taco/0"]
    assert [(t.type, t.input, t.output, t.rule) for t in add.tests][0] == ("call", "[1, 2]", "[3]", "apps")
    assert add.meta["starter_code"] == "def add_pair(a, b):" and add.reference
    check(verifier, add, "def add_pair(a, b):\n    return a + b\n", "def add_pair(a, b):\n    return a * b\n")
    assert run(verifier, add, "def add_pair(a, b):\n    return [a + b]\n").status == "pass"  # wrapped also matches
    two = problems["taco/1"]
    assert two.entry_point == "Solution" and two.tests[0].type == "method"
    tuple_answer = (
        "class Solution:\n    def twoSum(self, nums, target):\n        for i in range(len(nums)):\n"
        "            for j in range(i + 1, len(nums)):\n                if nums[i] + nums[j] == target:\n"
        "                    return (i, j)\n"
    )
    check(verifier, two, tuple_answer, tuple_answer.replace("(i, j)", "(j, i)"))
    check(verifier, problems["taco/2"], problems["taco/2"].reference, "print(0)\n")
    assert dropped(out)[0]["field"] == "input_output"


def test_apps_float_output_and_int_dict_keys(tmp_path, verifier):
    problems, _, _ = converted("apps", tmp_path)
    ratio = problems["apps/4001"]
    assert {t.rule for t in ratio.tests} == {"apps"}
    check(verifier, ratio, "print(1 / int(input()))\n", "print(round(1 / int(input()), 2))\n")
    keys = problems["apps/4002"]
    assert keys.tests[0].input == "[{1: 'a', 2: 'b'}]" and keys.tests[0].output == "[{1: 1, 2: 1}]"
    check(
        verifier,
        keys,
        "def count_keys(d):\n    return {k: 1 for k in d}\n",
        "def count_keys(d):\n    return {str(k): 1 for k in d}\n",
    )


# ---------------------------------------------------------------- CodeContests


def test_codecontests_public_private_generated(tmp_path, verifier):
    problems, _, _ = converted("codecontests", tmp_path)
    (p,) = problems.values()
    assert len(p.tests) == 4 and p.meta["test_splits"] == [1, 1, 2] and "print" in p.reference
    right = "n = int(input())\nprint('yes' if n % 2 == 0 else 'no')\nprint(n / 3)\n"  # case and precision differ
    wrong = "n = int(input())\nprint('yes' if n % 2 == 0 else 'no')\nprint(round(n / 3, 2))\n"
    check(verifier, p, right, wrong)


# ---------------------------------------------------------------- AceCode


def test_acecode_asserts_and_graded_samples_feed_pairs(tmp_path, verifier):
    from tdrl.rewards.pairs import PairRule, pairs_files

    problems, summary, out = converted("acecode", tmp_path)
    add = problems["oss_1"]
    assert add.entry_point == "add" and [t.type for t in add.tests] == ["assert"] * 3
    check(verifier, add, "def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n")
    assert summary.samples == 2
    samples = [json.loads(x) for x in Path(summary.paths["samples"]).read_text().splitlines()]
    assert [(s["sample_id"], s["recorded_pass_rate"]) for s in samples] == [("0", 1.0), ("1", 0.333333)]
    n, totals = pairs_files(out, summary.paths["samples"], tmp_path / "pairs.jsonl", summary.paths["results"], PairRule())
    (pair,) = [json.loads(x) for x in (tmp_path / "pairs.jsonl").read_text().splitlines()]
    assert n == 1 and "a + b" in pair["chosen"] and "a * b" in pair["rejected"]
    # the recorded pass rates agree with this verifier's
    for sample in samples:
        got = run(verifier, add, sample["completion"])
        assert round(got.pass_rate, 3) == round(sample["recorded_pass_rate"], 3)


def test_acecode_bad_row_names_file_line_and_field(tmp_path):
    rows = [json.loads(x) for x in (FIXTURES / "acecode.jsonl").read_text().splitlines()]
    rows[1]["inferences"] = [{"completion": "x", "pass_rate": 7}]
    path = tmp_path / "ace.jsonl"
    write_jsonl(path, rows)
    with pytest.raises(InputError, match=r"ace\.jsonl:2: field 'inferences\[0\]\.pass_rate'"):
        convert_rows(iter_rows(path), "acecode", str(path), tmp_path / "out.jsonl")


# ---------------------------------------------------------------- PrimeIntellect, DeepCoder, verl


def test_primeintellect_stdin_and_function_call(tmp_path, verifier):
    problems, _, _ = converted("primeintellect", tmp_path)
    check(verifier, problems["pi_1"], "print(input()[::-1])\n", "print(input())\n")
    assert {t.rule for t in problems["pi_1"].tests} == {"prime"}
    square = problems["pi_2"]
    assert square.entry_point == "square" and square.tests[0].output == "[9]"
    check(verifier, square, "def square(n):\n    return n * n\n", "def square(n):\n    return n + n\n")


def test_deepcoder_subset_shapes(tmp_path, verifier):
    problems, _, _ = converted("deepcoder", tmp_path)
    even, biggest, squared = problems["deepcoder/0"], problems["deepcoder/1"], problems["deepcoder/2"]
    assert even.entry_point == "Solution" and even.tests[1].input == "[[]]"
    check(
        verifier,
        even,
        "class Solution:\n    def countEven(self, nums):\n        return sum(x % 2 == 0 for x in nums)\n",
        "class Solution:\n    def countEven(self, nums):\n        return len(nums)\n",
    )
    check(verifier, biggest, "print(max(map(int, input().split())))\n", "print(min(map(int, input().split())))\n")
    check(verifier, squared, "print(int(input()) ** 2)\n", "print(int(input()) * 2)\n")
    assert {t.rule for t in squared.tests} == {"livecodebench"}


def test_verl_parquet_rows(tmp_path, verifier):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = [json.loads(x) for x in (FIXTURES / "verl.jsonl").read_text().splitlines()]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    problems, summary, out = converted("verl", tmp_path, path)
    assert summary.problems == 2 and dropped(out)[0]["field"] == "data_source"
    product = problems["codecontests/11"]
    assert product.prompt.startswith("Read two integers") and {t.rule for t in product.tests} == {"prime"}
    check(
        verifier, product, "a, b = map(int, input().split())\nprint(a * b)\n", "a, b = map(int, input().split())\nprint(a + b)\n"
    )
    mul = problems["apps/12"]
    assert mul.entry_point == "mul" and mul.tests[0].input == "[2, 3]"
    check(verifier, mul, "def mul(a, b):\n    return a * b\n", "def mul(a, b):\n    return a + b\n")


# ---------------------------------------------------------------- KodCode


def test_kodcode_pytest_functions_are_per_test_records(tmp_path, verifier):
    problems, _, _ = converted("kodcode", tmp_path)
    (p,) = problems.values()
    assert [t.function for t in p.tests] == ["test_basic", "test_param", "test_type_error", "TestFloats.test_approx"]
    assert p.entry_point == "running_sum"
    good = run(verifier, p, p.reference)
    assert good.status == "pass", [t.error for t in good.tests]
    no_raise = "def running_sum(xs):\n    out, t = [], 0\n    for x in xs or []:\n        t += x\n        out.append(t)\n    return out\n"
    bad = run(verifier, p, no_raise)
    assert [t.status for t in bad.tests] == ["pass", "pass", "error", "pass"]
    assert "DID NOT RAISE" in bad.tests[2].error


def test_kodcode_exit_status_is_never_a_pass(tmp_path, verifier):
    problems, _, _ = converted("kodcode", tmp_path)
    (p,) = problems.values()
    exits = "import sys\ndef running_sum(xs):\n    sys.exit(0)\n"
    result = run(verifier, p, exits)
    assert result.status != "pass" and result.passed == 0
    early = "import os\nos._exit(0)\n"
    assert run(verifier, p, early).passed == 0


# ---------------------------------------------------------------- big integers


def test_huge_int_results_are_judged(verifier):
    value = 7**20000  # ~17,000 digits: past Python's 4300-digit text limit
    from tdrl.execution.values import to_literal

    problem = Problem("big", [Test("call", input="[20000]", output=to_literal(value))], entry_point="power")
    check(verifier, problem, "def power(n):\n    return 7 ** n\n", "def power(n):\n    return 7 ** n + 1\n")
    again = Problem.from_dict(problem.to_dict())  # what a problems file reads back
    assert run(verifier, again, "def power(n):\n    return 7 ** n\n").status == "pass"


def test_synth_keeps_a_problem_whose_reference_returns_huge_ints(tmp_path, verifier):
    from tdrl.synthesis.reference import SynthConfig, synthesize_reference

    ref = "def big(n: int) -> int:\n    return 10 ** (5000 + n % 7)\n"
    p = Problem("big", [Test("call", input="[3]", output=f"0x{10**5003:x}")], entry_point="big", reference=ref)
    outcome = synthesize_reference(p, verifier, SynthConfig(tests_per_problem=4, min_tests=3, mutants=2))
    assert outcome.problem is not None, outcome.reason
    assert run(verifier, outcome.problem, ref).status == "pass"


def test_synth_drops_a_problem_it_cannot_handle(verifier):
    from tdrl.synthesis.reference import SynthConfig
    from tdrl.synthesis.run import _synthesize_one

    deep = "[" * 200_000 + "]" * 200_000  # a seed input no parser takes
    p = Problem("deep", [Test("call", input=deep, output="0")], entry_point="f", reference="def f(x):\n    return 0\n")
    outcome = _synthesize_one(p, verifier, SynthConfig())
    assert outcome.problem is None and outcome.reason.startswith("synthesis failed")


def test_verify_drops_a_problem_whose_values_do_not_read_back(tmp_path):
    from tdrl.execution.run import verify_files

    problems = tmp_path / "p.jsonl"
    rows = [
        {"id": "ok", "entry_point": "f", "tests": [{"type": "call", "input": "[1]", "output": "1"}]},
        {"id": "huge", "entry_point": "f", "tests": [{"type": "call", "input": "[1]", "output": "9" * 5000}]},
    ]
    write_jsonl(problems, rows)
    samples = write_jsonl(tmp_path / "s.jsonl", [Sample(pid, "0", "def f(x):\n    return x\n") for pid in ("ok", "huge")]) and (
        tmp_path / "s.jsonl"
    )
    out = tmp_path / "r.jsonl"
    summary = verify_files(problems, samples, out, workers=1, calibrate=False, progress=False)
    assert summary.samples == 1 and summary.dropped == 1
    (gone,) = dropped(out)
    assert gone["problem_id"] == "huge" and "tests[0].output" in gone["reason"] and "p.jsonl:2" in gone["reason"]
    assert json.loads(out.read_text())["status"] == "pass"


def test_dataset_answers_past_the_digit_limit_convert_and_verify(tmp_path, verifier):
    sevens = "7" * 6000  # 777...7: JSON text Python's json module will not read by default
    row = (
        '{"question": "Return the number made of n sevens.", "starter_code": "def sevens(n):", "solutions": "[]", '
        '"input_output": "{\\"fn_name\\": \\"sevens\\", \\"inputs\\": [[6000]], \\"outputs\\": [[' + sevens + ']]}"}\n'
    )
    path = tmp_path / "rows.jsonl"
    path.write_text(row)
    problems, summary, _ = converted("taco", tmp_path, path)
    assert summary.problems == 1
    (p,) = problems.values()
    assert p.tests[0].output.startswith("[0x")  # hex: reads back past the limit
    right = "def sevens(n):\n    return (10 ** n - 1) // 9 * 7\n"
    check(verifier, p, right, "def sevens(n):\n    return (10 ** n - 1) // 9 * 7 + 1\n")


def test_synth_drops_a_problem_whose_values_do_not_read_back(tmp_path):
    from tdrl.synthesis.reference import SynthConfig
    from tdrl.synthesis.run import synth_files

    problems = tmp_path / "p.jsonl"
    ref = "def f(x):\n    return x\n"
    write_jsonl(
        problems,
        [
            {
                "id": "huge",
                "entry_point": "f",
                "reference": ref,
                "tests": [{"type": "call", "input": "[1]", "output": "9" * 5000}],
            },
            {"id": "ok", "entry_point": "f", "reference": ref, "tests": [{"type": "call", "input": "[1]", "output": "1"}]},
        ],
    )
    out = tmp_path / "synth.jsonl"
    summary = synth_files(problems, out, SynthConfig(tests_per_problem=3, min_tests=1, mutants=0), workers=1, progress=False)
    assert summary.kept == 1 and summary.dropped == {"test values do not read back": 1}
    (gone,) = dropped(out)
    assert gone["id"] == "huge" and "p.jsonl:1: field 'tests[0].output'" in gone["reason"]


def test_dataset_prompts_are_shown_as_statements(tmp_path):
    from tdrl.sampling.prompts import instruction

    problems, _, _ = converted("livecodebench", tmp_path)
    text = instruction(problems["3900"])
    assert text.startswith("Solve the following problem in Python 3")
    assert "```python\nReturn the largest" not in text  # the statement is not wrapped as code
    assert "class Solution:" in text
