"""The top-level Python API: ``tdrl.verify`` and ``tdrl.verify_async``.

Both take problems and samples (records or dicts) and return results in the order of the
samples. For a training loop that verifies continuously, keep one
:class:`tdrl.execution.Verifier` open and call ``check_async`` on it instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from tdrl.records import Problem, Result, Sample


def _coerce(problems: Iterable[Problem | dict], samples: Iterable[Sample | dict]) -> tuple[dict[str, Problem], list[Sample]]:
    by_id = {}
    for p in problems:
        p = p if isinstance(p, Problem) else Problem.from_dict(p)
        by_id[p.id] = p
    out = []
    for s in samples:
        s = s if isinstance(s, Sample) else Sample.from_dict(s)
        if s.problem_id not in by_id:
            raise KeyError(f"sample {s.sample_id!r} names unknown problem {s.problem_id!r}")
        out.append(s)
    return by_id, out


def verify(problems: Iterable[Problem | dict], samples: Iterable[Sample | dict], **verifier_args: Any) -> list[Result]:
    """Verify samples against their problems' tests; results in sample order.

    ``verifier_args`` go to :class:`tdrl.execution.Verifier` (workers, sandbox, time_policy,
    limits, stop_on_first_failure).
    """
    from tdrl.execution import Verifier

    by_id, sample_list = _coerce(problems, samples)
    with Verifier(**verifier_args) as v:
        futures = [v.submit(by_id[s.problem_id], s) for s in sample_list]
        return [f.result() for f in futures]


async def verify_async(
    problems: Iterable[Problem | dict], samples: Iterable[Sample | dict], **verifier_args: Any
) -> list[Result]:
    """Async form of :func:`verify`: the samples run concurrently on the worker pool."""
    from tdrl.execution import Verifier

    by_id, sample_list = _coerce(problems, samples)
    v = Verifier(**verifier_args)
    try:
        return list(await asyncio.gather(*(v.check_async(by_id[s.problem_id], s) for s in sample_list)))
    finally:
        await asyncio.get_running_loop().run_in_executor(None, v.close)
