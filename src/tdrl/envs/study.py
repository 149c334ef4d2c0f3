"""``tdrl envs study``: SFT and RL from the same start, scored in- and out-of-distribution.

The recipe of "SFT Memorizes, RL Generalizes" at the size of one machine:

1. the start: a model (``tiny`` builds a small chat model whose tokenizer knows the
   environment's words; ``embedded``; or a path), optionally warmed up by SFT on expert
   answers so that it answers in the format at all (the paper starts RL from such a model);
2. the SFT branch: more SFT on expert answers to in-distribution tasks (the solver's
   formulas, the route planner's actions);
3. the RL branch: GRPO on the same in-distribution tasks, with multi-turn episodes and the
   episode return as the reward (:func:`tdrl.envs.rollout.grpo_rollout`);
4. every ``eval_every`` steps, every branch is scored on held-out ID tasks and on OOD tasks
   (the other rule), with the same number of attempts as in training: greedily (the
   headline figure), sampled at the RL temperature (``sampled_success``: a sampled-policy
   change that greedy decoding hides), and by the mean log-probability of the expert's
   answers (``expert_logp``: how far the policy moved, even where no greedy answer flipped);
5. optionally (``branches`` holding ``rl_raw``) the paper's ablation: RL from the start
   before its warm-up SFT.

Output in ``out_dir``: ``curves.jsonl`` (branch, step, split, success, first-try success,
mean return, sampled success, expert log-probability, and per-task ``solved`` flags for
intervals), ``study.json`` (the config and the final figures) and ``study.png`` (greedy
and sampled success over training steps, ID and OOD, one line per branch, and the RL
branches' training reward and sampled success in training from their ``metrics.jsonl``).
Several seeds, their mean and confidence intervals: :mod:`tdrl.envs.seeds`.
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
    branches: list = field(default_factory=lambda: ["sft", "rl"])  # and "rl_raw": RL from the start before warm-up
    sample_eval: bool = True  # also score sampled at rl.temperature (and the expert's log-probability)
    seed: int = 0


BRANCHES = ("sft", "rl", "rl_raw")


def load_config(path: str | Path | None, overrides: list[str] = ()) -> StudyConfig:
    from tdrl.envs import ENVS
    from tdrl.training.common import load_recipe

    cfg = load_recipe(StudyConfig, path, overrides)
    if cfg.env not in ENVS:
        raise ConfigError(f"env {cfg.env!r}: one of {', '.join(ENVS)}")
    if cfg.eval_every < 1 or cfg.steps < 1:
        raise ConfigError("steps and eval_every must be at least 1")
    unknown = sorted(set(cfg.branches) - set(BRANCHES))
    if unknown or not cfg.branches:
        raise ConfigError(f"branches: {', '.join(unknown) or 'none given'}; each one of {', '.join(BRANCHES)}")
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
    """ID and OOD evaluation of a model during training; appends rows to ``curves.jsonl``.

    Each row has the greedy figures (:func:`tdrl.envs.rollout.summarize`) and the per-task
    ``solved`` flags; with ``temperature`` > 0 also ``sampled_success`` (one sampled episode
    per task, seeded, so training's random state is untouched) and ``expert_logp``, the mean
    log-probability of the expert's answer per task.
    """

    def __init__(
        self, env, splits: dict, tokenizer, path: Path, branch: str, every: int, max_new_tokens: int,
        temperature: float = 0.0, seed: int = 0,
    ):  # fmt: skip
        self.env, self.splits, self.tokenizer = env, splits, tokenizer
        self.path, self.branch, self.every, self.max_new_tokens = path, branch, every, max_new_tokens
        self.temperature, self.seed = temperature, seed
        self.rows: list[dict] = []

    def score(self, model, step: int) -> None:
        import torch

        from tdrl.envs.rollout import play, summarize

        was_training = model.training
        model.eval()
        for split, tasks in self.splits.items():
            episodes = [r.episode.summary() for r in play(model, self.tokenizer, self.env, tasks, self.max_new_tokens)]
            row = {"branch": self.branch, "step": step, "split": split, **summarize(self.env, episodes, tasks)}
            row["solved"] = [int(e["solved"]) for e in episodes]
            if self.temperature > 0:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(self.seed * 1000 + step)
                    sampled = play(model, self.tokenizer, self.env, tasks, self.max_new_tokens, self.temperature)
                row["sampled_success"] = sum(r.episode.solved for r in sampled) / max(len(sampled), 1)
                row["expert_logp"] = expert_logp(model, self.tokenizer, self.env, tasks)
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


def expert_logp(model, tokenizer, env, tasks: list) -> float:
    """Mean over ``tasks`` of the log-probability of the expert's answer (and the end of turn) after the prompt."""
    from tdrl.envs.rollout import Turns, completion_logprobs

    turns = Turns(tokenizer)
    prompts = [turns.encode(turns.prompt_text(t.prompt)) for t in tasks]
    answers = [turns.encode(env.expert(t)) + [tokenizer.eos_token_id] for t in tasks]
    logps = completion_logprobs(model, prompts, answers)
    return sum(sum(x) for x in logps) / max(len(logps), 1)


def run_study(cfg: StudyConfig, progress: bool = True) -> dict:
    """One seed of the study (see the module docstring); returns the summary also written to ``study.json``."""
    from transformers import AutoModelForCausalLM

    from tdrl.envs import make_env
    from tdrl.training.common import load_tokenizer, quiet
    from tdrl.training.sft import sft_train

    if not progress:
        quiet()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves = out / "curves.jsonl"
    curves.unlink(missing_ok=True)
    for stale in ("start", *BRANCHES):  # a rerun starts over
        shutil.rmtree(out / stale, ignore_errors=True)
    env = make_env(cfg.env, **cfg.env_args)
    train = env.tasks(cfg.train_tasks, "id", seed=cfg.seed)
    splits = {
        "id": env.tasks(cfg.eval_tasks, "id", seed=cfg.seed + 1),
        "ood": env.tasks(cfg.eval_tasks, "ood", seed=cfg.seed + 1),
    }
    temperature = float(cfg.rl.get("temperature", 1.0)) if cfg.sample_eval else 0.0

    def scorer(branch: str) -> Scorer:
        return Scorer(env, splits, tokenizer, curves, branch, cfg.eval_every, cfg.max_new_tokens, temperature, cfg.seed)

    raw = start = _start_model(cfg, env, train, out)
    tokenizer = load_tokenizer(start)
    rows = sft_rows(env, train, bool(tokenizer.chat_template))
    if cfg.warmup_sft_steps:
        sft_train(start, rows, out / "start", max_steps=cfg.warmup_sft_steps, seed=cfg.seed, progress=progress, **_sft_args(cfg))
        start = str(out / "start")

    base = scorer("start")
    base.score(AutoModelForCausalLM.from_pretrained(start), 0)
    rl_summaries = {}
    for branch in cfg.branches:
        if branch == "rl_raw":
            scorer(branch).score(AutoModelForCausalLM.from_pretrained(raw), 0)
        else:
            _copy_start(base.rows, curves, branch)
        callbacks = [scorer(branch).callback()]
        if branch == "sft":
            sft_train(
                start, rows, out / "sft", max_steps=cfg.steps, seed=cfg.seed, progress=progress, callbacks=callbacks,
                **_sft_args(cfg),
            )  # fmt: skip
        else:
            model = raw if branch == "rl_raw" else start
            rl_summaries[branch] = _train_rl(cfg, env, train, model, out / branch, callbacks, progress)

    all_rows = [json.loads(line) for line in curves.read_text().splitlines()]
    names = ("start", *cfg.branches)
    final = {b: {s: _brief(_last(all_rows, b, s)) for s in splits} for b in names}
    summary = {
        "config": asdict(cfg),
        "train_tasks": len(train),
        "final": final,
        "rl": rl_summaries.get("rl"),
        "rl_runs": rl_summaries,
    }
    (out / "study.json").write_text(json.dumps(summary, indent=1) + "\n")
    training = {b: _training_rows(out / b) for b in rl_summaries}
    plot_study(all_rows, out / "study.png", title=f"{cfg.env}, seed {cfg.seed}: SFT vs RL from the same start", training=training)
    return summary


def _train_rl(cfg: StudyConfig, env, train: list, model: str, out: Path, callbacks: list, progress: bool) -> dict:
    """GRPO with multi-turn episodes of ``env`` on the training tasks; the episode return is the reward."""
    from tdrl.envs.rollout import env_return, env_solved, grpo_rollout
    from tdrl.training.rl import RLConfig, train_rl

    rl = dict(cfg.rl)
    rl_cfg = RLConfig(
        model=model,
        problems="-",
        out_dir=str(out),
        prompt_format="completion",
        num_generations=int(rl.pop("num_generations", 4)),
        batch_size=int(rl.pop("batch_size", 8)),
        max_steps=cfg.steps,
        learning_rate=float(rl.pop("learning_rate", 1e-5)),
        temperature=float(rl.pop("temperature", 1.0)),
        beta=float(rl.pop("beta", 0.0)),
        scale_rewards=str(rl.pop("scale_rewards", "group")),
        algorithm=str(rl.pop("algorithm", "grpo")),
        max_completion_length=cfg.max_new_tokens,
        save_steps=max(cfg.steps, 1),
        seed=cfg.seed,
        trl=rl,
    )
    rl_rows = [{"prompt": t.prompt, "task_id": t.id} for t in train]
    rollout = grpo_rollout(env, train, cfg.max_new_tokens, rl_cfg.temperature)
    return train_rl(
        rl_cfg, progress=progress, rows=rl_rows, reward_funcs=[env_return, env_solved], reward_weights=[1.0, 0.0],
        rollout_func=rollout, callbacks=callbacks,
    )  # fmt: skip


def _training_rows(folder: Path) -> list[dict]:
    """The RL run's per-step log (TRL's metrics): mean episode return, sampled success, zero-spread groups."""
    path = folder / "metrics.jsonl"
    if not path.exists():
        return []
    return [r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip()) if "reward" in r]


def _brief(row: dict | None) -> dict | None:
    """A curve row without its per-task flags (for summaries)."""
    return None if row is None else {k: v for k, v in row.items() if k != "solved"}


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


STYLES = {"start": "k:", "sft": "o-", "rl": "s-", "rl_raw": "^--"}
LABELS = {"start": "start", "sft": "SFT", "rl": "RL", "rl_raw": "RL from raw start"}


def plot_study(rows: list[dict], path: Path, title: str = "", training: dict | None = None) -> None:
    """Greedy success, sampled success and the expert's log-probability over steps (a column per split, a line per
    branch), and a column with each RL branch's training log: mean episode return, solved share of the sampled
    training episodes and the share of groups with no reward spread."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    splits = sorted({r["split"] for r in rows})
    keys = [("success", "greedy success"), ("sampled_success", "sampled success"), ("expert_logp", "expert answer log p")]
    keys = [k for k in keys if any(k[0] in r for r in rows)]
    training = {b: t for b, t in (training or {}).items() if t}
    cols = len(splits) + bool(training)
    fig, axes = plt.subplots(len(keys), cols, figsize=(4.6 * cols, 2.9 * len(keys)), squeeze=False, sharex=True)
    branches = [b for b in ("sft", "rl", "rl_raw") if any(r["branch"] == b for r in rows)]
    for col, split in enumerate(splits):
        for row, (key, label) in enumerate(keys):
            ax = axes[row][col]
            for branch in branches:
                mine = sorted((r["step"], r[key]) for r in rows if r["branch"] == branch and r["split"] == split and key in r)
                if mine:
                    ax.plot([s for s, _ in mine], [v for _, v in mine], STYLES[branch], label=LABELS[branch], ms=4)
            ax.set_ylabel(label)
            if key != "expert_logp":
                ax.set_ylim(-0.02, 1.02)
            if row == 0:
                ax.set_title(f"{'in' if split == 'id' else 'out-of'}-distribution ({split})")
                ax.legend(fontsize=7)
            if row == len(keys) - 1:
                ax.set_xlabel("training step")
    if training:
        train_keys = [("reward", "training return (mean)"), ("rewards/env_solved/mean", "sampled success in training"),
                      ("frac_reward_zero_std", "groups with no spread")]  # fmt: skip
        for row in range(len(keys)):
            ax = axes[row][-1]
            if row >= len(train_keys):
                ax.axis("off")
                continue
            key, label = train_keys[row]
            for branch, log in training.items():
                ax.plot([r["step"] for r in log], _smooth([r.get(key, 0.0) for r in log]), STYLES[branch][1:] or "-",
                        label=LABELS[branch], lw=1)  # fmt: skip
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title("RL training (sampled, smoothed)")
                ax.legend(fontsize=7)
            ax.set_xlabel("training step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _smooth(values: list[float], window: int = 9) -> list[float]:
    """A trailing moving average (training logs are one noisy batch per step)."""
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(sum(chunk) / len(chunk))
    return out
