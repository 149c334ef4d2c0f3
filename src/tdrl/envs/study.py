"""``tdrl envs study``: SFT and RL from the same start, scored in- and out-of-distribution.

The recipe of "SFT Memorizes, RL Generalizes" at the size of one machine:

1. the start: a model (``tiny`` builds a small chat model whose tokenizer knows the
   environment's words; ``embedded``; or a path), optionally warmed up by SFT on expert
   answers so that it answers in the format at all (the paper starts RL from such a model);
2. the SFT branch: more SFT on expert answers to in-distribution tasks (the solver's
   formulas, the route planner's actions);
3. the RL branch: GRPO on the same in-distribution tasks, with multi-turn episodes and the
   episode return as the reward (:func:`tdrl.envs.rollout.grpo_rollout`);
4. every ``eval_every`` steps, both branches are scored greedily on held-out ID tasks and on
   OOD tasks (the other rule), with the same number of attempts as in training.

Output in ``out_dir``: ``curves.jsonl`` (branch, step, split, success, first-try success,
mean return), ``study.json`` (the config and the final figures) and ``study.png`` (success
over training steps, ID and OOD, SFT and RL).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError


@dataclass
class StudyConfig:
    env: str = "points"
    env_args: dict = field(default_factory=dict)  # e.g. {"verify_iter": 2, "target": 24}
    model: str = "tiny"  # tiny | embedded | path of an HF model
    out_dir: str = "envs-study"
    train_tasks: int = 64  # navigation: routes (each step is a task)
    eval_tasks: int = 16  # per split; navigation: routes
    warmup_sft_steps: int = 0  # shared SFT before both branches
    steps: int = 20  # optimizer steps per branch
    eval_every: int = 5
    max_new_tokens: int = 64
    sft: dict = field(
        default_factory=lambda: {"learning_rate": 1e-4, "batch_size": 8},
        metadata={"schema": {"learning_rate": float, "batch_size": int}},
    )
    rl: dict = field(
        default_factory=lambda: {"learning_rate": 1e-5, "num_generations": 4, "batch_size": 8, "temperature": 1.0},
        metadata={"schema": "tdrl.training.rl:RLConfig"},
    )
    tiny: dict = field(
        default_factory=lambda: {"hidden": 64, "layers": 2, "vocab": 600}, metadata={"schema": "tdrl.llm.tiny:build_tiny_model"}
    )
    seed: int = 0


def load_config(path: str | Path | None, overrides: list[str] = ()) -> StudyConfig:
    from tdrl.envs import ENVS
    from tdrl.training.common import load_recipe

    cfg = load_recipe(StudyConfig, path, overrides)
    if cfg.env not in ENVS:
        raise ConfigError(f"env {cfg.env!r}: one of {', '.join(ENVS)}")
    if cfg.eval_every < 1 or cfg.steps < 1:
        raise ConfigError("steps and eval_every must be at least 1")
    return cfg


def sft_rows(env, tasks: list, chat: bool) -> list[dict]:
    """TRL prompt-completion rows from the environment's expert answers."""
    rows = []
    for t in tasks:
        answer = env.expert(t)
        if chat:
            rows.append(
                {"prompt": [{"role": "user", "content": t.prompt}], "completion": [{"role": "assistant", "content": answer}]}
            )
        else:
            rows.append({"prompt": t.prompt + "\n", "completion": answer})
    return rows


class Scorer:
    """Greedy ID and OOD evaluation of a model during training; appends rows to ``curves.jsonl``."""

    def __init__(self, env, splits: dict, tokenizer, path: Path, branch: str, every: int, max_new_tokens: int):
        self.env, self.splits, self.tokenizer = env, splits, tokenizer
        self.path, self.branch, self.every, self.max_new_tokens = path, branch, every, max_new_tokens
        self.rows: list[dict] = []

    def score(self, model, step: int) -> None:
        from tdrl.envs.rollout import evaluate

        was_training = model.training
        model.eval()
        for split, tasks in self.splits.items():
            row = {"branch": self.branch, "step": step, "split": split}
            row.update(evaluate(model, self.tokenizer, self.env, tasks, self.max_new_tokens))
            self.rows.append(row)
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        if was_training:
            model.train()

    def callback(self):
        from transformers import TrainerCallback

        scorer = self

        class Score(TrainerCallback):
            def on_step_end(self, args, state, control, model=None, **kw):
                if state.global_step % scorer.every == 0:
                    scorer.score(model, state.global_step)

        return Score()


def run_study(cfg: StudyConfig, progress: bool = True) -> dict:
    from transformers import AutoModelForCausalLM

    from tdrl.envs import make_env
    from tdrl.training.common import load_tokenizer, quiet
    from tdrl.training.rl import RLConfig, train_rl
    from tdrl.training.sft import sft_train

    if not progress:
        quiet()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves = out / "curves.jsonl"
    curves.unlink(missing_ok=True)
    for stale in ("start", "sft", "rl"):  # a rerun starts over
        shutil.rmtree(out / stale, ignore_errors=True)
    env = make_env(cfg.env, **cfg.env_args)
    train = env.tasks(cfg.train_tasks, "id", seed=cfg.seed)
    splits = {
        "id": env.tasks(cfg.eval_tasks, "id", seed=cfg.seed + 1),
        "ood": env.tasks(cfg.eval_tasks, "ood", seed=cfg.seed + 1),
    }

    start = _start_model(cfg, env, train, out)
    tokenizer = load_tokenizer(start)
    chat = bool(tokenizer.chat_template)
    rows = sft_rows(env, train, chat)
    if cfg.warmup_sft_steps:
        sft_train(start, rows, out / "start", max_steps=cfg.warmup_sft_steps, seed=cfg.seed, progress=progress, **_sft_args(cfg))
        start = str(out / "start")

    base = Scorer(env, splits, tokenizer, curves, "start", cfg.eval_every, cfg.max_new_tokens)
    base.score(AutoModelForCausalLM.from_pretrained(start), 0)
    for branch in ("sft", "rl"):
        _copy_start(base.rows, curves, branch)

    sft_scorer = Scorer(env, splits, tokenizer, curves, "sft", cfg.eval_every, cfg.max_new_tokens)
    sft_train(
        start, rows, out / "sft", max_steps=cfg.steps, seed=cfg.seed, progress=progress,
        callbacks=[sft_scorer.callback()], **_sft_args(cfg),
    )  # fmt: skip

    from tdrl.envs.rollout import env_return, env_solved, grpo_rollout

    rl = dict(cfg.rl)
    rl_cfg = RLConfig(
        model=start,
        problems="-",
        out_dir=str(out / "rl"),
        prompt_format="completion",
        num_generations=int(rl.pop("num_generations", 4)),
        batch_size=int(rl.pop("batch_size", 8)),
        max_steps=cfg.steps,
        learning_rate=float(rl.pop("learning_rate", 1e-5)),
        temperature=float(rl.pop("temperature", 1.0)),
        beta=float(rl.pop("beta", 0.0)),
        max_completion_length=cfg.max_new_tokens,
        save_steps=max(cfg.steps, 1),
        seed=cfg.seed,
        trl=rl,
    )
    rl_scorer = Scorer(env, splits, tokenizer, curves, "rl", cfg.eval_every, cfg.max_new_tokens)
    rl_rows = [{"prompt": t.prompt, "task_id": t.id} for t in train]
    rollout = grpo_rollout(env, train, cfg.max_new_tokens, rl_cfg.temperature)
    rl_summary = train_rl(
        rl_cfg, progress=progress, rows=rl_rows, reward_funcs=[env_return, env_solved], reward_weights=[1.0, 0.0],
        rollout_func=rollout, callbacks=[rl_scorer.callback()],
    )  # fmt: skip

    all_rows = [json.loads(line) for line in curves.read_text().splitlines()]
    final = {b: {s: _last(all_rows, b, s) for s in splits} for b in ("start", "sft", "rl")}
    summary = {"config": asdict(cfg), "train_tasks": len(train), "final": final, "rl": rl_summary}
    (out / "study.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot_study(all_rows, out / "study.png", title=f"{cfg.env}: SFT vs RL from the same start")
    return summary


def _start_model(cfg: StudyConfig, env, train: list, out: Path) -> str:
    from tdrl.llm.embedded import resolve_model

    if cfg.model != "tiny":
        return resolve_model(cfg.model)
    from tdrl.llm.tiny import build_tiny_model

    corpus = [t.prompt for t in train] + [env.expert(t) for t in train]
    corpus += [t.prompt for t in env.tasks(4, "ood", seed=cfg.seed + 100)]  # the OOD rule's words, not its answers
    return build_tiny_model(out / "tiny", seed=cfg.seed, chat=True, corpus=corpus, **cfg.tiny)


def _sft_args(cfg: StudyConfig) -> dict:
    return {"learning_rate": float(cfg.sft.get("learning_rate", 1e-4)), "batch_size": int(cfg.sft.get("batch_size", 8))}


def _copy_start(rows: list[dict], path: Path, branch: str) -> None:
    """Both branches begin at the start's scores (step 0)."""
    with path.open("a") as f:
        for r in rows:
            f.write(json.dumps({**r, "branch": branch}) + "\n")


def _last(rows: list[dict], branch: str, split: str) -> dict | None:
    mine = [r for r in rows if r["branch"] == branch and r["split"] == split]
    return max(mine, key=lambda r: r["step"]) if mine else None


def plot_study(rows: list[dict], path: Path, title: str = "") -> None:
    """Success rate (top) and mean episode return (bottom) over steps: a column per split, a line per branch."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    splits = sorted({r["split"] for r in rows})
    fig, axes = plt.subplots(2, len(splits), figsize=(5 * len(splits), 6.4), squeeze=False, sharex=True)
    for col, split in enumerate(splits):
        for row, (key, label) in enumerate((("success", "success rate"), ("mean_return", "mean return"))):
            ax = axes[row][col]
            for branch, style in (("sft", "o-"), ("rl", "s-")):
                mine = sorted((r["step"], r[key]) for r in rows if r["branch"] == branch and r["split"] == split)
                if mine:
                    ax.plot([s for s, _ in mine], [v for _, v in mine], style, label=branch.upper())
            ax.set_ylabel(label)
            if key == "success":
                ax.set_ylim(-0.02, 1.02)
                ax.set_title(f"{'in' if split == 'id' else 'out-of'}-distribution ({split})")
            else:
                ax.set_xlabel("training step")
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
