"""``tdrl envs study --seeds 0,1,2``: the study on several seeds, means with 95% intervals, and what reproduces.

Each seed is one :func:`tdrl.envs.study.run_study` in ``<out_dir>/seed<N>`` (its own tiny
model, warm-up, training tasks and held-out tasks); a seed whose ``study.json`` holds the
same config is not run again, so an interrupted run resumes and ``--seeds 0,1`` then
``--seeds 0,1,2`` adds one seed.

The intervals resample both sources of spread: seeds (a different seed gives a different
start, data and training noise) and, within each drawn seed, its held-out tasks (a
two-level percentile bootstrap). A comparison of two branches (RL against SFT out of
distribution) is resampled in pairs, since both branches of a seed are scored on the same
tasks. With five seeds the interval is still wide; it says how sure the figure is, not
that the seeds are a large sample.

Output in ``out_dir``: ``report.json`` (per branch and split: the mean final success, its
interval and the per-seed values; the comparisons and their verdicts), ``report.md`` (the
same as tables, with plain sentences saying what reproduces and what does not), and
``seeds.png`` (per-seed curves, thin, and their mean, thick).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, replace
from pathlib import Path

from tdrl.errors import ConfigError, NoData

# (name, branch a, branch b, split, the claim a - b > 0, what the paper finds: the difference is above 0 or not)
COMPARISONS = [
    ("rl_vs_sft_ood", "rl", "sft", "ood", "OOD success after RL is above OOD success after SFT (RL generalises)", True),
    ("rl_vs_start_ood", "rl", "start", "ood", "RL raises OOD success over the start", True),
    ("sft_vs_start_ood", "sft", "start", "ood", "SFT raises OOD success over the start", False),
    ("sft_vs_start_id", "sft", "start", "id", "SFT raises ID success over the start (it fits the training rule)", True),
    ("rl_vs_start_id", "rl", "start", "id", "RL raises ID success over the start", True),
    ("rl_vs_rl_raw_ood", "rl", "rl_raw", "ood", "RL from the SFT start beats RL from the raw start, OOD", True),
    ("rl_vs_rl_raw_id", "rl", "rl_raw", "id", "RL from the SFT start beats RL from the raw start, ID", True),
]


def run_seeds(cfg, seeds: list[int], progress: bool = True, say=print) -> dict:
    """Run (or resume) the study for each seed in ``<out_dir>/seed<N>``, then write the report over them."""
    from tdrl.envs.study import run_study

    root = Path(cfg.out_dir)
    for seed in seeds:
        sub = replace(cfg, seed=seed, out_dir=str(root / f"seed{seed}"))
        if finished(sub):
            say(f"seed {seed}: done before, kept ({sub.out_dir}/study.json)")
            continue
        say(f"seed {seed}: running")
        run_study(sub, progress=progress)
    return write_report(root, seeds, title=f"{cfg.env}: SFT vs RL over {len(seeds)} seeds")


def finished(cfg) -> bool:
    """True when ``cfg.out_dir`` holds a finished study of exactly this config."""
    done = Path(cfg.out_dir) / "study.json"
    return done.exists() and json.loads(done.read_text()).get("config") == json.loads(json.dumps(asdict(cfg)))


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` (or a mix) as a list of distinct seeds, in order."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                low, high = part.split("-", 1) if not part.startswith("-") else (part, part)
                values = list(range(int(low), int(high) + 1))
            else:
                values = [int(part)]
        except ValueError:
            raise ConfigError(f"--seeds {text!r}: {part!r} is not a seed or a range like 0-4") from None
        seeds += [v for v in values if v not in seeds]
    if not seeds:
        raise ConfigError(f"--seeds {text!r}: no seeds")
    return seeds


def final_rows(curves: list[dict]) -> dict:
    """``{(branch, split): row}`` at each branch's last scored step."""
    out: dict = {}
    for r in curves:
        key = (r["branch"], r["split"])
        if key not in out or r["step"] >= out[key]["step"]:
            out[key] = r
    return out


def two_level_bootstrap(per_seed: list[list[float]], resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """``{"mean", "low", "high", "seeds"}``: the mean over seeds of each seed's task mean, with a percentile interval
    from resampling seeds and then, within each drawn seed, its tasks."""
    per_seed = [v for v in per_seed if v]
    if not per_seed:
        return {"mean": None, "low": None, "high": None, "seeds": 0}
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        total = 0.0
        for _ in per_seed:
            values = per_seed[rng.randrange(len(per_seed))]
            total += sum(values[rng.randrange(len(values))] for _ in values) / len(values)
        means.append(total / len(per_seed))
    means.sort()
    tail = (1 - level) / 2
    point = sum(sum(v) / len(v) for v in per_seed) / len(per_seed)
    return {
        "mean": round(point, 4),
        "low": round(means[int(tail * (resamples - 1))], 4),
        "high": round(means[int(round((1 - tail) * (resamples - 1)))], 4),
        "seeds": len(per_seed),
    }


def summarize_seeds(runs: dict[int, list[dict]]) -> dict:
    """Per branch and split the mean final greedy success with its interval and per-seed values; the comparisons."""
    finals = {seed: final_rows(rows) for seed, rows in runs.items()}
    keys = sorted({k for f in finals.values() for k in f})
    table = {}
    for branch, split in keys:
        rows = {s: f[(branch, split)] for s, f in finals.items() if (branch, split) in f}
        entry = {"per_seed": {s: round(r["success"], 4) for s, r in rows.items()}}
        entry.update(two_level_bootstrap([r["solved"] for r in rows.values() if "solved" in r]))
        sampled = [r["sampled_success"] for r in rows.values() if "sampled_success" in r]
        if sampled:
            entry["sampled_mean"] = round(sum(sampled) / len(sampled), 4)
        table.setdefault(branch, {})[split] = entry
    comparisons = {}
    for name, a, b, split, meaning, above in COMPARISONS:
        pairs = [(f[(a, split)], f[(b, split)]) for f in finals.values() if (a, split) in f and (b, split) in f]
        pairs = [(x, y) for x, y in pairs if "solved" in x and "solved" in y and len(x["solved"]) == len(y["solved"])]
        if not pairs:
            continue
        interval = two_level_bootstrap([[p - q for p, q in zip(x["solved"], y["solved"])] for x, y in pairs])
        interval["per_seed"] = [round(x["success"] - y["success"], 4) for x, y in pairs]
        interval["claim"] = meaning
        interval["verdict"] = verdict(interval)
        interval["paper"] = "above 0" if above else "not above 0"
        interval["agrees"] = (interval["verdict"] == "holds") == above
        comparisons[name] = interval
    return {"seeds": sorted(runs), "final_success": table, "comparisons": comparisons}


def verdict(interval: dict) -> str:
    """``holds`` (interval above 0), ``reversed`` (below 0) or ``not shown`` (it holds 0)."""
    if interval["low"] is not None and interval["low"] > 0:
        return "holds"
    if interval["high"] is not None and interval["high"] < 0:
        return "reversed"
    return "not shown"


def write_report(root: Path, seeds: list[int], title: str = "") -> dict:
    """``report.json``, ``report.md`` and ``seeds.png`` in ``root`` from the seeds' folders that have finished."""
    runs, training = {}, {}
    for seed in seeds:
        path = root / f"seed{seed}" / "curves.jsonl"
        if (root / f"seed{seed}" / "study.json").exists():
            runs[seed] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            training[seed] = {
                b: _log(root / f"seed{seed}" / b / "metrics.jsonl")
                for b in ("rl", "rl_raw")
                if (root / f"seed{seed}" / b).exists()
            }
    if not runs:
        raise NoData(f"{root}: no finished seed among {seeds}")
    report = summarize_seeds(runs)
    report["missing_seeds"] = [s for s in seeds if s not in runs]
    (root / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (root / "report.md").write_text(format_report(report, title))
    plot_seeds(runs, training, root / "seeds.png", title)
    return report


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def format_report(report: dict, title: str = "") -> str:
    """The report as Markdown: final greedy success per branch and split, then each comparison's verdict."""
    lines = [f"# {title or 'SFT vs RL'}", "", f"Seeds: {', '.join(map(str, report['seeds']))}."]
    if report.get("missing_seeds"):
        lines.append(f"Not finished (left out): {', '.join(map(str, report['missing_seeds']))}.")
    lines += ["", "Final greedy success (last evaluation), mean over seeds with a 95% two-level bootstrap interval:", ""]
    lines += ["| branch | split | mean [95% interval] | per seed | sampled (mean) |", "|---|---|---|---|---|"]
    for branch, splits in report["final_success"].items():
        for split, e in splits.items():
            per_seed = ", ".join(_pct(v) for v in e["per_seed"].values())
            lines.append(
                f"| {branch} | {split} | {_pct(e['mean'])} [{_pct(e['low'])}, {_pct(e['high'])}] | {per_seed} "
                f"| {_pct(e.get('sampled_mean'))} |"
            )
    lines += ["", "Comparisons (difference of final greedy success, paired by task within a seed):", ""]
    lines += ["| claim | difference [95% interval] | seeds: per seed | verdict | paper | agrees |", "|---|---|---|---|---|---|"]
    for c in report["comparisons"].values():
        per_seed = ", ".join(f"{100 * v:+.1f}" for v in c["per_seed"])
        lines.append(f"| {c['claim']} | {100 * c['mean']:+.1f} [{100 * c['low']:+.1f}, {100 * c['high']:+.1f}] points "
                     f"| {c['seeds']}: {per_seed} | **{c['verdict']}** | {c['paper']} | {'yes' if c['agrees'] else 'no'} |")  # fmt: skip
    lines += ["", "Agrees with the paper: " + (_said(report, True) or "none of the tested findings") + "."]
    lines += ["Does not (at this size and on these seeds): " + (_said(report, False) or "none") + "."]
    return "\n".join(lines) + "\n"


def _said(report: dict, agrees: bool) -> str:
    return "; ".join(
        f"{c['claim']}: {c['verdict']} on {c['seeds']} seed{'s' if c['seeds'] > 1 else ''}"
        for c in report["comparisons"].values()
        if c["agrees"] == agrees
    )


def _log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip()) if "reward" in r]


def plot_seeds(runs: dict, training: dict, path: Path, title: str = "") -> None:
    """Greedy and sampled success per split (thin: a seed; thick: the mean over seeds), and RL's training return."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    from tdrl.envs.study import LABELS, _smooth

    colors = {"sft": "tab:blue", "rl": "tab:red", "rl_raw": "tab:gray"}
    splits = sorted({r["split"] for rows in runs.values() for r in rows})
    keys = [("success", "greedy success"), ("sampled_success", "sampled success")]
    fig, axes = plt.subplots(len(keys), len(splits) + 1, figsize=(4.6 * (len(splits) + 1), 5.8), squeeze=False)
    for col, split in enumerate(splits):
        for row, (key, label) in enumerate(keys):
            ax = axes[row][col]
            for branch, color in colors.items():
                curves = []
                for rows in runs.values():
                    mine = sorted((r["step"], r[key]) for r in rows if r["branch"] == branch and r["split"] == split and key in r)
                    if mine:
                        ax.plot([s for s, _ in mine], [v for _, v in mine], color=color, alpha=0.25, lw=0.8)
                        curves.append(dict(mine))
                if curves:
                    steps = sorted(set.intersection(*(set(c) for c in curves)))
                    mean = [sum(c[s] for c in curves) / len(curves) for s in steps]
                    ax.plot(steps, mean, color=color, lw=2.2, label=f"{LABELS[branch]} (mean of {len(curves)})")
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(f"{'in' if split == 'id' else 'out-of'}-distribution ({split})")
                ax.legend(fontsize=7)
            ax.set_xlabel("training step")
    for row, (key, label) in enumerate(
        (("reward", "training return"), ("rewards/env_solved/mean", "sampled success in training"))
    ):
        ax = axes[row][-1]
        for logs in training.values():
            for branch, log in logs.items():
                if log:
                    ax.plot([r["step"] for r in log], _smooth([r.get(key, 0.0) for r in log]), color=colors[branch], lw=0.9)
        ax.set_ylabel(label)
        ax.set_xlabel("training step")
        if row == 0:
            ax.set_title("RL training, per seed (smoothed)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
