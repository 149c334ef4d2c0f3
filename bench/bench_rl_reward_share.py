"""Share of GRPO step time spent computing test rewards (tiny model, CPU).

A tiny Llama is SFT-warmed on four toy problems (``def f(x): return x`` + an operation;
20 call tests each) so that its completions are programs that run all tests, then trained
with TRL's GRPO for ``--steps`` steps at 16 completions per step. Two runs: tdrl's async
``VerifierReward`` (the whole batch in flight at once through the verifier pool) and the
baseline, a synchronous reward that verifies the completions one after another. Printed:
the mean share of step time inside the reward function for each, and the ratio.

    python bench/bench_rl_reward_share.py [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
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

    class SequentialReward:
        """Baseline: one completion at a time, blocking."""

        __name__ = "tests_pass_rate"

        def __init__(self, problems, verifier):
            self.problems, self.verifier, self.seconds = problems, verifier, 0.0

        def __call__(self, prompts, completions, problem_id, **_):
            t0 = time.perf_counter()
            out = [
                reward_from_result(self.verifier.check(self.problems[pid], Sample(pid, str(i), c)))
                for i, (pid, c) in enumerate(zip(problem_id, completions))
            ]
            self.seconds += time.perf_counter() - t0
            return out

    shares = {}
    original = rl.build_rewards
    for label in ("sequential (baseline)", "tdrl async VerifierReward"):
        if label.startswith("sequential"):
            rl.build_rewards = lambda cfg, by_id, verifier: ([SequentialReward(by_id, verifier)], [1.0])
        else:
            rl.build_rewards = original
        out = root / label.split()[0]
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
            verifier={"workers": 2, "sandbox": "auto", "timeout": 2.0},
        )
        rl.train_rl(cfg, progress=False)
        logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        timed = [r for r in logged if "reward_time_share" in r][1:]  # step 1 warms up
        shares[label] = (
            sum(r["reward_time_share"] for r in timed) / len(timed),
            sum(r["reward_seconds"] for r in timed) / len(timed),
            sum(r["step_seconds"] for r in timed) / len(timed),
        )
    rl.build_rewards = original
    print(f"GRPO, tiny model, 16 completions x 20 tests per step, {args.steps} steps")
    for label, (share, reward_s, step_s) in shares.items():
        print(f"{label:28s} reward {1000 * reward_s:6.1f} ms of a {1000 * step_s:6.1f} ms step: {100 * share:5.1f}%")
    base, ours = shares["sequential (baseline)"][1], shares["tdrl async VerifierReward"][1]
    print(f"reward time ratio baseline / tdrl: {base / ours:.2f}")


if __name__ == "__main__":
    main()
