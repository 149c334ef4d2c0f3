"""SRL on CPU: a tiny model's mean step reward on synthetic trajectories rises over rounds; then RLVR runs."""

import json
import random
import subprocess
import sys

import pytest

from tdrl.io import write_jsonl
from tdrl.rewards.srl import arithmetic_trajectories, expand, shell_trajectories

pytest.importorskip("trl")
TDRL = [sys.executable, "-m", "tdrl.cli"]


def test_srl_raises_the_step_reward_then_rlvr(tmp_path):
    from tdrl.llm.tiny import build_tiny_model
    from tdrl.training.sft import sft_train

    trajs = arithmetic_trajectories(6, 0) + shell_trajectories(6, 0)
    write_jsonl(
        tmp_path / "traj.jsonl",
        [{"id": t.id, "problem": t.problem, "steps": t.steps, "kind": t.kind, "meta": t.meta} for t in trajs],
    )
    rows = expand(trajs)
    steps = [r["expert_step"] for r in rows]
    rng = random.Random(0)
    # a format warm-up: the monologue, then a step copied from a random other instance (mostly wrong)
    warm = [{"prompt": r["prompt"], "completion": "<think> </think> " + rng.choice(steps) + "\n"} for r in rows for _ in range(3)]
    sft_train(
        build_tiny_model(tmp_path / "base", hidden=64, vocab=600),
        warm,
        tmp_path / "sft",
        epochs=10,
        learning_rate=3e-3,
        batch_size=16,
        progress=False,
    )
    proc = subprocess.run(
        [
            *TDRL,
            "srl",
            "--trajectories",
            str(tmp_path / "traj.jsonl"),
            "--model",
            str(tmp_path / "sft"),
            "--out",
            str(tmp_path / "run"),
        ]
        + ["--rounds", "2", "--steps-per-round", "20", "--max-tokens", "32", "--then-rl-steps", "2", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "srl_summary.json").read_text())
    before = summary["rounds"][0]["mean_step_reward"]
    assert summary["final_mean_step_reward"] > before + 0.1, summary  # rollouts of the trained policy, same prompts
    assert all(r["kept"] + r["filtered"] == summary["instances"] for r in summary["rounds"])
    assert "rlvr" in summary and summary["policy"].endswith("rlvr/final")
