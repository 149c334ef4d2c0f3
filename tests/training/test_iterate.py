"""Two rounds of iterative self-training on CPU with a tiny model; resume after a kill."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("trl")
TDRL = [sys.executable, "-m", "tdrl.cli"]


def test_two_rounds_with_per_round_metrics_and_resume(toy, tmp_path):
    cfg = tmp_path / "iterate.yaml"
    cfg.write_text(
        f"model: {toy / 'sft'}\nproblems: {toy / 'problems.jsonl'}\nout_dir: {tmp_path / 'run'}\nrounds: 2\n"
        "prompt_format: completion\nsamples_per_problem: 8\nmax_tokens: 6\ntemperature: 1.0\n"
        "pair_rule: {min_rejected: -1.0}\n"
        "rm: {epochs: 3, learning_rate: 0.003, batch_size: 8, eval_steps: 5, eval_share: 0.25}\n"
        "rl: {num_generations: 8, batch_size: 16, max_steps: 4, learning_rate: 0.003, max_completion_length: 6, save_steps: 1000}\n"
        "test_weight: 0.5\n"
    )
    run = [*TDRL, "iterate", "--config", str(cfg), "--no-progress"]
    proc = subprocess.run(run, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    r0, r1 = summary["rounds"]
    assert r0["round"] == 0 and r1["round"] == 1
    assert r0["hard_negatives"] == 0 and r1["hard_negatives"] > 0  # round 1 mines with round 0's reward model
    assert r1["pairs"] > r0["pairs"]  # pairs accumulate
    for r in (r0, r1):
        assert 0 < r["policy_pass_at_1"] < 1 and r["best_of_n_oracle"] >= r["best_of_n_reward_model"]
        assert r["rm_heldout_accuracy"] is not None
    pairs = [json.loads(x) for x in (tmp_path / "run" / "round-1" / "pairs.jsonl").read_text().splitlines()]
    assert {p["round"] for p in pairs} == {0, 1} and any(p.get("source") == "hard_negative" for p in pairs)
    assert (tmp_path / "run" / "rounds.png").exists() and "policy_pass_at_1" in proc.stdout
    final = summary["final"]  # the last round's RL policy, sampled and verified once more
    assert final["policy"].endswith("round-1/rl/final") and 0 <= final["policy_pass_at_1"] <= 1
    assert (
        r0["policy_pass_at_1_after_rl"] == r1["policy_pass_at_1"] and r1["policy_pass_at_1_after_rl"] == final["policy_pass_at_1"]
    )

    # killed during round 1's RL: a rerun redoes that stage only
    stamps = {
        str(p.relative_to(tmp_path)): p.stat().st_mtime_ns
        for p in (tmp_path / "run").glob("round-*/*.done")
        if p.name != "rl.done"
    }
    (tmp_path / "run" / "round-1" / "rl.done").unlink()
    proc = subprocess.run(run, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    redone = json.loads((tmp_path / "run" / "round-1" / "rl.done").read_text())["metrics"]
    assert redone["resumed"] and redone["steps"] == 4  # from the run's last checkpoint, already at step 4
    after = {
        str(p.relative_to(tmp_path)): p.stat().st_mtime_ns
        for p in (tmp_path / "run").glob("round-*/*.done")
        if p.name != "rl.done"
    }
    assert after == stamps


def test_stale_markers_are_redone_when_settings_change(toy, tmp_path):
    """A run with no pairs stops with the numbers; a looser pair rule redoes pairs and what follows, not sampling."""
    cfg = tmp_path / "iterate.yaml"
    cfg.write_text(
        f"model: {toy / 'sft'}\nproblems: {toy / 'problems.jsonl'}\nout_dir: {tmp_path / 'run'}\nrounds: 1\n"
        "prompt_format: completion\nsamples_per_problem: 4\nmax_tokens: 6\ntemperature: 1.0\n"
        "pair_rule: {min_chosen: 2.0}\n"  # nothing passes more than every test: no pairs
        "rm: {epochs: 1, batch_size: 8, eval_share: 0.25}\n"
        "rl: {num_generations: 4, batch_size: 8, max_steps: 1, max_completion_length: 6}\n"
    )
    run = [*TDRL, "iterate", "--config", str(cfg), "--no-progress"]
    proc = subprocess.run(run, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 2, proc.stderr
    assert "warning: round 0: 0 pairs from 0 of 4 problems (16 verified samples" in proc.stderr
    assert "pair_rule.min_chosen" in proc.stderr and "no pairs to train the reward model on" in proc.stderr
    round0 = tmp_path / "run" / "round-0"
    pairs_marker = json.loads((round0 / "pairs.done").read_text())
    assert pairs_marker["metrics"]["total_pairs"] == 0 and pairs_marker["metrics"]["warnings"]
    kept = {name: (round0 / name).stat().st_mtime_ns for name in ("sample.done", "verify.done", "samples.jsonl")}
    same = subprocess.run(run, capture_output=True, text=True, timeout=900)  # unchanged: the stored warning again
    assert same.returncode == 2 and "warning: round 0: 0 pairs from 0 of 4 problems" in same.stderr, same.stderr
    assert "change pair_rule as the warning above says" in same.stderr

    proc = subprocess.run([*run, "--set", "pair_rule={min_rejected: -1.0}"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert {name: (round0 / name).stat().st_mtime_ns for name in kept} == kept  # sampling and verdicts reused
    redone = json.loads((round0 / "pairs.done").read_text())
    assert redone["settings"]["rule"] == {"min_rejected": -1.0} and redone["metrics"]["total_pairs"] > 0
    assert (round0 / "rm.done").exists() and (round0 / "rl.done").exists()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for row in summary["rounds"]:
        assert all(key in row.get("notes", {}) for key, value in row.items() if value is None), row
    assert summary["final"]["policy_pass_at_1"] is not None

    stamp = (round0 / "rl.done").stat().st_mtime_ns
    again = subprocess.run([*run, "--set", "pair_rule={min_rejected: -1.0}"], capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert (round0 / "rl.done").stat().st_mtime_ns == stamp  # same settings: nothing redone


def test_no_pairs_error_names_the_setting_that_can_help():
    """When no sample passes a test, loosening the pair rule cannot help: the error says to raise max_tokens instead."""
    from tdrl.records import Sample
    from tdrl.training.iterate import IterateConfig, no_pairs_error

    cfg = IterateConfig(problems="p.jsonl", max_tokens=6, prompt_format="completion")
    nothing = [(Sample("p", str(i), ""), {"status": "fail", "pass_rate": 0.0}) for i in range(4)]
    text = no_pairs_error(0, nothing, cfg)
    assert "none of the 4 verified samples passed a test" in text and "max_tokens (now 6)" in text
    assert "min_rejected" not in text
    some = nothing + [(Sample("p", "4", ""), {"status": "fail", "pass_rate": 0.5})]
    assert "change pair_rule as the warning above says" in no_pairs_error(0, some, cfg)
