"""``tdrl iterate``: iterative self-training of a generator and a reranker (RewardRanker-style).

Each round, in its own folder ``<out>/round-<k>/``:

1. ``sample``: N programs per problem from the current policy;
2. ``verify``: their per-test verdicts;
3. ``sft`` (round 0, optional): fine-tune the policy on its own verified solutions;
4. ``pairs``: this round's pass-rate pairs, plus hard negatives (wrong programs the previous
   round's reward model scored highest, paired with correct ones), appended to all earlier
   rounds' pairs;
5. ``rm``: train the reward model on all pairs so far (from the backbone, or continuing
   from the previous round's model);
6. ``eval``: policy pass@1 on this round's samples, best-of-N with the new reward model,
   held-out pair accuracy;
7. ``rl``: RL of the policy against the reward model (optionally mixed with test rewards);
   its final model is the next round's policy.

Every stage writes ``<stage>.done`` (its metrics as JSON) when it finishes; a rerun skips
finished stages, so a killed run resumes at the last completed one (the sampler and the
verifier also resume inside their stage). ``summary.json`` and ``rounds.png`` show the
metrics across rounds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class IterateConfig:
    model: str = "embedded"
    problems: str = ""
    out_dir: str = "iterate-run"
    rounds: int = 2
    language: str = "python"  # a field, not an assumption: the verifier runs Python today
    prompt_format: str = "auto"
    samples_per_problem: int = 8
    temperature: float = 0.8
    max_tokens: int = 256
    sft: dict | None = None  # {"epochs": 1, "learning_rate": 2e-5}: SFT on verified solutions in round 0
    rm: dict = field(default_factory=dict)  # RMConfig fields; backbone defaults to the initial model
    rm_continue: bool = False  # start each round's reward model from the previous one
    pair_rule: dict = field(default_factory=dict)  # PairRule fields
    hard_negative_fraction: float = 0.5
    rl: dict = field(default_factory=dict)  # RLConfig fields (model, problems, out_dir and rewards are set here)
    rm_weight: float = 1.0
    test_weight: float = 0.0  # mix test rewards into RL
    workers: int | None = None
    sandbox: str = "auto"
    seed: int = 0


def load_iterate_config(path, overrides: list[str] = ()) -> IterateConfig:
    from tdrl.training.common import load_recipe

    cfg = load_recipe(IterateConfig, path, overrides)
    if not cfg.problems:
        raise ValueError("no problems: set `problems:` or --set problems=PATH")
    if cfg.language != "python":
        raise ValueError(f"language {cfg.language!r}: the verifier runs python only so far")
    return cfg


class _Stages:
    """``<stage>.done`` markers holding each finished stage's metrics."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def done(self, stage: str) -> dict | None:
        path = self.folder / f"{stage}.done"
        return json.loads(path.read_text()) if path.exists() else None

    def finish(self, stage: str, metrics: dict) -> dict:
        tmp = self.folder / f"{stage}.done.tmp"
        tmp.write_text(json.dumps(metrics, indent=1) + "\n")
        tmp.replace(self.folder / f"{stage}.done")
        return metrics


def run_iterate(cfg: IterateConfig, progress: bool = True) -> dict:
    """Run (or resume) every round; returns the summary written to ``summary.json``."""
    from tdrl.execution.run import verify_files
    from tdrl.io import read_problems, read_samples, write_jsonl
    from tdrl.rewards.pairs import PairRule, build_pairs, mine_hard_negatives, score_samples
    from tdrl.sampling.sample import SampleParams, sample_files

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1) + "\n")
    problems = {p.id: p for p in read_problems(cfg.problems)}
    policy = cfg.model
    previous_rm: str | None = None
    rows = []
    for k in range(cfg.rounds):
        folder = out / f"round-{k}"
        st = _Stages(folder)
        samples_path, results_path = folder / "samples.jsonl", folder / "results.jsonl"

        if not st.done("sample"):
            params = SampleParams(
                n=cfg.samples_per_problem,
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
                seed=cfg.seed + k,
                prompt_format=cfg.prompt_format,
            )
            s = sample_files(cfg.problems, samples_path, policy, params, progress=progress)
            st.finish("sample", {"samples": s.samples, "seconds": round(s.seconds, 2), "policy": policy})
        if not st.done("verify"):
            v = verify_files(
                cfg.problems, samples_path, results_path, workers=cfg.workers, sandbox=cfg.sandbox, progress=progress
            )
            st.finish("verify", {"samples": v.samples, "statuses": dict(v.statuses)})
        samples = list(read_samples(samples_path, set(problems)))
        scored = score_samples(problems, samples, results_path)

        if k == 0 and cfg.sft and not st.done("sft"):
            from tdrl.training.sft import sft_train

            solutions = [s for s, r in scored if r["status"] == "pass"]
            if solutions:
                from tdrl.rewards.pairs import prompt_of

                rows_sft = []
                for s in solutions:
                    chat = s.extra.get("prompt_format") == "instruct"
                    answer = [{"role": "assistant", "content": s.completion}] if chat else s.completion
                    rows_sft.append({"prompt": prompt_of(problems[s.problem_id], s, chat), "completion": answer})
                sft_train(policy, rows_sft, folder / "sft", progress=progress, **cfg.sft)
                policy = str(folder / "sft")
            st.finish("sft", {"solutions": len(solutions), "policy": policy})
        elif k == 0 and cfg.sft:
            policy = st.done("sft")["policy"]

        if not st.done("pairs"):
            pairs, _ = build_pairs(problems, scored, PairRule(**cfg.pair_rule))
            hard = []
            if previous_rm is not None:
                from tdrl.rewards.model import RewardModelScorer

                hard = mine_hard_negatives(problems, scored, RewardModelScorer(previous_rm), cfg.hard_negative_fraction)
            earlier = []
            if k > 0:
                earlier = [json.loads(x) for x in (out / f"round-{k - 1}" / "pairs.jsonl").read_text().splitlines() if x.strip()]
            for p in pairs + hard:
                p["round"] = k
            write_jsonl(folder / "pairs.jsonl", earlier + pairs + hard)
            st.finish(
                "pairs",
                {"new_pairs": len(pairs), "hard_negatives": len(hard), "total_pairs": len(earlier) + len(pairs) + len(hard)},
            )

        if not st.done("rm"):
            from tdrl.training.reward_model import RMConfig, train_reward_model

            rm_cfg = RMConfig(**{"backbone": cfg.model, "seed": cfg.seed, **cfg.rm})
            if cfg.rm_continue and previous_rm is not None:
                rm_cfg.backbone = previous_rm
            m = train_reward_model(folder / "pairs.jsonl", folder / "rm", rm_cfg, progress=progress)
            st.finish("rm", {k2: m[k2] for k2 in ("train_pairs", "heldout_pairs", "heldout_accuracy", "train_accuracy")})
        rm_path = str(folder / "rm")

        if not st.done("eval"):
            from tdrl.rewards.model import RewardModelScorer
            from tdrl.rewards.rerank import collect

            cands, _ = collect(problems, scored, None, RewardModelScorer(rm_path))
            from tdrl.rewards.rerank import best_of_n

            bon = best_of_n(cands, ["random", "reward_model", "oracle"], seed=cfg.seed)
            st.finish(
                "eval",
                {
                    "policy_pass_at_1": bon["methods"]["random"][-1],
                    "best_of_n_reward_model": bon["methods"]["reward_model"][-1],
                    "best_of_n_oracle": bon["methods"]["oracle"][-1],
                    "n": bon["n"][-1],
                },
            )

        if not st.done("rl"):
            from tdrl.training.rl import RLConfig, train_rl

            rewards = [{"type": "reward_model", "path": rm_path, "weight": cfg.rm_weight}]
            if cfg.test_weight:
                rewards.append({"type": "tests", "kind": "pass_rate", "weight": cfg.test_weight})
            rl_cfg = RLConfig(
                **{
                    "prompt_format": cfg.prompt_format,
                    "seed": cfg.seed,
                    "verifier": {"workers": cfg.workers, "sandbox": cfg.sandbox, "timeout": 3.0},
                    **cfg.rl,
                    "model": policy,
                    "problems": cfg.problems,
                    "out_dir": str(folder / "rl"),
                    "rewards": rewards,
                }
            )
            summary = train_rl(rl_cfg, progress=progress)
            st.finish("rl", {**summary, "policy": str(folder / "rl" / "final")})
        policy = st.done("rl")["policy"]
        previous_rm = rm_path
        rows.append({"round": k, **{s: st.done(s) for s in ("sample", "verify", "pairs", "rm", "eval", "rl")}})

    summary = {"rounds": [_flat(r) for r in rows]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    _plot_rounds(summary["rounds"], out / "rounds.png")
    return summary


def _flat(row: dict) -> dict:
    return {
        "round": row["round"],
        "policy_pass_at_1": row["eval"]["policy_pass_at_1"],
        "best_of_n_reward_model": row["eval"]["best_of_n_reward_model"],
        "best_of_n_oracle": row["eval"]["best_of_n_oracle"],
        "rm_heldout_accuracy": row["rm"]["heldout_accuracy"],
        "rm_train_accuracy": row["rm"]["train_accuracy"],
        "pairs": row["pairs"]["total_pairs"],
        "hard_negatives": row["pairs"]["hard_negatives"],
        "rl_first_reward": row["rl"]["first_reward"],
        "rl_last_reward": row["rl"]["last_reward"],
    }


def format_rounds(rounds: list[dict]) -> str:
    cols = [
        "round",
        "policy_pass_at_1",
        "best_of_n_reward_model",
        "best_of_n_oracle",
        "rm_heldout_accuracy",
        "pairs",
        "hard_negatives",
    ]
    lines = ["  ".join(f"{c:>22}" for c in cols)]
    for r in rounds:
        lines.append(
            "  ".join(f"{'-' if r[c] is None else (f'{r[c]:.3f}' if isinstance(r[c], float) else r[c]):>22}" for c in cols)
        )
    return "\n".join(lines)


def _plot_rounds(rounds: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    xs = [r["round"] for r in rounds]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in [
        ("policy_pass_at_1", "policy pass@1"),
        ("best_of_n_reward_model", "best-of-N (reward model)"),
        ("best_of_n_oracle", "best-of-N (oracle)"),
        ("rm_heldout_accuracy", "reranker held-out accuracy"),
    ]:
        ax.plot(xs, [r[key] if r[key] is not None else float("nan") for r in rounds], marker="o", label=label)
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("iterative self-training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
