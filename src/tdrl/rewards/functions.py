"""Reward functions for RL, in TRL's shape: ``f(prompts, completions, **columns) -> list[float | None]``.

* :class:`VerifierReward`: runs every completion of a batch against its problem's tests through
  the verifier's pool, concurrently (it is ``async``, so TRL awaits it on its event loop
  next to other async rewards). ``kind`` is ``pass_rate`` (share of tests passed),
  ``all_pass`` (1 when every test passes, AceCoder's binary reward) or ``acecoder`` (pass
  rate plus ``bonus`` when all pass). A verifier failure (``infra_error``) gives ``None``,
  and the count per batch is logged as ``verifier/infra_errors`` (TRL's ``log_metric``).
* :func:`format_reward`: R1-Zero style, ``<think>...</think>`` then a fenced code block (or
  only the code block with ``think=False``).
* :class:`LengthPenalty`: ``-scale * max(0, tokens - limit) / limit``.
* :class:`~tdrl.rewards.model.RewardModelScorer`: a trained reward model.

TRL takes several reward functions with ``reward_weights`` and logs each under its own
name (``rewards/<__name__>/mean``), so a weighted sum needs no code here; :func:`weighted`
gives the same sum for engines that want one callable.

TRL (1.16) leaves a row out of the advantage only when *every* reward function gives
``None`` for it; a format or length reward would otherwise still score a row the verifier
could not judge. :class:`InfraRows` is the one piece of shared state: the tests rewards of a
run publish the rows they could not judge for the batch at hand, and every other reward,
wrapped by :meth:`InfraRows.masked`, gives ``None`` on those rows too.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tdrl.errors import ConfigError
from tdrl.execution.response import normalize_response
from tdrl.llm.hf import truncate_at_stop
from tdrl.records import Problem, Result, Sample
from tdrl.sampling.prompts import COMPLETION_STOPS

KINDS = ("pass_rate", "all_pass", "acecoder")


def reward_from_result(result: Result | dict, kind: str = "pass_rate", bonus: float = 1.0) -> float | None:
    """One verdict as a reward; ``None`` for an infrastructure error (never 0)."""
    d = result.to_dict() if isinstance(result, Result) else result
    if d["status"] == "infra_error":
        return None
    rate = float(d["pass_rate"])
    if kind == "pass_rate":
        return rate
    if kind == "all_pass":
        return 1.0 if d["status"] == "pass" else 0.0
    if kind == "acecoder":
        return rate + (bonus if d["status"] == "pass" else 0.0)
    raise ConfigError(f"unknown test reward {kind!r} (one of {', '.join(KINDS)})")


def completion_text(completion) -> str:
    """The text of a completion: a string, or the content of conversational messages."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))


class InfraRows:
    """The rows of the current batch that the verifier could not judge, shared by every tdrl reward of one run.

    Each :class:`VerifierReward` given this record publishes its ``infra_error`` rows and
    waits until every publisher has; the union is then ``None`` in every reward. TRL calls
    all reward functions of a batch with the same ``completions`` list, which identifies
    the batch; one batch is scored at a time. ``total`` counts rows left out over the run.
    """

    def __init__(self):
        self.publishers = 0
        self.total = 0
        self._batch: list | None = None  # [completions, rows, published, done]

    def _entry(self, completions) -> list:
        if self._batch is None or self._batch[0] is not completions:
            self._batch = [completions, [False] * len(completions), 0, asyncio.Event()]
        return self._batch

    async def rows(self, completions, flags: list[bool] | None = None) -> list[bool]:
        """The batch's rows to leave out; a publisher passes its own ``flags``."""
        entry = self._entry(completions)
        if flags is not None:
            entry[1] = [a or b for a, b in zip(entry[1], flags)]
            entry[2] += 1
            if entry[2] >= self.publishers:
                self.total += sum(entry[1])
                entry[3].set()
        if self.publishers:
            await entry[3].wait()
        return entry[1]

    def masked(self, func):
        """``func`` as an async TRL reward (sync ones run in a thread) that gives ``None`` on the batch's infra rows."""
        name = getattr(func, "__name__", type(func).__name__)
        is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)

        async def reward(prompts, completions, **kw):
            if is_async:
                values = await func(prompts=prompts, completions=completions, **kw)
            else:
                values = await asyncio.to_thread(func, prompts=prompts, completions=completions, **kw)
            skip = await self.rows(completions)
            return [None if bad else v for v, bad in zip(values, skip)]

        reward.__name__ = name
        return reward


class VerifierReward:
    """Verifier-backed reward: ``await reward(prompts, completions, problem_id=[...])``.

    ``problems`` maps ids to problems; the dataset needs a ``problem_id`` column (TRL passes
    dataset columns to reward functions). A ``completion``-format answer (the policy
    continued the prompt) is cut at the stop sequences ``tdrl sample`` uses, since TRL's
    generation does not stop at strings; the verifier joins it to the prompt. Time spent inside is summed in ``seconds`` so the
    share of step time spent on rewards can be reported.
    """

    def __init__(
        self,
        problems: dict[str, Problem],
        kind: str = "pass_rate",
        verifier=None,
        bonus: float = 1.0,
        infra: InfraRows | None = None,
        **verifier_kw,
    ):
        if kind not in KINDS:
            raise ConfigError(f"unknown test reward {kind!r} (one of {', '.join(KINDS)})")
        self.problems, self.kind, self.bonus = problems, kind, bonus
        self.infra = infra
        if infra is not None:
            infra.publishers += 1
        self.infra_errors = 0
        self.__name__ = f"tests_{kind}"
        self._own = verifier is None
        if verifier is None:
            from tdrl.execution import Verifier

            verifier = Verifier(**verifier_kw)
        self.verifier = verifier
        self.seconds = 0.0
        self.calls = 0
        self.last_results: list[Result] = []

    async def __call__(self, prompts, completions, problem_id, prompt_format=None, log_metric=None, **_) -> list[float | None]:
        t0 = time.perf_counter()
        flags = None
        try:
            keys: list = []
            unique: dict = {}
            for i, (pid, completion) in enumerate(zip(problem_id, completions)):
                text = normalize_response(completion_text(completion)).text
                if prompt_format is not None and prompt_format[i] == "completion":
                    text = truncate_at_stop(text, COMPLETION_STOPS)[0]
                keys.append((pid, text))
                unique.setdefault((pid, text), len(unique))
            # a group often repeats an answer: each distinct (problem, text) runs once
            runs = await asyncio.gather(
                *(self.verifier.check_async(self.problems[pid], Sample(pid, str(n), text)) for (pid, text), n in unique.items())
            )
            results = [runs[unique[key]] for key in keys]
            flags = [r.status == "infra_error" for r in results]
        finally:
            if self.infra is not None and flags is None:  # never leave the other rewards waiting
                await self.infra.rows(completions, [False] * len(completions))
        skip = await self.infra.rows(completions, flags) if self.infra is not None else flags
        self.last_results = results
        self.infra_errors += sum(flags)
        if log_metric is not None:
            log_metric("verifier/infra_errors", float(sum(flags)))
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return [None if bad else reward_from_result(r, self.kind, self.bonus) for r, bad in zip(results, skip)]

    def score(self, prompts, completions, problem_id, **kw) -> list[float | None]:
        """Blocking form, for callers without an event loop."""
        return asyncio.run(self(prompts, completions, problem_id, **kw))

    def close(self) -> None:
        if self._own:
            self.verifier.close()


_THINK = re.compile(r"^\s*<think>.*?</think>\s*(.*)$", re.S)
_CODE = re.compile(r"```(?:python|py)?\s*\n.*?```", re.S)


def format_reward(completions, think: bool = True, **_) -> list[float]:
    """1.0 when a completion is ``<think>...</think>`` followed by a fenced code block (just the block if not ``think``)."""
    out = []
    for completion in completions:
        text = completion_text(completion)
        if think:
            m = _THINK.match(text)
            out.append(1.0 if m and _CODE.search(m.group(1)) else 0.0)
        else:
            out.append(1.0 if _CODE.search(text) else 0.0)
    return out


format_reward.__name__ = "format"


class LengthPenalty:
    """``-scale * max(0, tokens - limit) / limit``: zero up to ``limit`` completion tokens, then linear."""

    def __init__(self, limit: int, scale: float = 1.0):
        self.limit, self.scale = limit, scale
        self.__name__ = "length_penalty"

    def __call__(self, prompts, completions, completion_ids=None, **_) -> list[float]:
        lengths = (
            [len(ids) for ids in completion_ids]
            if completion_ids is not None
            else [len(completion_text(c).split()) for c in completions]
        )
        return [-self.scale * max(0, n - self.limit) / self.limit for n in lengths]


def weighted(funcs: list, weights: list[float]):
    """One reward callable: the weighted sum of ``funcs`` (``None`` if any component is ``None``)."""

    async def combined(prompts, completions, **kw):
        parts = []
        for f in funcs:
            value = f(prompts=prompts, completions=completions, **kw)
            parts.append(await value if asyncio.iscoroutine(value) else value)
        return [
            None if any(p[i] is None for p in parts) else sum(w * p[i] for w, p in zip(weights, parts))
            for i in range(len(completions))
        ]

    combined.__name__ = "weighted"
    return combined


# ---- the registry: a recipe's `rewards:` item {"type": NAME, "weight"?, ...options} -> a TRL reward function


@dataclass
class RewardContext:
    """What a reward builder may use: the problems by id, the run's verifier pool, the shared infra-error rows."""

    problems: dict[str, Problem]
    verifier: Any
    infra: InfraRows


def _tests_reward(options: dict, ctx: RewardContext):
    kind = options.pop("kind", "pass_rate")
    return VerifierReward(ctx.problems, kind, ctx.verifier, bonus=options.pop("bonus", 1.0), infra=ctx.infra)


def _format_reward(options: dict, ctx: RewardContext):
    think = bool(options.pop("think", True))

    def fmt(prompts, completions, **kw):
        return format_reward(completions, think=think)

    fmt.__name__ = "format_think" if think else "format_code"
    return fmt


def _length_reward(options: dict, ctx: RewardContext):
    return LengthPenalty(int(options.pop("limit")), float(options.pop("scale", 1.0)))


def _model_reward(options: dict, ctx: RewardContext):
    from tdrl.rewards.model import RewardModelScorer

    return RewardModelScorer(str(options.pop("path")), batch_size=int(options.pop("batch_size", 16)))


# one builder per reward type; a builder pops the options it reads, and any left over is an error
REWARDS: dict[str, Callable[[dict, RewardContext], Callable]] = {
    "tests": _tests_reward,
    "format": _format_reward,
    "length": _length_reward,
    "reward_model": _model_reward,
}


def build_reward(spec: dict, ctx: RewardContext) -> tuple[Callable, float]:
    """One reward function and its weight from a ``rewards:`` item (``{"type": "tests", "kind": "all_pass"}``)."""
    from tdrl.errors import ConfigError

    options = dict(spec)
    kind = options.pop("type", None)
    weight = float(options.pop("weight", 1.0))
    if kind not in REWARDS:
        raise ConfigError(f"rewards: unknown reward type {kind!r} (known: {', '.join(REWARDS)})")
    try:
        func = REWARDS[kind](options, ctx)
    except KeyError as exc:
        raise ConfigError(f"reward {kind!r}: missing option {exc.args[0]!r}") from None
    if options:
        raise ConfigError(f"reward {kind!r}: unknown option(s) {', '.join(options)}")
    return func, weight
