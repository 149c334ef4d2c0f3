"""``tdrl eval``: verify samples of one or more models, then pass@k, a JSON summary and plots.

Each samples file is one *run* (a model or checkpoint), labelled by its file name. Results
go to ``REPORT/results-<label>.jsonl`` (resumable, like ``tdrl verify``), the summary to
``REPORT/summary.json``, and with matplotlib installed three plots: ``pass_at_k.png``
(pass@k against k per run), ``pass_rate_hist.png`` (test pass rate of every sample) and
``heatmap.png`` (share of passing samples per problem and run, side by side).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tdrl.errors import ConfigError
from tdrl.evaluation.passk import Scores, groups_from_meta
from tdrl.execution.run import verify_files
from tdrl.io import iter_jsonl, read_problems
from tdrl.records import Problem


@dataclass
class RunReport:
    label: str
    results_path: Path
    scores: Scores
    summary: dict


def _label(path: Path, taken: set[str]) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    label, i = name, 2
    while label in taken:
        label, i = f"{name}-{i}", i + 1
    taken.add(label)
    return label


def parse_day(text: str, option: str) -> datetime:
    """A ``YYYY-MM-DD`` date (LiveCodeBench's ``--start_date``/``--end_date`` format)."""
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ConfigError(f"{option} must be a date as YYYY-MM-DD, got {text!r}") from None


def in_window(problem: Problem, since: datetime | None, until: datetime | None) -> bool:
    """Whether ``meta.contest_date`` lies in ``[since, until]``, compared as LiveCodeBench does
    (``lcb_runner/evaluation/compute_scores.py``: ``start <= contest_date <= end``, both dates at
    midnight). A problem without a readable ``contest_date`` is outside every window."""
    raw = problem.meta.get("contest_date")
    try:
        when = datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        when = None
    if when is None:
        return False
    when = when.replace(tzinfo=None)
    return (since is None or since <= when) and (until is None or when <= until)


def _windowed(problems_path: Path, samples_paths: list, report: Path, since, until) -> tuple[Path, list[Path], list[Problem]]:
    """The problems and samples inside the date window, written to ``report`` for verification."""
    from tdrl.io import write_jsonl

    problems = [p for p in read_problems(problems_path) if in_window(p, since, until)]
    if not problems:
        raise ConfigError(f"{problems_path}: no problem has a meta.contest_date inside the window")
    keep = {p.id for p in problems}
    window_problems = report / "problems-window.jsonl"
    write_jsonl(window_problems, problems)
    window_samples = []
    taken: set[str] = set()
    for path in samples_paths:
        out = report / f"samples-window-{_label(Path(path), taken)}.jsonl"
        write_jsonl(
            out, (d for _, d in iter_jsonl(path) if isinstance(d, dict) and d.get("problem_id", d.get("task_id")) in keep)
        )
        window_samples.append(out)
    return window_problems, window_samples, problems


def evaluate(
    problems_path: str | Path,
    samples_paths: list[str | Path],
    ks: list[int],
    report_dir: str | Path,
    plots: bool = True,
    verify=verify_files,
    since: str | None = None,
    until: str | None = None,
    results_paths: list[str | Path] = (),
    skip_unknown: bool = False,
    **verify_args,
) -> list[RunReport]:
    """Verify each samples file and score it; writes results, summary.json and plots to ``report_dir``.

    ``verify`` runs one file (``verify_files``); ``verify_args`` go to it (``executor=`` a
    :class:`tdrl.runner.Ray` for a cluster). ``since``/``until`` (``YYYY-MM-DD``) keep only
    problems whose ``meta.contest_date`` lies in the window (see :func:`in_window`), e.g. a
    LiveCodeBench window after a model's training cut-off. Each of ``results_paths`` (``tdrl verify``
    output) is one more run, scored as it is, without verifying again. Samples and results
    of problems missing from ``problems_path`` fail the run, or are left out with
    ``skip_unknown``.
    """
    from tdrl.io import InputError

    report = Path(report_dir)
    report.mkdir(parents=True, exist_ok=True)
    window = None
    labels = [Path(p) for p in samples_paths]
    if since or until:
        start = parse_day(since, "--since") if since else None
        end = parse_day(until, "--until") if until else None
        problems_path, samples_paths, problems = _windowed(Path(problems_path), list(samples_paths), report, start, end)
        window = {"since": since, "until": until, "problems": len(problems)}
    else:
        problems = read_problems(problems_path)
    known = {p.id for p in problems}
    groups = groups_from_meta(problems)
    runs: list[RunReport] = []
    taken: set[str] = set()

    def results_of(path: Path) -> list[dict]:
        rows = []
        for lineno, d in iter_jsonl(path):
            for name in ("problem_id", "status", "pass_rate"):
                if not isinstance(d, dict) or name not in d:
                    raise InputError(path, lineno, name, "missing (expected a result line of `tdrl verify`)")
            if d["problem_id"] not in known:
                if skip_unknown or window is not None:  # outside the date window: not scored
                    continue
                raise InputError(
                    path, lineno, "problem_id", f"unknown problem {d['problem_id']!r} (--skip-unknown leaves such lines out)"
                )
            rows.append(d)
        return rows

    for samples_path, named in zip(samples_paths, labels):
        label = _label(named, taken)
        results_path = report / f"results-{label}.jsonl"
        verify(problems_path, samples_path, results_path, skip_unknown=skip_unknown, **verify_args)
        scores = Scores.from_results(results_of(results_path))
        runs.append(RunReport(label, results_path, scores, scores.summary(ks, groups)))
    for results_path in results_paths:
        label = _label(Path(results_path), taken)
        scores = Scores.from_results(results_of(Path(results_path)))
        runs.append(RunReport(label, Path(results_path), scores, scores.summary(ks, groups)))
    summary = {
        "problems": len(problems),
        **({"window": window} if window else {}),
        "k": ks,
        "runs": {r.label: r.summary for r in runs},
        "per_problem": {r.label: {pid: [p.n, p.c] for pid, p in r.scores.problems.items()} for r in runs},
    }
    (report / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if plots:
        plot_report(runs, [p.id for p in problems], report)
    return runs


def print_report(runs: list[RunReport], ks: list[int]) -> None:
    """A terminal table: one row per run (and per group), pass@k columns."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pass@k")
    for col in ("run", "group", "problems", "samples", *(f"pass@{k}" for k in ks), "test pass rate"):
        table.add_column(col)
    for run in runs:
        blocks = [("all", run.summary["overall"])] + sorted(run.summary.get("groups", {}).items())
        for name, b in blocks:
            cells = ["-" if b.get(f"pass@{k}") is None else f"{b[f'pass@{k}']:.4f}" for k in ks]
            table.add_row(run.label, name, str(b["problems"]), str(b["samples"]), *cells, f"{b['mean_test_pass_rate']:.3f}")
    Console().print(table)


def _save(fig, path: Path) -> Path:
    """Lay out, write and close one figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_report(runs: list[RunReport], problem_ids: list[str], out: Path) -> list[Path]:
    """Write the three PNG plots; returns their paths (empty without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install 'tdrl[plot]')")
        return []
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        max_n = min((p.n for p in run.scores.problems.values() if p.n), default=0)
        ks = sorted({1, max_n, *(2**i for i in range(0, 12) if 2**i <= max_n)} - {0})
        values = [run.scores.pass_at(k)[0] for k in ks]
        ax.plot(ks, values, marker="o", label=run.label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("pass@k")
    paths.append(_save(fig, out / "pass_at_k.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        rates = [d["pass_rate"] for _, d in iter_jsonl(run.results_path) if d["status"] != "infra_error"]
        ax.hist(rates, bins=20, range=(0, 1), alpha=0.5, label=run.label)
    ax.set_xlabel("share of tests passed (per sample)")
    ax.set_ylabel("samples")
    ax.legend()
    ax.set_title("test pass rate of samples")
    paths.append(_save(fig, out / "pass_rate_hist.png"))

    shown = problem_ids[:200]
    grid = [[(lambda p: p.c / p.n if p and p.n else float("nan"))(run.scores.problems.get(pid)) for run in runs] for pid in shown]
    fig, ax = plt.subplots(figsize=(2 + 1.2 * len(runs), 2 + 0.12 * len(shown)))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(len(runs)), [r.label for r in runs], rotation=30, ha="right")
    ax.set_yticks(range(len(shown)), shown if len(shown) <= 60 else [""] * len(shown), fontsize=6)
    ax.set_ylabel(f"problems ({len(shown)} of {len(problem_ids)})")
    fig.colorbar(image, ax=ax, label="share of samples passing")
    ax.set_title("per-problem pass rate")
    paths.append(_save(fig, out / "heatmap.png"))
    return paths
