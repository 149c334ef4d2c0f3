"""``tdrl demo``: the pipeline on bundled data, end to end, in a few minutes on a laptop CPU.

1. Verification: the bundled problems against correct, wrong and hostile samples, and a
   table of verdicts.
2. The code study, short: a few problems of the bundled seed family get tests from
   ``tdrl synth --method reference``; the embedded model (SmolLM2-135M-Instruct) is scored
   on held-out problems, trained by a few GRPO steps (LoRA, test pass rate as reward) on
   train problems, and scored again; the numbers are printed as measured, with intervals.
3. The model on the generalisation environments, in- and out-of-distribution:
   GeneralPoints (J/Q/K as 10 vs 11/12/13) and text navigation (absolute vs relative turns).

Each section ends with the command that runs it at full size. Third-party progress bars
and warnings are silenced; tdrl prints its own tables.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from tdrl.execution.run import verify_files
from tdrl.io import iter_jsonl


def data_file(name: str) -> Path:
    """Path of a file bundled in ``tdrl/data``."""
    return Path(str(resources.files("tdrl") / "data" / name))


def run_demo(
    out_dir: str | None = None,
    workers: int | None = None,
    sandbox: str = "auto",
    model: str | None = "embedded",
    samples_per_problem: int = 4,
    rl_steps: int = 2,
    env_tasks: int = 4,
    study_problems: int = 8,
) -> Path:
    """Verify the bundled samples and print what happened to each; then, with ``model`` (the
    embedded one by default; None to skip), the short code study and the environments."""
    from rich.console import Console
    from rich.table import Table

    console = Console() if Console().is_terminal else Console(width=150)
    out = Path(out_dir or tempfile.mkdtemp(prefix="tdrl-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    results_path.unlink(missing_ok=True)
    problems, samples = data_file("demo_problems.jsonl"), data_file("demo_samples.jsonl")
    console.rule("[bold]tdrl demo: verification")
    summary = verify_files(problems, samples, results_path, workers=workers, sandbox=sandbox, progress=True)
    kinds = {(d["problem_id"], d["sample_id"]): d.get("kind", "") for _, d in iter_jsonl(samples)}
    table = Table(title=f"verdicts (sandbox: {summary.isolation})")
    for col in ("problem", "sample", "kind", "status", "pass rate", "tests", "first problem"):
        table.add_column(col)
    rows = sorted((d for _, d in iter_jsonl(results_path)), key=lambda d: (d["problem_id"], d["sample_id"]))
    for d in rows:
        colour = {"pass": "green", "fail": "red", "error": "yellow"}.get(d["status"], "magenta")
        first = next((f"{t['status']}: {t.get('error') or ''}" for t in d["tests"] if t["status"] != "pass"), "")
        table.add_row(
            d["problem_id"],
            d["sample_id"],
            kinds.get((d["problem_id"], d["sample_id"]), ""),
            f"[{colour}]{d['status']}[/]",
            f"{d['pass_rate']:.2f}",
            "".join("." if t["status"] == "pass" else t["status"][0].upper() for t in d["tests"]),
            first[:60],
        )
    console.print(table)
    hostile_passed = [
        d["sample_id"] for d in rows if kinds.get((d["problem_id"], d["sample_id"])) == "hostile" and d["pass_rate"] > 0
    ]
    correct_failed = [
        d["sample_id"] for d in rows if kinds.get((d["problem_id"], d["sample_id"])) == "correct" and d["status"] != "pass"
    ]
    console.print(f"{summary.samples} samples, {dict(summary.statuses)}; tests {dict(summary.test_statuses)}")
    console.print(
        f"hostile samples credited with any test: {hostile_passed or 'none'}; correct samples failed: {correct_failed or 'none'}"
    )
    console.print(f"results: {results_path}")
    console.print("[dim]at full size: tdrl verify --problems PROBLEMS.jsonl --samples SAMPLES.jsonl --out RESULTS.jsonl[/]")
    if model:
        _quiet_third_party()
        if study_problems > 0:
            _demo_study(console, out, model, study_problems, samples_per_problem, rl_steps, workers, sandbox)
        if env_tasks > 0:
            _demo_envs(console, out, model, env_tasks)
    return results_path


def _quiet_third_party() -> None:
    """No progress bars, warnings or info logs from transformers, datasets, TRL and torch."""
    import logging
    import os
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("torch").setLevel(logging.ERROR)
    try:
        import datasets
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        datasets.disable_progress_bars()
    except ImportError:
        pass


def _demo_envs(console, out: Path, model: str, n: int) -> None:
    """Greedy ID vs OOD success of ``model`` on both environments (``n`` deals, ``max(1, n // 4)`` routes per split)."""
    from rich.table import Table

    from tdrl.envs.run import run_eval

    console.rule(f"[bold]tdrl demo: {model} on GeneralPoints and navigation, in- vs out-of-distribution")
    table = Table(title="environments (greedy; verifier feedback between attempts)")
    for col in ("environment", "split", "rule", "episodes", "success", "first try", "mean return", "routes"):
        table.add_column(col)
    rules = {
        ("points", "id"): "J/Q/K = 10",
        ("points", "ood"): "J/Q/K = 11/12/13",
        ("navigation", "id"): "absolute turns",
        ("navigation", "ood"): "relative turns",
    }
    for env, count in (("points", n), ("navigation", max(1, n // 4))):
        report = run_eval(env, model, out / "envs" / env, n=count, max_new_tokens=64, progress=True, verify_iter=2)
        for split, r in report["splits"].items():
            routes = f"{r['route_success']:.0%} of {r['routes']}" if "routes" in r else ""
            table.add_row(
                env, split, rules[env, split], str(r["episodes"]), f"{r['success']:.0%}", f"{r['first_try']:.0%}",
                f"{r['mean_return']:.2f}", routes,
            )  # fmt: skip
    console.print(table)
    console.print(f"episodes (answers and the verifier's reasons): {out / 'envs'}/*/episodes.jsonl")
    console.print(
        "[dim]at full size: tdrl envs eval --env points --model embedded -n 64; "
        "SFT vs RL: tdrl envs study --config examples/study_points.yaml[/]"
    )


def _demo_study(console, out: Path, model: str, problems: int, n: int, rl_steps: int, workers: int | None, sandbox: str) -> None:
    """The code study on ``problems`` train and held-out seeds: synthesized tests, held-out pass rates
    before and after a few GRPO steps, as measured."""
    import importlib.util

    from rich.table import Table

    missing = [m for m in ("torch", "transformers", "trl", "peft") if importlib.util.find_spec(m) is None]
    if missing:
        console.print(f"[yellow]code study skipped: {', '.join(missing)} not installed (pip install 'tdrl[llm,train]')[/]")
        return
    from tdrl.study.code import CodeStudyConfig, run_study

    console.rule(f"[bold]tdrl demo: the code study, short ({problems} train and {problems} held-out problems, {model})")
    study = CodeStudyConfig()  # the study's own settings, made shorter: fewer tests, samples and steps
    cfg = CodeStudyConfig(
        model=model,
        out_dir=str(out / "study"),
        train_limit=problems,
        heldout_limit=problems,
        synth={**study.synth, "tests_per_problem": 10, "mutants": 8},
        eval={**study.eval, "n": n},
        rl={**study.rl, "max_steps": rl_steps, "batch_size": 8},  # 2 problems x 4 samples a step
        best_of_n=False,
        bootstrap=1000,
        workers=workers,
        sandbox=sandbox,
    )
    try:
        report = run_study(cfg, progress=False, say=lambda line: console.print(f"[dim]  {line}[/]"))
    except FileNotFoundError as exc:
        console.print(f"[yellow]code study skipped: {exc}[/]")
        return
    tests = report["tests"]
    console.print(
        f"synthesized tests: {tests['train']['tests']} for {tests['train']['kept']} train problems, "
        f"{tests['heldout']['tests']} for {tests['heldout']['kept']} held-out problems "
        f"(mutation score {tests['heldout']['quality']['mean_mutation_score']})"
    )
    curve = report["rl"]["reward_curve"]
    console.print(
        f"GRPO: {report['rl']['steps']} steps on {report['rl']['problems']} train problems, mean training reward "
        f"{_mean_reward(curve):.3f} (a few steps show no trend; the held-out table is the measurement)"
    )
    table = Table(title=f"held-out problems ({report['problems']['synthesized']['heldout']}), {n} samples each at T=0.8")
    for col in ("", "before RL", "after RL", "after - before (95% CI)"):
        table.add_column(col)
    held = report["heldout"]
    for metric in held["before"]:
        b, a, d = held["before"][metric], held["after"][metric], held["difference"][metric]
        table.add_row(metric, f"{b['mean']:.3f}", f"{a['mean']:.3f}", f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]")
    console.print(table)
    console.print(
        f"{sum(report['seconds'].values()):.0f}s; a demo-sized study says little either way: the full study "
        "(docs/study.md) has 70 train and 36 held-out problems and two seeds"
    )
    console.print(f"report: {out / 'study' / 'report.json'}; policy: {out / 'study' / 'final'}")
    console.print("[dim]at full size: tdrl study code --config examples/study_code.yaml[/]")


def _mean_reward(rows: list[dict]) -> float:
    return sum(r["reward"] for r in rows) / len(rows) if rows else float("nan")
