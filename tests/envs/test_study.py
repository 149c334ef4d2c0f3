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
        "branches=[sft, rl, rl_raw]",
    ]
    args = [sys.executable, "-m", "tdrl.cli", "envs", "study", "--config", "examples/study_points.yaml", "--no-progress"]
    for s in sets:
        args += ["--set", s]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env={"TRL_EXPERIMENTAL_SILENCE": "1", **_env()})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ID" in proc.stdout and "OOD" in proc.stdout and "study.png" in proc.stdout

    rows = [json.loads(line) for line in (out / "curves.jsonl").read_text().splitlines()]
    seen = {(r["branch"], r["step"], r["split"]) for r in rows}
    for branch in ("sft", "rl", "rl_raw"):
        for step in (0, 1, 2):
            assert {(branch, step, "id"), (branch, step, "ood")} <= seen
    for r in rows:  # greedy, sampled and the expert's log-probability, with per-task flags for intervals
        assert len(r["solved"]) == 3 and r["success"] == sum(r["solved"]) / 3
        assert 0.0 <= r["sampled_success"] <= 1.0 and r["expert_logp"] < 0
    start = {r["split"]: r for r in rows if r["branch"] == "start"}
    for branch in ("sft", "rl"):  # both branches begin at the shared start's scores
        zero = {r["split"]: r for r in rows if r["branch"] == branch and r["step"] == 0}
        assert {k: {**v, "branch": "start"} for k, v in zero.items()} == start
    assert all(r["episodes"] == 3 for r in rows)
    assert (out / "study.png").stat().st_size > 5000

    summary = json.loads((out / "study.json").read_text())
    assert summary["rl"]["steps"] == 2 and summary["config"]["env"] == "points"
    assert set(summary["final"]) == {"start", "sft", "rl", "rl_raw"}
    raw = [r for r in rows if r["branch"] == "rl_raw" and r["step"] == 0]  # the ablation starts before the warm-up
    warm = [r for r in rows if r["branch"] == "rl" and r["step"] == 0]
    assert [r["expert_logp"] for r in raw] != [r["expert_logp"] for r in warm]
    assert summary["rl_runs"]["rl_raw"]["steps"] == 2
    metrics = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    logged = [m for m in metrics if "rewards/env_return/mean" in m]
    assert len(logged) == 2 and all(m["rewards/env_return/mean"] <= 5.0 for m in logged)
    assert all("rewards/env_solved/mean" in m for m in logged)  # a weight-0 metric next to the reward
    assert (out / "sft" / "config.json").exists() and (out / "rl" / "final" / "config.json").exists()


def _env():
    import os

    return dict(os.environ)


class FirstLetter:
    """A one-attempt toy environment: +1 when the answer starts with one of ``good``, else -1 (reward spread for sure)."""

    name = "first-letter"
    verify_iter = 1
    out_of_attempts = 0.0

    def __init__(self, good: str):
        self.good = good

    def check(self, task, answer):
        from tdrl.envs.base import Verdict

        ok = answer[:1] in self.good
        return Verdict(1.0 if ok else -1.0, ok, "" if ok else "a wrong first letter")


def _good_mass(model_path, prompt: str, good: str) -> float:
    """The probability that the model's first answer token starts with a ``good`` character."""
    import torch
    from transformers import AutoModelForCausalLM

    from tdrl.envs.rollout import Turns
    from tdrl.training.common import load_tokenizer

    tokenizer = load_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    ids = Turns(tokenizer).encode(Turns(tokenizer).prompt_text(prompt))
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].float(), -1)
    chosen = [i for i in range(len(probs)) if tokenizer.decode([i])[:1] in good]
    return float(probs[chosen].sum())


def test_an_rl_step_with_reward_spread_moves_the_policy_toward_the_rewarded_answers(tmp_path):
    """The study's RL branch (GRPO on multi-turn episodes) at its own learning rate raises the probability of the
    answers the environment rewards: the property that failed silently when the RL branch never moved."""
    from tdrl.envs.base import Task
    from tdrl.envs.study import StudyConfig, _train_rl
    from tdrl.llm.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny", seed=0, hidden=16, layers=1, vocab=300, chat=True)
    good = "abcdefghijklm"
    tasks = [Task(f"t{i}", "first-letter", "id", f"Say a word ({i}).") for i in range(4)]
    before = sum(_good_mass(model, t.prompt, good) for t in tasks) / len(tasks)
    assert 0.05 < before < 0.6  # the random start writes both rewarded and unrewarded first letters
    cfg = StudyConfig(
        steps=6, max_new_tokens=3, rl={"learning_rate": 3e-2, "num_generations": 8, "batch_size": 16, "temperature": 1.0}
    )
    summary = _train_rl(cfg, FirstLetter(good), tasks, model, tmp_path / "rl", callbacks=[], progress=False)
    assert summary["steps"] == 6 and not summary["warnings"]  # groups had reward spread
    after = sum(_good_mass(str(tmp_path / "rl" / "final"), t.prompt, good) for t in tasks) / len(tasks)
    assert after > before + 0.03, (before, after)  # measured: 0.069 -> 0.113


def test_unknown_branches_fail_when_the_config_loads():
    from tdrl.envs.study import load_config

    assert load_config("examples/study_navigation.yaml").branches == ["sft", "rl", "rl_raw"]
    with pytest.raises(ValueError, match="branches: ppo; each one of sft, rl, rl_raw"):
        load_config("examples/study_points.yaml", ["branches=[sft, ppo]"])
