"""``tdrl demo``: the pipeline on bundled data, end to end, in a minute or two on a laptop CPU.

1. Verify the bundled problems against bundled samples (correct, wrong and hostile ones)
   and print a table of verdicts.
2. Sample a few programs per problem from the embedded model (SmolLM2-135M-Instruct),
   verify them and show their pass rates and pass@k (plots in the output folder).
3. A few steps of GRPO on the same problems with the test pass rate as reward (LoRA,
   CPU), and the reward curve.
4. The model on the generalisation environments, in- and out-of-distribution:
   GeneralPoints (J/Q/K as 10 vs 11/12/13) and text navigation (absolute vs relative turns).
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
    samples_per_problem: int = 2,
    rl_steps: int = 2,
    env_tasks: int = 4,
) -> Path:
    """Verify the bundled samples and print what happened to each, then sample programs from
    ``model`` (the embedded one by default; None to skip) and show their pass rates."""
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
    if model:
        _demo_sampling(console, out, problems, model, n=samples_per_problem, workers=workers, sandbox=sandbox)
        if rl_steps > 0:
            _demo_rl(console, out, problems, model, rl_steps, workers=workers, sandbox=sandbox)
        if env_tasks > 0:
            _demo_envs(console, out, model, env_tasks)
    return results_path


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


def _demo_rl(console, out: Path, problems: Path, model: str, steps: int, workers: int | None, sandbox: str) -> None:
    """A few GRPO steps with verifier rewards; prints the reward per step and where the plot is."""
    import importlib.util
    import json
    import shutil

    from rich.table import Table

    if importlib.util.find_spec("trl") is None or importlib.util.find_spec("peft") is None:
        console.print("[yellow]RL skipped: trl and peft are not installed (pip install 'tdrl[train]')[/]")
        return
    from tdrl.training.rl import RLConfig, train_rl

    console.rule(f"[bold]tdrl demo: {steps} GRPO steps on {model} (reward: test pass rate + code-block format)")
    run_dir = out / "rl"
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = RLConfig(
        model=model,
        problems=str(problems),
        out_dir=str(run_dir),
        prompt_format="instruct",
        rewards=[{"type": "tests", "kind": "pass_rate", "weight": 1.0}, {"type": "format", "think": False, "weight": 0.1}],
        num_generations=4,
        batch_size=4,
        max_steps=steps,
        learning_rate=1e-5,
        max_completion_length=64,
        lora={"r": 8, "alpha": 16},
        save_steps=10_000,
        verifier={"workers": workers, "sandbox": sandbox, "timeout": 3.0},
    )
    summary = train_rl(cfg, progress=False)
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    table = Table(title="GRPO steps")
    for col in ("step", "reward", "tests (pass rate)", "format", "completion tokens", "reward time share"):
        table.add_column(col)
    for r in (r for r in rows if "reward" in r):
        table.add_row(
            str(r["step"]),
            f"{r['reward']:.3f}",
            f"{r.get('rewards/tests_pass_rate/mean', 0):.3f}",
            f"{r.get('rewards/format_code/mean', 0):.3f}",
            f"{r.get('completions/mean_length', 0):.0f}",
            f"{100 * r.get('reward_time_share', 0):.1f}%",
        )
    console.print(table)
    console.print(f"{summary['steps']} steps; reward curve: {run_dir / 'rl_curves.png'}; policy: {run_dir / 'final'}")


def _demo_sampling(console, out: Path, problems: Path, model: str, n: int, workers: int | None, sandbox: str) -> None:
    """Sample ``n`` programs per problem from the model, verify them, show the pass rates."""
    import importlib.util

    from rich.table import Table

    from tdrl.evaluation.report import evaluate
    from tdrl.sampling.sample import SampleParams, sample_files

    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        console.print("[yellow]sampling skipped: torch and transformers are not installed (pip install 'tdrl[llm]')[/]")
        return
    console.rule(f"[bold]tdrl demo: sampling {n} programs per problem from {model}")
    samples = out / "samples.jsonl"
    samples.unlink(missing_ok=True)
    try:
        summary = sample_files(
            problems, samples, model, SampleParams(n=n, temperature=0.7, max_tokens=192, seed=0), progress=True
        )
    except FileNotFoundError as exc:
        console.print(f"[yellow]sampling skipped: {exc}[/]")
        return
    console.print(
        f"{summary.samples} samples in {summary.seconds:.1f}s ({summary.samples_per_second:.2f} samples/s, "
        f"{summary.completion_tokens / max(summary.seconds, 1e-9):.1f} tokens/s on this machine)"
    )
    (run,) = evaluate(problems, [samples], [1, n], out / "eval", plots=True, workers=workers, sandbox=sandbox, progress=False)
    table = Table(title=f"{model}: pass rates of sampled programs")
    for col in ("problem", "samples", "passing all tests", "mean test pass rate"):
        table.add_column(col)
    for pid, score in sorted(run.scores.problems.items()):
        table.add_row(pid, str(score.n), str(score.c), f"{score.mean_pass_rate:.2f}")
    console.print(table)
    overall = run.summary["overall"]
    console.print(f"pass@1 {overall['pass@1']:.3f}, pass@{n} {overall[f'pass@{n}']:.3f}; report and plots: {out / 'eval'}")
