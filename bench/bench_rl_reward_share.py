"""Share of GRPO step time spent computing test rewards (tiny model, CPU), with looping completions.

A tiny Llama is SFT-warmed on four toy problems (``def f(x): return x`` + an operation;
20 call tests each) so that its completions are programs that run all tests, then trained
with TRL's GRPO for ``--steps`` steps at 16 completions per step. ``--loop-share`` of each
batch's completions (default 10%) are replaced, before the reward sees them, by programs
that loop: half of them on every test, half on the inputs ``x >= 5`` (5 of 20 tests).
Runs: the baseline, a synchronous reward verifying completions one after another with
the exact time policy (the old behaviour), then tdrl's async ``VerifierReward`` (the
whole batch in flight through the verifier pool) under each ``--after-timeout`` policy.
Printed: the mean share of step time inside the reward function, the reward time, and
the ratio against the baseline; and the mean reward of the looping completions.

    python bench/bench_rl_reward_share.py [--steps 6] [--loop-share 0.1] [--timeout 0.5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--loop-share", type=float, default=0.1)
    ap.add_argument("--timeout", type=float, default=0.5, help="per-test limit (these problems have no reference)")
    ap.add_argument("--policies", default="exact,shared,stop")
    args = ap.parse_args()

    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()

    from tdrl.io import write_jsonl
    from tdrl.llm.tiny import build_tiny_model
    from tdrl.records import Problem, Sample, Test
    from tdrl.rewards.functions import reward_from_result
    from tdrl.training import rl
    from tdrl.training.sft import sft_train

    root = Path(tempfile.mkdtemp())
    problems, rows = [], []
    for i, name in enumerate(["f", "g", "h", "k"]):
        prompt = f"def {name}(x):\n    return x"
        tests = [Test("call", input=f"[{x}]", output=str(x + 1)) for x in range(-10, 10)]
        problems.append(Problem(f"p{i}", tests, prompt=prompt, entry_point=name))
        rows += [{"prompt": prompt, "completion": c} for c in (" + 1\n", " - 1\n", " * 2\n", " + 2\n") for _ in range(4)]
    write_jsonl(root / "problems.jsonl", problems)
    sft_train(build_tiny_model(root / "base"), rows, root / "sft", epochs=30, learning_rate=3e-3, batch_size=16, progress=False)

    loops = [" + next(filter(None, iter(int, 1)))\n", " + (1 if x < 5 else next(filter(None, iter(int, 1))))\n"]
    looped: list[float] = []

    def with_loops(completions):
        """Every 1/loop_share-th completion of the batch replaced by a looping program."""
        every = round(1 / args.loop_share) if args.loop_share else 0
        return [loops[(i // every) % 2] if every and i % every == 0 else c for i, c in enumerate(completions)], every

    class SequentialReward:
        """Baseline: one completion at a time, blocking."""

        __name__ = "tests_pass_rate"

        def __init__(self, problems, verifier):
            self.problems, self.verifier, self.seconds = problems, verifier, 0.0

        def __call__(self, prompts, completions, problem_id, **_):
            t0 = time.perf_counter()
            completions, every = with_loops(completions)
            out = [
                reward_from_result(self.verifier.check(self.problems[pid], Sample(pid, str(i), c)))
                for i, (pid, c) in enumerate(zip(problem_id, completions))
            ]
            looped.extend(r for i, r in enumerate(out) if every and i % every == 0)
            self.seconds += time.perf_counter() - t0
            return out

    class LoopingAsyncReward:
        """tdrl's async reward, fed the same completions with loops."""

        def __init__(self, inner):
            self.inner, self.__name__ = inner, inner.__name__

        @property
        def seconds(self):
            return self.inner.seconds

        async def __call__(self, prompts, completions, problem_id, **kw):
            completions, every = with_loops(completions)
            out = await self.inner(prompts, completions, problem_id, **kw)
            looped.extend(r for i, r in enumerate(out) if every and i % every == 0)
            return out

    shares, loop_rewards = {}, {}
    original = rl.build_rewards

    def async_rewards(cfg, by_id, verifier):
        funcs, weights = original(cfg, by_id, verifier)
        return [LoopingAsyncReward(f) for f in funcs], weights

    labels = ["sequential, exact (baseline)"] + [f"tdrl async, {p}" for p in args.policies.split(",")]
    for label in labels:
        policy = label.split(", ")[1].split()[0]
        if label.startswith("sequential"):
            rl.build_rewards = lambda cfg, by_id, verifier: ([SequentialReward(by_id, verifier)], [1.0])
        else:
            rl.build_rewards = async_rewards
        looped.clear()
        out = root / label.replace(", ", "-").replace(" ", "_").replace("(", "").replace(")", "")
        cfg = rl.RLConfig(
            model=str(root / "sft"),
            problems=str(root / "problems.jsonl"),
            out_dir=str(out),
            prompt_format="completion",
            num_generations=8,
            batch_size=16,
            max_steps=args.steps,
            learning_rate=1e-3,
            max_completion_length=6,
            save_steps=10_000,
            verifier={"workers": 2, "sandbox": "auto", "timeout": args.timeout, "after_timeout": policy},
        )
        rl.train_rl(cfg, progress=False)
        logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        timed = [r for r in logged if "reward_time_share" in r][1:]  # step 1 warms up
        shares[label] = (
            sum(r["reward_time_share"] for r in timed) / len(timed),
            sum(r["reward_seconds"] for r in timed) / len(timed),
            sum(r["step_seconds"] for r in timed) / len(timed),
        )
        loop_rewards[label] = sum(x for x in looped if x is not None) / max(1, len(looped))
    rl.build_rewards = original
    print(
        f"GRPO, tiny model, 16 completions x 20 tests per step ({100 * args.loop_share:.0f}% looping), "
        f"per-test limit {args.timeout}s, {args.steps} steps"
    )
    base = shares[labels[0]][1]
    for label, (share, reward_s, step_s) in shares.items():
        print(
            f"{label:30s} reward {1000 * reward_s:8.1f} ms of a {1000 * step_s:8.1f} ms step: {100 * share:5.1f}%; "
            f"baseline / this {base / reward_s:5.2f}x; mean reward of looping completions {loop_rewards[label]:.3f}"
        )


if __name__ == "__main__":
    main()
