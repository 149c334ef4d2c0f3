"""What every adapter shares: labels to problems, one verifier per process, batch scoring with retries."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading

from tdrl.records import Problem, Result, Sample
from tdrl.rewards.functions import reward_from_result

_lock = threading.Lock()
_verifier = None
_problems: dict[str, Problem] | None = None


def shared_verifier():
    """This process's verifier (created on first use).

    Set by ``TDRL_WORKERS``, ``TDRL_SANDBOX``, ``TDRL_TIMEOUT`` (per test) and
    ``TDRL_MAX_SAMPLE`` (whole program: caps what an endless loop costs over many tests).
    """
    global _verifier
    with _lock:
        if _verifier is None:
            from tdrl.execution import TimePolicy, Verifier

            workers = os.environ.get("TDRL_WORKERS")
            _verifier = Verifier(
                workers=int(workers) if workers else None,
                sandbox=os.environ.get("TDRL_SANDBOX", "auto"),
                time_policy=TimePolicy(
                    timeout=float(os.environ.get("TDRL_TIMEOUT", "3.0")),
                    max_sample=float(os.environ.get("TDRL_MAX_SAMPLE", "20.0")),
                ),
            )
            atexit.register(_verifier.close)
        return _verifier


def _problem_file() -> dict[str, Problem]:
    global _problems
    with _lock:
        if _problems is None:
            path = os.environ.get("TDRL_PROBLEMS")
            if not path:
                raise ValueError("a label is a problem id, but TDRL_PROBLEMS (a problems JSONL) is not set")
            from tdrl.io import read_problems

            _problems = {p.id: p for p in read_problems(path)}
        return _problems


def problem_from_label(label, problems: dict[str, Problem] | None = None) -> Problem:
    """A problem from a label: a problem dict, its JSON text, or an id in ``problems`` / ``TDRL_PROBLEMS``."""
    if isinstance(label, dict):
        return Problem.from_dict(label)
    if isinstance(label, str) and label.lstrip().startswith("{"):
        return Problem.from_dict(json.loads(label))
    table = problems if problems is not None else _problem_file()
    if label not in table:
        raise KeyError(f"unknown problem id {label!r}")
    return table[label]


def problem_label(problem: Problem) -> str:
    """A problem as a self-contained label (its JSON, without the reference solution)."""
    d = problem.to_dict()
    d.pop("reference", None)
    return json.dumps(d)


async def check_all(verifier, problems: list[Problem], responses: list[str], retries: int = 2) -> list[Result]:
    """Verify each response; an ``infra_error`` is retried up to ``retries`` times."""

    async def one(i: int) -> Result:
        result = None
        for _ in range(retries + 1):
            result = await verifier.check_async(problems[i], Sample(problems[i].id, str(i), responses[i]))
            if result.status != "infra_error":
                break
        return result

    return list(await asyncio.gather(*(one(i) for i in range(len(responses)))))


def check_batch(verifier, problems: list[Problem], responses: list[str], retries: int = 2) -> list[Result]:
    """Blocking :func:`check_all` (no event loop needed): all submitted at once, infra errors retried."""
    results: list[Result | None] = [None] * len(responses)
    todo = list(range(len(responses)))
    for _ in range(retries + 1):
        futures = {i: verifier.submit(problems[i], Sample(problems[i].id, str(i), responses[i])) for i in todo}
        for i, fut in futures.items():
            results[i] = fut.result()
        todo = [i for i in todo if results[i].status == "infra_error"]
        if not todo:
            break
    return results


def rewards_of(results: list[Result], kind: str = "pass_rate") -> tuple[list[float], list[bool]]:
    """Numeric rewards for engines without a "no reward" value: an infra error scores 0 and is flagged."""
    values = [reward_from_result(r, kind) for r in results]
    return [0.0 if v is None else v for v in values], [v is None for v in values]


def response_of(query: str, prompt: str) -> str:
    """OpenRLHF passes prompt + response as ``query``: the response part."""
    return query[len(prompt) :] if prompt and query.startswith(prompt) else query
