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

from tdrl.errors import ConfigError, TdrlError
from tdrl.io import ResumableWriter, read_problems
from tdrl.llm.hf import stable_seed
from tdrl.runner import Executor, Local, Stage, Work, run_stage
from tdrl.sampling.prompts import build_prompt


@dataclass
class SampleParams:
    """What is asked of the model (``n`` samples, the prompt format, stop sequences) and how it samples."""

    n: int = 1
    prompt_format: str = "auto"  # auto | instruct | completion
    stop: list[str] | None = None  # default: the format's own
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int = 0  # each problem derives its own (``stable_seed(seed, problem.id)``)


@dataclass
class SampleSummary:
    """Counts over one run: problems read and already done, samples and tokens written, finish reasons."""

    problems: int = 0
    skipped: int = 0
    samples: int = 0
    finish: Counter = field(default_factory=Counter)  # finish_reason -> samples written
    completion_tokens: int = 0
    seconds: float = 0.0
    unsampled: dict = field(default_factory=dict)  # problem id -> why the server refused it (left for a rerun)

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
    batch_size: int = 32,
    max_batch_tokens: int | None = 32768,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    executor: Executor | None = None,
) -> SampleSummary:
    """Write ``params.n`` samples per problem to ``out_path`` (see the module doc).

    hf: ``batch_size`` sequences of several problems are generated together, at most
    ``max_batch_tokens`` prompt-plus-new tokens per batch (the memory bound). openai: on a
    Ray ``executor`` each node's actor keeps ``concurrency`` requests in flight."""
    if backend not in ("hf", "openai"):
        raise ConfigError(f"unknown backend {backend!r} (hf, openai)")
    if backend == "hf":
        (executor or Local()).require_local(
            "--ray samples through an OpenAI-compatible server: add --backend openai --base-url URL"
        )
    problems = read_problems(problems_path)
    summary = SampleSummary(problems=len(problems))
    with ResumableWriter(out_path, key=lambda d: (d["problem_id"], str(d["sample_id"]))) as writer:

        def write(problem, records: list[dict] | Unsampled) -> None:
            if isinstance(records, Unsampled):
                summary.unsampled[problem.id] = records.reason
                return
            for record in records:
                if (record["problem_id"], record["sample_id"]) in writer.done:
                    continue
                writer.write(record)
                summary.samples += 1
                summary.completion_tokens += record["completion_tokens"]
                summary.finish[record["finish_reason"]] += 1

        if backend == "hf":
            work, args = HFSampling, {"batch_size": batch_size, "max_batch_tokens": max_batch_tokens, "done": writer.done}
        else:
            fmt = "instruct" if params.prompt_format == "auto" else params.prompt_format
            work, args = OpenAISampling, {"fmt": fmt, "base_url": base_url, "concurrency": concurrency, "cache_dir": cache_dir}
        stage = Stage(
            items=problems,
            work=work,
            args={"model": model, "params": params, **args},
            write=write,
            done=lambda p: all((p.id, str(i)) in writer.done for i in range(params.n)),
            label="sample",
            unit="problems",
            ordered=False,
            poisoned=_unsampled,
            batch_size=4 * concurrency,
        )
        t0 = time.monotonic()
        try:
            summary.skipped = run_stage(stage, executor, progress).skipped
        except Exception as exc:
            if backend != "openai" or not _is_openai_error(exc):
                raise
            raise ServerFailed(
                f"sampling stopped: the server at {base_url or 'the default OpenAI URL'} failed "
                f"({type(exc).__name__}: {exc}); {summary.samples} samples written to {out_path}, "
                "rerun the same command to resume"
            ) from exc
        summary.seconds = time.monotonic() - t0
    return summary


@dataclass
class Unsampled:
    """A problem the server refused (a 400 or 422 for this request alone): no samples, the reason kept."""

    reason: str


class ServerFailed(TdrlError):
    """The OpenAI-compatible server failed in a way that is not one problem's fault (auth, connection, 5xx)."""


def _is_openai_error(exc: BaseException) -> bool:
    try:
        import openai
    except ImportError:
        return False
    return isinstance(exc, openai.OpenAIError)


def _refused_request(exc: BaseException) -> bool:
    """True for an error that concerns this one request (bad or too long a prompt), not the server."""
    import openai

    return isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 413, 422)


def _unsampled(problem, reason: str):
    # sampling runs no untrusted code: a problem whose actor dies on every attempt stops the run
    raise RuntimeError(f"sampling problem {problem.id!r} failed: {reason}")


def sample_records(problem, gens, model: str, backend: str, params: SampleParams, fmt: str) -> list[dict]:
    """One output line per generation (``gens``: a list, or a dict by sample index)."""
    return [
        {
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
        for i, gen in (gens.items() if isinstance(gens, dict) else enumerate(gens))
    ]


class HFSampling(Work):
    """All missing samples of the problems in length-sorted batches across problems (``HFModel.generate_many``),
    handed on as each problem completes. Runs locally only (a model on this machine)."""

    def __init__(self, model: str, params: SampleParams, batch_size: int, max_batch_tokens: int | None, done: set):
        from tdrl.llm.embedded import resolve_model
        from tdrl.llm.hf import HFModel

        self.name, self.params, self.batch_size, self.max_batch_tokens, self.done = (
            model,
            params,
            batch_size,
            max_batch_tokens,
            done,
        )
        self.model = HFModel(resolve_model(model))
        fmt = params.prompt_format
        self.fmt = ("instruct" if self.model.has_chat_template else "completion") if fmt == "auto" else fmt

    def map(self, items, emit, ordered: bool = True) -> None:
        problems, params = list(items), self.params
        texts, stops = [], []
        for problem in problems:
            messages, prompt, stop = build_prompt(problem, self.fmt)
            texts.append(self.model.chat_prompt(messages) if messages is not None else prompt)
            stops.append(params.stop or stop)
        todo = [[i for i in range(params.n) if (p.id, str(i)) not in self.done] for p in problems]

        def done(index: int, gens: dict) -> None:
            emit(problems[index], sample_records(problems[index], gens, self.name, "hf", params, self.fmt))

        self.model.generate_many(
            texts,
            n=params.n,
            max_new_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seeds=[stable_seed(params.seed, p.id) for p in problems],
            stop=stops,
            batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens,
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


class OpenAISampling(Work):
    """Each problem's generations from an OpenAI-compatible server, ``concurrency`` requests in flight."""

    def __init__(self, model: str, params: SampleParams, fmt: str, base_url: str | None, concurrency: int, cache_dir):
        self.model, self.params, self.fmt = model, params, fmt
        self.base_url, self.concurrency, self.cache_dir = base_url, concurrency, cache_dir

    def map(self, items, emit, ordered: bool = True) -> None:
        # no async method here: Ray would make this an async actor, on whose loop asyncio.run cannot run
        asyncio.run(_sample_openai(self, list(items), emit, ordered))


async def _sample_openai(work: OpenAISampling, problems: list, emit, ordered: bool) -> None:
    from tdrl.llm.openai_backend import OpenAIBackend

    # each call gets its own client (a Ray actor runs several at once), and so its own ``concurrency`` bound
    backend = OpenAIBackend(work.model, base_url=work.base_url, concurrency=work.concurrency, cache_dir=work.cache_dir)

    async def one(problem):
        try:
            gens = await generate_openai(backend, problem, work.params, work.fmt)
        except Exception as exc:
            if not _refused_request(exc):
                raise
            return problem, Unsampled(f"HTTP {exc.status_code}: {getattr(exc, 'message', exc)}"[:300])
        return problem, sample_records(problem, gens, work.model, "openai", work.params, work.fmt)

    jobs = [asyncio.ensure_future(one(p)) for p in problems]
    try:
        if ordered:
            for problem, records in await asyncio.gather(*jobs):
                emit(problem, records)
        else:
            for job in asyncio.as_completed(jobs):
                emit(*await job)
    finally:  # a server failure stops the rest; their errors are collected, not printed as stray tracebacks
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
