"""``tdrl synth --ray``: test synthesis sharded over one actor per node.

The stage is :func:`tdrl.synthesis.run.synth_files` on a :class:`~tdrl.runner.Ray`
executor. Each actor (the stage's own :class:`~tdrl.synthesis.run.SynthWork`) holds a
:class:`~tdrl.execution.Verifier` as wide as its node (and, for the ``llm``,
``llm+reference`` and ``oracle`` methods, a :class:`~tdrl.llm.chat.Chat` on an
OpenAI-compatible server) and runs the local path's own per-item function on its batch.
The driver decontaminates and writes exactly as the local path does, in input order (the
local path's order too), to ``out`` and ``<out>.dropped.jsonl``, so a rerun skips finished
and dropped problems alike. A problem whose actor dies on every attempt is written as
dropped with an ``infra_error:`` reason. Local (``hf``) models are not sharded.
"""

from __future__ import annotations

from pathlib import Path

from tdrl.runner import Ray
from tdrl.synthesis.reference import SynthConfig
from tdrl.synthesis.run import SynthSummary, synth_files


def ray_synth_files(
    problems_path: str | Path,
    out_path: str | Path,
    cfg: SynthConfig,
    *,
    address: str | None = "local",
    batch_size: int = 8,
    in_flight: int = 2,
    max_retries: int = 2,
    **options,
) -> SynthSummary:
    """:func:`~tdrl.synthesis.run.synth_files` on a Ray cluster; ``options`` are its keywords (``workers`` is per node)."""
    executor = Ray(address, in_flight=in_flight, max_retries=max_retries)
    return synth_files(problems_path, out_path, cfg, executor=executor, batch_size=batch_size, **options)
