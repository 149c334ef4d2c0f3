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

Every stage writes ``<stage>.done`` (its metrics and the settings it ran with) when it
finishes; a rerun skips finished stages whose settings, and those of the stages they read,
are unchanged, so a killed run resumes at the last completed one (the sampler and the
verifier also resume inside their stage), while a changed setting redoes its stage and
every stage after it (their old outputs removed first). After the last round the final
policy is sampled and verified once more (``<out>/final/``), so the summary scores the
policy RL produced, not only the one it started from. ``summary.json`` and ``rounds.png``
show the metrics across rounds; a value that could not be measured is null with its reason
under ``notes``, and every no-signal warning of a stage is kept under ``warnings``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tdrl.errors import ConfigError, NoData
from tdrl.markers import Markers, settings_key

_SFT_SCHEMA = {"epochs": float, "learning_rate": float, "batch_size": int, "max_steps": int, "seed": int}


@dataclass
class IterateConfig:
    """A ``tdrl iterate`` recipe: the rounds, what each stage samples and trains, and the nested stage settings."""

    model: str = "embedded"
    problems: str = ""
    out_dir: str = "iterate-run"
    rounds: int = 2
    language: str = "python"  # a field, not an assumption: the verifier runs Python today
    prompt_format: str = "auto"
    samples_per_problem: int = 8
    temperature: float = 0.8
    max_tokens: int = 256
    # {"epochs": 1, "learning_rate": 2e-5}: SFT on verified solutions in round 0
    sft: dict | None = field(default=None, metadata={"schema": _SFT_SCHEMA})
    # RMConfig fields; backbone defaults to the initial model
    rm: dict = field(default_factory=dict, metadata={"schema": "tdrl.training.reward_model:RMConfig"})
    rm_continue: bool = False  # start each round's reward model from the previous one
    pair_rule: dict = field(default_factory=dict, metadata={"schema": "tdrl.rewards.pairs:PairRule"})
    hard_negative_fraction: float = 0.5
    # RLConfig fields (model, problems, out_dir and rewards are set here)
    rl: dict = field(default_factory=dict, metadata={"schema": "tdrl.training.rl:RLConfig"})
    rm_weight: float = 1.0
    test_weight: float = 0.0  # mix test rewards into RL
    workers: int | None = None
    sandbox: str = "auto"
    seed: int = 0
    final_eval: bool = True  # sample and verify the last round's RL policy


def load_iterate_config(path, overrides: Sequence[str] = ()) -> IterateConfig:
    from tdrl.llm.embedded import check_model
    from tdrl.training.common import load_recipe

    cfg = load_recipe(IterateConfig, path, overrides)
    check_model(cfg.model)
    if not cfg.problems:
        raise ConfigError("no problems: set `problems:` or --set problems=PATH")
    if cfg.language != "python":
        raise ConfigError(f"language {cfg.language!r}: the verifier runs python only so far")
    return cfg


def no_pairs_error(k: int, scored: list, cfg: IterateConfig) -> str:
    """Why round ``k`` cannot train a reward model, and the setting that would change it."""
    usable = [float(r["pass_rate"]) for _, r in scored if r.get("status") != "infra_error"]
    text = f"round {k}: no pairs to train the reward model on; "
    if not any(usable):
        return text + (
            f"none of the {len(usable)} verified samples passed a test, so no pair rule can help: raise max_tokens "
            f"(now {cfg.max_tokens}), check prompt_format (now {cfg.prompt_format}), or start from a model or problems "
            "it can partly solve, and rerun"
        )
    return text + (
        "change pair_rule as the warning above says, or raise samples_per_problem, and rerun "
        "(the stages after sampling are redone)"
    )


def run_iterate(cfg: IterateConfig, progress: bool = True) -> dict:
    """Run (or resume) every round; returns the summary written to ``summary.json``."""
    from tdrl.execution.run import verify_files
    from tdrl.io import read_problems, read_samples, warn, write_jsonl
    from tdrl.rewards.pairs import PairRule, build_pairs, mine_hard_negatives, no_pairs_warning, score_samples
    from tdrl.sampling.sample import SampleParams, sample_files

    out = Path(cfg.out_dir)
    problems = {p.id: p for p in read_problems(cfg.problems)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1) + "\n")
    policy, policy_key = cfg.model, settings_key({"model": cfg.model})
    previous_rm: str | None = None
    previous_rm_key = previous_pairs_key = None
    rows: list[dict] = []

    def sample_and_verify(st: Markers, folder: Path, seed: int) -> tuple[list, str]:
        """The current policy's samples and their verdicts, as ``(sample, result)``, and the verify stage's key."""
        samples_path, results_path = folder / "samples.jsonl", folder / "results.jsonl"
        sample_settings = {
            "policy": policy_key,
            "problems": cfg.problems,
            "n": cfg.samples_per_problem,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens,
            "seed": seed,
            "prompt_format": cfg.prompt_format,
        }
        if st.done("sample", sample_settings) is None:
            st.begin("sample", ["samples.jsonl"])
            params = SampleParams(
                n=cfg.samples_per_problem,
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
                seed=seed,
                prompt_format=cfg.prompt_format,
            )
            s = sample_files(cfg.problems, samples_path, policy, params, progress=progress)
            st.finish("sample", sample_settings, {"samples": s.samples, "seconds": round(s.seconds, 2), "policy": policy})
        verify_settings = {"samples": st.keys["sample"], "sandbox": cfg.sandbox}
        if st.done("verify", verify_settings) is None:
            st.begin("verify", ["results.jsonl"])
            v = verify_files(
                cfg.problems, samples_path, results_path, workers=cfg.workers, sandbox=cfg.sandbox, progress=progress
            )
            st.finish("verify", verify_settings, {"samples": v.samples, "statuses": dict(v.statuses)})
        samples = list(read_samples(samples_path, set(problems)))
        return score_samples(problems, samples, results_path), st.keys["verify"]

    for k in range(cfg.rounds):
        folder = out / f"round-{k}"
        st = Markers(folder)
        scored, verify_key = sample_and_verify(st, folder, cfg.seed + k)

        if k == 0 and cfg.sft:
            sft_settings = {"sft": cfg.sft, "after": verify_key, "policy": policy_key}
            done = st.done("sft", sft_settings)
            if done is None:
                from tdrl.rewards.pairs import prompt_of
                from tdrl.training.sft import sft_train

                st.begin("sft", ["sft"])
                solutions = [s for s, r in scored if r["status"] == "pass"]
                sft_policy = policy
                if solutions:
                    rows_sft = []
                    for s in solutions:
                        chat = s.extra.get("prompt_format") == "instruct"
                        answer = [{"role": "assistant", "content": s.completion}] if chat else s.completion
                        rows_sft.append({"prompt": prompt_of(problems[s.problem_id], s, chat), "completion": answer})
                    sft_train(policy, rows_sft, folder / "sft", progress=progress, **cfg.sft)
                    sft_policy = str(folder / "sft")
                else:
                    warn(f"round 0: no verified solution among {len(scored)} samples, so no SFT; the policy stays {policy}")
                done = st.finish("sft", sft_settings, {"solutions": len(solutions), "policy": sft_policy})
            policy, policy_key = done["policy"], st.keys["sft"]

        pairs_settings = {
            "rule": cfg.pair_rule,
            "hard_negative_fraction": cfg.hard_negative_fraction,
            "after": verify_key,
            "previous_rm": previous_rm_key,
            "previous_pairs": previous_pairs_key,
        }
        pairs_done = st.done("pairs", pairs_settings)
        reused = pairs_done is not None
        if pairs_done is None:
            st.begin("pairs", ["pairs.jsonl"])
            rule = PairRule(**cfg.pair_rule)
            pairs, stats = build_pairs(problems, scored, rule)
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
            total = len(earlier) + len(pairs) + len(hard)
            metrics: dict = {"new_pairs": len(pairs), "hard_negatives": len(hard), "total_pairs": total, "warnings": []}
            if not pairs:
                metrics["warnings"].append(
                    warn(f"round {k}: " + (no_pairs_warning(scored, rule, stats, prefix="pair_rule.") or ""))
                )
            pairs_done = st.finish("pairs", pairs_settings, metrics)
        if not pairs_done["total_pairs"]:
            if reused:  # the stage's warning was printed by the run that made it: say it again
                for message in pairs_done.get("warnings", []):
                    warn(message)
            raise NoData(no_pairs_error(k, scored, cfg))
        previous_pairs_key = st.keys["pairs"]

        rm_settings = {"rm": cfg.rm, "model": cfg.model, "seed": cfg.seed, "after": st.keys["pairs"]}
        if cfg.rm_continue:
            rm_settings["previous_rm"] = previous_rm_key
        if st.done("rm", rm_settings) is None:
            from tdrl.training.reward_model import RMConfig, train_reward_model

            st.begin("rm", ["rm"])
            rm_cfg = RMConfig(**{"backbone": cfg.model, "seed": cfg.seed, **cfg.rm})
            if cfg.rm_continue and previous_rm is not None:
                rm_cfg.backbone = previous_rm
            m = train_reward_model(folder / "pairs.jsonl", folder / "rm", rm_cfg, progress=progress)
            keep = ("train_pairs", "heldout_pairs", "heldout_accuracy", "train_accuracy", "warnings")
            st.finish("rm", rm_settings, {k2: m.get(k2) for k2 in keep})
        rm_path = str(folder / "rm")

        eval_settings = {"rm": st.keys["rm"], "after": verify_key, "seed": cfg.seed}
        if st.done("eval", eval_settings) is None:
            from tdrl.rewards.model import RewardModelScorer
            from tdrl.rewards.rerank import best_of_n, collect

            st.begin("eval", [])
            cands, _ = collect(problems, scored, None, RewardModelScorer(rm_path))
            bon = best_of_n(cands, ["random", "reward_model", "oracle"], seed=cfg.seed)
            st.finish(
                "eval",
                eval_settings,
                {
                    "policy_pass_at_1": bon["methods"]["random"][-1],
                    "best_of_n_reward_model": bon["methods"]["reward_model"][-1],
                    "best_of_n_oracle": bon["methods"]["oracle"][-1],
                    "n": bon["n"][-1],
                },
            )

        rl_settings = {
            "rl": cfg.rl,
            "rm_weight": cfg.rm_weight,
            "test_weight": cfg.test_weight,
            "prompt_format": cfg.prompt_format,
            "seed": cfg.seed,
            "rm": st.keys["rm"],
            "policy": policy_key,
        }
        if st.done("rl", rl_settings) is None:
            from tdrl.training.rl import RLConfig, train_rl

            st.begin("rl", ["rl"])
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
            st.finish("rl", rl_settings, {**summary, "policy": summary.get("policy", str(folder / "rl" / "final"))})
        row: dict = {"round": k, **{s: st.metrics[s] for s in ("sample", "verify", "pairs", "rm", "eval", "rl")}}
        policy, policy_key = row["rl"]["policy"], st.keys["rl"]
        previous_rm, previous_rm_key = rm_path, st.keys["rm"]
        rows.append(row)

    summary = {"rounds": [_flat(r) for r in rows]}
    if cfg.final_eval and rows:
        st = Markers(out / "final")
        scored, _ = sample_and_verify(st, out / "final", cfg.seed + cfg.rounds)
        passed = [r["status"] == "pass" for _, r in scored if r.get("status") != "infra_error"]
        final = {"policy": policy, "policy_pass_at_1": round(sum(passed) / len(passed), 6) if passed else None}
        if final["policy_pass_at_1"] is None:
            final["notes"] = {"policy_pass_at_1": "every sample of the final policy was an infra_error (see final/results.jsonl)"}
        summary["final"] = final
    for i, r in enumerate(summary["rounds"]):  # the policy a round's RL produced is scored by the next round's samples
        if i + 1 < len(summary["rounds"]):
            r["policy_pass_at_1_after_rl"] = summary["rounds"][i + 1]["policy_pass_at_1"]
        elif "final" in summary:
            r["policy_pass_at_1_after_rl"] = summary["final"]["policy_pass_at_1"]
        else:
            r["policy_pass_at_1_after_rl"] = None
            r.setdefault("notes", {})["policy_pass_at_1_after_rl"] = "final_eval is off: the last policy was not sampled"
    summary["warnings"] = [w for r in rows for s in ("pairs", "rm", "rl") for w in (r[s] or {}).get("warnings") or []]
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    _plot_rounds(summary["rounds"], out / "rounds.png")
    return summary


def _flat(row: dict) -> dict:
    """One round's row of ``summary.json``; a null value gets its reason under ``notes``."""
    flat = {
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
    reasons = {
        "rm_heldout_accuracy": "; ".join(row["rm"].get("warnings") or []) or "no held-out pairs (rm.eval_share)",
        "rm_train_accuracy": "no training pairs",
        "rl_first_reward": "the RL trainer logged no reward (rl.logging_steps, rl.max_steps)",
        "rl_last_reward": "the RL trainer logged no reward (rl.logging_steps, rl.max_steps)",
    }
    notes = {key: reasons.get(key, "not measured") for key, value in flat.items() if value is None}
    if notes:
        flat["notes"] = notes
    return flat


def format_rounds(rounds: list[dict]) -> str:
    cols = [
        "round",
        "policy_pass_at_1",
        "best_of_n_reward_model",
        "best_of_n_oracle",
        "rm_heldout_accuracy",
        "policy_pass_at_1_after_rl",
        "pairs",
        "hard_negatives",
    ]
    lines = ["  ".join(f"{c:>22}" for c in cols)]
    for r in rounds:
        lines.append(
            "  ".join(f"{'-' if r.get(c) is None else (f'{r[c]:.3f}' if isinstance(r[c], float) else r[c]):>22}" for c in cols)
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
        ("policy_pass_at_1_after_rl", "policy pass@1 after RL"),
        ("best_of_n_reward_model", "best-of-N (reward model)"),
        ("best_of_n_oracle", "best-of-N (oracle)"),
        ("rm_heldout_accuracy", "reranker held-out accuracy"),
    ]:
        ax.plot(xs, [r[key] if r.get(key) is not None else float("nan") for r in rounds], marker="o", label=label)
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("iterative self-training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
