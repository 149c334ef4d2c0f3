"""``tdrl synth``: problems in, problems with synthesised tests out; resumable; a quality report.

Problems run concurrently (each issues several sandbox runs). Each finished problem is one
line of ``--out``; each dropped one is a line of ``<out>.dropped.jsonl`` with the reason.
A rerun skips both, so a killed run loses nothing and duplicates nothing. With
``--report DIR``: ``quality.json`` (per problem: tests, distinct outputs, mutation score)
and ``mutation_scores.png``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.execution import Verifier
from tdrl.execution.run import _progress
from tdrl.io import ResumableWriter, iter_jsonl, read_problems
from tdrl.synthesis.reference import SynthConfig, synthesize_reference


@dataclass
class SynthSummary:
    problems: int = 0
    skipped: int = 0
    kept: int = 0
    dropped: dict = field(default_factory=dict)
    tests: int = 0
    seconds: float = 0.0


def synth_files(
    problems_path: str | Path,
    out_path: str | Path,
    cfg: SynthConfig,
    method: str = "reference",
    workers: int | None = None,
    sandbox: str = "auto",
    report_dir: str | Path | None = None,
    progress: bool = True,
) -> SynthSummary:
    """Synthesize tests for every problem of ``problems_path`` (see the module doc)."""
    import time

    if method != "reference":
        raise ValueError(f"unknown or not yet available method {method!r} (available: reference)")
    problems = read_problems(problems_path)
    out_path = Path(out_path)
    dropped_path = out_path.with_name(out_path.name + ".dropped.jsonl")
    summary = SynthSummary(problems=len(problems))
    t0 = time.monotonic()
    with ResumableWriter(out_path, key=lambda d: d["id"]) as out, ResumableWriter(dropped_path, key=lambda d: d["id"]) as dropped:
        todo = [p for p in problems if p.id not in out.done and p.id not in dropped.done]
        summary.skipped = len(problems) - len(todo)
        with (
            Verifier(workers=workers, sandbox=sandbox) as verifier,
            ThreadPoolExecutor(max_workers=2 * verifier.n_workers) as pool,
        ):
            with _progress(progress, len(todo), "synth", "problems") as advance:
                for problem, outcome in zip(todo, pool.map(lambda p: synthesize_reference(p, verifier, cfg), todo)):
                    if outcome.problem is not None:
                        out.write(outcome.problem)
                        summary.kept += 1
                        summary.tests += len(outcome.problem.tests)
                    else:
                        dropped.write({"id": problem.id, "reason": outcome.reason, "stats": outcome.stats})
                        summary.dropped[outcome.reason] = summary.dropped.get(outcome.reason, 0) + 1
                    advance()
    summary.seconds = time.monotonic() - t0
    if report_dir:
        quality_report(out_path, Path(report_dir))
    return summary


def quality_report(synth_path: Path, report_dir: Path) -> dict:
    """Per-problem and overall test quality from the synthesis stats; plus a histogram."""
    report_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for _, d in iter_jsonl(synth_path):
        st = (d.get("meta") or {}).get("synth", {})
        rows.append(
            {
                "id": d["id"],
                "tests": len(d["tests"]),
                "distinct_outputs": st.get("distinct_outputs"),
                "mutants": st.get("mutants"),
                "mutants_killable": st.get("mutants_killable"),
                "mutation_score": st.get("mutation_score"),
            }
        )
    scores = [r["mutation_score"] for r in rows if r["mutation_score"] is not None]
    overall = {
        "problems": len(rows),
        "tests": sum(r["tests"] for r in rows),
        "mean_mutation_score": round(sum(scores) / len(scores), 4) if scores else None,
        "killed": sum((r["mutation_score"] or 0) * (r["mutants_killable"] or 0) for r in rows),
        "killable": sum(r["mutants_killable"] or 0 for r in rows),
    }
    result = {"overall": overall, "problems": rows}
    (report_dir / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(scores, bins=20, range=(0, 1))
        ax.set_xlabel("mutation score (share of killable mutants caught)")
        ax.set_ylabel("problems")
        ax.set_title("test quality")
        fig.tight_layout()
        fig.savefig(report_dir / "mutation_scores.png", dpi=100)
        plt.close(fig)
    except ImportError:
        pass
    return result
