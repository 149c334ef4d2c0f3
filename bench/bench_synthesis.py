"""Throughput of ``tdrl synth --method reference`` on MBPP-sized problems, against EvalPlus.

Problems: the 8 MBPP-style functions of ``bench_evalplus_harness.py`` copied ``--copies``
times under new ids, each with 3 seed call tests; target ``--tests`` tests per problem.

Baseline: EvalPlus's type-aware mutator (``evalplus.gen.type_mut.TypedMutGen``) generating
the same number of inputs per problem from the same seeds, validated and answered by the
reference *in this process* (EvalPlus's ``trusted_check_exec`` plus a call per input):
no sandbox, no mutants. tdrl does more per problem (sandboxed reference, a determinism
rerun, mutant runs to choose discriminating tests); the script prints both rates and the
ratio, and the mutation score tdrl's tests reach.

    python bench/bench_synthesis.py [--copies 5] [--tests 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_evalplus_harness import PROBLEMS, make_inputs, trusted_outputs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--tests", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mutants", type=int, default=16, help="mutants per problem (0: choose tests by output diversity only)")
    args = ap.parse_args()

    from evalplus.gen.type_mut import TypedMutGen

    from tdrl.io import write_jsonl
    from tdrl.records import Problem, Test
    from tdrl.synthesis.reference import SynthConfig
    from tdrl.synthesis.run import synth_files

    problems, jobs = [], []
    for c in range(args.copies):
        for k, (name, (ref, _, gen)) in enumerate(PROBLEMS.items()):
            seeds = make_inputs(gen, 3, seed=100 * c + k)
            outs, _ = trusted_outputs(ref, name, seeds)
            problems.append(
                Problem(
                    f"{name}-{c}",
                    [Test("call", input=repr(s), output=repr(o)) for s, o in zip(seeds, outs)],
                    entry_point=name,
                    reference=ref,
                )
            )
            jobs.append((name, ref, seeds))

    random.seed(0)
    t0 = time.perf_counter()
    base_tests = 0
    for name, ref, seeds in jobs:
        inputs = TypedMutGen([list(s) for s in seeds], name, ref).generate(args.tests)
        outs, _ = trusted_outputs(ref, name, inputs)
        base_tests += len(outs)
    base_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "p.jsonl", Path(tmp) / "out.jsonl"
        write_jsonl(src, problems)
        cfg = SynthConfig(tests_per_problem=args.tests, mutants=args.mutants)
        summary = synth_files(src, out, cfg, workers=args.workers, report_dir=Path(tmp) / "report", progress=False)
        import json

        quality = json.loads((Path(tmp) / "report" / "quality.json").read_text())["overall"]
    n = len(problems)
    print(f"{n} problems, {args.tests} tests each")
    print(
        f"EvalPlus TypedMutGen + in-process reference (no sandbox): {base_s:.2f}s = {n / base_s:.1f} problems/s ({base_tests} tests)"
    )
    print(
        f"tdrl synth --method reference (sandbox, {args.mutants} mutants): {summary.seconds:.2f}s = {n / summary.seconds:.1f} problems/s "
        f"({summary.tests} tests, {summary.kept} kept, dropped {summary.dropped})"
    )
    print(
        f"tdrl mutation score: {quality['mean_mutation_score']} mean over problems, {quality['killed']:.0f}/{quality['killable']} killable mutants"
    )
    print(f"ratio tdrl/baseline: {base_s / summary.seconds:.2f}x (target: >= 20 problems/s for tdrl)")


if __name__ == "__main__":
    main()
