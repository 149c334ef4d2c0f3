"""A synthetic preference task where the preferred answer is detectable: programs that work vs crash."""

import random

import pytest

from tdrl.io import write_jsonl


def crash_pairs(n: int, seed: int = 0) -> list[dict]:
    """Pairs over ``n`` problems: chosen computes ``x op k``; rejected raises, is cut short, or names nothing."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        name = rng.choice(["f", "g", "h", "solve", "calc"]) + str(i)
        op, k = rng.choice("+-*"), rng.randint(1, 9)
        bad = rng.choice(
            [
                f"def {name}(x):\n    raise ValueError({k})\n",
                f"def {name}(x):\n    return x {op}\n",
                f"def {name}(x):\n    return undefined_{k}\n",
            ]
        )
        good = f"def {name}(x):\n    return x {op} {k}\n"
        pairs.append(
            {"prompt": f"Write {name}(x) returning x {op} {k}.\n", "chosen": good, "rejected": bad, "problem_id": f"p{i}"}
        )
    return pairs


@pytest.fixture(scope="session")
def crash_rm(tmp_path_factory, tiny_model):
    """A tiny reward model trained on the crash task (once per session): ``(folder, metrics)``."""
    from tdrl.training.reward_model import RMConfig, train_reward_model

    root = tmp_path_factory.mktemp("rm")
    write_jsonl(root / "pairs.jsonl", crash_pairs(120))
    cfg = RMConfig(backbone=tiny_model, epochs=3, learning_rate=3e-3, batch_size=8, eval_steps=10)
    metrics = train_reward_model(root / "pairs.jsonl", root / "model", cfg, progress=False)
    return root / "model", metrics
