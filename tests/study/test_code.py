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
    seeds.write_text(
        json.dumps({"id": "x", "entry_point": "f", "tests": [{"type": "call", "input": "[1]", "output": "1"}]}) + "\n"
    )
    with pytest.raises(ValueError, match="meta.split"):
        split_seeds(CodeStudyConfig(seeds=str(seeds)), tmp_path / "out")


def test_stages_skip_what_is_done_and_redo_what_changed(tmp_path):
    calls, said = [], []
    stages = Stages(tmp_path, said.append)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "part.jsonl").write_text("{}\n")
    assert stages.run("a", {"k": 1}, ["a"], lambda: calls.append(1) or {"x": 1})["x"] == 1
    assert (tmp_path / "a" / "part.jsonl").exists()  # a first start keeps what is there (a resume)
    assert stages.run("a", {"k": 1}, ["a"], lambda: calls.append(2) or {"x": 2})["x"] == 1  # a rerun resumes past it
    assert calls == [1] and said[-1] == "a: done before, skipped"
    # other settings: the stage is redone, its old outputs removed first
    assert stages.run("a", {"k": 2}, ["a"], lambda: calls.append(3) or {"x": 3})["x"] == 3
    assert calls == [1, 3] and "a: settings changed since the last run, redone" in said
    assert not (tmp_path / "a").exists()
    # a fresh Stages over the same folder (a new process) sees the new marker
    assert Stages(tmp_path, said.append).run("a", {"k": 2}, ["a"], lambda: {"x": 4})["x"] == 3


def test_study_config_typos_fail_before_any_work(tmp_path):
    from tdrl.errors import ConfigError
    from tdrl.study.code import load_config

    with pytest.raises(ConfigError, match=r"rl.max_step: unknown setting; did you mean rl.max_steps\?"):
        load_config(None, ["rl.max_step=2"])
    with pytest.raises(ConfigError, match=r"rm.epoch: unknown setting; did you mean rm.epochs\?"):
        load_config(None, ["rm.epoch=2"])
    with pytest.raises(ConfigError, match=r"eval.temprature"):
        load_config(None, ["eval.temprature=0.5"])
    with pytest.raises(ConfigError, match=r"rm.n: expected int"):
        load_config(None, ["rm.n=many"])
    cfg = load_config(None, ["rl.learning_rate=1e-4", "rm.learning_rate=1e-5"])  # YAML's string 1e-4 becomes a float
    assert cfg.rl["learning_rate"] == 1e-4 and cfg.rm["learning_rate"] == 1e-5 and cfg.rm["n"] == 8


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


def test_study_cli_end_to_end_with_a_tiny_model_and_resume(tmp_path, tiny_model):
    """Every stage on real parts (synthesis, sampling, sandbox, TRL GRPO with LoRA, merge), then a
    rerun that finds the stages done and only redoes the one whose marker is gone."""
    import subprocess
    import sys

    pytest.importorskip("trl")
    out = tmp_path / "study"
    args = [
        sys.executable, "-m", "tdrl.cli", "study", "code", "--no-progress",
        "--set", f"model={tiny_model}", "--set", f"out_dir={out}", "--set", "train_limit=2", "--set", "heldout_limit=2",
        "--set", "eval={n: 2, temperature: 0.8, max_tokens: 8, batch_size: 8}",
        "--set", "rl={max_steps: 1, num_generations: 2, batch_size: 2, max_completion_length: 8, lora: {r: 4, alpha: 8}}",
        "--set", "synth={tests_per_problem: 6, min_tests: 3, mutants: 4}", "--set", "best_of_n=false", "--set", "bootstrap=100",
    ]  # fmt: skip
    first = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["problems"]["train"] == 2 and report["rl"]["steps"] == 1
    assert set(report["heldout"]["per_problem"]) == {p.id for p in read_problems(out / "problems" / "heldout.jsonl")}
    assert all(v["before"][0] == 2 for v in report["heldout"]["per_problem"].values())
    assert (out / "final" / "config.json").exists() and (out / "plots" / "heldout_pass.png").exists()
    assert "after - before" in first.stdout

    (out / "stages" / "after.done").unlink()
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    for stage in ("split", "synth", "before", "rl"):
        assert f"{stage}: done before, skipped" in again.stdout
    assert "after: running" in again.stdout  # its samples were on disk: resumed, nothing regenerated
    assert json.loads((out / "report.json").read_text())["heldout"]["after"] == report["heldout"]["after"]

    # other evaluation settings: both evaluations are redone from scratch, the policy is kept
    changed = [*args, "--set", "eval={n: 3, temperature: 0.8, max_tokens: 8, batch_size: 8}"]
    third = subprocess.run(changed, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr
    assert "rl: done before, skipped" in third.stdout
    assert "before: settings changed since the last run, redone" in third.stdout and "after: settings changed" in third.stdout
    assert all(
        v["before"][0] == 3 and v["after"][0] == 3
        for v in json.loads((out / "report.json").read_text())["heldout"]["per_problem"].values()
    )


def test_reward_model_best_of_n_has_intervals_at_full_n(tmp_path, tiny_model):
    """Best-of-N over verified samples with a real (tiny) reward model: exact random and oracle values, intervals."""
    pytest.importorskip("trl")
    from tdrl.execution.run import verify_files
    from tdrl.io import write_jsonl
    from tdrl.records import Problem, Test
    from tdrl.study.code import reward_model_best_of_n
    from tdrl.training.reward_model import RMConfig, train_reward_model

    pairs = [
        {
            "prompt": f"Write f{i}(x).\n",
            "chosen": f"def f{i}(x):\n    return x + 1\n",
            "rejected": f"def f{i}(x):\n    raise ValueError\n",
        }
        for i in range(16)
    ]
    write_jsonl(tmp_path / "pairs.jsonl", [{**p, "problem_id": f"q{i}"} for i, p in enumerate(pairs)])
    train_reward_model(
        tmp_path / "pairs.jsonl", tmp_path / "rm", RMConfig(backbone=tiny_model, max_steps=2, batch_size=8), progress=False
    )

    problems, samples = [], []
    for i in range(6):
        tests = [Test("call", input=f"[{x}]", output=str(x + 1)) for x in (0, 4)]
        problems.append(Problem(f"p{i}", tests, prompt=f"Write g{i}(x).\n", entry_point=f"g{i}"))
        programs = [f"def g{i}(x):\n    return x + 1\n", f"def g{i}(x):\n    return 1 + x\n"] + [
            f"def g{i}(x):\n    raise ValueError\n"
        ] * 2
        samples += [{"problem_id": f"p{i}", "sample_id": str(j), "completion": c} for j, c in enumerate(programs)]
    write_jsonl(tmp_path / "problems.jsonl", problems)
    write_jsonl(tmp_path / "samples.jsonl", samples)
    verify_files(tmp_path / "problems.jsonl", tmp_path / "samples.jsonl", tmp_path / "results.jsonl", workers=2, progress=False)

    got = reward_model_best_of_n(
        tmp_path / "problems.jsonl",
        tmp_path / "samples.jsonl",
        tmp_path / "results.jsonl",
        tmp_path / "rm",
        tmp_path / "bon.png",
        200,
        0,
    )
    assert got["n"] == 4 and got["best_of_n"]["n"] == [1, 2, 4]
    assert got["at_n"]["random"]["mean"] == 0.5 and got["at_n"]["oracle"]["mean"] == 1.0
    rm = got["at_n"]["reward_model"]
    assert rm["n"] == 6 and rm["low"] <= rm["mean"] <= rm["high"] and rm["mean"] in {k / 6 for k in range(7)}
    assert got["reward_model_minus_random"]["mean"] == pytest.approx(rm["mean"] - 0.5)
    assert (tmp_path / "bon.png").stat().st_size > 0
