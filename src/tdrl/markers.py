"""Completion markers for resumable multi-stage commands (``tdrl iterate``, ``tdrl study code``).

A finished stage writes ``<stage>.done``: its metrics, its settings and a short hash of
them. A rerun skips a stage whose marker holds the same hash and redoes one whose settings
changed. A stage's settings include the keys of the stages it reads, so a change anywhere
redoes everything downstream; :meth:`Markers.begin` removes a stage's old outputs when it
starts under other settings than last time, while a plain resume (same settings) keeps
them, so the stage continues from its own resumable files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path


def settings_key(settings: dict) -> str:
    """A short hash of a stage's settings (JSON, sorted keys): equal keys, equal work."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Markers:
    """``<folder>/<stage>.done`` markers; the outputs named in :meth:`begin` are paths under ``root``."""

    def __init__(self, folder: Path, root: Path | None = None):
        self.folder, self.root = folder, root or folder
        folder.mkdir(parents=True, exist_ok=True)
        self.keys: dict[str, str] = {}
        self.metrics: dict[str, dict] = {}

    def done(self, stage: str, settings: dict) -> dict | None:
        """The stage's metrics when it finished with these settings, else None."""
        key = self.keys[stage] = settings_key(settings)
        path = self.folder / f"{stage}.done"
        if not path.exists():
            return None
        marker = json.loads(path.read_text())
        if marker.get("settings_key") != key:
            return None
        self.metrics[stage] = marker["metrics"]
        return marker["metrics"]

    def changed(self, stage: str) -> bool:
        """True when the stage was started or finished before under other settings (call after :meth:`done`)."""
        started = self.folder / f"{stage}.started"
        return (started.exists() and started.read_text() != self.keys[stage]) or (self.folder / f"{stage}.done").exists()

    def begin(self, stage: str, outputs: list[str]) -> None:
        """Start the stage: its old ``outputs`` go if they were made under other settings."""
        if self.changed(stage):
            for name in outputs:
                target = self.root / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        (self.folder / f"{stage}.done").unlink(missing_ok=True)
        (self.folder / f"{stage}.started").write_text(self.keys[stage])

    def finish(self, stage: str, settings: dict, metrics: dict) -> dict:
        """Record the finished stage (atomically) and return its metrics."""
        tmp = self.folder / f"{stage}.done.tmp"
        tmp.write_text(json.dumps({"settings_key": self.keys[stage], "settings": settings, "metrics": metrics}, indent=1) + "\n")
        tmp.replace(self.folder / f"{stage}.done")
        self.metrics[stage] = metrics
        return metrics
