"""What every adapter shares: labels to problems (cached by content), responses cleaned of
special tokens, one verifier per process, scoring with retries.

A label is a tdrl problem (a dict or its JSON), a problem id (resolved through a table or
``TDRL_PROBLEMS``), or a verl/PRIME ground truth ``{"inputs": [...], "outputs": [...],
"fn_name"?: ...}`` (see :func:`problem_from_io`). Engines such as OpenRLHF call a reward
once per sample, so problems are cached by the label's content: the same label gives the
same :class:`Problem` object, and the verifier's plan for it is compiled once.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import os
import threading
from collections import OrderedDict

from tdrl.execution.response import Normalized, normalize_response
from tdrl.records import Problem, RecordError, Result, Sample, Test
from tdrl.rewards.functions import reward_from_result

_lock = threading.Lock()
_verifier = None
_problems: dict[str, Problem] | None = None


class ProblemCache:
    """A bounded LRU of problems keyed by their label's text; ``on_evict(problem)`` is called for what falls out."""

    def __init__(self, size: int = 4096, on_evict=None):
        self.size, self.on_evict = size, on_evict
        self._items: OrderedDict[str, Problem] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str, build) -> Problem:
        with self._lock:
            problem = self._items.get(key)
            if problem is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return problem
        problem = build()
        evicted = []
        with self._lock:
            self.misses += 1
            problem = self._items.setdefault(key, problem)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                evicted.append(self._items.popitem(last=False)[1])
        for old in evicted:
            if self.on_evict is not None:
                self.on_evict(old)
        return problem

    def __len__(self) -> int:
        return len(self._items)


def forget_plan(verifier, problem) -> None:
    """Drop an evicted problem's compiled plan from the verifier's cache."""
    forget = getattr(verifier, "forget", None)
    if callable(forget):
        forget(problem)


_labels = ProblemCache(on_evict=lambda p: _verifier is not None and forget_plan(_verifier, p))


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


def _io_args(value) -> list:
    """Call arguments of a verl/PRIME test: a list of arguments, or their JSON one per line."""
    if isinstance(value, str):
        return [json.loads(line) for line in value.split("\n") if line.strip()]
    if not isinstance(value, (list, tuple)):
        raise RecordError("inputs", f"a call test's input is a list of arguments, got {type(value).__name__}")
    return list(value)


def _io_expected(value):
    """APPS wraps a function's return value in a one-element list; a JSON string is decoded first."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _io_text(value) -> str:
    return "\n".join(str(v) for v in value) + "\n" if isinstance(value, list) else str(value)


def problem_from_io(truth: dict, key: str = "") -> Problem:
    """A problem from a verl/PRIME/APPS ground truth: ``inputs``/``outputs`` lists, stdin/stdout, or calls of ``fn_name``.

    Call tests: an input is the argument list (or its JSON, one argument per line, as PRIME
    stores it) and an output the return value, where a one-element list is APPS's wrapping
    of it. The entry point is a top-level function named ``fn_name`` (LeetCode's
    ``class Solution`` methods are not supported).
    """
    inputs, outputs = truth.get("inputs"), truth.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise RecordError("inputs", "a ground truth needs 'inputs' and 'outputs' lists of the same length")
    pid = "gt-" + hashlib.sha256((key or json.dumps(truth, sort_keys=True)).encode()).hexdigest()[:16]
    fn_name = truth.get("fn_name")
    if fn_name:
        tests = [Test("call", input=repr(_io_args(i)), output=repr(_io_expected(o))) for i, o in zip(inputs, outputs)]
        return Problem.from_dict({"id": pid, "entry_point": str(fn_name), "tests": [t.to_dict() for t in tests]})
    tests = [{"type": "stdio", "stdin": _io_text(i), "stdout": _io_text(o)} for i, o in zip(inputs, outputs)]
    return Problem.from_dict({"id": pid, "tests": tests})


def _from_dict(d: dict, key: str) -> Problem:
    if "tests" in d:
        return Problem.from_dict(d)
    if "inputs" in d and "outputs" in d:
        return problem_from_io(d, key)
    raise RecordError("<label>", "neither a tdrl problem (id, tests) nor a ground truth with inputs/outputs")


def problem_from_label(label, problems: dict[str, Problem] | None = None, cache: ProblemCache | None = None) -> Problem:
    """A problem from a label: a problem or ground-truth dict, its JSON text, or an id in ``problems`` / ``TDRL_PROBLEMS``."""
    cache = cache if cache is not None else _labels
    if isinstance(label, Problem):
        return label
    if isinstance(label, dict):
        key = json.dumps(label, sort_keys=True, default=str)
        return cache.get(key, lambda: _from_dict(label, key))
    if isinstance(label, str) and label.lstrip().startswith("{"):
        return cache.get(label, lambda: _from_dict(json.loads(label), label))
    if not isinstance(label, str):
        raise TypeError(f"a label is a problem, its JSON or a problem id, got {type(label).__name__}")
    table = problems if problems is not None else _problem_file()
    if label not in table:
        raise KeyError(f"unknown problem id {label!r}")
    return table[label]


def is_inline(label) -> bool:
    """True for a label that carries its own tests (not a problem id)."""
    return isinstance(label, (dict, Problem)) or (isinstance(label, str) and label.lstrip().startswith("{"))


def problem_label(problem: Problem) -> str:
    """A problem as a self-contained label (its JSON, without the reference solution)."""
    d = problem.to_dict()
    d.pop("reference", None)
    return json.dumps(d)


def clean_response(text: str, tokenizer=None) -> Normalized:
    """The response without special tokens (see :mod:`tdrl.execution.response`)."""
    return normalize_response(text, tokenizer)


def response_of(query: str, prompt: str) -> Normalized:
    """OpenRLHF passes prompt + response as ``query``: the response part, cleaned of EOS/pad text.

    The query is the prompt's tokens decoded again, which need not give the prompt's text
    back exactly; then the response starts after the prompt's last line where the query has it.
    """
    text = query
    if prompt and query.startswith(prompt):
        text = query[len(prompt) :]
    elif prompt:
        tail = prompt.rstrip()[-200:]
        at = query.find(tail) if tail else -1
        if at >= 0:
            text = query[at + len(tail) :].lstrip("\n")
    return normalize_response(text)


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
