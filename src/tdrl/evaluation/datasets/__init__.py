"""Dataset converters: the corpora code-RL users train and evaluate on, as tdrl problems.

One file per family, registered by name in :data:`CONVERTERS` (``tdrl convert --from NAME``).
Each converter maps one published row to a problem (see ``common.py`` for how schema errors
and unusable problems are told apart); :func:`convert_rows` runs one over a file or a hub
split and writes problems, dropped problems with their reasons, and for datasets that ship
graded answers (AceCode) samples and their recorded results. Nothing here runs code, and
nothing is downloaded unless ``--hf`` asks for it (through ``datasets.load_dataset``).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdrl.errors import ConfigError
from tdrl.evaluation.datasets import acecode, apps, codecontests, deepcoder, kodcode, livecodebench, primeintellect
from tdrl.evaluation.datasets.common import Converted, Drop, RowError, loads
from tdrl.io import InputError
from tdrl.records import RecordError

CONVERTERS: dict[str, Callable[[dict, int], Converted]] = {
    "acecode": acecode.convert,
    "apps": apps.convert_apps,
    "taco": apps.convert_taco,
    "codecontests": codecontests.convert,
    "livecodebench": livecodebench.convert,
    "primeintellect": primeintellect.convert,
    "deepcoder": deepcoder.convert,
    "kodcode": kodcode.convert,
    "verl": primeintellect.convert_verl,
}


@dataclass
class ConvertSummary:
    problems: int = 0
    tests: int = 0
    samples: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


def iter_rows(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """``(line or row number, row)`` from JSONL (plain or .gz), a JSON list, or parquet."""
    name = str(path)
    if name.endswith(".parquet"):
        if not Path(path).exists():
            raise InputError(path, 0, None, "file not found")
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(path, 0, None, "reading parquet needs pyarrow (pip install 'tdrl[data]')") from None
        n = 0
        for batch in pq.ParquetFile(name).iter_batches(batch_size=256):
            for row in batch.to_pylist():
                n += 1
                yield n, row
        return
    if name.endswith(".json"):
        if not Path(path).exists():
            raise InputError(path, 0, None, "file not found")
        try:
            rows = loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(path, 0, None, f"broken JSON ({str(exc)[:120]})") from None
        if not isinstance(rows, list):
            raise InputError(path, 0, None, "expected a JSON list of rows")
        yield from enumerate(rows, 1)
        return
    if not Path(path).exists():
        raise InputError(path, 0, None, "file not found")
    with gzip.open(path, "rt", encoding="utf-8") if name.endswith(".gz") else open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield lineno, loads(line)
                except ValueError as exc:  # also integers past Python's digit limit, read by loads
                    raise InputError(path, lineno, None, f"broken JSON ({str(exc)[:120]})") from None


def iter_hub(spec: str, config: str | None = None) -> Iterator[tuple[int, Any]]:
    """Rows of ``ORG/DATASET[:split]`` through ``datasets.load_dataset`` (needs the hub or its cache)."""
    try:
        from datasets import load_dataset
    except ImportError:
        raise InputError(spec, 0, None, "--hf needs the 'datasets' package (pip install 'tdrl[data]')") from None
    repo, _, split = spec.partition(":")
    if repo.count("/") != 1:
        raise InputError(spec, 0, None, "expected ORG/DATASET[:split]")
    data = load_dataset(repo, config, split=split or "train")
    yield from enumerate(data, 1)


def convert_rows(rows: Iterator[tuple[int, Any]], fmt: str, source: str, out: str | os.PathLike) -> ConvertSummary:
    """Convert ``rows`` with the ``fmt`` converter and write ``out`` (problems), ``<out>.dropped.jsonl``
    (id or row, field and reason of each dropped problem) and, when the dataset has graded
    answers, ``<out>.samples.jsonl`` and ``<out>.results.jsonl``. A row that breaks the
    schema is an :class:`~tdrl.io.InputError` naming ``source``, its line and the field."""
    from tdrl.records import Problem

    if fmt not in CONVERTERS:
        raise ConfigError(f"unknown dataset {fmt!r} (one of {', '.join(CONVERTERS)})")
    convert = CONVERTERS[fmt]
    out = Path(out)
    if Path(source).exists() and Path(source).resolve() == out.resolve():
        raise InputError(source, 0, None, "--out would overwrite the file being converted")
    paths = {
        "problems": out,
        "dropped": out.with_name(out.name + ".dropped.jsonl"),
        "samples": out.with_name(out.name + ".samples.jsonl"),
        "results": out.with_name(out.name + ".results.jsonl"),
    }
    summary = ConvertSummary(paths={k: str(v) for k, v in paths.items()})
    seen: dict[str, int] = {}
    files = {k: open(v, "w", encoding="utf-8") for k, v in paths.items()}
    try:
        for lineno, row in rows:
            if not isinstance(row, dict):
                raise InputError(source, lineno, None, f"expected an object, got {type(row).__name__}")
            try:
                got = convert(row, lineno - 1)
                Problem.from_dict(got.problem.to_dict())  # what tdrl verify will read back
            except RowError as exc:
                raise InputError(source, lineno, exc.field, exc.message) from None
            except (Drop, RecordError) as exc:
                where = exc.field
                reason = exc.reason if isinstance(exc, Drop) else f"field '{exc.field}': {exc.message}"
                _write(files["dropped"], {"row": lineno, "id": _row_id(row), "field": where, "reason": reason})
                key = reason.split(" (")[0][:80]
                summary.dropped[key] = summary.dropped.get(key, 0) + 1
                continue
            pid = got.problem.id
            if pid in seen:
                raise InputError(source, lineno, "id", f"duplicate problem id {pid!r} (first on line {seen[pid]})")
            seen[pid] = lineno
            _write(files["problems"], got.problem.to_dict())
            summary.problems += 1
            summary.tests += len(got.problem.tests)
            for sample in got.samples:
                _write(files["samples"], sample.to_dict())
            for result in got.results:
                _write(files["results"], result)
            summary.samples += len(got.samples)
    finally:
        for f in files.values():
            f.close()
    for key in ("samples", "results"):
        if not summary.samples:
            paths[key].unlink(missing_ok=True)
            summary.paths.pop(key)
    return summary


def _row_id(row: dict) -> str | None:
    for key in ("question_id", "problem_id", "id", "task_id", "name"):
        if isinstance(row.get(key), (str, int)) and not isinstance(row.get(key), bool):
            return str(row[key])
    return None


def _write(f, record: dict) -> None:
    f.write(json.dumps(record, ensure_ascii=False) + "\n")
