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


def test_trajectories_command_writes_builtin_sets_and_splits_solutions(tmp_path):
    from tdrl.demo import data_file
    from tdrl.rewards.srl import read_trajectories

    proc = subprocess.run(
        [*TDRL, "trajectories", "--builtin", "arithmetic", "-n", "3", "--out", str(tmp_path / "a.jsonl")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    arith = read_trajectories(tmp_path / "a.jsonl")
    assert len(arith) == 3 and arith[0].steps[-1].startswith("answer: ") and "answer" in arith[0].meta
    proc = subprocess.run(
        [*TDRL, "trajectories", "--problems", str(data_file("demo_problems.jsonl")), "--out", str(tmp_path / "c.jsonl")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    code = {t.id: t for t in read_trajectories(tmp_path / "c.jsonl")}
    assert code["demo/add"].steps == ["def add(a: int, b: int) -> int:", "return a + b"] and code["demo/add"].kind == "code"
    assert "4 trajectories" in proc.stdout
    proc = subprocess.run([*TDRL, "trajectories", "--out", str(tmp_path / "x.jsonl")], capture_output=True, text=True)
    assert proc.returncode == 2 and "exactly one of --builtin" in proc.stderr


def test_a_round_that_filters_every_prompt_warns_and_says_what_to_change(tmp_path):
    from tdrl.llm.tiny import build_tiny_model

    trajs = arithmetic_trajectories(2, 0)
    write_jsonl(tmp_path / "traj.jsonl", [{"id": t.id, "problem": t.problem, "steps": t.steps} for t in trajs])
    base = build_tiny_model(tmp_path / "base", hidden=32, vocab=600)  # untrained: never writes <think>...</think>
    proc = subprocess.run(
        [*TDRL, "srl", "--trajectories", str(tmp_path / "traj.jsonl"), "--model", str(base), "--out", str(tmp_path / "run")]
        + ["--rounds", "1", "--rollouts", "2", "--max-tokens", "8", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning: round 0: dynamic sampling filtered all" in proc.stderr and "--no-think" in proc.stderr
    summary = json.loads((tmp_path / "run" / "srl_summary.json").read_text())
    assert summary["rounds"][0]["kept"] == 0 and summary["warnings"] == [summary["rounds"][0]["warning"]]
    assert summary["policy"] == str(base)  # nothing trained


def test_no_think_rewards_the_first_line():
    from tdrl.rewards.srl import step_reward

    assert step_reward("\n 3 + 4 = 7\nmore", "3 + 4 = 7", think=False) == 1.0
    assert step_reward("3 + 4 = 7", "3 + 4 = 7") == -1.0  # the default asks for the monologue
    assert step_reward("  \n", "3 + 4 = 7", think=False) == -1.0


@pytest.mark.slow
def test_srl_with_the_embedded_model(tmp_path):
    """`tdrl srl --model embedded` on built-in trajectories: the scorer resolves `embedded`, GRPO trains on what varies."""
    subprocess.run(
        [*TDRL, "trajectories", "--builtin", "arithmetic", "-n", "2", "--out", str(tmp_path / "traj.jsonl")], check=True
    )
    proc = subprocess.run(
        [*TDRL, "srl", "--trajectories", str(tmp_path / "traj.jsonl"), "--model", "embedded", "--out", str(tmp_path / "run")]
        + ["--rounds", "1", "--steps-per-round", "1", "--rollouts", "4", "--batch-size", "4", "--max-tokens", "24"]
        + ["--no-think", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "srl_summary.json").read_text())
    r0 = summary["rounds"][0]
    assert r0["kept"] > 0 and r0["mean_step_reward"] > -1, summary  # first lines resemble the expert's steps
    assert summary["policy"].endswith("round-0/final") and (tmp_path / "run" / "round-0" / "final").is_dir()
