"""``tdrl rl``: RL with verifiable rewards on TRL's ``GRPOTrainer`` (one machine).

One YAML file holds the recipe (see ``examples/rl_*.yaml``); ``--set key=value`` overrides
any field (dotted keys reach into nested ones). The trainer is TRL's GRPO with its loss
variants: ``grpo``, ``dr_grpo`` (no length or std normalisation bias), ``dapo`` (token-level,
clip-higher via ``epsilon_high``), ``bnpo``; ``scale_rewards: batch`` normalises advantages
by the standard deviation over the whole batch (REINFORCE++-style global normalisation; the
baseline stays the group mean). ``algorithm: rloo`` uses TRL's ``RLOOTrainer``
(leave-one-out baseline) with the same rewards. PPO is no longer part of TRL; for PPO
(and critic-based REINFORCE++) use verl with tdrl's reward module (docs/rl.md).

Rewards are TRL reward functions from :mod:`tdrl.rewards.functions` and a trained reward
model; TRL logs each one under its own name and sums them with ``weight``. Completions
are verified concurrently through one verifier pool. Every log line goes to
``<out>/metrics.jsonl`` (plus TensorBoard or W&B when installed and asked for), with the
share of step time spent computing rewards; ``<out>/rl_curves.png`` plots reward, pass rate
and completion length over steps. Checkpoints go to ``<out>/checkpoint-*`` every
``save_steps`` (LoRA runs: adapters only, every 50 steps by default; full models: only when
``save_steps`` is set, since each holds the whole model and its optimizer state); a rerun
with the same ``out_dir`` resumes from the last one. The final policy is ``<out>/final``:
a LoRA run saves the adapter there (megabytes), merged into a plain folder once, on first
use, by whichever command loads it (:func:`tdrl.llm.embedded.resolve_model`), or at the
end with ``merge: true``. A run in which every group's rewards were equal (no advantage,
nothing learned) warns with the numbers and what to change, and says so in its summary.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError, NoData
from tdrl.training.common import LoraSettings, compact_trainer_output

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")
# the keys a `rewards:` item and `verifier:` may hold (checked when the recipe loads)
_REWARD_SCHEMA = {
    "type": str,
    "kind": str,
    "weight": float,
    "bonus": float,
    "think": bool,
    "limit": int,
    "scale": float,
    "path": str,
    "batch_size": int,
}
_VERIFIER_SCHEMA = {"workers": int | None, "sandbox": str, "timeout": float, "stop_on_first_failure": bool}


@dataclass
class RLConfig:
    model: str = "embedded"
    problems: str = ""
    out_dir: str = "rl-run"
    prompt_format: str = "auto"  # auto | instruct | completion
    rewards: list = field(
        default_factory=lambda: [{"type": "tests", "kind": "pass_rate", "weight": 1.0}], metadata={"schema": _REWARD_SCHEMA}
    )
    algorithm: str = "grpo"  # grpo | dr_grpo | dapo | bnpo | rloo
    scale_rewards: str = "group"  # group | batch | none
    num_generations: int = 8
    batch_size: int = 8  # completions per device and step (a multiple of num_generations)
    gradient_accumulation: int = 1
    max_steps: int = 50
    learning_rate: float = 1e-5
    beta: float = 0.0
    temperature: float = 1.0
    max_completion_length: int = 256
    lora: dict | None = field(default=None, metadata={"schema": LoraSettings})  # {"r": 16, "alpha": 32}
    merge: bool = False  # LoRA: also write the merged model to final/ now (default: merged on first use)
    use_vllm: bool | None = None  # None: on a GPU with vllm installed, except with a custom rollout (see use_vllm())
    seed: int = 0
    save_steps: int | None = None  # checkpoint every N steps; None: LoRA adapters every 50, full models never
    logging_steps: int = 1
    report_to: list = field(default_factory=list)  # e.g. ["tensorboard"], ["wandb"]
    # {"results": path, "min": 0.0, "max": 1.0}: keep problems with pass share in (min, max)
    difficulty: dict | None = field(default=None, metadata={"schema": {"results": str, "min": float, "max": float}})
    verifier: dict = field(
        default_factory=lambda: {"workers": None, "sandbox": "auto", "timeout": 3.0}, metadata={"schema": _VERIFIER_SCHEMA}
    )
    limit: int | None = None  # use only the first N problems
    trl: dict = field(default_factory=dict)  # any other GRPOConfig / RLOOConfig field


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> RLConfig:
    """An :class:`RLConfig` from YAML plus ``key=value`` overrides (values parsed as YAML)."""
    from tdrl.llm.embedded import check_model
    from tdrl.training.common import load_recipe

    cfg = load_recipe(RLConfig, path, overrides, paths=("problems", "difficulty.results", "rewards[].path"))
    if cfg.algorithm not in (*LOSS_TYPES, "rloo"):
        raise ConfigError(f"algorithm {cfg.algorithm!r}: one of {', '.join(LOSS_TYPES)}, rloo")
    if not cfg.problems:
        raise ConfigError("no problems: set `problems:` in the config or --set problems=PATH")
    if not Path(cfg.problems).exists():
        raise ConfigError(
            f"problems: {cfg.problems}: file not found"
            + (
                f" (relative paths in the file are read from {Path(path).parent}/, --set ones from the current folder)"
                if path
                else ""
            )
        )
    check_model(cfg.model)
    return cfg


def select_by_difficulty(problems: list, results_path, low: float = 0.0, high: float = 1.0) -> tuple[list, dict]:
    """AceCoder's "hard" filter: keep problems whose sampled all-pass share lies strictly between ``low`` and ``high``.

    Problems the current policy always solves (nothing to learn) or never solves (no
    signal for a group baseline) are dropped. Problems without results are kept.
    """
    from tdrl.io import read_results

    shares: dict[str, list[int]] = {}
    for (pid, _), r in read_results(results_path).items():
        if r["status"] != "infra_error":
            shares.setdefault(pid, []).append(r["status"] == "pass")
    kept, dropped = [], {"always": 0, "never": 0}
    for p in problems:
        if p.id not in shares:
            kept.append(p)
            continue
        share = sum(shares[p.id]) / len(shares[p.id])
        if share >= high:
            dropped["always"] += 1
        elif share <= low:
            dropped["never"] += 1
        else:
            kept.append(p)
    return kept, dropped


def build_rewards(cfg: RLConfig, problems: dict, verifier) -> tuple[list, list[float]]:
    """Reward functions and weights from the ``rewards`` list of the config (by type, :data:`tdrl.rewards.functions.REWARDS`).

    With a tests reward, the other rewards give ``None`` on the rows the verifier could not
    judge (:class:`~tdrl.rewards.functions.InfraRows`), so TRL leaves those rows out entirely.
    """
    from tdrl.rewards.functions import InfraRows, RewardContext, VerifierReward, build_reward

    ctx = RewardContext(problems, verifier, InfraRows())
    built = [build_reward(spec, ctx) for spec in cfg.rewards]
    funcs, weights = [f for f, _ in built], [w for _, w in built]
    if not funcs:
        raise ConfigError("rewards: none configured")
    if ctx.infra.publishers:
        funcs = [f if isinstance(f, VerifierReward) else ctx.infra.masked(f) for f in funcs]
    return funcs, weights


def use_vllm(cfg: RLConfig, gpu: bool, rollout_func=None) -> bool:
    """The one rule for generating with vLLM: ``use_vllm`` when set; else on a GPU with vLLM
    installed, unless a custom rollout (the environment study) generates with the policy itself."""
    if cfg.use_vllm is not None:
        return bool(cfg.use_vllm)
    return gpu and rollout_func is None and _has("vllm")


def _dataset(problems: list, fmt: str):
    from datasets import Dataset

    from tdrl.sampling.prompts import build_prompt

    rows = []
    for p in problems:
        messages, prompt, _ = build_prompt(p, fmt)
        rows.append({"prompt": messages if messages is not None else prompt, "problem_id": p.id, "prompt_format": fmt})
    return Dataset.from_list(rows)


def train_rl(
    cfg: RLConfig,
    progress: bool = True,
    rows: list[dict] | None = None,
    reward_funcs: list | None = None,
    reward_weights: list[float] | None = None,
    rollout_func=None,
    callbacks: Sequence = (),
) -> dict:
    """Run the recipe; returns a summary (first and last mean reward, steps, reward time share).

    Other recipes (SRL, environment studies) pass ``rows`` (dataset records with a text
    ``prompt`` and the columns their rewards read) and ``reward_funcs`` with their
    ``reward_weights`` (default: all 1; the ``rewards`` of ``cfg`` are then ignored) instead
    of problems and configured rewards; ``rollout_func`` (GRPO only) replaces TRL's
    single-turn generation, e.g. with multi-turn episodes; ``callbacks`` are TRL callbacks.
    """
    import torch
    from transformers import TrainerCallback

    from tdrl.execution import TimePolicy, Verifier
    from tdrl.io import read_problems, warn
    from tdrl.llm.embedded import resolve_model
    from tdrl.training.common import load_tokenizer, peft_lora, quiet, trainer_args

    out = Path(cfg.out_dir)
    if not progress:
        quiet()

    problems = read_problems(cfg.problems) if rows is None else []  # before out_dir exists: a bad path leaves nothing behind
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1) + "\n")
    if cfg.limit:
        problems = problems[: cfg.limit]
    dropped: dict = {}
    if cfg.difficulty:
        problems, dropped = select_by_difficulty(
            problems, cfg.difficulty["results"], cfg.difficulty.get("min", 0.0), cfg.difficulty.get("max", 1.0)
        )
    if not problems and not rows:
        raise NoData(f"no problems left to train on (difficulty filter dropped {dropped})")
    model_path = resolve_model(cfg.model)
    tokenizer = load_tokenizer(model_path)
    fmt = cfg.prompt_format
    if fmt == "auto":
        fmt = "instruct" if tokenizer.chat_template else "completion"

    gpu = torch.cuda.is_available()
    vllm = use_vllm(cfg, gpu, rollout_func)
    report_to = [r for r in cfg.report_to if _has(r)]
    common = trainer_args(
        cfg,
        str(out),
        progress,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        save_steps=cfg.save_steps or 50,
        save_strategy="steps" if cfg.save_steps or cfg.lora else "no",  # full-model checkpoints are opt-in
        report_to=report_to or "none",
        use_cpu=not gpu,
        bf16=gpu and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=gpu,  # TRL turns it on by default; on CPU it only slows small models down
    )
    peft_config = peft_lora(cfg.lora, "CAUSAL_LM")

    vcfg = dict(cfg.verifier)
    timeout = float(vcfg.pop("timeout", 3.0))
    # recipes that bring their own reward functions need no verifier pool
    pool = (
        Verifier(
            workers=vcfg.pop("workers", None),
            time_policy=TimePolicy(timeout=timeout, after_timeout=vcfg.pop("after_timeout", "shared")),
            **vcfg,
        )
        if reward_funcs is None
        else contextlib.nullcontext()
    )
    with pool as verifier:
        by_id = {p.id: p for p in problems}
        if reward_funcs is None:
            funcs, weights = build_rewards(cfg, by_id, verifier)
        else:
            funcs, weights = list(reward_funcs), list(reward_weights or [1.0] * len(reward_funcs))
        if cfg.algorithm == "rloo":
            if rollout_func is not None:
                raise ConfigError("a custom rollout (multi-turn environments) needs a GRPO algorithm, not rloo")
            from trl import RLOOConfig, RLOOTrainer

            args = RLOOConfig(**common, reward_weights=weights, **cfg.trl)
            trainer_cls = RLOOTrainer
        else:
            from trl import GRPOConfig, GRPOTrainer

            extra = dict(cfg.trl)
            # TRL's transformers generation may run without the KV cache (3x slower on CPU); ask for it
            extra["generation_kwargs"] = {"use_cache": True, **(extra.get("generation_kwargs") or {})}
            args = GRPOConfig(
                **common,
                loss_type=cfg.algorithm,
                scale_rewards=cfg.scale_rewards,
                reward_weights=weights,
                use_vllm=vllm,
                **extra,
            )
            trainer_cls = GRPOTrainer
        log = _MetricsLog(out / "metrics.jsonl", [f for f in funcs if hasattr(f, "seconds")])
        callbacks = [type("Log", (TrainerCallback,), {"on_step_begin": log.on_step_begin, "on_log": log.on_log})(), *callbacks]
        trainer = trainer_cls(
            model=model_path,
            reward_funcs=funcs,
            args=args,
            train_dataset=_dataset(problems, fmt) if rows is None else _rows_dataset(rows, fmt),
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
            **({"rollout_func": rollout_func} if rollout_func is not None else {}),
        )
        compact_trainer_output(trainer, progress)  # log dicts stay in the run's metrics file
        resume = any(out.glob("checkpoint-*"))
        trainer.train(resume_from_checkpoint=True if resume else None)
        # LoRA: the adapter only; a plain folder is made once, where one is needed (resolve_model)
        trainer.model.save_pretrained(out / "final")
        tokenizer.save_pretrained(out / "final")
        if cfg.lora and cfg.merge:
            from tdrl.llm.embedded import merged_folder

            merged_folder(out / "final")
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    plot_curves(logged, out / "rl_curves.png")
    rewards = [r["reward"] for r in logged if "reward" in r]
    shares = [r["reward_time_share"] for r in logged if "reward_time_share" in r]
    warnings = [warn(w) for w in [no_signal_warning(logged, cfg)] if w]
    return {
        "steps": trainer.state.global_step,
        "problems": len(problems) if rows is None else len(rows),
        "difficulty_dropped": dropped,
        "prompt_format": fmt,
        "first_reward": rewards[0] if rewards else None,
        "last_reward": rewards[-1] if rewards else None,
        "reward_time_share": sum(shares) / len(shares) if shares else None,
        "infra_errors": sum(getattr(f, "infra_errors", 0) for f in funcs),  # rows left out of every reward
        "use_vllm": vllm,
        "resumed": resume,
        "policy": str(out / "final"),
        "warnings": warnings,
    }


def no_signal_warning(logged: list[dict], cfg: RLConfig) -> str | None:
    """When every logged step had groups of equal rewards only (TRL's ``frac_reward_zero_std`` 1): what to change."""
    steps = [r for r in logged if "frac_reward_zero_std" in r]
    if not steps or any(r["frac_reward_zero_std"] < 1 for r in steps):
        return None
    clipped = [r["completions/clipped_ratio"] for r in steps if "completions/clipped_ratio" in r]
    mean_reward = sum(r.get("reward", 0.0) for r in steps) / len(steps)
    text = (
        f"no learning signal: in all {len(steps)} logged steps every group of {cfg.num_generations} completions got "
        f"equal rewards (frac_reward_zero_std 1, mean reward {mean_reward:.3f}), so the policy did not change"
    )
    if clipped and sum(clipped) / len(clipped) > 0.5:
        text += (
            f"; {100 * sum(clipped) / len(clipped):.0f}% of completions hit max_completion_length "
            f"{cfg.max_completion_length}: raise it"
        )
    return text + "; or raise num_generations or temperature, or train on problems the policy sometimes solves (difficulty)"


def _rows_dataset(rows: list[dict], fmt: str):
    from datasets import Dataset

    if fmt == "instruct":
        rows = [{**r, "prompt": [{"role": "user", "content": r["prompt"]}]} for r in rows]
    return Dataset.from_list(rows)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


class _MetricsLog:
    """Appends every TRL log line (plus the step's reward-time share) to a JSONL file."""

    def __init__(self, path: Path, timed: list):
        self.path, self.timed = path, timed
        self.t0 = time.perf_counter()
        self.reward_seconds = 0.0

    def _reward_total(self) -> float:
        return sum(f.seconds for f in self.timed)

    def on_step_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()
        self.reward_seconds = self._reward_total()

    def on_log(self, args, state, control, logs=None, **kw):
        row = {"step": state.global_step, **{k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))}}
        elapsed = time.perf_counter() - self.t0
        if self.timed and "reward" in row and elapsed > 0:
            row["reward_seconds"] = round(self._reward_total() - self.reward_seconds, 4)
            row["step_seconds"] = round(elapsed, 4)
            row["reward_time_share"] = round(row["reward_seconds"] / elapsed, 4)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def plot_curves(rows: list[dict], path: Path) -> None:
    """Reward, test pass rate and completion length over steps."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = [r for r in rows if "reward" in r]
    if not rows:
        return
    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(steps, [r["reward"] for r in rows], label="total")
    for key in sorted({k for r in rows for k in r if k.startswith("rewards/") and k.endswith("/mean")}):
        axes[0].plot(steps, [r.get(key) for r in rows], label=key.split("/")[1], alpha=0.7)
    axes[0].set_title("reward")
    axes[0].legend(fontsize=7)
    pass_keys = [k for k in rows[0] if k.startswith("rewards/tests_") and k.endswith("/mean")]
    if pass_keys:
        axes[1].plot(steps, [r.get(pass_keys[0]) for r in rows])
    axes[1].set_title("tests reward (pass rate)")
    length_key = next((k for k in ("completions/mean_length", "completion_length") if k in rows[0]), None)
    if length_key:
        axes[2].plot(steps, [r[length_key] for r in rows])
    axes[2].set_title("completion length (tokens)")
    for ax in axes:
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
