"""The SFT-vs-RL study end to end on the CPU with a tiny model, through the CLI and an example config."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("trl")


def test_study_runs_sft_and_rl_from_the_same_start_and_plots(tmp_path):
    out = tmp_path / "study"
    sets = [
        f"out_dir={out}",
        "train_tasks=8",
        "eval_tasks=3",
        "warmup_sft_steps=2",
        "steps=2",
        "eval_every=1",
        "max_new_tokens=16",
        "env_args.verify_iter=2",
        "tiny={hidden: 16, layers: 1, vocab: 400}",
        "rl.batch_size=4",
        "rl.num_generations=2",
    ]
    args = [sys.executable, "-m", "tdrl.cli", "envs", "study", "--config", "examples/study_points.yaml", "--no-progress"]
    for s in sets:
        args += ["--set", s]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env={"TRL_EXPERIMENTAL_SILENCE": "1", **_env()})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ID" in proc.stdout and "OOD" in proc.stdout and "study.png" in proc.stdout

    rows = [json.loads(line) for line in (out / "curves.jsonl").read_text().splitlines()]
    seen = {(r["branch"], r["step"], r["split"]) for r in rows}
    for branch in ("sft", "rl"):
        for step in (0, 1, 2):
            assert {(branch, step, "id"), (branch, step, "ood")} <= seen
    start = {r["split"]: r for r in rows if r["branch"] == "start"}
    for branch in ("sft", "rl"):  # both branches begin at the shared start's scores
        zero = {r["split"]: r for r in rows if r["branch"] == branch and r["step"] == 0}
        assert {k: {**v, "branch": "start"} for k, v in zero.items()} == start
    assert all(r["episodes"] == 3 for r in rows)
    assert (out / "study.png").stat().st_size > 5000

    summary = json.loads((out / "study.json").read_text())
    assert summary["rl"]["steps"] == 2 and summary["config"]["env"] == "points"
    assert set(summary["final"]) == {"start", "sft", "rl"}
    metrics = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    logged = [m for m in metrics if "rewards/env_return/mean" in m]
    assert len(logged) == 2 and all(m["rewards/env_return/mean"] <= 5.0 for m in logged)
    assert all("rewards/env_solved/mean" in m for m in logged)  # a weight-0 metric next to the reward
    assert (out / "sft" / "config.json").exists() and (out / "rl" / "final" / "config.json").exists()


def _env():
    import os

    return dict(os.environ)
