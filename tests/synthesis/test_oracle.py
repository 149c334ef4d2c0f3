"""``--method oracle`` and ``--solutions`` filtering, through the real client and server.

A scripted model stands in for the strong LLM these methods need (one cannot run here);
everything after its answer (parsing, the generator and brute force in the sandbox, the
comparison with the seed's solution, filtering) is the real path.
"""

import json
import subprocess
import sys

from tdrl.io import iter_jsonl, write_jsonl
from tdrl.records import Problem
from tdrl.synthesis.llm import ParseError
from tdrl.synthesis.oracle import parse_oracle_answer

from ..conftest import ScriptedModel, run

TDRL = [sys.executable, "-m", "tdrl.cli"]

BRUTE = "def max_sub(xs):\n    return max(sum(xs[i:j]) for i in range(len(xs)) for j in range(i + 1, len(xs) + 1))\n"
GENERATOR = (
    "import random\n\ndef generate_inputs(seed):\n    r = random.Random(seed)\n"
    "    return [[[r.randint(-5, 5) for _ in range(r.randint(1, 6))]] for _ in range(80)]\n"
)
KADANE = (
    "def max_sub(xs):\n    best, cur = xs[0], 0\n    for x in xs:\n"
    "        cur = max(x, cur + x)\n        best = max(best, cur)\n    return best\n"
)
KADANE_BUG = (  # wrong when every number is negative
    "def max_sub(xs):\n    best = cur = 0\n    for x in xs:\n        cur = max(0, cur + x)\n        best = max(best, cur)\n    return best\n"
)
PAIRS_BRUTE = (
    "def zero_pairs(xs):\n    return sum(1 for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[i] + xs[j] == 0)\n"
)
PAIRS_GEN = (
    "import random\n\ndef generate_inputs(seed):\n    r = random.Random(seed)\n"
    "    return [[[r.randint(-3, 3) for _ in range(r.randint(0, 7))]] for _ in range(80)]\n"
)


def answer(entry, brute, gen) -> str:
    return "Here you go:\n```json\n" + json.dumps({"entry_point": entry, "brute_force": brute, "generator": gen}) + "\n```"


def synth(serve, model, seeds, tmp_path, *extra):
    write_jsonl(tmp_path / "seeds.jsonl", seeds)
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [
            *TDRL,
            "synth",
            "--problems",
            str(tmp_path / "seeds.jsonl"),
            "--out",
            str(out),
            "--backend",
            "openai",
            "--base-url",
            serve(model),
            "--model",
            "scripted",
            "--tests-per-problem",
            "20",
            "--no-progress",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    kept = {d["id"]: Problem.from_dict(d) for _, d in iter_jsonl(out)}
    dropped = {d["id"]: d for _, d in iter_jsonl(tmp_path / "out.jsonl.dropped.jsonl")}
    return kept, dropped


def test_oracle_tests_come_from_the_brute_force_and_disagreements_are_reported(tmp_path, serve, verifier):
    model = ScriptedModel(
        [("SUBARRAY", answer("max_sub", BRUTE, GENERATOR)), ("PAIRS", answer("zero_pairs", PAIRS_BRUTE, PAIRS_GEN))]
    )
    seeds = [
        {"id": "good", "instruction": "SUBARRAY: the largest sum of a non-empty contiguous sublist.", "solution": KADANE},
        {"id": "buggy", "instruction": "SUBARRAY: the same, another solution.", "solution": KADANE_BUG},
        {"id": "nosol", "instruction": "PAIRS: count pairs i < j with xs[i] + xs[j] == 0.", "entry_point": "zero_pairs"},
        {"id": "junk", "instruction": "Something the model cannot answer."},
    ]
    kept, dropped = synth(serve, model, seeds, tmp_path, "--method", "oracle")
    assert sorted(kept) == ["good", "nosol"] and sorted(dropped) == ["buggy", "junk"]

    good = kept["good"]
    assert good.reference == KADANE and len(good.tests) >= 10
    assert good.meta["synth"]["disagreements"] == 0 and good.meta["synth"]["reference_from"] == "seed"
    assert run(verifier, good, KADANE).status == "pass"
    assert run(verifier, good, KADANE_BUG).status == "fail"  # the brute force's tests catch the bug

    bug = dropped["buggy"]
    assert bug["reason"].startswith("brute force and solution disagree on")
    example = bug["stats"]["disagreement_examples"][0]
    assert max(json.loads(example["input"])[0]) < 0 and example["solution"] == "0"  # all-negative input, as expected

    nosol = kept["nosol"]
    assert nosol.reference == PAIRS_BRUTE and nosol.meta["synth"]["reference_from"] == "brute_force"
    assert run(verifier, nosol, PAIRS_BRUTE).status == "pass"
    assert run(verifier, nosol, "def zero_pairs(xs):\n    return 0\n").status == "fail"

    assert dropped["junk"]["reason"].startswith("model answer unusable after 3 attempts")


def test_oracle_answer_parsing_accepts_fenced_blocks_and_names_what_is_missing():
    text = f"```python\n{BRUTE}```\nand\n```python\n{GENERATOR}```"
    parsed = parse_oracle_answer(text, "max_sub")
    assert parsed.brute_force == BRUTE and parsed.generator == GENERATOR
    for bad, why in [(f"```python\n{BRUTE}```", "no input generator"), (f"```python\n{GENERATOR}```", "no brute force")]:
        try:
            parse_oracle_answer(bad, "max_sub")
        except ParseError as exc:
            assert why in str(exc)
        else:
            raise AssertionError(f"parsed {bad!r}")


def test_llm_tests_filtered_by_a_strong_models_samples(tmp_path, serve, verifier):
    """A seed without a solution: the sample passing most asserts becomes the reference, its failures go."""
    asserts = ["assert sq(2) == 4", "assert sq(3) == 9", "assert sq(-1) == 1", "assert sq(0) == 0", "assert sq(5) == 25"]
    wrong = "assert sq(4) == 15"
    reply = json.dumps({"problem": "Square a number.", "entry_point": "sq", "tests": asserts + [wrong]})
    model = ScriptedModel([("SQUARE", reply)])
    samples = tmp_path / "strong.jsonl"
    write_jsonl(
        samples,
        [
            {"problem_id": "s", "sample_id": "0", "completion": "def sq(x):\n    return x + x\n"},
            {"problem_id": "s", "sample_id": "1", "completion": "```python\ndef sq(x):\n    return x * x\n```"},
        ],
    )
    seeds = [{"id": "s", "instruction": "SQUARE a number."}]
    kept, dropped = synth(serve, model, seeds, tmp_path, "--method", "llm", "--solutions", str(samples))
    assert not dropped
    problem = kept["s"]
    assert [t.code for t in problem.tests] == asserts
    assert problem.reference.strip() == "def sq(x):\n    return x * x"
    assert problem.meta["synth"]["solution_passes"] == [2, 5] and problem.meta["synth"]["failed_reference"] == 1

    # without samples the same seed has nothing to check its tests against
    (tmp_path / "again").mkdir()
    kept, dropped = synth(serve, model, seeds, tmp_path / "again", "--method", "llm")
    assert not kept and dropped["s"]["reason"].startswith("no solution to check the tests against")
