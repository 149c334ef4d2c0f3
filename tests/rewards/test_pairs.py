"""Preference pairs: AceCoder's rule, deduplication, per-model grouping, TRL formats, the CLI."""

import json
import subprocess
import sys

import pytest

from tdrl.io import iter_jsonl, write_jsonl
from tdrl.records import Problem, Sample, Test
from tdrl.rewards.pairs import PairRule, build_pairs

TDRL = [sys.executable, "-m", "tdrl.cli"]
PROBLEM = Problem("p", [Test("call", input="[1]", output="1")], prompt="def f(x):\n", entry_point="f")


def scored(rows):
    """``(sample_id, model, pass_rate, code, status)`` rows as (Sample, result) tuples."""
    out = []
    for sid, model, rate, code, status in rows:
        sample = Sample("p", sid, f"```python\n{code}\n```", {"model": model, "prompt_format": "instruct"})
        out.append((sample, {"status": status, "pass_rate": rate, "code": code}))
    return out


def test_acecoder_rule_dedupe_and_models_apart():
    rows = [
        ("a", "m1", 1.0, "return 1", "pass"),
        ("b", "m1", 0.9, "return 2", "fail"),
        ("c", "m1", 0.5, "return 3", "fail"),  # gap 0.5 to a, 0.4 to b
        ("d", "m1", 0.2, "return 4", "fail"),
        ("e", "m1", 0.0, "return 5", "fail"),  # passes nothing: never rejected
        ("f", "m1", 1.0, "return  1", "pass"),  # same program as a, up to whitespace
        ("g", "m1", 0.3, "return 6", "infra_error"),  # the verifier failed: never paired
        ("h", "m2", 0.3, "return 7", "fail"),  # another policy: not paired with m1's samples
    ]
    pairs, stats = build_pairs({"p": PROBLEM}, scored(rows))
    got = sorted((p["chosen_id"], p["rejected_id"]) for p in pairs)
    assert got == [("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")]
    assert all(isinstance(p["prompt"], str) and "def f(x):" in p["prompt"] for p in pairs)
    assert stats.problems["p"]["m1"] == {"samples": 6, "distinct": 5, "chosen": 2, "rejected": 2, "pairs": 4}
    assert stats.problems["p"]["m2"]["pairs"] == 0
    loose, _ = build_pairs({"p": PROBLEM}, scored(rows), PairRule(min_chosen=0.9, min_gap=0.1, min_rejected=-1))
    assert ("a", "e") in {(p["chosen_id"], p["rejected_id"]) for p in loose}
    capped, _ = build_pairs({"p": PROBLEM}, scored(rows), PairRule(max_per_problem=3))
    assert len(capped) == 3 and set(map(str, capped)) <= set(map(str, pairs))


def test_conversational_format():
    pairs, _ = build_pairs(
        {"p": PROBLEM}, scored([("a", "m", 1.0, "x", "pass"), ("b", "m", 0.5, "y", "fail")]), conversational=True
    )
    (pair,) = pairs
    assert pair["prompt"][0]["role"] == "user" and pair["chosen"] == [{"role": "assistant", "content": "```python\nx\n```"}]


def test_pairs_cli_verifies_and_writes_jsonl_dataset_and_stats(tmp_path):
    pytest.importorskip("datasets")
    from datasets import load_from_disk

    tests = [Test("call", input=f"[{x}]", output=str(abs(x))) for x in (-3, -1, 0, 2, 5)]
    problem = Problem("abs", tests, prompt="def f(x):\n", entry_point="f")
    programs = [
        "def f(x):\n    return abs(x)\n",  # 5/5
        "def f(x):\n    return x if x > 0 else -x\n",  # 5/5
        "def f(x):\n    return x\n",  # 3/5
        "def f(x):\n    return -x\n",  # 3/5
        "def f(x):\n    return 0\n",  # 1/5
        "def f(x) return",  # syntax error: 0
    ]
    write_jsonl(tmp_path / "problems.jsonl", [problem])
    write_jsonl(
        tmp_path / "samples.jsonl",
        [{"problem_id": "abs", "sample_id": str(i), "completion": c, "model": "m"} for i, c in enumerate(programs)],
    )
    out = tmp_path / "pairs.jsonl"
    args = ["pairs", "--problems", str(tmp_path / "problems.jsonl"), "--samples", str(tmp_path / "samples.jsonl")]
    proc = subprocess.run([*TDRL, *args, "--out", str(out), "--dataset", str(tmp_path / "ds")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    pairs = [d for _, d in iter_jsonl(out)]
    assert sorted((p["chosen_id"], p["rejected_id"]) for p in pairs) == [(c, r) for c in "01" for r in "234"]
    rates = {p["rejected_id"]: p["rejected_pass_rate"] for p in pairs}
    assert rates == {"2": 0.6, "3": 0.6, "4": 0.2} and all(p["chosen_pass_rate"] == 1.0 for p in pairs)
    assert load_from_disk(str(tmp_path / "ds")).num_rows == 6
    stats = json.loads((tmp_path / "pairs.jsonl.stats.json").read_text())
    assert stats["totals"]["samples"] == 6 and stats["totals"]["problems_with_pairs"] == 1

    # results of another run, given with --results, must cover every sample, with the fields pairs need
    bad = tmp_path / "results.jsonl"
    bad.write_text(json.dumps({"problem_id": "abs", "sample_id": "0", "status": "pass"}) + "\n")
    proc = subprocess.run([*TDRL, *args, "--out", str(out), "--results", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "results.jsonl:1: field 'pass_rate'" in proc.stderr


def test_no_pairs_warns_with_the_numbers_and_unknown_samples_can_be_left_out(tmp_path):
    tests = [Test("call", input=f"[{x}]", output=str(abs(x))) for x in (-3, 2)]
    write_jsonl(tmp_path / "problems.jsonl", [Problem("abs", tests, prompt="def f(x):\n", entry_point="f")])
    programs = ["def f(x):\n    return abs(x)\n", "def f(x) return"]  # 2/2 and 0/2: nothing to reject by default
    rows = [{"problem_id": "abs", "sample_id": str(i), "completion": c} for i, c in enumerate(programs)]
    rows.append({"problem_id": "dropped-by-synth", "sample_id": "0", "completion": "x = 1"})
    write_jsonl(tmp_path / "samples.jsonl", rows)
    args = [*TDRL, "pairs", "--problems", str(tmp_path / "problems.jsonl"), "--samples", str(tmp_path / "samples.jsonl")]
    args += ["--out", str(tmp_path / "pairs.jsonl"), "--workers", "1"]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 2 and "samples.jsonl:3: field 'problem_id': unknown problem 'dropped-by-synth'" in proc.stderr
    assert "--skip-unknown" in proc.stderr
    proc = subprocess.run([*args, "--skip-unknown"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "0 pairs from 0 of 1 problems" in proc.stdout and "1 samples of unknown problems left out" in proc.stdout
    assert "warning: 0 pairs from 0 of 1 problems (2 verified samples: 1 pass >= --min-chosen 0.8" in proc.stderr
    assert "--min-rejected -1 also pairs programs that pass no test" in proc.stderr
    stats = json.loads((tmp_path / "pairs.jsonl.stats.json").read_text())
    assert stats["warnings"] and stats["warnings"][0] in proc.stderr and stats["totals"]["skipped_unknown"] == 1
