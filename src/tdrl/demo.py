"""``tdrl demo``: the pipeline on bundled data, end to end, in a minute on a laptop CPU.

For now: verify the bundled problems against bundled samples (correct, wrong and hostile
ones) and print a summary table. Later stages extend this demo.
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


def run_demo(out_dir: str | None = None, workers: int | None = None, sandbox: str = "auto") -> Path:
    """Verify the bundled samples and print what happened to each; returns the results path."""
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
    return results_path
