"""``tdrl study code``: does RL on self-synthesized tests make a model solve more unseen problems?

The AceCoder recipe at the size of one CPU, from seeds to a measured result, every stage
one of tdrl's own functions:

1. ``split``: the seed problems (instruction, reference, two seed tests each; by default
   the bundled family ``tdrl/data/study_seeds.jsonl``), split by problem into train and
   held-out by their ``meta.split``;
2. ``synth``: ``tdrl synth --method reference`` on both splits (tests from the references
   and the seed tests only), with the quality report;
3. ``before``: ``tdrl sample`` of the start model on the held-out problems, verified:
   pass@1 and pass@k (``eval.n`` samples at ``eval.temperature``), with 95% bootstrap
   intervals over problems;
4. ``rl``: GRPO with LoRA (``tdrl rl``'s recipe) on the train problems, test pass rate as
   the reward, prompts exactly as ``tdrl sample`` builds them; the merged policy is
   ``OUT/final``, so ``tdrl sample --model OUT/final`` samples the trained policy;
5. ``after``: the same held-out evaluation of ``OUT/final``, and the paired difference;
6. ``rerank``: ``tdrl pairs`` from the policy's own samples of the train problems,
   ``tdrl train-rm`` on them, and best-of-N on the held-out ``after`` samples by the reward
   model, against a random pick and the oracle, with intervals at the largest N.

Each stage writes ``OUT/stages/<stage>.json`` when it is complete; a rerun (after a kill)
skips finished stages and resumes the running one where its own files allow (sampling,
verification and synthesis resume line by line; RL from its last checkpoint).
``OUT/report.json`` gathers every figure, the settings and the wall time per stage;
``OUT/plots/`` holds the held-out pass rates, the training reward and the best-of-N curve.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError
from tdrl.evaluation.intervals import bootstrap_difference, bootstrap_mean, excludes_zero
from tdrl.evaluation.passk import Scores, pass_at_k
from tdrl.io import iter_jsonl, read_problems, write_jsonl
from tdrl.markers import Markers

STAGES = ("split", "synth", "before", "rl", "after", "rerank")


@dataclass
class CodeStudyConfig:
    seeds: str = ""  # seed problems JSONL with meta.split train|heldout (default: the bundled family)
    model: str = "embedded"
    out_dir: str = "study-code"
    seed: int = 0
    train_limit: int | None = None  # use only the first N train / held-out problems (a quick run)
    heldout_limit: int | None = None
    synth: dict = field(
        default_factory=lambda: {"tests_per_problem": 20, "min_tests": 5, "mutants": 16},
        metadata={"schema": "tdrl.synthesis.reference:SynthConfig"},
    )
    eval: dict = field(
        default_factory=lambda: {"n": 4, "temperature": 0.8, "max_tokens": 96, "batch_size": 32},
        metadata={"schema": {"n": int, "temperature": float, "max_tokens": int, "batch_size": int}},
    )
    rl: dict = field(  # `tdrl rl` recipe fields (model, problems, out_dir and the reward are the study's)
        metadata={"schema": "tdrl.training.rl:RLConfig"},
        default_factory=lambda: {
            "max_steps": 24,
            "learning_rate": 5e-4,
            "num_generations": 4,
            "batch_size": 16,
            "temperature": 0.8,
            "max_completion_length": 96,
            "lora": {"r": 16, "alpha": 32},
        },
    )
    rm: dict = field(  # `tdrl train-rm` fields, and n: samples of each train problem by the trained policy
        default_factory=lambda: {"n": 8, "epochs": 2.0, "learning_rate": 5e-5, "lora": {"r": 16, "alpha": 32}, "batch_size": 8}
    )
    best_of_n: bool = True  # the reward-model stage (off in the demo's short version)
    bootstrap: int = 2000
    torch_threads: int | None = None  # e.g. 1 on a machine shared with other jobs (see docs/study.md)
    workers: int | None = None
    sandbox: str = "auto"


def load_config(path: str | Path | None, overrides: list[str] = ()) -> CodeStudyConfig:
    """A :class:`CodeStudyConfig` from YAML plus ``key=value`` overrides."""
    from tdrl.training.common import check_settings, load_recipe
    from tdrl.training.reward_model import RMConfig

    cfg = load_recipe(CodeStudyConfig, path, overrides, paths=("seeds",))
    where, rm = f"{path}: " if path else "", dict(cfg.rm)  # rm: n, and `tdrl train-rm` settings
    check_settings({"n": int}, {"n": rm.pop("n")} if "n" in rm else {}, where, "rm.")
    check_settings(RMConfig, rm, where, "rm.")
    cfg.rm.update(rm)
    if int(cfg.eval.get("n", 4)) < 1:
        raise ConfigError("eval.n must be at least 1")
    return cfg


def default_seeds() -> str:
    from tdrl.demo import data_file

    return str(data_file("study_seeds.jsonl"))


class Stages:
    """The study's stage markers (``OUT/stages/<name>.done``, :class:`tdrl.markers.Markers`): a finished stage's
    figures and wall time, and the settings it ran with; a stage whose settings (or those of a stage it reads)
    changed since is redone from scratch, its old outputs removed."""

    def __init__(self, out: Path, say):
        self.markers = Markers(out / "stages", root=out)
        self.say = say

    def run(self, name: str, settings: dict, outputs: list[str], fn) -> dict:
        done = self.markers.done(name, settings)
        if done is not None:
            self.say(f"{name}: done before, skipped")
            return done
        if self.markers.changed(name):
            self.say(f"{name}: settings changed since the last run, redone")
        self.markers.begin(name, outputs)
        self.say(f"{name}: running")
        t0 = time.monotonic()
        result = fn()
        result["seconds"] = round(time.monotonic() - t0, 1)
        self.markers.finish(name, settings, result)
        self.say(f"{name}: {result['seconds']:.0f}s")
        return result


def run_study(cfg: CodeStudyConfig, progress: bool = True, say=print) -> dict:
    """Run (or resume) the study; returns the report also written to ``OUT/report.json``."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.torch_threads:
        import torch

        torch.set_num_threads(cfg.torch_threads)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1) + "\n")
    stages = Stages(out, say)
    keys = stages.markers.keys
    t0 = time.monotonic()
    seeds_digest = hashlib.sha256(Path(cfg.seeds or default_seeds()).read_bytes()).hexdigest()[:16]  # edits redo it
    split = {"seeds": cfg.seeds, "seeds_sha256": seeds_digest, "train_limit": cfg.train_limit, "heldout_limit": cfg.heldout_limit}
    done = {"split": stages.run("split", split, ["seeds"], lambda: split_seeds(cfg, out))}
    synth = {"split": keys["split"], "synth": cfg.synth, "seed": cfg.seed}
    done["synth"] = stages.run("synth", synth, ["problems", "synth"], lambda: synthesize(cfg, out, progress))
    before = {"synth": keys["synth"], "model": cfg.model, "eval": cfg.eval, "seed": cfg.seed}
    done["before"] = stages.run("before", before, ["before"], lambda: evaluate_heldout(cfg, out, cfg.model, "before", progress))
    rl = {"synth": keys["synth"], "model": cfg.model, "rl": cfg.rl, "seed": cfg.seed}
    done["rl"] = stages.run("rl", rl, ["rl", "final"], lambda: train_policy(cfg, out, progress))
    after = {"rl": keys["rl"], "eval": cfg.eval, "seed": cfg.seed}
    done["after"] = stages.run(
        "after", after, ["after"], lambda: evaluate_heldout(cfg, out, str(out / "final"), "after", progress)
    )
    if cfg.best_of_n:
        rerank = {"after": keys["after"], "rm": cfg.rm, "seed": cfg.seed}
        done["rerank"] = stages.run("rerank", rerank, ["rerank"], lambda: rerank_with_reward_model(cfg, out, progress))
    else:
        done["rerank"] = {"reason": "not run (best_of_n: false)", "seconds": 0.0}
    report = build_report(cfg, out, done)
    report["seconds_this_run"] = round(time.monotonic() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    plot_study(report, out / "plots")
    return report


def split_seeds(cfg: CodeStudyConfig, out: Path) -> dict:
    """Write ``seeds/train.jsonl`` and ``seeds/heldout.jsonl`` (split by problem)."""
    problems = read_problems(cfg.seeds or default_seeds())
    splits: dict[str, list] = {"train": [], "heldout": []}
    for p in problems:
        split = (p.meta or {}).get("split")
        if split not in splits:
            raise ConfigError(f"{cfg.seeds or 'study_seeds.jsonl'}: problem {p.id}: meta.split must be train or heldout")
        splits[split].append(p)
    splits["train"] = splits["train"][: cfg.train_limit]
    splits["heldout"] = splits["heldout"][: cfg.heldout_limit]
    overlap = {p.id for p in splits["train"]} & {p.id for p in splits["heldout"]}
    if overlap:
        raise ConfigError(f"problems in both splits: {sorted(overlap)[:5]}")
    (out / "seeds").mkdir(parents=True, exist_ok=True)
    (out / "problems").mkdir(parents=True, exist_ok=True)
    for name, items in splits.items():
        write_jsonl(out / "seeds" / f"{name}.jsonl", items)
    return {name: len(items) for name, items in splits.items()}


def synthesize(cfg: CodeStudyConfig, out: Path, progress: bool) -> dict:
    """``tdrl synth --method reference`` on both splits; the quality report of each."""
    from tdrl.synthesis.reference import SynthConfig
    from tdrl.synthesis.run import synth_files

    synth_cfg = SynthConfig(seed=cfg.seed, **cfg.synth)
    result = {}
    for split in ("train", "heldout"):
        summary = synth_files(
            out / "seeds" / f"{split}.jsonl",
            out / "problems" / f"{split}.jsonl",
            synth_cfg,
            method="reference",
            workers=cfg.workers,
            sandbox=cfg.sandbox,
            report_dir=out / "synth" / split,
            progress=progress,
        )
        quality = json.loads((out / "synth" / split / "quality.json").read_text())["overall"]
        result[split] = {"kept": quality["problems"], "tests": quality["tests"], "dropped": summary.dropped, "quality": quality}
    return result


def sample_and_verify(cfg: CodeStudyConfig, problems: Path, model: str, folder: Path, n: int, progress: bool) -> dict:
    """``tdrl sample`` then ``tdrl verify``: per-problem ``[samples, passing]`` counts."""
    from tdrl.execution.run import verify_files
    from tdrl.sampling.sample import SampleParams, sample_files

    folder.mkdir(parents=True, exist_ok=True)
    params = SampleParams(
        n=n,
        temperature=float(cfg.eval.get("temperature", 0.8)),
        max_tokens=int(cfg.eval.get("max_tokens", 96)),
        seed=cfg.seed,
    )
    sampled = sample_files(
        problems, folder / "samples.jsonl", model, params, batch_size=int(cfg.eval.get("batch_size", 32)), progress=progress
    )
    verify_files(
        problems, folder / "samples.jsonl", folder / "results.jsonl", workers=cfg.workers, sandbox=cfg.sandbox, progress=progress
    )
    scores = Scores.from_results(d for _, d in iter_jsonl(folder / "results.jsonl"))
    return {
        "counts": {pid: [s.n, s.c] for pid, s in sorted(scores.problems.items())},
        "mean_test_pass_rate": {pid: round(s.mean_pass_rate, 4) for pid, s in sorted(scores.problems.items())},
        "sampling": {
            "samples": sampled.samples,
            "seconds": round(sampled.seconds, 1),
            "tokens_per_second": round(sampled.completion_tokens / sampled.seconds, 1) if sampled.seconds else None,
        },
    }


def evaluate_heldout(cfg: CodeStudyConfig, out: Path, model: str, name: str, progress: bool) -> dict:
    """Held-out pass@1 and pass@n of ``model``, with bootstrap intervals over problems."""
    n = int(cfg.eval.get("n", 4))
    result = sample_and_verify(cfg, out / "problems" / "heldout.jsonl", model, out / name, n, progress)
    result["model"] = model
    result.update(pass_metrics(result["counts"], n, cfg.bootstrap, cfg.seed))
    return result


def pass_metrics(counts: dict[str, list[int]], n: int, resamples: int, seed: int) -> dict:
    """``pass@1`` and ``pass@n`` over problems (means with intervals) from ``{problem: [samples, passing]}``."""
    usable = {pid: (s, c) for pid, (s, c) in counts.items() if s >= 1}
    return {
        f"pass@{k}": bootstrap_mean([pass_at_k(s, c, k) for s, c in usable.values() if s >= k], resamples, seed=seed)
        for k in sorted({1, n})
    }


def train_policy(cfg: CodeStudyConfig, out: Path, progress: bool) -> dict:
    """GRPO with LoRA on the train problems (``tdrl rl``'s recipe); the merged policy goes to ``OUT/final``."""
    from tdrl.training.rl import RLConfig, train_rl

    settings = {
        "model": cfg.model,
        "problems": str(out / "problems" / "train.jsonl"),
        "out_dir": str(out / "rl"),
        "prompt_format": "auto",  # what `tdrl sample` uses, so both see the same prompts
        "rewards": [{"type": "tests", "kind": "pass_rate", "weight": 1.0}],
        "seed": cfg.seed,
        "save_steps": 10,
        "verifier": {"workers": cfg.workers, "sandbox": cfg.sandbox, "timeout": 3.0},
        "merge": True,  # LoRA runs keep only the adapter unless asked: OUT/final is a plain folder
        **cfg.rl,
    }
    summary = train_rl(RLConfig(**settings), progress=progress)
    final = out / "final"
    if final.exists():
        shutil.rmtree(final)
    merged = out / "rl" / "final" / "merged"
    shutil.copytree(merged if (merged / "config.json").exists() else out / "rl" / "final", final)
    rows = [json.loads(x) for x in (out / "rl" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    summary["reward_curve"] = [
        {"step": r["step"], "reward": r["reward"], "completion_length": r.get("completions/mean_length")}
        for r in rows
        if "reward" in r
    ]
    for r in (out / "rl").glob("checkpoint-*"):  # the merged policy is what the study keeps
        shutil.rmtree(r)
    return summary


def rerank_with_reward_model(cfg: CodeStudyConfig, out: Path, progress: bool) -> dict:
    """Pairs from the policy's own train-split samples, a reward model on them, best-of-N on the held-out samples."""
    from tdrl.rewards.pairs import pairs_files
    from tdrl.training.reward_model import RMConfig, train_reward_model

    rm = dict(cfg.rm)
    n_train = int(rm.pop("n", 2))
    train_problems = out / "problems" / "train.jsonl"
    folder = out / "rerank"
    policy_train = sample_and_verify(cfg, train_problems, str(out / "final"), folder / "train", n_train, progress)
    n_pairs, totals = pairs_files(
        train_problems, folder / "train" / "samples.jsonl", folder / "pairs.jsonl", folder / "train" / "results.jsonl"
    )
    if n_pairs == 0:
        return {"pairs": 0, "pair_totals": totals, "reason": "no train problem had both a passing and a failing sample"}
    lora = rm.pop("lora", {"r": 16, "alpha": 32})
    metrics = train_reward_model(
        folder / "pairs.jsonl", folder / "reward_model", RMConfig(backbone=cfg.model, lora=lora, seed=cfg.seed, **rm), progress
    )

    picks = reward_model_best_of_n(
        out / "problems" / "heldout.jsonl",
        out / "after" / "samples.jsonl",
        out / "after" / "results.jsonl",
        folder / "reward_model",
        folder / "best_of_n.png",
        cfg.bootstrap,
        cfg.seed,
    )
    return {
        "pairs": n_pairs,
        "pair_totals": totals,
        "policy_train_pass@1": pass_metrics(policy_train["counts"], n_train, cfg.bootstrap, cfg.seed)["pass@1"],
        "reward_model": {k: metrics[k] for k in ("train_pairs", "heldout_pairs", "heldout_accuracy_before", "heldout_accuracy")},
        **picks,
    }


def reward_model_best_of_n(problems, samples_path, results_path, reward_model, plot_path, resamples: int, seed: int) -> dict:
    """Best-of-N curves (reward model, random, oracle) over verified samples, and intervals at the largest N."""
    from tdrl.io import read_samples
    from tdrl.rewards.model import RewardModelScorer
    from tdrl.rewards.pairs import score_samples
    from tdrl.rewards.rerank import best_of_n, collect, pick, plot_best_of_n

    problems = {p.id: p for p in read_problems(problems)}
    scored = score_samples(problems, list(read_samples(samples_path, set(problems))), results_path)
    cands, _ = collect(problems, scored, None, RewardModelScorer(str(reward_model)))
    curves = best_of_n(cands, ["random", "reward_model", "oracle"], seed=seed)
    plot_best_of_n(curves, plot_path)
    # at the largest N every pick is over the whole set: one value per problem, so intervals over problems
    per_problem = {
        "reward_model": [pick("reward_model", p.candidates) for p in cands],
        "random": [sum(c.passed for c in p.candidates) / len(p.candidates) for p in cands],
        "oracle": [float(any(c.passed for c in p.candidates)) for p in cands],
    }
    gain = bootstrap_difference(per_problem["reward_model"], per_problem["random"], resamples=resamples, seed=seed)
    return {
        "best_of_n": curves,
        "n": max(curves["n"]),
        "at_n": {m: bootstrap_mean(v, resamples, seed=seed) for m, v in per_problem.items()},
        "reward_model_minus_random": gain,
        "reward_model_beats_random": excludes_zero(gain) and gain["mean"] > 0,
    }


def build_report(cfg: CodeStudyConfig, out: Path, done: dict) -> dict:
    """Every figure of the study in one dictionary (``OUT/report.json``)."""
    n = int(cfg.eval.get("n", 4))
    before, after = done["before"], done["after"]
    common = sorted(set(before["counts"]) & set(after["counts"]))
    diffs = {}
    for k in sorted({1, n}):
        b = [pass_at_k(*before["counts"][p], k) for p in common]
        a = [pass_at_k(*after["counts"][p], k) for p in common]
        diff = bootstrap_difference(a, b, resamples=cfg.bootstrap, seed=cfg.seed)
        diff["excludes_zero"] = excludes_zero(diff)
        diffs[f"pass@{k}"] = diff
    return {
        "config": asdict(cfg),
        "problems": done["split"] | {"synthesized": {s: done["synth"][s]["kept"] for s in ("train", "heldout")}},
        "tests": {s: done["synth"][s] for s in ("train", "heldout")},
        "heldout": {
            "before": {k: v for k, v in before.items() if k.startswith("pass@")},
            "after": {k: v for k, v in after.items() if k.startswith("pass@")},
            "difference": diffs,
            "per_problem": {p: {"before": before["counts"][p], "after": after["counts"][p]} for p in common},
        },
        "rl": {k: v for k, v in done["rl"].items() if k != "seconds"},
        "best_of_n": {k: v for k, v in done["rerank"].items() if k != "seconds"},
        "sampling": {s: done[s]["sampling"] for s in ("before", "after")},
        "seconds": {s: done[s]["seconds"] for s in STAGES},
        "final_policy": str(out / "final"),
    }


def plot_study(report: dict, folder: Path) -> None:
    """``heldout_pass.png`` (before/after with intervals), ``training_reward.png``, ``best_of_n.png``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    folder.mkdir(parents=True, exist_ok=True)
    held = report["heldout"]
    metrics = list(held["before"])
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for offset, (label, block) in zip((-0.18, 0.18), (("before RL", held["before"]), ("after RL", held["after"]))):
        means = [block[m]["mean"] for m in metrics]
        errs = [[block[m]["mean"] - block[m]["low"] for m in metrics], [block[m]["high"] - block[m]["mean"] for m in metrics]]
        ax.bar([i + offset for i in range(len(metrics))], means, 0.36, yerr=errs, capsize=4, label=label)
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set_ylim(0, 1)
    ax.set_ylabel("held-out problems solved")
    ax.set_title(f"held-out pass rates, {held['before'][metrics[0]]['n']} problems (95% CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "heldout_pass.png", dpi=100)
    plt.close(fig)

    curve = report["rl"].get("reward_curve") or []
    if curve:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        steps, rewards = [r["step"] for r in curve], [r["reward"] for r in curve]
        ax.plot(steps, rewards, alpha=0.35, label="per step")
        window = max(2, len(rewards) // 5)
        smooth = [
            sum(rewards[max(0, i - window + 1) : i + 1]) / len(rewards[max(0, i - window + 1) : i + 1])
            for i in range(len(rewards))
        ]
        ax.plot(steps, smooth, label=f"mean of the last {window} steps")
        per_step = report["config"]["rl"].get("batch_size", 8) // report["config"]["rl"].get("num_generations", 4)
        ax.set_xlabel("GRPO step")
        ax.set_ylabel("test pass rate of the step's samples")
        ax.set_title(
            f"training reward ({per_step} train problems per step: it varies\nwith the problems drawn; held-out pass@k is the measure)",
            fontsize=9,
        )
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "training_reward.png", dpi=100)
        plt.close(fig)

    bon = report["best_of_n"].get("best_of_n")
    if bon:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for method, values in bon["methods"].items():
            ax.plot(bon["n"], values, marker="o", label=method, linestyle="--" if method != "reward_model" else "-")
        n = report["best_of_n"]["n"]
        for block in report["best_of_n"]["at_n"].values():
            ax.errorbar(
                [n],
                [block["mean"]],
                yerr=[[block["mean"] - block["low"]], [block["high"] - block["mean"]]],
                capsize=4,
                color="gray",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(bon["n"], [str(x) for x in bon["n"]])
        ax.set_ylim(0, 1)
        ax.set_xlabel("N (held-out samples per problem)")
        ax.set_ylabel("pass rate of the pick")
        ax.set_title(f"best-of-N on {bon['problems']} held-out problems (95% CI at N={n})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "best_of_n.png", dpi=100)
        plt.close(fig)


def _ci(block: dict | None) -> str:
    if not block or block.get("mean") is None:
        return "n/a"
    return f"{block['mean']:.3f} [{block['low']:.3f}, {block['high']:.3f}]"


def format_summary(report: dict) -> str:
    """The study's result as a few lines of plain text (means with 95% intervals)."""
    held = report["heldout"]
    lines = [f"{'held-out':<10}{'before':>24}{'after':>24}{'after - before':>26}"]
    for metric in held["before"]:
        diff = held["difference"][metric]
        mark = " *" if diff["excludes_zero"] else ""
        lines.append(f"{metric:<10}{_ci(held['before'][metric]):>24}{_ci(held['after'][metric]):>24}{_ci(diff) + mark:>26}")
    lines.append(f"({held['before'][next(iter(held['before']))]['n']} held-out problems; * the interval excludes 0)")
    bon = report["best_of_n"]
    if bon.get("at_n"):
        n = bon["n"]
        picks = ", ".join(f"{m} {_ci(bon['at_n'][m])}" for m in ("random", "reward_model", "oracle"))
        lines.append(f"best-of-{n} on held-out samples: {picks}")
        acc = bon["reward_model"]["heldout_accuracy"]
        lines.append(
            f"reward model - random: {_ci(bon['reward_model_minus_random'])}; "
            f"{bon['pairs']} pairs, pair accuracy on unseen train problems {'n/a' if acc is None else f'{acc:.3f}'}"
        )
    elif bon:
        lines.append(f"best-of-N: {bon.get('reason', 'not run')}")
    return "\n".join(lines)
