"""The code study's parts that run without a model: intervals, the seed family, the split, the report."""

import json

import pytest

from tdrl.evaluation.intervals import bootstrap_difference, bootstrap_mean, excludes_zero
from tdrl.io import read_problems
from tdrl.study.code import CodeStudyConfig, Stages, build_report, default_seeds, format_summary, pass_metrics, split_seeds


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_problems():
    small = bootstrap_mean([0.0, 1.0] * 5, resamples=500)
    large = bootstrap_mean([0.0, 1.0] * 200, resamples=500)
    for ci in (small, large):
        assert ci["low"] <= ci["mean"] == 0.5 <= ci["high"]
    assert large["high"] - large["low"] < small["high"] - small["low"]
    assert bootstrap_mean([]) == {"mean": None, "low": None, "high": None, "n": 0}


def test_paired_difference_excludes_zero_only_for_a_consistent_gain():
    before = [0.0, 0.25, 0.5, 0.0, 0.75] * 6
    assert excludes_zero(bootstrap_difference([b + 0.25 for b in before], before, resamples=500))
    noisy = [b + (0.25 if i % 2 else -0.25) for i, b in enumerate(before)]
    assert not excludes_zero(bootstrap_difference(noisy, before, resamples=500))
    with pytest.raises(ValueError, match="differ in length"):
        bootstrap_difference([1.0], [1.0, 0.0])


def test_pass_metrics_use_the_unbiased_estimator_per_problem():
    m = pass_metrics({"a": [4, 1], "b": [4, 0], "c": [4, 4]}, 4, resamples=200, seed=0)
    assert m["pass@1"]["mean"] == pytest.approx((0.25 + 0 + 1) / 3, abs=1e-6)
    assert m["pass@4"]["mean"] == pytest.approx((1 + 0 + 1) / 3, abs=1e-6)
    assert m["pass@1"]["n"] == 3


def test_bundled_seed_family_is_large_enough_and_split_by_problem(tmp_path):
    problems = read_problems(default_seeds())
    splits = {s: [p for p in problems if p.meta["split"] == s] for s in ("train", "heldout")}
    assert len(splits["train"]) >= 60 and len(splits["heldout"]) >= 30
    assert not {p.entry_point for p in splits["train"]} & {p.entry_point for p in splits["heldout"]}
    for p in problems:
        assert p.reference and p.prompt.startswith(f"def {p.entry_point}(") and len(p.tests) == 2

    counts = split_seeds(CodeStudyConfig(train_limit=5, heldout_limit=3), tmp_path)
    assert counts == {"train": 5, "heldout": 3}
    assert [p.id for p in read_problems(tmp_path / "seeds" / "train.jsonl")] == [p.id for p in splits["train"][:5]]


def test_split_rejects_a_problem_without_a_split(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"id": "x", "entry_point": "f", "tests": [{"type": "call", "input": "[1]", "output": "1"}]}) + "\n")
    with pytest.raises(ValueError, match="meta.split"):
        split_seeds(CodeStudyConfig(seeds=str(seeds)), tmp_path / "out")


def test_stages_skip_what_is_done(tmp_path):
    calls, said = [], []
    stages = Stages(tmp_path, said.append)
    assert stages.run("a", lambda: calls.append(1) or {"x": 1})["x"] == 1
    assert stages.run("a", lambda: calls.append(2) or {"x": 2})["x"] == 1  # a rerun after a kill resumes past it
    assert calls == [1] and said[-1] == "a: done before, skipped"


def test_report_pairs_problems_and_marks_a_significant_gain(tmp_path):
    ids = [f"p{i}" for i in range(30)]
    before = {p: [4, i % 2] for i, p in enumerate(ids)}
    after = {p: [4, i % 2 + 2] for i, p in enumerate(ids)}
    cfg = CodeStudyConfig(bootstrap=300)
    rm = {
        "pairs": 10,
        "n": 4,
        "at_n": {m: bootstrap_mean([0.5, 1.0]) for m in ("random", "reward_model", "oracle")},
        "reward_model_minus_random": bootstrap_mean([0.0, 0.5]),
        "reward_model": {"heldout_accuracy": 0.6},
    }
    done = {
        "split": {"train": 60, "heldout": 30},
        "synth": {s: {"kept": 30, "tests": 600} for s in ("train", "heldout")},
        "before": {"counts": before, **pass_metrics(before, 4, 300, 0), "sampling": {}, "seconds": 1},
        "rl": {"steps": 3, "seconds": 1},
        "after": {"counts": after, **pass_metrics(after, 4, 300, 0), "sampling": {}, "seconds": 1},
        "rerank": {**rm, "seconds": 1},
        "split_seconds": 0,
    }
    for s in ("split", "synth"):
        done[s]["seconds"] = 0
    report = build_report(cfg, tmp_path, done)
    diff = report["heldout"]["difference"]["pass@1"]
    assert diff["mean"] == pytest.approx(0.5) and diff["excludes_zero"]
    assert report["heldout"]["per_problem"]["p1"] == {"before": [4, 1], "after": [4, 3]}
    text = format_summary(report)
    assert "pass@1" in text and "*" in text and "best-of-4" in text
