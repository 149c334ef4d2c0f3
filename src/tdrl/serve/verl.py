"""verl (0.9) custom reward: ``reward.custom_reward_function.path=<this file> reward.custom_reward_function.name=compute_score``.

:func:`compute_score` is ``async``: verl's reward-loop managers (``naive``, ``dapo``,
``rate_limited``) see a coroutine function and await it on their event loop, so every
sample of a reward worker's chunk is verified at once in that worker's sandbox pool
(``TDRL_WORKERS`` sandboxes per reward worker; ``reward.num_workers`` workers per job).

``ground_truth`` is a tdrl problem (``tdrl export-verl`` writes it as JSON into
``reward_model.ground_truth``), a problem id resolved through ``TDRL_PROBLEMS``, or a
verl/PRIME code ground truth ``{"inputs", "outputs", "fn_name"?}`` (stdin/stdout tests,
or calls with APPS-style wrapped outputs). Rows whose ``data_source`` tdrl does not
score (``TDRL_DATA_SOURCES``, default ``tdrl`` and verl's code sources) go to verl's own
``default_compute_score``. The score is the test pass rate (``TDRL_REWARD=all_pass|acecoder``
to change it). verl has no "no reward" value, so a verifier failure is retried and then
scores 0 with ``infra_error: 1`` in the returned dict, which verl logs.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial

# verl's code data sources (PRIME's Eurus-2 data uses them); tdrl's sandbox scores them instead
# of verl's in-process prime_code runner
CODE_SOURCES = ("tdrl", "codecontests", "apps", "codeforces", "taco")
KEYS = ("score", "pass_rate", "all_pass", "infra_error", "bad_label", "special_tokens_stripped", "tdrl")


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned and len(_warned) < 100:
        _warned.add(message)
        import warnings

        warnings.warn(message, stacklevel=3)


def _ours(data_source) -> bool:
    listed = os.environ.get("TDRL_DATA_SOURCES")
    sources = [s.strip() for s in listed.split(",")] if listed else CODE_SOURCES
    return isinstance(data_source, str) and (data_source in sources or data_source.startswith("tdrl"))


async def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl's reward: a dict with :data:`KEYS` (the same on every row; a label tdrl cannot read scores 0 with ``bad_label: 1``)."""
    if not _ours(data_source):
        from verl.utils.reward_score import default_compute_score

        loop = asyncio.get_running_loop()
        res = await loop.run_in_executor(
            None, partial(default_compute_score, data_source, solution_str, ground_truth, extra_info, **kwargs)
        )
        base = {key: 0.0 for key in KEYS}  # the same keys on every row: verl stacks them per key
        return {**base, **res} if isinstance(res, dict) else {**base, "score": float(res)}

    from tdrl.serve.scoring import check_all, clean_response, problem_from_label, rewards_of, shared_verifier

    try:
        problem = problem_from_label(ground_truth)
    except (ValueError, KeyError, TypeError) as exc:  # one bad row must not end the training job
        _warn_once(f"tdrl: ground truth not scored ({exc}); it scores 0 with bad_label=1")
        return {**{key: 0.0 for key in KEYS}, "bad_label": 1.0, "tdrl": 1.0}
    response = clean_response(solution_str)
    (result,) = await check_all(shared_verifier(), [problem], [response.text])
    (score,), (infra,) = rewards_of([result], os.environ.get("TDRL_REWARD", "pass_rate"))
    return {
        "score": score,
        "pass_rate": result.pass_rate,
        "all_pass": float(result.status == "pass"),
        "infra_error": float(infra),
        "bad_label": 0.0,
        "special_tokens_stripped": float(len(response.stripped)),
        "tdrl": 1.0,
    }
