"""GRPO with verifier rewards learns a toy coding task on CPU; the recipe's config, logs and plot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tdrl.io import write_jsonl
from tdrl.records import Problem, Test

pytest.importorskip("trl")
TDRL = [sys.executable, "-m", "tdrl.cli"]
ROOT = Path(__file__).resolve().parents[2]


def test_grpo_raises_the_test_reward(toy, tmp_path):
    from tdrl.training.rl import RLConfig, train_rl

    cfg = RLConfig(
        model=str(toy / "sft"),
        problems=str(toy / "problems.jsonl"),
        out_dir=str(tmp_path / "run"),
        prompt_format="completion",
        num_generations=8,
        batch_size=16,
        max_steps=40,
        learning_rate=5e-3,
        max_completion_length=6,
        save_steps=20,
        verifier={"workers": 2, "sandbox": "auto", "timeout": 2.0},
    )
    summary = train_rl(cfg, progress=False)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rewards = [r["rewards/tests_pass_rate/mean"] for r in rows if "rewards/tests_pass_rate/mean" in r]
    assert len(rewards) == 40 and summary["steps"] == 40
    first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
    assert first < 0.45 and last > first + 0.3, (first, last)  # about 0.25 (one answer in four) -> most answers right
    assert all("reward_time_share" in r for r in rows if "reward" in r)
    assert (tmp_path / "run" / "rl_curves.png").stat().st_size > 0
    assert (tmp_path / "run" / "checkpoint-20").is_dir() and (tmp_path / "run" / "final" / "config.json").exists()


def test_rl_cli_overrides_resume_and_config_errors(toy, tmp_path):
    cfg = tmp_path / "rl.yaml"
    cfg.write_text(
        f"model: {toy / 'sft'}\nproblems: {toy / 'problems.jsonl'}\nout_dir: {tmp_path / 'run'}\nprompt_format: completion\n"
        "num_generations: 4\nbatch_size: 8\nmax_steps: 2\nmax_completion_length: 6\nsave_steps: 2\nalgorithm: dr_grpo\n"
        "rewards:\n  - {type: tests, kind: acecoder, weight: 1.0}\n  - {type: length, limit: 4, weight: 0.5}\n"
    )
    run = [*TDRL, "rl", "--config", str(cfg), "--no-progress"]
    proc = subprocess.run(run, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "2 steps on 4 problems" in proc.stdout
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/tests_acecoder/mean" in r and "rewards/length_penalty/mean" in r for r in rows)

    proc = subprocess.run([*run, "--set", "max_steps=3"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "3 steps" in proc.stdout  # resumed from checkpoint-2, one more step
    steps = [json.loads(x)["step"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert 3 in steps

    for bad, message in [
        ("--set=algorithm=ppo", "algorithm 'ppo'"),
        ("--set=rewardz=1", "rewardz: unknown setting; did you mean rewards?"),
        ("--set=rewards=[{type: magic}]", "unknown reward type 'magic'"),
    ]:
        proc = subprocess.run([*TDRL, "rl", "--config", str(cfg), bad], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_difficulty_filter_keeps_what_the_policy_sometimes_solves(tmp_path):
    from tdrl.training.rl import select_by_difficulty

    problems = [Problem(pid, [Test("call", input="[]", output="1")], entry_point="f") for pid in ("easy", "hard", "mid", "new")]
    results = [
        {"problem_id": pid, "sample_id": str(i), "status": status, "pass_rate": 1.0 if status == "pass" else 0.0}
        for pid, statuses in {"easy": ["pass"] * 4, "hard": ["fail"] * 3 + ["infra_error"], "mid": ["pass", "fail"]}.items()
        for i, status in enumerate(statuses)
    ]
    write_jsonl(tmp_path / "results.jsonl", results)
    kept, dropped = select_by_difficulty(problems, tmp_path / "results.jsonl")
    assert [p.id for p in kept] == ["mid", "new"] and dropped == {"always": 1, "never": 1}


@pytest.mark.slow
def test_rl_example_with_the_embedded_model(tmp_path):
    """The shipped example, run from another folder as is: its paths resolve and the test reward is not all zero."""
    proc = subprocess.run(
        [*TDRL, "rl", "--config", str(ROOT / "examples" / "rl_humaneval.yaml"), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "rl-humaneval"
    assert (run / "rl_curves.png").exists() and (run / "final" / "adapter_config.json").exists()  # LoRA: the adapter
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    tests = [r["rewards/tests_pass_rate/mean"] for r in rows if "rewards/tests_pass_rate/mean" in r]
    assert len(tests) == 4 and max(tests) > 0, rows  # some completion passes some test
    assert min(r["frac_reward_zero_std"] for r in rows if "frac_reward_zero_std" in r) < 1  # a group with signal


def test_an_infra_error_row_is_dropped_from_every_reward_in_a_real_grpo_step(toy, tmp_path, monkeypatch):
    """TRL 1.16 leaves a row out of the advantage only when every reward function gives None
    (``GRPOTrainer._generate_and_score_completions``: ``unscorable_mask``). With tests + format
    rewards and the verifier failing on one problem, that problem's rows are None in both, and
    the count is logged per step."""
    from concurrent.futures import Future

    import torch
    from trl import GRPOTrainer

    import tdrl.execution
    from tdrl.io import read_problems
    from tdrl.records import Result
    from tdrl.training.rl import RLConfig, train_rl

    class FailsOnP0(tdrl.execution.Verifier):
        """The real verifier, except that its sandbox "cannot start" for problem p0."""

        def submit(self, problem, sample):
            if problem.id != "p0":
                return super().submit(problem, sample)
            fut = Future()
            fut.set_result(Result(problem.id, sample.sample_id, "infra_error", 0.0, [], 0.0, error="forced: no sandbox"))
            return fut

    monkeypatch.setattr(tdrl.execution, "Verifier", FailsOnP0)
    seen = []
    original = GRPOTrainer._calculate_rewards

    def observed(self, inputs, prompts, completions, completion_ids_list):
        rewards = original(self, inputs, prompts, completions, completion_ids_list)
        seen.append(([x["problem_id"] for x in inputs], rewards.clone(), list(self.reward_func_names)))
        return rewards

    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", observed)
    write_jsonl(tmp_path / "two.jsonl", read_problems(toy / "problems.jsonl")[:2])  # p0 and p1: both in the one batch
    cfg = RLConfig(
        model=str(toy / "sft"),
        problems=str(tmp_path / "two.jsonl"),
        out_dir=str(tmp_path / "run"),
        prompt_format="completion",
        rewards=[{"type": "tests", "kind": "pass_rate"}, {"type": "format", "think": False, "weight": 0.5}],
        num_generations=4,
        batch_size=8,
        max_steps=1,
        max_completion_length=6,
        save_steps=10,
        verifier={"workers": 2, "sandbox": "auto", "timeout": 2.0},
    )
    summary = train_rl(cfg, progress=False)
    (ids, rewards, names), *_ = seen
    assert names == ["tests_pass_rate", "format_code"]
    failed = torch.tensor([pid == "p0" for pid in ids])
    assert failed.sum() == 4 and (~failed).sum() == 4
    assert torch.isnan(rewards[failed]).all()  # no reward function scored p0's rows: TRL drops them
    assert not torch.isnan(rewards[~failed]).any()  # p1's rows keep both rewards
    assert summary["infra_errors"] == 4 and summary["use_vllm"] is False
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["verifier/infra_errors"] for r in rows if "verifier/infra_errors" in r] == [4.0]


def test_vllm_is_used_by_the_same_rule_for_rl_and_the_env_study():
    from tdrl.training.rl import RLConfig, use_vllm

    cfg = RLConfig(problems="x")
    assert use_vllm(cfg, gpu=False) is False
    assert use_vllm(cfg, gpu=True, rollout_func=lambda prompts, trainer: {}) is False  # the rollout generates itself
    assert use_vllm(RLConfig(problems="x", use_vllm=True), gpu=True, rollout_func=lambda p, t: {}) is True
    assert use_vllm(RLConfig(problems="x", use_vllm=False), gpu=True) is False
