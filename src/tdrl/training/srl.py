"""``tdrl srl``: SRL on GRPO (KL 0, several rollouts per prompt), with dynamic sampling; then RLVR.

Each of ``rounds`` rounds: the current policy answers every step instance ``rollouts``
times; instances whose rewards do not vary (standard deviation <= ``epsilon``) are
filtered out for that round (they give GRPO no signal), and the count is logged; GRPO then
trains on the rest for ``steps_per_round`` steps. A round that filters every prompt trains
nothing: it warns with the numbers and the setting to change, and the warning is kept in
the summary. With ``then_rl_steps`` > 0 the policy
continues with outcome rewards (RLVR): the whole problem, rewarded 1 when the final
``answer: N`` line is right (math trajectories with ``meta.answer``).

Writes ``<out>/round-k/`` (GRPO runs), ``<out>/srl_summary.json`` and the final policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError, NoData
from tdrl.rewards.srl import PROMPT, StepReward, Trajectory, dynamic_filter, expand, step_reward

# what the SRL rounds pass to GRPO unless the recipe's `rl:` says otherwise
RL_DEFAULTS = {"learning_rate": 5e-4, "max_completion_length": 64, "save_steps": 100_000, "batch_size": 16}


@dataclass
class SRLConfig:
    """A ``tdrl srl`` recipe: the trajectories, the dynamic-sampling rounds, and GRPO's settings under ``rl``."""

    trajectories: str = ""
    # dynamic sampling: each round, `rollouts` answers per step instance; instances whose reward std <= epsilon are dropped
    rollouts: int = 4
    epsilon: float = 1e-4
    rounds: int = 2
    steps_per_round: int = 10
    model: str = "embedded"
    out_dir: str = "srl-run"
    autojunk: bool = False
    think: bool = True  # False: no <think> monologue asked for; the answer's first line is the step
    prompt_format: str = "completion"
    then_rl_steps: int = 0
    # RLConfig fields for both stages, over RL_DEFAULTS (model, problems, out_dir and max_steps are set here)
    rl: dict = field(default_factory=dict, metadata={"schema": "tdrl.training.rl:RLConfig"})


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), flags: dict | None = None) -> SRLConfig:
    """An :class:`SRLConfig` from a YAML file, ``key=value`` overrides and the command's own flags (which win)."""
    from tdrl.llm.embedded import check_model
    from tdrl.training.common import load_recipe

    cfg = load_recipe(SRLConfig, path, overrides, paths=("trajectories",), flags=flags)
    if not cfg.trajectories:
        raise ConfigError("no trajectories: set `trajectories:` in the config, --trajectories or --set trajectories=PATH")
    check_model(cfg.model)
    return cfg


def answer_reward(prompts, completions, answer, **_) -> list[float]:
    """RLVR for math trajectories: 1 when the last ``answer: N`` in the completion equals the expected answer."""
    from tdrl.rewards.functions import completion_text

    out = []
    for c, want in zip(completions, answer):
        found = re.findall(r"answer:\s*(-?\d+)", completion_text(c))
        out.append(1.0 if found and int(found[-1]) == int(want) else 0.0)
    return out


answer_reward.__name__ = "answer"


def _rollout_rewards(policy: str, rows: list[dict], cfg: SRLConfig, max_tokens: int, seed: int) -> list[list[float]]:
    """``cfg.rollouts`` step rewards per instance, sampled the way GRPO will sample (same prompt format)."""
    from tdrl.llm.embedded import resolve_model
    from tdrl.llm.hf import HFModel

    model = HFModel(resolve_model(policy))
    chat = cfg.prompt_format == "instruct" and model.has_chat_template
    prompts = [model.chat_prompt([{"role": "user", "content": row["prompt"]}]) if chat else row["prompt"] for row in rows]
    gens = model.generate_many(  # all rows' rollouts batched together across prompts
        prompts, n=cfg.rollouts, max_new_tokens=max_tokens, temperature=1.0, seeds=[seed + i for i in range(len(rows))]
    )
    return [
        [step_reward(g.text, row["expert_step"], autojunk=cfg.autojunk, think=cfg.think) for _, g in sorted(got.items())]
        for row, got in zip(rows, gens)
    ]


def no_signal_warning(k: int, rewards: list[list[float]], cfg: SRLConfig, max_tokens: int) -> str:
    """What to change when dynamic sampling filtered every prompt of round ``k``."""
    flat = [r for rs in rewards for r in rs]
    malformed = sum(r == -1.0 for r in flat)
    text = (
        f"round {k}: dynamic sampling filtered all {len(rewards)} prompts (each prompt's {cfg.rollouts} rollouts scored "
        f"alike, std <= epsilon {cfg.epsilon}; mean step reward {sum(flat) / len(flat):.3f}, {malformed} of {len(flat)} "
        "answers malformed), so this round trained nothing; "
    )
    if malformed == len(flat) and cfg.think:
        return text + (
            f"no answer closed <think>...</think> and wrote a step within --max-tokens {max_tokens}: "
            "use --no-think (reward the answer's first line), raise --max-tokens, or start from a model that follows the format"
        )
    if malformed == len(flat):
        return text + "every answer was empty: raise --max-tokens or check --format"
    return text + f"raise --rollouts (now {cfg.rollouts}) or lower --epsilon"


def train_srl(cfg: SRLConfig, trajectories: list[Trajectory] | None = None, progress: bool = True) -> dict:
    """Run SRL rounds (and RLVR after them); returns the summary written to ``srl_summary.json``."""
    from tdrl.io import warn
    from tdrl.rewards.srl import read_trajectories
    from tdrl.training.rl import RLConfig, train_rl

    out = Path(cfg.out_dir)
    trajectories = trajectories if trajectories is not None else read_trajectories(cfg.trajectories)
    out.mkdir(parents=True, exist_ok=True)
    rows = expand(trajectories, think=cfg.think)
    if not rows:
        raise NoData("no step instances: every trajectory has a single step")
    policy = cfg.model
    rl_base = {"beta": 0.0, "num_generations": cfg.rollouts, **RL_DEFAULTS, **cfg.rl}
    summary: dict = {"config": asdict(cfg), "instances": len(rows), "rounds": [], "warnings": []}
    step_fn = StepReward(autojunk=cfg.autojunk, think=cfg.think)
    max_tokens = int(rl_base.get("max_completion_length", 64))
    for k in range(cfg.rounds):
        rewards = _rollout_rewards(policy, rows, cfg, max_tokens, 1000 * k)
        kept, filtered = dynamic_filter(rows, rewards, cfg.epsilon)
        mean_before = sum(sum(r) / len(r) for r in rewards) / len(rewards)
        record: dict = {"round": k, "filtered": filtered, "kept": len(kept), "mean_step_reward": round(mean_before, 4)}
        if not kept:
            record["warning"] = warn(no_signal_warning(k, rewards, cfg, max_tokens))
            summary["warnings"].append(record["warning"])
        if kept:
            rl_cfg = RLConfig(
                **{
                    "prompt_format": cfg.prompt_format,
                    **rl_base,
                    "model": policy,
                    "problems": "-",
                    "out_dir": str(out / f"round-{k}"),
                    "max_steps": cfg.steps_per_round,
                }
            )
            result = train_rl(rl_cfg, progress=progress, rows=kept, reward_funcs=[step_fn])
            record.update(first_reward=result["first_reward"], last_reward=result["last_reward"])
            policy = str(out / f"round-{k}" / "final")
        summary["rounds"].append(record)
    final_rewards = _rollout_rewards(policy, rows, cfg, max_tokens, 99_999)
    summary["final_mean_step_reward"] = round(sum(sum(r) / len(r) for r in final_rewards) / len(final_rewards), 4)
    if cfg.then_rl_steps > 0:
        whole = [
            {
                "prompt": PROMPT.format(problem=t.problem, previous="(none)").replace(
                    "write only the next step", "write every step"
                ),
                "answer": t.meta["answer"],
            }
            for t in trajectories
            if "answer" in t.meta
        ]
        if whole:
            rl_cfg = RLConfig(
                **{
                    "prompt_format": cfg.prompt_format,
                    **rl_base,
                    "model": policy,
                    "problems": "-",
                    "out_dir": str(out / "rlvr"),
                    "max_steps": cfg.then_rl_steps,
                }
            )
            result = train_rl(rl_cfg, progress=progress, rows=whole, reward_funcs=[answer_reward])
            summary["rlvr"] = {"first_reward": result["first_reward"], "last_reward": result["last_reward"]}
            policy = str(out / "rlvr" / "final")
    summary["policy"] = policy
    (out / "srl_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
