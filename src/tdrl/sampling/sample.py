"""``tdrl sample``: N completions per problem from a local model or an OpenAI-compatible server.

Output lines follow the verifier's sample schema (``problem_id``, ``sample_id``,
``completion``) plus ``model``, ``backend``, ``params``, ``prompt_format``, token counts and
``finish_reason``. The output is resumable: problems whose N samples are all present are
skipped, so a killed run continues where it stopped. Seeds are derived per problem. With
an OpenAI-compatible server each problem's samples depend only on its seed; the local hf
backend generates length-sorted batches across problems (several times faster on a CPU
than one problem at a time), seeded from the batch's problems, so its samples are the
same for the same problems and batch settings.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError
from tdrl.io import ResumableWriter, read_problems
from tdrl.llm.hf import stable_seed
from tdrl.sampling.prompts import build_prompt


@dataclass
class SampleParams:
    n: int = 1
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int = 0
    prompt_format: str = "auto"
    stop: list[str] | None = None


@dataclass
class SampleSummary:
    problems: int = 0
    skipped: int = 0
    samples: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish: Counter = field(default_factory=Counter)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0


def sample_files(
    problems_path: str | Path,
    out_path: str | Path,
    model: str,
    params: SampleParams,
    backend: str = "hf",
    base_url: str | None = None,
    concurrency: int = 8,
    batch_size: int = 16,
    max_batch_tokens: int | None = 32768,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> SampleSummary:
    """Write ``params.n`` samples per problem to ``out_path`` (see the module doc).

    hf: ``batch_size`` sequences of several problems are generated together, at most
    ``max_batch_tokens`` prompt-plus-new tokens per batch (the memory bound)."""
    problems = read_problems(problems_path)
    summary = SampleSummary(problems=len(problems))
    with ResumableWriter(out_path, key=lambda d: (d["problem_id"], str(d["sample_id"]))) as writer:
        todo = [p for p in problems if any((p.id, str(i)) not in writer.done for i in range(params.n))]
        summary.skipped = len(problems) - len(todo)
        t0 = time.monotonic()
        if backend == "hf":
            _sample_hf(todo, writer, model, params, batch_size, max_batch_tokens, summary, progress)
        elif backend == "openai":
            asyncio.run(_sample_openai(todo, writer, model, params, base_url, concurrency, cache_dir, summary, progress))
        else:
            raise ConfigError(f"unknown backend {backend!r} (hf, openai)")
        summary.seconds = time.monotonic() - t0
    return summary


def _record(problem, i, gen, model, backend, params, fmt) -> dict:
    return {
        "problem_id": problem.id,
        "sample_id": str(i),
        "completion": gen.text,
        "model": model,
        "backend": backend,
        "prompt_format": fmt,
        "params": {
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": params.seed,
            "n": params.n,
        },
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "finish_reason": gen.finish_reason,
    }


def _write(writer, summary, problem, gens, model, backend, params, fmt) -> None:
    """Write the generations not yet in ``writer`` (``gens``: a list, or a dict by sample index)."""
    for i, gen in gens.items() if isinstance(gens, dict) else enumerate(gens):
        if (problem.id, str(i)) in writer.done:
            continue
        writer.write(_record(problem, i, gen, model, backend, params, fmt))
        summary.samples += 1
        summary.completion_tokens += gen.completion_tokens
        summary.finish[gen.finish_reason] += 1


def _sample_hf(problems, writer, model_name, params, batch_size, max_batch_tokens, summary, progress) -> None:
    """All missing samples of ``problems`` in length-sorted batches across problems (``HFModel.generate_many``),
    written as each problem completes."""
    from tdrl.execution.run import ProgressBar
    from tdrl.llm.embedded import resolve_model
    from tdrl.llm.hf import HFModel

    model = HFModel(resolve_model(model_name))
    fmt = params.prompt_format
    if fmt == "auto":
        fmt = "instruct" if model.has_chat_template else "completion"
    texts, stops = [], []
    for problem in problems:
        messages, prompt, stop = build_prompt(problem, fmt)
        texts.append(model.chat_prompt(messages) if messages is not None else prompt)
        stops.append(params.stop or stop)
    todo = [[i for i in range(params.n) if (p.id, str(i)) not in writer.done] for p in problems]
    with ProgressBar(progress, len(problems), "sample", "problems") as advance:

        def done(index: int, gens: dict) -> None:
            _write(writer, summary, problems[index], gens, model_name, "hf", params, fmt)
            advance()

        model.generate_many(
            texts,
            n=params.n,
            max_new_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seeds=[stable_seed(params.seed, p.id) for p in problems],
            stop=stops,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            todo=todo,
            on_done=done,
        )


async def generate_openai(backend, problem, params: SampleParams, fmt: str) -> list:
    """``params.n`` generations for one problem from an ``OpenAIBackend`` (the prompt, stop and per-problem seed
    every OpenAI-compatible path uses, local or sharded)."""
    messages, prompt, stop = build_prompt(problem, fmt)
    return await backend.generate(
        prompt=prompt,
        messages=messages,
        n=params.n,
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        seed=stable_seed(params.seed, problem.id),
        stop=params.stop or stop,
    )


async def _sample_openai(problems, writer, model_name, params, base_url, concurrency, cache_dir, summary, progress) -> None:
    from tdrl.execution.run import ProgressBar
    from tdrl.llm.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model_name, base_url=base_url, concurrency=concurrency, cache_dir=cache_dir)
    fmt = "instruct" if params.prompt_format == "auto" else params.prompt_format

    async def one(problem):
        return problem, await generate_openai(backend, problem, params, fmt)

    with ProgressBar(progress, len(problems), "sample", "problems") as advance:
        for fut in asyncio.as_completed([one(p) for p in problems]):
            problem, gens = await fut
            _write(writer, summary, problem, gens, model_name, "openai", params, fmt)
            advance()
