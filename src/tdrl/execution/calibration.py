"""Reference timings for per-test time limits, computed once per problem content and reused.

:meth:`Verifier.calibrate` scales each test's limit to the time the problem's reference
takes on it. That needs one run of the reference per problem; this module keeps the
measured times so later runs skip it:

* in the problem itself: ``meta["time_limits"] = {"key": <content hash>, "reference_ms":
  [per test, null where the reference did not pass]}``, written by ``tdrl convert`` and
  ``tdrl synth`` (:func:`annotate_problems`);
* in a cache on disk, one small JSON file per content hash, under ``$TDRL_CACHE`` (default
  ``~/.cache/tdrl``) ``/calibration`` or a folder given on the command line.

The content hash covers what the timing depends on (prompt, entry point, reference, tests)
and nothing else, so an edited test or reference is measured again, and a renamed problem
or new ``meta`` is not. Times are not tied to a machine: limits are floored at
``min_timeout`` (1 s), so only a reference slower than ``min_timeout / factor`` on some test
gets a limit that depends on where it was measured. Nothing here runs code itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from tdrl.records import Problem

if TYPE_CHECKING:
    from tdrl.execution.verifier import Verifier

META_KEY = "time_limits"


def calibration_key(problem: Problem) -> str:
    """The sha256 of what a reference timing depends on: prompt, entry point, reference, tests."""
    content = [problem.prompt, problem.entry_point, problem.reference, [t.to_dict() for t in problem.tests]]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _valid_times(times: object, n: int) -> list[float | None] | None:
    if type(times) is not list or len(times) != n:
        return None
    for ms in times:
        if ms is not None and (type(ms) not in (int, float) or not 0 <= ms < 1e9):
            return None
    return [None if ms is None else float(ms) for ms in times]


class CalibrationCache:
    """Reference times on disk, one JSON file per content hash; safe for concurrent writers."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else default_cache_dir()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, problem: Problem) -> list[float | None] | None:
        """The cached per-test reference times (ms) of this content, or None."""
        try:
            data = json.loads(self._path(calibration_key(problem)).read_text())
        except (OSError, ValueError):
            return None
        return _valid_times(data.get("reference_ms") if type(data) is dict else None, len(problem.tests))

    def put(self, problem: Problem, times: list[float | None]) -> None:
        """Store the times (written to a temporary file and renamed: readers never see half a file)."""
        path = self._path(calibration_key(problem))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w") as f:
                json.dump({"reference_ms": times}, f)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full cache only costs a rerun next time


def default_cache_dir() -> Path:
    return Path(os.environ.get("TDRL_CACHE", Path.home() / ".cache" / "tdrl")) / "calibration"


def known_reference_ms(problem: Problem, cache: CalibrationCache | None = None) -> list[float | None] | None:
    """Reference times from ``problem.meta["time_limits"]`` (when its hash matches) or the cache."""
    stored = (problem.meta or {}).get(META_KEY)
    if type(stored) is dict and stored.get("key") == calibration_key(problem):
        times = _valid_times(stored.get("reference_ms"), len(problem.tests))
        if times is not None:
            return times
    return cache.get(problem) if cache is not None else None


def annotate(problem: Problem, verifier: Verifier, cache: CalibrationCache | None = None) -> bool:
    """Calibrate one problem and write its reference times into ``meta["time_limits"]``; False without a reference."""
    if not problem.reference:
        return False
    verifier.calibrate(problem, cache)
    times = verifier.plan(problem).reference_ms
    if times is None:
        return False
    problem.meta = {**problem.meta, META_KEY: {"key": calibration_key(problem), "reference_ms": times}}
    return True


def annotate_problems(problems: list[Problem], verifier: Verifier, cache: CalibrationCache | None = None) -> int:
    """:func:`annotate` every problem, the references running concurrently; returns how many were annotated."""
    with ThreadPoolExecutor(max_workers=verifier.n_workers) as pool:
        return sum(pool.map(lambda p: annotate(p, verifier, cache), problems))


def calibrate_all(problems: list[Problem], verifier: Verifier, cache: CalibrationCache | None = None) -> None:
    """Calibrate the problems concurrently on the verifier's pool (cached ones cost nothing)."""
    with ThreadPoolExecutor(max_workers=verifier.n_workers) as pool:
        list(pool.map(lambda p: verifier.calibrate(p, cache), problems))
