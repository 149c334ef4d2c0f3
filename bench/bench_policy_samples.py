"""tdrl's time-limit policies vs EvalPlus's harness on policy-like samples (100+ call tests each).

Workload (built once, cached in bench/out/):

* problems: HumanEval with inputs grown by ``tdrl synth --method reference`` (call tests
  only, problems with at least ``--min-tests``), plus the MBPP-style families of
  ``bench/mbpp_style.py`` (self-built); every problem carries ``meta.time_limits``;
* samples per problem: two correct (the reference, and a second implementation or the
  reformatted reference), three wrong (one-edit mutants of the reference: some of them
  loop or crash on their own), and for ``--loop-share`` of the problems one injected
  looping/slow sample: ``while True`` (all tests), a loop on some inputs, exponential
  recursion, a slow path on large inputs.

Harnesses, on the same problems, samples, expected outputs and reference times:

* tdrl ``Verifier`` under each ``--after-timeout`` policy (``exact`` is the old behaviour),
  and a per-sample wall budget scaled to the reference (``budget``: exact, with the whole
  sample capped at ``min_timeout + factor x reference time``);
* EvalPlus 0.3.1 ``untrusted_check`` on a process pool of ``--workers``, as its
  ``evaluate`` submits it (its own per-test limits ``max(min_timeout, 4 x reference)`` and
  per-task cap), with no special oracles (same verdict rule: every test passes);
* a bare fork-per-sample loop with no sandbox on the samples without a timeout (the
  physical limit of this machine), and tdrl's clean-sample throughput with this tree and
  with ``--baseline-src`` (today's tree) in fresh processes.

    python bench/bench_policy_samples.py [--workers 2] [--min-timeout 1.0] [--problems 0]
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import pickle
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SRC = HERE.parent / "src"

# ---------------------------------------------------------------- the workload


def _inject(code: str, entry: str, kind: str) -> str | None:
    """The program with a loop or slow path put at the top of ``entry``'s body."""
    tree = ast.parse(code)
    fn = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == entry), None)
    if fn is None or not fn.args.args:
        return None
    arg = fn.args.args[0].arg
    stmt = {
        "loop_all": "while True:\n    pass",
        "loop_some": f"if len(repr({arg})) % 3 == 0:\n    while True:\n        pass",
        "exp_recursion": f"def _count(n):\n    return 1 if n < 2 else _count(n - 1) + _count(n - 2)\n_count(31 + len(repr({arg})) % 4)",
        "slow_path": f"if len(repr({arg})) > 12:\n    sum(range(10 ** 9))",
    }[kind]
    at = 1 if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant) else 0
    fn.body[at:at] = ast.parse(stmt).body
    return ast.unparse(ast.fix_missing_locations(tree))


def _humaneval_problems(min_tests: int, tests: int) -> list[dict]:
    path = OUT / "humaneval_synth.jsonl"
    if not path.exists():
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        cli = [sys.executable, "-m", "tdrl.cli"]
        he = OUT / "humaneval.jsonl"
        data = Path("/work/shared/data/HumanEval.jsonl.gz")
        subprocess.run([*cli, "convert", str(data), "--from", "humaneval", "--out", str(he)], check=True, env=env)
        subprocess.run(
            [
                *cli,
                "synth",
                "--problems",
                str(he),
                "--out",
                str(path),
                "--method",
                "reference",
                "--tests-per-problem",
                str(tests + 10),
            ]
            + ["--min-tests", str(min_tests), "--candidates", "400", "--no-progress"],
            check=True,
            env=env,
        )
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        calls = [t for t in d["tests"] if t["type"] == "call"]
        if len(calls) >= min_tests:
            out.append(
                {
                    "id": d["id"],
                    "prompt": d["prompt"],
                    "entry_point": d["entry_point"],
                    "reference": d["reference"],
                    "tests": calls[:tests],
                }
            )
    return out


def build_workload(tests: int, min_tests: int, loop_share: float, seed: int) -> tuple[Path, Path]:
    """Problems (with ``meta.time_limits``) and samples JSONL under bench/out, reused when present."""
    sys.path.insert(0, str(HERE))
    import mbpp_style

    from tdrl.execution import Verifier
    from tdrl.execution.calibration import CalibrationCache, annotate_problems
    from tdrl.io import write_jsonl
    from tdrl.records import Problem, Sample
    from tdrl.synthesis.mutants import make_mutants

    rows = _humaneval_problems(min_tests, tests)
    tag = f"he{len(rows)}-t{tests}-m{min_tests}-l{loop_share}-s{seed}"
    problems_path, samples_path = OUT / f"policy_problems-{tag}.jsonl", OUT / f"policy_samples-{tag}.jsonl"
    if problems_path.exists() and samples_path.exists():
        return problems_path, samples_path
    alternatives: dict[str, str] = {}
    for p in mbpp_style.problems(tests, seed):
        ns: dict = {}
        exec(p["reference"], ns)  # trusted: written for this benchmark
        fn = ns[p["entry_point"]]
        calls = [{"type": "call", "input": repr(a), "output": repr(fn(*a))} for a in p["inputs"]]
        rows.append({"id": p["id"], "entry_point": p["entry_point"], "reference": p["reference"], "tests": calls})
        alternatives[p["id"]] = p["alternative"]
    problems = [Problem.from_dict(d) for d in rows]
    with Verifier() as verifier:
        annotate_problems(problems, verifier, CalibrationCache(OUT / "cache" / "calibration"))
    rng = random.Random(seed)
    kinds = ["loop_all", "loop_some", "exp_recursion", "slow_path", "loop_some"]
    samples: list[Sample] = []
    n_loops = 0
    for i, p in enumerate(problems):
        ref = p.reference or ""
        second = alternatives.get(p.id) or ast.unparse(ast.parse(ref))
        samples += [Sample(p.id, "correct-0", ref, {"kind": "correct"}), Sample(p.id, "correct-1", second, {"kind": "correct"})]
        mutants = make_mutants(ref, limit=20, seed=seed + i)
        for j, m in enumerate(rng.sample(mutants, min(3, len(mutants)))):
            samples.append(Sample(p.id, f"wrong-{j}", m, {"kind": "wrong"}))
        if rng.random() < loop_share:
            kind = kinds[n_loops % len(kinds)]
            code = _inject(ref, p.entry_point or "", kind)
            if code:
                samples.append(Sample(p.id, f"{kind}-0", code, {"kind": kind}))
                n_loops += 1
    write_jsonl(problems_path, problems)
    write_jsonl(samples_path, samples)
    return problems_path, samples_path


# ---------------------------------------------------------------- harnesses


def run_tdrl(problems, samples, workers: int, min_timeout: float, policy: str) -> dict:
    """tdrl's Verifier under one policy: per-sample (passed, ms, pass_rate, statuses) and the wall time."""
    from tdrl.execution import TimePolicy, Verifier
    from tdrl.execution.calibration import calibrate_all

    after = "exact" if policy == "budget" else policy
    with Verifier(workers=workers, time_policy=TimePolicy(min_timeout=min_timeout, after_timeout=after)) as v:
        calibrate_all(list(problems.values()), v)  # from meta.time_limits: no reference runs
        if policy == "budget":
            for p in problems.values():
                plan = v.plan(p)
                plan.max_sample = min_timeout + 4.0 * sum(ms or 0.0 for ms in plan.reference_ms) / 1000
        warm = next(iter(problems.values()))
        list(v.map(problems, [s for s in samples if s.problem_id == warm.id][: 2 * workers]))
        t0 = time.perf_counter()
        results = list(v.map(problems, samples))
        wall = time.perf_counter() - t0
    per = {
        (r.problem_id, r.sample_id): (r.status == "pass", r.time_ms, r.pass_rate, [t.status for t in r.tests]) for r in results
    }
    return {"wall": wall, "per": per}


def _evalplus_one(job):
    from evalplus.eval import untrusted_check

    key, code, inputs, entry, expected, ref_time, min_timeout = job
    t0 = time.perf_counter()
    stat, _ = untrusted_check("tdrl-bench", code, inputs, entry, expected, 0.0, ref_time, False, min_timeout, 4.0)
    return key, stat == "pass", (time.perf_counter() - t0) * 1000, stat


def _evalplus_jobs(problems, samples, min_timeout):
    cache = {}
    for p in problems.values():
        inputs = [ast.literal_eval(t.input) for t in p.tests]
        expected = [ast.literal_eval(t.output) for t in p.tests]
        ref_time = [(ms or 0.0) / 1000 for ms in p.meta["time_limits"]["reference_ms"]]
        cache[p.id] = (inputs, p.entry_point, expected, ref_time)
    return [(s.key, s.completion, *cache[s.problem_id], min_timeout) for s in samples]


def run_evalplus(problems, samples, workers: int, min_timeout: float) -> dict:
    jobs = _evalplus_jobs(problems, samples, min_timeout)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        out = list(pool.map(_evalplus_one, jobs, chunksize=1))
    wall = time.perf_counter() - t0
    return {"wall": wall, "per": {k: (ok, ms, None, stat) for k, ok, ms, stat in out}}


def _bare_child(code, entry, inputs, expected) -> bool:
    ns: dict = {}
    exec(code, ns)
    fn = ns[entry]
    ok = True
    for inp, exp in zip(inputs, expected):
        try:
            got = fn(*eval(inp))
            same = got == exp or (type(got) is float and type(exp) is float and math.isclose(got, exp, abs_tol=1e-6))
        except Exception:
            same = False
        ok = ok and same
    return ok


def run_bare_fork(problems, samples, workers: int) -> dict:
    """No sandbox: ``workers`` processes, each forking one child per sample that runs all tests in-process."""
    prepared = {
        p.id: (
            [compile(t.input, "<input>", "eval") for t in p.tests],
            [ast.literal_eval(t.output) for t in p.tests],
            p.entry_point,
        )
        for p in problems.values()
    }
    chunks = [samples[i::workers] for i in range(workers)]
    t0 = time.perf_counter()
    procs = []
    for chunk in chunks:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            out = []
            for s in chunk:
                inputs, expected, entry = prepared[s.problem_id]
                t = time.perf_counter()
                cr, cw = os.pipe()
                child = os.fork()
                if child == 0:
                    os.close(cr)
                    try:
                        ok = _bare_child(s.completion, entry, inputs, expected)
                    except BaseException:
                        ok = False
                    os.write(cw, b"1" if ok else b"0")
                    os._exit(0)
                os.close(cw)
                verdict = os.read(cr, 1) == b"1"
                os.close(cr)
                os.waitpid(child, 0)
                out.append((s.key, verdict, (time.perf_counter() - t) * 1000))
            data = pickle.dumps(out)
            view = memoryview(data)
            while view:
                view = view[os.write(w, view) :]
            os._exit(0)
        os.close(w)
        procs.append((pid, r))
    per = {}
    for pid, r in procs:
        chunks_in = []
        while True:
            b = os.read(r, 1 << 20)
            if not b:
                break
            chunks_in.append(b)
        os.close(r)
        os.waitpid(pid, 0)
        for key, ok, ms in pickle.loads(b"".join(chunks_in)):
            per[key] = (ok, ms, None, None)
    return {"wall": time.perf_counter() - t0, "per": per}


def clean_run(problems_path: str, samples_path: str, keys_path: str, workers: int, min_timeout: float) -> None:
    """In a fresh process (this tree or --baseline-src): tdrl on the clean samples; prints the wall time."""
    from tdrl.execution import TimePolicy, Verifier
    from tdrl.io import read_problems, read_samples

    problems = {p.id: p for p in read_problems(problems_path)}
    keys = {tuple(k) for k in json.loads(Path(keys_path).read_text())}
    samples = [s for s in read_samples(samples_path, set(problems)) if s.key in keys]
    with Verifier(workers=workers, time_policy=TimePolicy(min_timeout=min_timeout)) as v:
        for pid in sorted({s.problem_id for s in samples}):
            v.calibrate(problems[pid])  # today's tree reruns the references; not timed
        list(v.map(problems, samples[: 4 * workers]))
        t0 = time.perf_counter()
        results = list(v.map(problems, samples))
        wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "passed": sum(r.status == "pass" for r in results), "n": len(results)}))


# ---------------------------------------------------------------- report


def _pct(xs: list[float]) -> tuple[float, float, float]:
    xs = sorted(xs)
    return xs[math.ceil(0.5 * len(xs)) - 1], xs[math.ceil(0.95 * len(xs)) - 1], xs[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tests", type=int, default=110, help="call tests per problem (at most)")
    ap.add_argument("--min-tests", type=int, default=100)
    ap.add_argument("--loop-share", type=float, default=0.4, help="share of problems with one injected looping/slow sample")
    ap.add_argument("--problems", type=int, default=0, help="use the first N problems of the workload (0: all)")
    ap.add_argument("--min-timeout", type=float, default=1.0, help="floor of per-test limits, both harnesses (EvalPlus: 1 s)")
    ap.add_argument("--policies", default="stop,shared,exact,budget")
    ap.add_argument("--skip-evalplus", action="store_true")
    ap.add_argument(
        "--baseline-src", default="/work/main/src", help="today's tree for the clean-throughput baseline ('' to skip)"
    )
    ap.add_argument("--repeats", type=int, default=2, help="clean-throughput runs per tree, alternating")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clean-run", nargs=3, metavar=("PROBLEMS", "SAMPLES", "KEYS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.clean_run:
        clean_run(*args.clean_run, args.workers, args.min_timeout)
        return

    from tdrl.io import read_problems, read_samples

    OUT.mkdir(exist_ok=True)
    problems_path, samples_path = build_workload(args.tests, args.min_tests, args.loop_share, args.seed)
    problems = {p.id: p for p in read_problems(problems_path)}
    samples = list(read_samples(samples_path, set(problems)))
    if args.problems:  # spread over both sources
        keep = list(problems)[:: max(1, len(problems) // args.problems)][: args.problems]
        problems = {pid: problems[pid] for pid in keep}
        samples = [s for s in samples if s.problem_id in problems]
    kind = {s.key: s.extra["kind"] for s in samples}
    n_tests = [len(p.tests) for p in problems.values()]
    n_loop = sum(k not in ("correct", "wrong") for k in kind.values())
    print(
        f"workload: {len(problems)} problems ({sum(p.id.startswith('HumanEval') for p in problems.values())} HumanEval+synth, "
        f"the rest MBPP-style self-built), {min(n_tests)}-{max(n_tests)} call tests each; {len(samples)} samples: "
        f"{sum(k == 'correct' for k in kind.values())} correct, {sum(k == 'wrong' for k in kind.values())} mutants, "
        f"{n_loop} injected loops/slow ({100 * n_loop / len(samples):.1f}%); workers {args.workers}, min per-test limit {args.min_timeout}s"
    )

    runs: dict[str, dict] = {}
    for policy in args.policies.split(","):
        runs[f"tdrl {policy}"] = run_tdrl(problems, samples, args.workers, args.min_timeout, policy)
        print(f"  tdrl {policy}: {runs[f'tdrl {policy}']['wall']:.1f}s", flush=True)
    if not args.skip_evalplus:
        runs["EvalPlus untrusted_check"] = run_evalplus(problems, samples, args.workers, args.min_timeout)
        print(f"  EvalPlus: {runs['EvalPlus untrusted_check']['wall']:.1f}s", flush=True)

    ref_run = runs.get("tdrl exact") or next(iter(runs.values()))
    clean = [s for s in samples if kind[s.key] in ("correct", "wrong") and "timeout" not in (ref_run["per"][s.key][3] or [])]
    clean = [
        s for s in clean if runs.get("EvalPlus untrusted_check", {}).get("per", {}).get(s.key, (0, 0, 0, "x"))[3] != "timeout"
    ]
    runs["bare fork loop (clean only)"] = run_bare_fork(problems, clean, args.workers)

    base = runs.get("EvalPlus untrusted_check")
    print(
        f"\n{'harness':34s} {'wall s':>8s} {'samples/s':>10s} {'vs EvalPlus':>11s} {'p50 ms':>8s} {'p95 ms':>9s} {'max ms':>9s} {'agree':>10s}"
    )
    for name, run in runs.items():
        lat = [v[1] for v in run["per"].values()]
        p50, p95, mx = _pct(lat)
        n = len(run["per"])
        agree = ""
        if base and name != "bare fork loop (clean only)" and name in runs:
            same = sum(base["per"][k][0] == v[0] for k, v in run["per"].items())
            agree = f"{same}/{n}"
        ratio = f"{base['wall'] / run['wall']:.1f}x" if base and not name.startswith("bare") else ""
        print(f"{name:34s} {run['wall']:8.1f} {n / run['wall']:10.1f} {ratio:>11s} {p50:8.1f} {p95:9.1f} {mx:9.1f} {agree:>10s}")

    print("\np95 target: p95 < 2 x median correct-sample latency + the per-test limit (floor)")
    for name, run in runs.items():
        if name.startswith("bare"):
            continue
        correct = [v[1] for k, v in run["per"].items() if kind[k] == "correct" and v[0]]
        med = statistics.median(correct) if correct else float("nan")
        p95 = _pct([v[1] for v in run["per"].values()])[1]
        limit = 1000 * args.min_timeout
        print(
            f"  {name:32s} p95 {p95:9.1f} ms vs {2 * med + limit:8.1f} ms (median correct {med:.1f} ms): {'met' if p95 < 2 * med + limit else 'NOT met'}"
        )

    if "tdrl exact" in runs:
        exact = runs["tdrl exact"]["per"]
        print("\npass rates against the exact policy (fairness between samples of a group)")
        for name, run in runs.items():
            if not name.startswith("tdrl") or name == "tdrl exact":
                continue
            no_to = [k for k, v in exact.items() if "timeout" not in v[3]]
            changed = sum(run["per"][k][2] != exact[k][2] for k in no_to)
            timed = [k for k, v in exact.items() if "timeout" in v[3]]
            gap = statistics.mean(exact[k][2] - run["per"][k][2] for k in timed) if timed else 0.0
            same = sum(run["per"][k][2] == exact[k][2] for k in timed)
            verdicts = sum(run["per"][k][0] != exact[k][0] for k in exact)
            print(
                f"  {name:20s} samples without a timeout: {changed} of {len(no_to)} pass rates changed; with a timeout "
                f"({len(timed)}): {same} unchanged, mean pass-rate gap {gap:.3f}; verdicts differing from exact: {verdicts}"
            )
    if base:
        print("\nall-pass verdicts differing from EvalPlus:")
        for name, run in runs.items():
            if name.startswith("bare") or run is base:
                continue
            diff = [k for k, v in run["per"].items() if v[0] != base["per"][k][0]]
            for k in diff[:20]:
                st = run["per"][k][3] or []
                print(
                    f"  {name}: {k[0]} {k[1]} ({kind[k]}): tdrl {'pass' if run['per'][k][0] else 'fail'} "
                    f"[{', '.join(f'{s} {st.count(s)}' for s in sorted(set(st)))}], EvalPlus {base['per'][k][3]}"
                )
            if len(diff) > 20:
                print(f"  {name}: ... {len(diff) - 20} more")

    keys_path = OUT / "clean_keys.json"
    keys_path.write_text(json.dumps([list(s.key) for s in clean]))
    bare = runs["bare fork loop (clean only)"]
    print(f"\nclean samples ({len(clean)}: no timeout in any harness): bare fork loop {len(clean) / bare['wall']:.1f} samples/s")
    trees = [("this tree", str(SRC))] + ([("today's tree", args.baseline_src)] if args.baseline_src else [])
    walls: dict[str, list[float]] = {t: [] for t, _ in trees}
    for _ in range(args.repeats):
        for label, src in trees:
            cmd = [sys.executable, __file__, "--workers", str(args.workers), "--min-timeout", str(args.min_timeout)]
            cmd += ["--clean-run", str(problems_path), str(samples_path), str(keys_path)]
            done = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": src}, capture_output=True, text=True, check=True)
            walls[label].append(json.loads(done.stdout.strip().splitlines()[-1])["wall"])
    for label, w in walls.items():
        rate = len(clean) / min(w)
        print(
            f"  tdrl {label:13s}: {rate:7.1f} samples/s (best of {len(w)}: {', '.join(f'{x:.2f}s' for x in w)}); "
            f"{rate / (len(clean) / bare['wall']):.2f} of the bare fork loop"
        )
    if len(walls) == 2:
        ratio = min(walls["today's tree"]) / min(walls["this tree"])
        print(f"  this tree / today's tree clean throughput: {ratio:.2f}")


if __name__ == "__main__":
    main()
