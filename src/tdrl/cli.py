"""The ``tdrl`` command line: parse arguments, call one stage function, print. No logic here."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, NoReturn

import typer


def _fail(message: str) -> NoReturn:
    """Report a user error (bad input, bad option) and exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextlib.contextmanager
def _user_errors(*kinds: type[Exception]):
    """Turn the project's own usage, config and input errors (:class:`tdrl.errors.TdrlError`) and ``kinds``
    (a missing file, Ray not installed) into a one-line message and exit status 2.

    A plain ``ValueError`` is never one of them, even when a call site names it: raised inside tdrl or
    a library (TRL, transformers), it is a bug or a failure to look into, so it keeps its traceback.
    """
    from tdrl.errors import TdrlError

    caught: tuple[type[Exception], ...] = (TdrlError, *(k for k in kinds if k is not ValueError))
    try:
        yield
    except caught as exc:
        _fail(str(exc))


def _check_sandbox(value: str) -> str:
    """``--sandbox`` is checked before any work: a typo is one line, not a traceback."""
    if value not in ("auto", "bwrap", "none"):
        _fail(f"--sandbox {value!r}: one of auto, bwrap, none")
    return value


# Options shared by many commands, defined once (help text may be specialised per command).


def _workers_option(help: str = "Parallel sandboxes."):
    return typer.Option(None, "--workers", help=help)


def _sandbox_option(help: str = "auto | bwrap | none."):
    return typer.Option("auto", "--sandbox", help=help, callback=_check_sandbox)


def _progress_option(help: str | None = "Show a progress bar."):
    return typer.Option(True, "--progress/--no-progress", help=help)


def _skip_unknown_option(help: str = "Leave out samples of problems not in --problems."):
    return typer.Option(False, "--skip-unknown", help=help)


def _ray_option(help: str = "Run on Ray: local | auto | a Ray address (needs tdrl[ray]); --workers is per node."):
    """``--ray ADDRESS``: where a stage runs (:func:`tdrl.runner.executor_for`), not a second copy of it."""
    return typer.Option(None, "--ray", metavar="ADDRESS", help=help)


def _config_option(help: str):
    return typer.Option(None, "--config", help=help)


def _set_option():
    return typer.Option([], "--set", help="Override a setting: key=value (dotted keys nest; repeatable).")


def _executor(address: str | None):
    """The executor of ``--ray`` (Local without it); entered by the command, so a cluster it starts is stopped after."""
    from tdrl.runner import executor_for

    return executor_for(address)


def _recipe(load, run, config: Path | None, overrides: list[str], progress: bool, **kwargs):
    """Load a YAML recipe with its ``--set`` overrides and run it: ``(config, what run returns)``."""
    with _user_errors(FileNotFoundError):
        cfg = load(config, list(overrides))
        return cfg, run(cfg, progress=progress, **kwargs)


app = typer.Typer(help="tdrl: test-driven reinforcement learning for code models.", no_args_is_help=True, add_completion=False)


@app.callback()
def _main(
    quiet: bool = typer.Option(
        False, "--quiet", help="Silence third-party output (transformers/TRL warnings, load reports, progress bars)."
    ),
) -> None:
    """tdrl: test-driven reinforcement learning for code models."""
    import sys

    from tdrl.io import silence_third_party

    # no library warnings or load reports on any command, before the libraries are imported;
    # `--quiet` or `--no-progress` also silence their progress bars (the trainer's step bar)
    silence_third_party(bars=quiet or "--no-progress" in sys.argv[1:])


@app.command()
def verify(
    problems: Path = typer.Option(..., "--problems", help="Problems JSONL (id, tests, entry_point, ...)."),
    samples: Path = typer.Option(..., "--samples", help="Samples JSONL (problem_id, sample_id, completion)."),
    out: Path = typer.Option(..., "--out", help="Results JSONL; an existing file is resumed, not redone."),
    workers: int | None = _workers_option("Parallel sandboxes (default: CPU count)."),
    timeout: float = typer.Option(3.0, "--timeout", help="Per-test time limit in seconds (without a reference)."),
    min_timeout: float = typer.Option(1.0, "--min-timeout", help="Floor of reference-scaled per-test limits."),
    timeout_factor: float = typer.Option(4.0, "--timeout-factor", help="Per-test limit = factor x reference time."),
    max_sample_time: float = typer.Option(60.0, "--max-sample-time", help="Whole-sample time budget cap in seconds."),
    memory_mb: int = typer.Option(2048, "--memory-mb", help="Memory limit per run."),
    sandbox: str = _sandbox_option(),
    calibrate: bool = typer.Option(True, "--calibrate/--no-calibrate", help="Scale time limits to each problem's reference."),
    after_timeout: str = typer.Option(
        "shared", "--after-timeout", help="After a sample's first timeout: shared | stop | exact (docs/verifier.md)."
    ),
    calibration_cache: Path | None = typer.Option(
        None, "--calibration-cache", help="Folder of cached reference timings (default ~/.cache/tdrl/calibration)."
    ),
    fail_fast: bool = typer.Option(
        False, "--fail-fast", help="Stop a sample at its first failing test (pass rates become lower bounds)."
    ),
    progress: bool = _progress_option(),
    ray: str | None = _ray_option(),
    skip_unknown: bool = _skip_unknown_option(),
) -> None:
    """Run samples against their problems' tests in the sandbox and write one result per sample.

    With --ray, --samples may also be a folder of .jsonl/.parquet shards, and results are
    written in input order (docs/scale.md).
    """
    from tdrl.execution import Limits, TimePolicy
    from tdrl.execution.run import verify_files
    from tdrl.scale.cluster import RayNotInstalled

    with _user_errors():
        policy = TimePolicy(
            timeout=timeout,
            min_timeout=min_timeout,
            factor=timeout_factor,
            max_sample=max_sample_time,
            after_timeout=after_timeout,
        )
    with _user_errors(RayNotInstalled), _executor(ray) as executor:
        summary = verify_files(
            problems,
            samples,
            out,
            workers=workers,
            time_policy=policy,
            limits=Limits(memory_bytes=memory_mb << 20),
            sandbox=sandbox,
            calibrate=calibrate,
            stop_on_first_failure=fail_fast,
            progress=progress,
            calibration_cache=calibration_cache,
            skip_unknown=skip_unknown,
            executor=executor,
        )
    if summary.cluster:
        typer.echo(f"ray: {summary.nodes} nodes, {summary.actor_deaths} actor deaths, {summary.poisoned} samples poisoned")
    typer.echo(
        f"{summary.samples} verified, {summary.skipped} already done; statuses {dict(summary.statuses)}; "
        f"mean pass rate {summary.mean_pass_rate:.3f}; sandbox {summary.isolation}"
        + (f"; {summary.unknown} samples of unknown problems left out" if summary.unknown else "")
    )
    if getattr(summary, "dropped", 0):
        typer.echo(f"{summary.dropped} samples of unusable problems dropped (reasons: {out}.dropped.jsonl)")
    lat = summary.latency_ms()
    typer.echo(
        f"sample latency p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, max {lat['max']:.1f} ms; "
        f"{summary.lower_bounds} pass rates are lower bounds (--after-timeout {after_timeout})"
    )


@app.command()
def sample(
    problems: Path = typer.Option(..., "--problems", help="Problems JSONL."),
    model: str = typer.Option(
        "embedded", "--model", help="HF model id or path, a served model name, or 'embedded' (SmolLM2-135M-Instruct)."
    ),
    n: int = typer.Option(1, "-n", help="Samples per problem."),
    out: Path = typer.Option(..., "--out", help="Samples JSONL; an existing file is resumed."),
    temperature: float = typer.Option(0.8, "--temperature", help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling mass."),
    max_tokens: int = typer.Option(256, "--max-tokens", help="Most new tokens per sample."),
    seed: int = typer.Option(0, "--seed", help="Base seed; each problem derives its own."),
    backend: str = typer.Option("hf", "--backend", help="hf (local transformers) | openai (any OpenAI-compatible server)."),
    base_url: str | None = typer.Option(
        None, "--base-url", help="Server URL for --backend openai, e.g. http://127.0.0.1:8000/v1."
    ),
    prompt_format: str = typer.Option("auto", "--format", help="auto | instruct | completion."),
    stop: list[str] = typer.Option([], "--stop", help="Stop sequence (repeatable); default per format."),
    batch_size: int = typer.Option(
        32, "--batch-size", help="hf: sequences decoded together, across problems (continuous batching)."
    ),
    concurrency: int = typer.Option(8, "--concurrency", help="openai: requests in flight."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="openai: response cache (default ~/.cache/tdrl/llm)."),
    progress: bool = _progress_option(),
    ray: str | None = _ray_option(
        "Run on Ray: local | auto | a Ray address (needs tdrl[ray]); openai only, --concurrency per node."
    ),
) -> None:
    """Sample N completions per problem from a model and write them as verifier samples."""
    from tdrl.llm.embedded import cache_dir as default_cache
    from tdrl.sampling.sample import SampleParams, sample_files
    from tdrl.scale.cluster import RayNotInstalled

    params = SampleParams(
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        seed=seed,
        prompt_format=prompt_format,
        stop=stop or None,
    )
    if backend == "hf":
        from tdrl.llm.embedded import check_model

        with _user_errors():
            check_model(model)
    with _user_errors(FileNotFoundError, RayNotInstalled), _executor(ray) as executor:
        summary = sample_files(
            problems,
            out,
            model,
            params,
            backend=backend,
            base_url=base_url,
            concurrency=concurrency,
            batch_size=batch_size,
            cache_dir=cache_dir or default_cache() / "llm",
            progress=progress,
            executor=executor,
        )
    typer.echo(
        f"{summary.samples} samples for {summary.problems - summary.skipped} problems ({summary.skipped} already done) in "
        f"{summary.seconds:.1f}s: {summary.samples_per_second:.2f} samples/s, {summary.completion_tokens} tokens; finish {dict(summary.finish)}"
    )
    if summary.unsampled:
        from tdrl.io import warn

        first_id, first_reason = next(iter(summary.unsampled.items()))
        warn(
            f"{len(summary.unsampled)} problems refused by the server and left unsampled "
            f"(first: {first_id}: {first_reason}); a rerun retries only them"
        )
        if summary.samples == 0 and len(summary.unsampled) == summary.problems - summary.skipped:
            _fail("the server refused every problem: a setting of the run (max_tokens, model) is likely at fault")


@app.command("serve-model")
def serve_model(
    model: str = typer.Option("embedded", "--model", help="HF model id or path, or 'embedded'."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Serve a local model over the OpenAI API (chat and plain completions) for tdrl and other tools."""
    from tdrl.llm.embedded import resolve_model
    from tdrl.llm.hf import HFModel
    from tdrl.llm.server import make_server

    with _user_errors():
        path = resolve_model(model)
    server = make_server(HFModel(path), host, port, served_name=model)
    typer.echo(f"serving {model} on http://{host}:{server.server_address[1]}/v1")
    server.serve_forever()


@app.command()
def synth(
    problems: Path = typer.Option(
        ...,
        "--problems",
        help="reference: problems JSONL with `reference` and seed tests; llm, oracle: seeds JSONL (id, instruction, solution?, entry_point?).",
    ),
    out: Path = typer.Option(..., "--out", help="Problems JSONL with synthesised tests; an existing file is resumed."),
    method: str = typer.Option("reference", "--method", help="reference | llm | llm+reference | oracle."),
    tests_per_problem: int = typer.Option(
        50,
        "--tests-per-problem",
        help="reference: most call (or stdio) tests kept per problem, its own seed tests of that type counted in; "
        "its seed `assert` tests are kept on top. oracle: sets the inputs generated (3x this; --candidates overrides).",
    ),
    min_tests: int = typer.Option(5, "--min-tests", help="Drop problems with fewer tests."),
    candidates: int = typer.Option(0, "--candidates", help="Inputs generated per problem before selection (0: 3x tests)."),
    mutants: int = typer.Option(16, "--mutants", help="Mutants of the reference used to choose discriminating tests."),
    seed: int = typer.Option(0, "--seed", help="Random seed of input generation."),
    workers: int | None = _workers_option(),
    sandbox: str = _sandbox_option(),
    report: Path | None = typer.Option(None, "--report", help="Folder for quality.json and mutation_scores.png."),
    progress: bool = _progress_option(),
    model: str = typer.Option("embedded", "--model", help="llm: HF model id or path, 'embedded', or a served model name."),
    backend: str = typer.Option("hf", "--backend", help="llm: hf | openai."),
    base_url: str | None = typer.Option(None, "--base-url", help="llm: OpenAI-compatible server URL."),
    concurrency: int = typer.Option(8, "--concurrency", help="llm, oracle with --backend openai: requests in flight."),
    llm_tests: int = typer.Option(20, "--llm-tests", help="llm: asserts to ask for per seed."),
    retries: int = typer.Option(2, "--retries", help="llm: new attempts after an unusable answer."),
    max_tokens: int = typer.Option(1024, "--max-tokens", help="llm: most tokens per answer."),
    keep_unverified: bool = typer.Option(
        False, "--keep-unverified", help="llm: keep seeds without a solution (tests unchecked)."
    ),
    solutions: Path | None = typer.Option(
        None, "--solutions", help="llm, oracle: a strong model's samples (JSONL); the best one filters seeds without a solution."
    ),
    max_disagreement: float = typer.Option(
        0.0, "--max-disagreement", help="oracle: drop a seed when brute force and solution disagree on a larger share of inputs."
    ),
    decontaminate: list[Path] = typer.Option(
        [], "--decontaminate", help="Benchmark file whose prompts must not leak (repeatable)."
    ),
    ngram: int = typer.Option(13, "--ngram", help="Words in the n-grams compared for decontamination."),
    ray: str | None = _ray_option(
        "Run on Ray: local | auto | a Ray address (needs tdrl[ray]); --workers per node; llm, oracle: openai only."
    ),
) -> None:
    """Synthesize tests: from reference solutions (reference), asserts written by an LLM (llm), or an LLM's brute force (oracle)."""
    from tdrl.llm.embedded import cache_dir as default_cache
    from tdrl.scale.cluster import RayNotInstalled
    from tdrl.synthesis.reference import SynthConfig
    from tdrl.synthesis.run import LLMOptions, synth_files

    cfg = SynthConfig(tests_per_problem=tests_per_problem, candidates=candidates, min_tests=min_tests, mutants=mutants, seed=seed)
    llm = LLMOptions(
        model=model,
        backend=backend,
        base_url=base_url,
        concurrency=concurrency,
        tests=llm_tests,
        retries=retries,
        max_tokens=max_tokens,
        cache_dir=default_cache() / "llm",
        keep_unverified=keep_unverified,
        solutions=solutions,
        max_disagreement=max_disagreement,
    )
    with _user_errors(FileNotFoundError, RayNotInstalled), _executor(ray) as executor:
        summary = synth_files(
            problems,
            out,
            cfg,
            method=method,
            workers=workers,
            sandbox=sandbox,
            report_dir=report,
            progress=progress,
            llm=llm,
            decontaminate=list(decontaminate),
            ngram=ngram,
            executor=executor,
        )
    rate = (summary.problems - summary.skipped) / summary.seconds if summary.seconds else 0.0
    typer.echo(
        f"{summary.kept} problems kept with {summary.tests} tests, {sum(summary.dropped.values())} dropped {summary.dropped}, "
        f"{summary.skipped} already done; {rate:.1f} problems/s"
    )


@app.command()
def convert(
    source: Path | None = typer.Argument(None, help="Benchmark or dataset file (.jsonl, .jsonl.gz, .json, .parquet)."),
    fmt: str = typer.Option(
        ...,
        "--from",
        help="humaneval | mbpp | evalplus | stdio | acecode | apps | taco | codecontests | livecodebench | "
        "primeintellect | deepcoder | kodcode | verl (docs/datasets.md).",
    ),
    out: Path = typer.Option(..., "--out", help="Problems JSONL to write; dropped problems go to <out>.dropped.jsonl."),
    split: str = typer.Option("both", "--split", help="evalplus only: base | plus | both."),
    hf: str | None = typer.Option(
        None, "--hf", metavar="ORG/DATASET[:split]", help="Read the rows with datasets.load_dataset instead of a file."
    ),
    hf_config: str | None = typer.Option(None, "--hf-config", help="With --hf: the dataset's config (e.g. a DeepCoder subset)."),
    calibrate: bool = typer.Option(
        True, "--calibrate/--no-calibrate", help="Time each reference in the sandbox and store it in meta.time_limits."
    ),
    sandbox: str = typer.Option("auto", "--sandbox", help="auto | bwrap | none (for references that run)."),
) -> None:
    """Turn a benchmark file or a training/evaluation dataset into tdrl problems.

    EvalPlus outputs come from its reference, run in the sandbox. For the datasets, a row that
    breaks the schema stops with file, line and field; a problem that cannot be used is
    written with its reason to <out>.dropped.jsonl. AceCode's graded answers also go to
    <out>.samples.jsonl and <out>.results.jsonl (for tdrl pairs --results). With --calibrate,
    each benchmark reference's per-test times go into the problem (meta.time_limits), so
    `tdrl verify` sets its time limits without running the references again.
    """
    from tdrl.evaluation.benchmarks import LOADERS
    from tdrl.evaluation.datasets import CONVERTERS, convert_rows, iter_hub, iter_rows
    from tdrl.io import write_jsonl

    if fmt not in LOADERS and fmt not in CONVERTERS:
        _fail(f"unknown format {fmt!r} (one of {', '.join([*LOADERS, *CONVERTERS])})")
    if (source is None) == (hf is None):
        _fail("give either a source file or --hf ORG/DATASET[:split]")
    if fmt in CONVERTERS:
        with _user_errors():
            rows = iter_hub(hf, hf_config) if hf else iter_rows(source)
            summary = convert_rows(rows, fmt, hf or str(source), out)
        typer.echo(
            f"{summary.problems} problems, {summary.tests} tests -> {out}; "
            f"{sum(summary.dropped.values())} dropped {summary.dropped} -> {summary.paths['dropped']}"
        )
        if summary.samples:
            typer.echo(f"{summary.samples} graded samples -> {summary.paths['samples']} (results: {summary.paths['results']})")
        return
    if hf:
        _fail(f"--hf is for the datasets ({', '.join(CONVERTERS)}); {fmt} reads a file")
    from tdrl.execution import Verifier
    from tdrl.execution.calibration import annotate_problems

    with _user_errors(), Verifier(sandbox=sandbox) as verifier:
        problems = LOADERS[fmt](source, split=split, verifier=verifier) if fmt == "evalplus" else LOADERS[fmt](source)
        timed = annotate_problems(problems, verifier) if calibrate else 0
    n = write_jsonl(out, problems)
    typer.echo(f"{n} problems, {sum(len(p.tests) for p in problems)} tests, {timed} references timed -> {out}")


@app.command("eval")
def eval_(
    problems: Path = typer.Option(..., "--problems", help="Problems JSONL (see `tdrl convert` for benchmark files)."),
    samples: list[Path] = typer.Option([], "--samples", help="Samples JSONL; repeat for several models/checkpoints."),
    results: list[Path] = typer.Option(
        [], "--results", help="Results JSONL of `tdrl verify` to score as they are (no verification); repeatable."
    ),
    k: str = typer.Option(
        "1,10,100", "--k", help="Comma-separated k values for pass@k; pass@k needs k <= samples per problem (else '-')."
    ),
    report: Path = typer.Option(Path("eval-report"), "--report", help="Folder for results, summary.json and plots."),
    workers: int | None = _workers_option("Parallel sandboxes (default: CPU count)."),
    timeout: float = typer.Option(3.0, "--timeout", help="Per-test time limit in seconds (without a reference)."),
    sandbox: str = _sandbox_option(),
    after_timeout: str = typer.Option(
        "stop", "--after-timeout", help="After a sample's first timeout: stop | shared | exact (docs/verifier.md)."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG plots (needs matplotlib)."),
    progress: bool = _progress_option(),
    ray: str | None = _ray_option(),
    since: str | None = typer.Option(
        None, "--since", metavar="YYYY-MM-DD", help="Only problems with meta.contest_date on or after."
    ),
    until: str | None = typer.Option(
        None, "--until", metavar="YYYY-MM-DD", help="Only problems with meta.contest_date on or before."
    ),
    skip_unknown: bool = _skip_unknown_option("Leave out samples and results of problems not in --problems."),
) -> None:
    """Verify samples and report pass rates and unbiased pass@k, overall and per tag/difficulty.

    --since/--until evaluate a date window (LiveCodeBench-style, against contamination): only
    problems whose meta.contest_date lies in it, and their samples.
    """
    from tdrl.evaluation.report import evaluate, print_report
    from tdrl.execution import TimePolicy
    from tdrl.scale.cluster import RayNotInstalled

    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError:
        _fail(f"--k must be comma-separated integers, got {k!r}")
    if not samples and not results:
        _fail("give --samples (verified here) or --results (already verified), or both")
    with _user_errors(RayNotInstalled), _executor(ray) as executor:
        runs = evaluate(
            problems,
            list(samples),
            ks,
            report,
            results_paths=list(results),
            skip_unknown=skip_unknown,
            plots=plots,
            executor=executor,
            workers=workers,
            time_policy=TimePolicy(timeout=timeout, after_timeout=after_timeout),
            sandbox=sandbox,
            progress=progress,
            since=since,
            until=until,
        )
    print_report(runs, ks)
    for r in runs:
        missing = [x for x in ks if r.summary["overall"].get(f"pass@{x}") is None]
        if missing:
            typer.echo(
                f"{r.label}: pass@{','.join(map(str, missing))} shown as '-': at most {r.summary['overall']['max_samples']} "
                "samples per problem, and the unbiased pass@k needs k <= n (sample more with `tdrl sample -n`, or pass a smaller --k)"
            )
    typer.echo(f"report: {report}")


@app.command()
def pairs(
    problems: Path = typer.Option(..., "--problems", help="Problems JSONL."),
    samples: Path = typer.Option(..., "--samples", help="Samples JSONL (several per problem; `model` keeps policies apart)."),
    out: Path = typer.Option(..., "--out", help="Pairs JSONL (TRL preference format); stats go to <out>.stats.json."),
    results: Path | None = typer.Option(None, "--results", help="Results JSONL of `tdrl verify` (default: verify here)."),
    dataset: Path | None = typer.Option(None, "--dataset", help="Also save the pairs as a `datasets` folder."),
    fmt: str = typer.Option("standard", "--format", help="standard (strings) | conversational (messages)."),
    min_chosen: float = typer.Option(0.8, "--min-chosen", help="Least pass rate of a chosen sample."),
    min_gap: float = typer.Option(0.4, "--min-gap", help="Least pass-rate gap between chosen and rejected."),
    min_rejected: float = typer.Option(0.0, "--min-rejected", help="Rejected samples must pass more than this share."),
    max_per_problem: int | None = typer.Option(None, "--max-per-problem", help="Most pairs per problem and model."),
    seed: int = typer.Option(0, "--seed", help="Seed of the choice among too many pairs."),
    workers: int | None = _workers_option("Parallel sandboxes (without --results)."),
    sandbox: str = _sandbox_option(),
    skip_unknown: bool = _skip_unknown_option(),
) -> None:
    """Build (prompt, chosen, rejected) pairs from samples' pass rates (AceCoder's rule by default)."""
    from tdrl.rewards.pairs import PairRule, pairs_files

    if fmt not in ("standard", "conversational"):
        _fail(f"unknown --format {fmt!r} (standard, conversational)")
    rule = PairRule(min_chosen, min_gap, min_rejected, max_per_problem, seed)
    with _user_errors(FileNotFoundError):
        n, totals = pairs_files(
            problems,
            samples,
            out,
            results,
            rule,
            fmt == "conversational",
            dataset,
            workers=workers,
            sandbox=sandbox,
            skip_unknown=skip_unknown,
        )
    typer.echo(
        f"{n} pairs from {totals['problems_with_pairs']} of {totals['problems']} problems "
        f"({totals['samples']} samples, {totals['distinct']} distinct programs"
        + (f"; {totals['skipped_unknown']} samples of unknown problems left out" if totals.get("skipped_unknown") else "")
        + f"); stats: {out}.stats.json"
    )


@app.command("train-rm")
def train_rm(
    pairs_path: Path = typer.Option(..., "--pairs", help="Pairs JSONL or `datasets` folder from `tdrl pairs`."),
    out: Path = typer.Option(..., "--out", help="Folder for the reward model, metrics.json and accuracy.png."),
    config: Path | None = _config_option("Settings YAML (RMConfig fields: backbone, epochs, lora...)."),
    overrides: list[str] = _set_option(),
    model: str | None = typer.Option(
        None, "--model", help="Backbone: HF id or path (causal LM or classifier), or 'embedded' (default: embedded)."
    ),
    epochs: float | None = typer.Option(None, "--epochs", help="Default: 1.0."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many steps (-1: by epochs; default -1)."),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (default: 5e-05)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Pairs per device and step (default: 8)."),
    grad_accum: int | None = typer.Option(None, "--grad-accum", help="Gradient accumulation steps (default: 1)."),
    eval_share: float | None = typer.Option(
        None, "--eval-share", help="Share of problems held out for pair accuracy (default: 0.2)."
    ),
    eval_steps: int | None = typer.Option(None, "--eval-steps", help="Held-out accuracy every this many steps (default: 20)."),
    lora: bool = typer.Option(
        False, "--lora", help="Train a LoRA adapter (lora: {r, alpha}); --out then holds the adapter and score head only."
    ),
    lora_r: int | None = typer.Option(None, "--lora-r", help="LoRA rank, with alpha 2 * r (implies --lora; default 16)."),
    merge: bool = typer.Option(False, "--merge", help="With --lora: save the merged model (a plain transformers folder)."),
    center_rewards: float | None = typer.Option(
        None, "--center-rewards", help="TRL center_rewards_coefficient (0: off; default 0.01)."
    ),
    max_length: int | None = typer.Option(
        None, "--max-length", help="Longest prompt + answer in tokens (longer pairs are counted and left out; default 1024)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Default: 0."),
    progress: bool = _progress_option("Show progress and training logs."),
) -> None:
    """Train a Bradley-Terry reward model on preference pairs with TRL's RewardTrainer.

    Settings come from --config and --set (RMConfig fields); the options below, when given, override them.
    """
    from tdrl.training.reward_model import load_config, train_reward_model

    flags: dict[str, Any] = {
        "backbone": model,
        "epochs": epochs,
        "max_steps": max_steps,
        "learning_rate": lr,
        "batch_size": batch_size,
        "gradient_accumulation": grad_accum,
        "eval_share": eval_share,
        "eval_steps": eval_steps,
        "max_length": max_length,
        "seed": seed,
        "merge": merge or None,
    }
    if lora or lora_r is not None:
        flags["lora"] = {"r": lora_r or 16, "alpha": 2 * (lora_r or 16)}
    given = {k: v for k, v in flags.items() if v is not None}
    if center_rewards is not None:
        given["center_rewards_coefficient"] = center_rewards or None  # 0: off
    with _user_errors(FileNotFoundError):
        cfg = load_config(config, list(overrides), given)
        metrics = train_reward_model(pairs_path, out, cfg, progress=progress)
    before, after = metrics["heldout_accuracy_before"], metrics["heldout_accuracy"]
    typer.echo(
        f"{metrics['train_pairs']} train / {metrics['heldout_pairs']} held-out pairs; held-out accuracy "
        f"{'n/a' if before is None else f'{before:.3f}'} -> {'n/a' if after is None else f'{after:.3f}'}; model: {out}"
    )


@app.command()
def rerank(
    problems: Path = typer.Option(..., "--problems", help="Problems JSONL."),
    samples: Path = typer.Option(..., "--samples", help="Samples JSONL, N per problem."),
    report: Path = typer.Option("rerank-report", "--report", help="Folder for best_of_n.json and best_of_n.png."),
    results: Path | None = typer.Option(None, "--results", help="Results JSONL of `tdrl verify` (default: verify here)."),
    reward_model: Path | None = typer.Option(None, "--reward-model", help="A reward model folder (from `tdrl train-rm`)."),
    greedy: Path | None = typer.Option(None, "--greedy", help="Greedy samples JSONL (one per problem) to compare with."),
    agreement: bool = typer.Option(True, "--agreement/--no-agreement", help="Rank by agreement of outputs on generated inputs."),
    inputs: int = typer.Option(20, "--inputs", help="Generated inputs per problem for agreement."),
    subsets: int = typer.Option(32, "--subsets", help="Random subsets averaged for each N below the full set."),
    seed: int = typer.Option(0, "--seed"),
    workers: int | None = _workers_option(),
    sandbox: str = _sandbox_option(),
    progress: bool = _progress_option(),
    skip_unknown: bool = _skip_unknown_option(),
) -> None:
    """Best-of-N: pass rate of the pick by reward model, output agreement, random and greedy, against the oracle."""
    from tdrl.rewards.rerank import RerankOptions, format_table, rerank_files

    options = RerankOptions(
        results=results,
        reward_model=reward_model,
        greedy=greedy,
        agreement=agreement,
        n_inputs=inputs,
        subsets=subsets,
        seed=seed,
        workers=workers,
        sandbox=sandbox,
        progress=progress,
        skip_unknown=skip_unknown,
    )
    with _user_errors(FileNotFoundError):
        result = rerank_files(problems, samples, report, options)
    typer.echo(format_table(result))
    typer.echo(f"report: {report}")


@app.command()
def rl(
    config: Path | None = _config_option("Recipe YAML (see examples/rl_*.yaml)."),
    overrides: list[str] = _set_option(),
    progress: bool = _progress_option("Show progress and training logs."),
) -> None:
    """RL with verifiable rewards (TRL GRPO / Dr.GRPO / DAPO / RLOO); metrics, curves and checkpoints in out_dir."""
    from tdrl.training.rl import load_config, train_rl

    cfg, summary = _recipe(load_config, train_rl, config, overrides, progress)
    share = summary["reward_time_share"]
    typer.echo(
        f"{summary['steps']} steps on {summary['problems']} problems; mean reward {summary['first_reward']} (first step) -> "
        f"{summary['last_reward']} (last); reward time {'n/a' if share is None else f'{100 * share:.1f}%'} of step time; "
        f"curves: {cfg.out_dir}/rl_curves.png"
    )


@app.command("serve-reward")
def serve_reward(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(5000, "--port", help="0: any free port (printed)."),
    problems: Path | None = typer.Option(None, "--problems", help="Problems JSONL: labels must be their ids."),
    allow_inline: bool = typer.Option(
        False, "--allow-inline", help="With --problems, also score labels carrying their own tests (never under a known id)."
    ),
    kind: str = typer.Option("pass_rate", "--reward", help="pass_rate | all_pass | acecoder."),
    workers: int | None = _workers_option(),
    sandbox: str = _sandbox_option(),
    timeout: float = typer.Option(3.0, "--timeout", help="Per-test time limit in seconds."),
    max_sample_time: float = typer.Option(20.0, "--max-sample-time", help="Time limit of one program over all its tests."),
    max_concurrency: int = typer.Option(64, "--max-concurrency", help="Requests verified at once; the rest wait."),
    request_timeout: float = typer.Option(
        150.0, "--request-timeout", help="Seconds from a request's arrival; samples not judged by then score 0 as infra errors."
    ),
    max_body: int = typer.Option(16 << 20, "--max-body-bytes", help="Larger request bodies get HTTP 413."),
    body_timeout: float = typer.Option(30.0, "--body-timeout", help="Seconds to receive a request body (else HTTP 408)."),
    cache_size: int = typer.Option(1024, "--cache-size", help="Inline problems kept compiled (LRU)."),
) -> None:
    """Serve rewards over HTTP in OpenRLHF's remote-reward protocol (POST /get_reward)."""
    import os

    from tdrl.serve.reward_server import serve

    os.environ.update(
        TDRL_SANDBOX=sandbox,
        TDRL_TIMEOUT=str(timeout),
        TDRL_MAX_SAMPLE=str(max_sample_time),
        **({"TDRL_WORKERS": str(workers)} if workers else {}),
    )
    with _user_errors(FileNotFoundError, OSError):
        serve(
            host,
            port,
            problems,
            kind,
            max_concurrency=max_concurrency,
            request_timeout=request_timeout,
            max_body=max_body,
            body_timeout=body_timeout,
            allow_inline=allow_inline,
            cache_size=cache_size,
        )


@app.command("export-openrlhf")
def export_openrlhf_cmd(
    problems: Path = typer.Option(..., "--problems", help="Problems JSONL."),
    out: Path = typer.Option(..., "--out", help="JSONL for OpenRLHF (--data.prompt_dataset)."),
    fmt: str = typer.Option("instruct", "--format", help="instruct (chat messages) | completion (plain text)."),
    labels: str = typer.Option("problem", "--labels", help="problem (self-contained JSON) | id (needs TDRL_PROBLEMS)."),
) -> None:
    """Write problems as OpenRLHF prompt JSONL (prompt + label, scored by tdrl.serve.openrlhf or serve-reward)."""
    from tdrl.serve.export import export_openrlhf

    with _user_errors(FileNotFoundError):
        n = export_openrlhf(problems, out, fmt, labels)
    typer.echo(f"{n} rows -> {out}")


@app.command("export-verl")
def export_verl_cmd(
    problems: Path = typer.Option(..., "--problems", help="Problems JSONL."),
    out: Path = typer.Option(..., "--out", help="Parquet file for verl (data.train_files)."),
    fmt: str = typer.Option("instruct", "--format", help="instruct | completion."),
    data_source: str = typer.Option("tdrl", "--data-source"),
    split: str = typer.Option("train", "--split"),
) -> None:
    """Write problems as verl RL parquet (ground truth = the problem, scored by tdrl.serve.verl)."""
    from tdrl.serve.export import export_verl

    with _user_errors(FileNotFoundError):
        n = export_verl(problems, out, fmt, data_source, split)
    typer.echo(f"{n} rows -> {out}")


@app.command()
def iterate(
    config: Path | None = _config_option("Iteration YAML (IterateConfig fields)."),
    overrides: list[str] = _set_option(),
    progress: bool = _progress_option("Show progress and training logs."),
) -> None:
    """Iterative self-training: sample, verify, mine hard negatives, retrain the reranker, RL against it; per round."""
    from tdrl.training.iterate import format_rounds, load_iterate_config, run_iterate

    cfg, summary = _recipe(load_iterate_config, run_iterate, config, overrides, progress)
    typer.echo(format_rounds(summary["rounds"]))
    typer.echo(f"summary: {cfg.out_dir}/summary.json, plot: {cfg.out_dir}/rounds.png")


@app.command()
def srl(
    trajectories: Path | None = typer.Option(
        None, "--trajectories", help="Trajectories JSONL (id, problem, steps[, kind, meta]); or `trajectories:` in --config."
    ),
    config: Path | None = _config_option("Settings YAML (SRLConfig fields; `rl:` holds GRPO's)."),
    overrides: list[str] = _set_option(),
    model: str | None = typer.Option(None, "--model", help="Policy: HF id or path, or 'embedded' (default: embedded)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: srl-run)."),
    rounds: int | None = typer.Option(None, "--rounds", help="Dynamic-sampling rounds (re-filter, then GRPO; default 2)."),
    steps_per_round: int | None = typer.Option(None, "--steps-per-round", help="Default: 10."),
    rollouts: int | None = typer.Option(None, "--rollouts", help="Rollouts per prompt (GRPO group size; default 4)."),
    epsilon: float | None = typer.Option(
        None, "--epsilon", help="Drop prompts whose reward std is at most this (default: 0.0001)."
    ),
    autojunk: bool | None = typer.Option(
        None, "--autojunk/--no-autojunk", help="SequenceMatcher's autojunk heuristic (default: no-autojunk)."
    ),
    think: bool | None = typer.Option(
        None,
        "--think/--no-think",
        help="Ask for a <think> monologue before the step (--no-think: the first line is the step; default: think).",
    ),
    prompt_format: str | None = typer.Option(None, "--format", help="completion | instruct (default: completion)."),
    lr: float | None = typer.Option(None, "--lr", help="Default: 0.0005."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Most tokens per rollout (default: 64)."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Completions per step (a multiple of --rollouts; default 16)."
    ),
    then_rl_steps: int | None = typer.Option(
        None, "--then-rl-steps", help="RLVR steps on whole problems after SRL, math (default: 0)."
    ),
    progress: bool = _progress_option(None),
) -> None:
    """Supervised RL: step-wise similarity rewards from expert trajectories on GRPO, then optional RLVR.

    Settings come from --config and --set (SRLConfig fields); the options below, when given, override them.
    `tdrl trajectories` writes built-in trajectory sets or turns solutions into step trajectories.
    """
    from tdrl.training.srl import load_config, train_srl

    flags: dict[str, Any] = {
        "trajectories": None if trajectories is None else str(trajectories),
        "model": model,
        "out_dir": None if out is None else str(out),
        "rounds": rounds,
        "steps_per_round": steps_per_round,
        "rollouts": rollouts,
        "epsilon": epsilon,
        "autojunk": autojunk,
        "think": think,
        "prompt_format": prompt_format,
        "then_rl_steps": then_rl_steps,
        "rl.learning_rate": lr,
        "rl.max_completion_length": max_tokens,
        "rl.batch_size": batch_size,
    }
    with _user_errors(FileNotFoundError):
        cfg = load_config(config, list(overrides), {k: v for k, v in flags.items() if v is not None})
        summary = train_srl(cfg, progress=progress)
    for r in summary["rounds"]:
        typer.echo(
            f"round {r['round']}: mean step reward {r['mean_step_reward']:.3f}, {r['filtered']} prompts filtered, {r['kept']} kept"
        )
    typer.echo(f"after SRL: mean step reward {summary['final_mean_step_reward']:.3f}")
    if "rlvr" in summary:
        typer.echo(f"RLVR: answer reward {summary['rlvr']['first_reward']} -> {summary['rlvr']['last_reward']}")
    typer.echo(f"policy: {summary['policy']}; summary: {cfg.out_dir}/srl_summary.json")


@app.command()
def trajectories(
    out: Path = typer.Option(..., "--out", help="Trajectories JSONL for `tdrl srl --trajectories`."),
    builtin: str | None = typer.Option(None, "--builtin", help="arithmetic (math, with answers) | shell (agent commands)."),
    n: int = typer.Option(20, "-n", help="--builtin: trajectories to generate."),
    seed: int = typer.Option(0, "--seed", help="--builtin: random seed."),
    problems: Path | None = typer.Option(
        None, "--problems", help="Problems JSONL: their `reference` solutions become code trajectories (a line per step)."
    ),
    samples: Path | None = typer.Option(None, "--samples", help="With --problems: use passing samples instead of references."),
    results: Path | None = typer.Option(
        None, "--results", help="With --samples: their `tdrl verify` results (default: verify here)."
    ),
    skip_unknown: bool = _skip_unknown_option(),
) -> None:
    """Write trajectories for `tdrl srl`: a built-in set, or solutions split into steps (one per line of code)."""
    from tdrl.io import write_jsonl
    from tdrl.rewards.srl import BUILTIN, solution_trajectories

    if (builtin is None) == (problems is None):
        _fail("give exactly one of --builtin NAME or --problems PATH")
    with _user_errors(FileNotFoundError):
        if builtin is not None:
            if builtin not in BUILTIN:
                _fail(f"--builtin {builtin!r}: one of {', '.join(BUILTIN)}")
            trajs = BUILTIN[builtin](n, seed)
        else:
            trajs = solution_trajectories(problems, samples, results, skip_unknown)
    count = write_jsonl(
        out, [{"id": t.id, "problem": t.problem, "steps": t.steps, "kind": t.kind, "meta": t.meta} for t in trajs]
    )
    steps = sum(len(t.steps) for t in trajs)
    typer.echo(f"{count} trajectories, {steps} steps ({steps - count} SRL instances) -> {out}")


envs_app = typer.Typer(help="Environments for generalisation studies: GeneralPoints and text navigation.", no_args_is_help=True)
app.add_typer(envs_app, name="envs")

_ENV_HELP = "points (GeneralPoints, the 24 game) | navigation (route following)."
_OPTIONS_HELP = "Environment option key=value (verify_iter, target, legs, size, out_of_attempts); repeatable."


def _env_options(items: list[str]) -> dict:
    """``key=value`` pairs; values are read as JSON (numbers, booleans) or else kept as text."""
    import json

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(f"--option {item!r}: expected key=value")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


@envs_app.command("tasks")
def envs_tasks(
    env: str = typer.Option("points", "--env", help=_ENV_HELP),
    out: Path = typer.Option(..., "--out", help="Output JSONL."),
    n: int = typer.Option(100, "-n", help="Tasks (navigation: routes; every step is a task)."),
    split: str = typer.Option("id", "--split", help="id (J/Q/K = 10; absolute turns) | ood (J/Q/K = 11/12/13; relative turns)."),
    seed: int = typer.Option(0, "--seed"),
    expert: bool = typer.Option(False, "--expert", help="Write SFT rows (prompt, completion = the expert's answer) instead."),
    option: list[str] = typer.Option([], "--option", help=_OPTIONS_HELP),
) -> None:
    """Write generated tasks (id, env, split, prompt, info) or expert SFT rows as JSONL."""
    from tdrl.envs.run import write_tasks

    with _user_errors():
        count = write_tasks(env, n, split, out, seed, expert, **_env_options(option))
    typer.echo(f"wrote {count} {'SFT rows' if expert else 'tasks'} to {out}")


@envs_app.command("eval")
def envs_eval(
    env: str = typer.Option("points", "--env", help=_ENV_HELP),
    model: str = typer.Option("embedded", "--model", help="HF id or path, or 'embedded'."),
    out: Path = typer.Option(Path("envs-eval"), "--out", help="Folder for episodes.jsonl (resumable) and report.json."),
    n: int = typer.Option(50, "-n", help="Tasks per split (navigation: routes)."),
    splits: str = typer.Option("id,ood", "--splits", help="Comma-separated splits."),
    seed: int = typer.Option(1, "--seed", help="Task seed (studies train on seed 0)."),
    tasks: Path | None = typer.Option(None, "--tasks", help="Play the tasks of this JSONL (tdrl envs tasks) instead."),
    max_tokens: int = typer.Option(128, "--max-tokens", help="Most tokens per answer."),
    batch_size: int = typer.Option(16, "--batch-size"),
    backend: str = typer.Option("hf", "--backend", help="hf (local transformers model) | openai (an OpenAI-compatible server)."),
    base_url: str | None = typer.Option(None, "--base-url", help="Server URL for --backend openai."),
    concurrency: int = typer.Option(8, "--concurrency", help="Conversations at once with --backend openai."),
    option: list[str] = typer.Option([], "--option", help=_OPTIONS_HELP),
    progress: bool = _progress_option(None),
) -> None:
    """Greedy success rates in- and out-of-distribution, with multi-turn verifier feedback."""
    if backend not in ("hf", "openai"):
        _fail(f"--backend {backend!r}: hf or openai")
    if backend == "hf":
        from tdrl.llm.embedded import check_model

        with _user_errors():
            check_model(model)
    from tdrl.envs.run import run_eval

    with _user_errors(FileNotFoundError):
        report = run_eval(
            env,
            model,
            out,
            n=n,
            splits=tuple(s.strip() for s in splits.split(",") if s.strip()),
            seed=seed,
            max_new_tokens=max_tokens,
            batch_size=batch_size,
            progress=progress,
            tasks_file=tasks,
            backend=backend,
            base_url=base_url,
            concurrency=concurrency,
            **_env_options(option),
        )
    for split, r in report["splits"].items():
        extra = f", routes {r['route_success']:.1%} of {r['routes']}" if "route_success" in r else ""
        typer.echo(
            f"{split:>4}: success {r['success']:.1%} (first try {r['first_try']:.1%}), "
            f"mean return {r['mean_return']:.2f} over {r['episodes']} episodes{extra}"
        )
    typer.echo(f"report: {out}/report.json")


@envs_app.command("study")
def envs_study(
    config: Path | None = _config_option("Study YAML (see examples/study_*.yaml)."),
    set_: list[str] = _set_option(),
    seeds: str | None = typer.Option(
        None, "--seeds", help="Run one study per seed (0,1,2 or 0-4) in OUT/seed<N>; report means with 95% intervals."
    ),
    progress: bool = _progress_option(None),
) -> None:
    """SFT and RL (multi-turn GRPO) from the same start; success ID vs OOD over training, plotted."""
    from tdrl.envs.study import load_config, run_study

    if seeds is not None:
        from tdrl.envs.seeds import parse_seeds, run_seeds

        with _user_errors(FileNotFoundError):
            cfg = load_config(config, set_)
            report = run_seeds(cfg, parse_seeds(seeds), progress=progress, say=typer.echo)
        typer.echo((Path(cfg.out_dir) / "report.md").read_text())
        typer.echo(f"report: {cfg.out_dir}/report.md, plot: {cfg.out_dir}/seeds.png ({len(report['seeds'])} seeds)")
        return
    cfg, summary = _recipe(load_config, run_study, config, set_, progress)
    typer.echo(f"{'':>6} {'ID':>8} {'OOD':>8}")
    for branch, row in summary["final"].items():
        typer.echo(f"{branch:>6} " + " ".join(f"{row[s]['success']:>8.1%}" if row.get(s) else f"{'-':>8}" for s in ("id", "ood")))
    typer.echo(f"curves: {cfg.out_dir}/curves.jsonl, plot: {cfg.out_dir}/study.png")


study_app = typer.Typer(
    help="End-to-end studies: what the stages achieve together, measured with intervals.", no_args_is_help=True
)
app.add_typer(study_app, name="study")


@study_app.command("code")
def study_code(
    config: Path | None = _config_option("Study YAML (see examples/study_code.yaml)."),
    set_: list[str] = _set_option(),
    progress: bool = _progress_option(None),
) -> None:
    """Seeds -> synthesized tests -> held-out pass@k -> GRPO (LoRA) -> held-out pass@k -> best-of-N; resumable."""
    from tdrl.study.code import format_summary, load_config, run_study

    cfg, report = _recipe(load_config, run_study, config, set_, progress, say=typer.echo)
    typer.echo(format_summary(report))
    typer.echo(f"report: {cfg.out_dir}/report.json, plots: {cfg.out_dir}/plots, policy: {cfg.out_dir}/final")


@app.command()
def demo(
    out_dir: Path | None = typer.Option(None, "--out-dir", help="Where to write the demo's files (default: a temp dir)."),
    workers: int | None = _workers_option(),
    sandbox: str = _sandbox_option(),
    model: str = typer.Option("embedded", "--model", help="Model to sample from ('embedded', an HF id or path, or 'none')."),
    n: int = typer.Option(4, "-n", help="Programs sampled per held-out problem in the short code study."),
    rl_steps: int = typer.Option(2, "--rl-steps", help="GRPO steps (8 completions each) of the short code study."),
    study_problems: int = typer.Option(8, "--study-problems", help="Train and held-out problems of the short study (0: none)."),
    env_tasks: int = typer.Option(4, "--env-tasks", help="GeneralPoints deals per split in the environment part (0: none)."),
) -> None:
    """Run the pipeline on bundled data: verify correct, wrong and hostile samples, a short code study, the environments."""
    from tdrl.demo import run_demo

    if model != "none":
        from tdrl.llm.embedded import check_model

        with _user_errors():
            check_model(model)
    run_demo(
        str(out_dir) if out_dir else None,
        workers=workers,
        sandbox=sandbox,
        model=None if model == "none" else model,
        samples_per_problem=n,
        rl_steps=rl_steps,
        env_tasks=env_tasks,
        study_problems=study_problems,
    )


if __name__ == "__main__":
    app()
