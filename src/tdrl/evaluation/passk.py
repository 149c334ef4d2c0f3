"""Pass rates and the unbiased pass@k estimator (Chen et al. 2021).

For a problem with ``n`` samples of which ``c`` pass all tests,
``pass@k = 1 - C(n - c, k) / C(n, k)``, computed as a product so that it neither
overflows nor loses precision for large ``n``. A benchmark's pass@k is the mean over the
problems that have at least ``k`` samples; problems with fewer are left out of that ``k``
and counted in ``skipped``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tdrl.records import Result


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` (``c`` correct) is correct."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n} c={c} k={k}")
    if k > n:
        raise ValueError(f"k={k} is larger than the number of samples n={n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


@dataclass
class ProblemScore:
    """Per-problem counts: samples, samples passing every test, and the mean test pass rate."""

    problem_id: str
    n: int = 0
    c: int = 0
    pass_rate_sum: float = 0.0
    infra_errors: int = 0

    @property
    def mean_pass_rate(self) -> float:
        return self.pass_rate_sum / self.n if self.n else 0.0


@dataclass
class Scores:
    """pass@k overall and per group (tag or difficulty), from a set of results."""

    problems: dict[str, ProblemScore] = field(default_factory=dict)

    @classmethod
    def from_results(cls, results: Iterable[Result | dict]) -> Scores:
        """Count results per problem; ``infra_error`` results are left out, never scored 0."""
        scores = cls()
        for r in results:
            d = r.to_dict() if isinstance(r, Result) else r
            ps = scores.problems.setdefault(d["problem_id"], ProblemScore(d["problem_id"]))
            if d["status"] == "infra_error":
                ps.infra_errors += 1
                continue
            ps.n += 1
            ps.c += d["status"] == "pass"
            ps.pass_rate_sum += d["pass_rate"]
        return scores

    def pass_at(self, k: int, problem_ids: Iterable[str] | None = None) -> tuple[float | None, int]:
        """Mean pass@k over problems with at least k samples, and how many problems counted."""
        ids = self.problems.keys() if problem_ids is None else problem_ids
        values = [pass_at_k(p.n, p.c, k) for p in (self.problems[i] for i in ids if i in self.problems) if p.n >= k]
        return (sum(values) / len(values) if values else None), len(values)

    def summary(self, ks: list[int], groups: dict[str, list[str]] | None = None) -> dict:
        """A JSON-ready summary: overall and per-group pass@k, counts, mean test pass rate."""

        def block(ids: list[str]) -> dict:
            present = [self.problems[i] for i in ids if i in self.problems]
            out: dict = {
                "problems": len(present),
                "samples": sum(p.n for p in present),
                "infra_errors": sum(p.infra_errors for p in present),
                "mean_test_pass_rate": round(sum(p.pass_rate_sum for p in present) / max(1, sum(p.n for p in present)), 6),
                "max_samples": max((p.n for p in present), default=0),
            }
            for k in ks:
                value, counted = self.pass_at(k, ids)
                out[f"pass@{k}"] = None if value is None else round(value, 6)
                if value is None:
                    out[f"pass@{k}_note"] = f"no problem has {k} samples (at most {out['max_samples']}): pass@k needs k <= n"
                if counted < len(present):
                    out[f"pass@{k}_problems"] = counted
            return out

        result = {"overall": block(list(self.problems))}
        if groups:
            result["groups"] = {name: block(ids) for name, ids in sorted(groups.items())}
        return result


def groups_from_meta(problems: Iterable) -> dict[str, list[str]]:
    """Group problem ids by ``meta["difficulty"]`` and each of ``meta["tags"]``."""
    groups: dict[str, list[str]] = defaultdict(list)
    for p in problems:
        meta = p.meta or {}
        if meta.get("difficulty") is not None:
            groups[f"difficulty={meta['difficulty']}"].append(p.id)
        for tag in meta.get("tags") or []:
            groups[f"tag={tag}"].append(p.id)
    return dict(groups)
