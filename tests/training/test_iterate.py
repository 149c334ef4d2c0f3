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

    # killed during round 1's RL: a rerun redoes that stage only
    stamps = {
        str(p.relative_to(tmp_path)): p.stat().st_mtime_ns
        for p in (tmp_path / "run").glob("round-*/*.done")
        if p.name != "rl.done"
    }
    (tmp_path / "run" / "round-1" / "rl.done").unlink()
    proc = subprocess.run([*run, "--set", "rl.max_steps=2"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    redone = json.loads((tmp_path / "run" / "round-1" / "rl.done").read_text())
    assert redone["resumed"] and redone["steps"] == 4  # from the run's last checkpoint, already at step 4
    after = {
        str(p.relative_to(tmp_path)): p.stat().st_mtime_ns
        for p in (tmp_path / "run").glob("round-*/*.done")
        if p.name != "rl.done"
    }
    assert after == stamps
