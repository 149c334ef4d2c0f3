"""``tdrl train-rm``: a Bradley-Terry reward model on preference pairs, with TRL's ``RewardTrainer``.

The backbone is any causal-LM or sequence-classification checkpoint (an HF id, a local
folder, or ``embedded``); a causal LM gets a fresh one-output score head. Full fine-tuning
or LoRA (PEFT): a LoRA run saves the adapter and the score head only (megabytes, not a
copy of the backbone); tdrl's scorer loads it as it is, and ``merge`` (``--merge``) writes a
plain ``transformers`` folder instead, for tools outside tdrl. Pairs are split into train and held-out sets by problem, so held-out
accuracy measures programs for problems the model never saw. Accuracy on the held-out
pairs (chosen scored above rejected) is logged every ``eval_steps``, measured once more at
the end with tdrl's own scorer on the saved model, and plotted.

On a GPU machine the same function runs under ``accelerate launch`` (see docs/rewards.md).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError
from tdrl.training.common import LoraSettings, compact_trainer_output


@dataclass
class RMConfig:
    backbone: str = "embedded"
    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float = 5e-5
    batch_size: int = 8
    gradient_accumulation: int = 1
    eval_share: float = 0.2
    eval_steps: int = 20
    lora: dict | None = field(default=None, metadata={"schema": LoraSettings})  # {"r": 16, "alpha": 32}: LoRA (PEFT)
    merge: bool = False  # LoRA: save the merged model (a plain folder) instead of the adapter
    center_rewards_coefficient: float | None = 0.01
    max_length: int = 1024
    seed: int = 0
    use_cpu: bool | None = None  # None: CPU exactly when no GPU is present
    logging_steps: int = 10


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), flags: dict | None = None) -> RMConfig:
    """An :class:`RMConfig` from a YAML file, ``key=value`` overrides and the command's own flags (which win)."""
    from tdrl.llm.embedded import check_model
    from tdrl.training.common import load_recipe

    cfg = load_recipe(RMConfig, path, overrides, paths=(), flags=flags)
    check_model(cfg.backbone)
    return cfg


def load_pairs(path) -> list[dict]:
    """Pairs from ``tdrl pairs``: a JSONL file or a saved ``datasets`` folder."""
    from tdrl.io import read_records
    from tdrl.records import PreferencePair

    path = Path(path)
    if path.is_dir():
        from datasets import load_from_disk

        return list(load_from_disk(str(path)))
    return [pair.to_dict() for pair in read_records(path, PreferencePair.from_dict)]


def split_by_problem(pairs: list[dict], eval_share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Held-out pairs are those of a random ``eval_share`` of the problems (of the pairs, without ids)."""
    if eval_share <= 0:
        return pairs, []
    keys = sorted({str(p.get("problem_id", i)) for i, p in enumerate(pairs)})
    random.Random(seed).shuffle(keys)
    n_eval = max(1, round(len(keys) * eval_share)) if len(keys) > 1 else 0
    held = set(keys[:n_eval])
    train = [p for i, p in enumerate(pairs) if str(p.get("problem_id", i)) not in held]
    test = [p for i, p in enumerate(pairs) if str(p.get("problem_id", i)) in held]
    return train, test


def pair_accuracy(scorer, pairs: list[dict]) -> float | None:
    """Share of pairs whose chosen answer the scorer ranks above the rejected one."""
    if not pairs:
        return None
    prompts = [p.get("prompt", "") for p in pairs]
    chosen = scorer(prompts, [p["chosen"] for p in pairs])
    rejected = scorer(prompts, [p["rejected"] for p in pairs])
    return sum(c > r for c, r in zip(chosen, rejected)) / len(pairs)


def _columns(pairs: list[dict]) -> list[dict]:
    keep = ("prompt", "chosen", "rejected")
    return [{k: p[k] for k in keep if k in p} for p in pairs]


def train_reward_model(pairs_path, out_dir, cfg: RMConfig | None = None, progress: bool = True) -> dict:
    """Train, save to ``out_dir`` (model, tokenizer, ``metrics.json``, ``accuracy.png``); returns the metrics."""
    pairs = load_pairs(pairs_path)  # before the heavy imports: an empty file fails at once
    if not pairs:
        raise ConfigError(
            f"{pairs_path}: no pairs to train on (see its .stats.json; `tdrl pairs --min-rejected -1` also pairs programs "
            "that pass no test)"
        )
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    from tdrl.io import warn
    from tdrl.llm.embedded import resolve_model
    from tdrl.rewards.model import RewardModelScorer
    from tdrl.training.common import load_tokenizer, peft_lora, quiet, trainer_args

    cfg = cfg or RMConfig()
    out_dir = Path(out_dir)
    if not progress:
        quiet()
    backbone = resolve_model(cfg.backbone)
    tokenizer = load_tokenizer(backbone)
    train, held = split_by_problem(pairs, cfg.eval_share, cfg.seed)
    warnings = []
    if not held:
        n_problems = len({str(p.get("problem_id", i)) for i, p in enumerate(pairs)})
        why = (
            f"--eval-share is {cfg.eval_share}"
            if cfg.eval_share <= 0
            else f"the {len(pairs)} pairs come from {n_problems} problem(s) and whole problems are held out"
        )
        warnings.append(
            warn(
                f"no held-out pairs: {why}; held-out accuracy needs pairs from 2 or more problems "
                "(more problems, more samples per problem, or a looser pair rule such as --min-rejected -1)"
            )
        )

    length = _Lengths(tokenizer)

    def fits(p: dict) -> bool:  # TRL silently drops longer pairs; count them instead
        return max(length(p.get("prompt", ""), p["chosen"]), length(p.get("prompt", ""), p["rejected"])) <= cfg.max_length

    n_before = len(train) + len(held)
    train, held = [p for p in train if fits(p)], [p for p in held if fits(p)]
    too_long = n_before - len(train) - len(held)
    if not train:
        raise ConfigError(f"no training pairs left: {too_long} longer than --max-length {cfg.max_length}")

    torch.manual_seed(cfg.seed)
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    peft_config = peft_lora(cfg.lora, "SEQ_CLS")
    use_cpu = cfg.use_cpu if cfg.use_cpu is not None else not torch.cuda.is_available()
    args = RewardConfig(
        **trainer_args(
            cfg,
            str(out_dir / "checkpoints"),
            progress,
            num_train_epochs=cfg.epochs,
            per_device_eval_batch_size=cfg.batch_size,
            eval_strategy="steps" if held else "no",
            eval_steps=cfg.eval_steps,
            save_strategy="no",
            report_to="none",
            center_rewards_coefficient=cfg.center_rewards_coefficient,
            max_length=cfg.max_length,
            use_cpu=use_cpu,
            bf16=False,
            dataset_num_proc=None,
        )
    )
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(_columns(train)),
        eval_dataset=Dataset.from_list(_columns(held)) if held else None,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    compact_trainer_output(trainer, progress)  # log dicts stay in the run's metrics file
    before = trainer.evaluate() if held else {}
    trainer.train()
    final = trainer.model
    if cfg.lora and cfg.merge:
        final = final.merge_and_unload()
    final.save_pretrained(out_dir)  # with LoRA and no merge: the adapter (and score head) only
    tokenizer.save_pretrained(out_dir)

    scorer = RewardModelScorer(str(out_dir), max_length=cfg.max_length)
    history = [
        {"step": h["step"], "eval_accuracy": h["eval_accuracy"]} for h in trainer.state.log_history if "eval_accuracy" in h
    ]
    if before:
        history.insert(0, {"step": 0, "eval_accuracy": before["eval_accuracy"]})
    metrics: dict = {
        "pairs": len(pairs),
        "train_pairs": len(train),
        "heldout_pairs": len(held),
        "too_long": too_long,
        "heldout_accuracy_before": before.get("eval_accuracy"),
        "heldout_accuracy": pair_accuracy(scorer, held),
        "train_accuracy": pair_accuracy(scorer, train[:512]),
        "eval_history": history,
        "train_loss": [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h],
        "format": "conversational" if isinstance(pairs[0]["chosen"], list) else "standard",
        "config": {**asdict(cfg), "backbone": backbone},
        "warnings": warnings,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    _plot(history, metrics["train_loss"], out_dir / "accuracy.png")
    return metrics


class _Lengths:
    """Token count of a (prompt, answer) the way the trainer tokenizes it."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, prompt, answer) -> int:
        if isinstance(answer, list):
            messages = (prompt if isinstance(prompt, list) else []) + answer
            return len(self.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])
        return len(self.tokenizer(prompt + answer)["input_ids"]) + 1


def _plot(history: list[dict], losses: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    if history:
        ax.plot([h["step"] for h in history], [h["eval_accuracy"] for h in history], marker="o", label="held-out pair accuracy")
    else:
        ax.text(0.5, 0.6, "no held-out pairs (see metrics.json warnings)", ha="center", transform=ax.transAxes)
    ax.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax.set_xlabel("step")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    if losses:
        ax2 = ax.twinx()
        ax2.plot([h["step"] for h in losses], [h["loss"] for h in losses], color="tab:red", alpha=0.6, label="train loss")
        ax2.set_ylabel("loss")
    ax.legend(loc="lower right")
    ax.set_title("reward model")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
