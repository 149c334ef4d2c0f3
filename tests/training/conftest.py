"""The toy task both RL tests use."""

import pytest

from tdrl.io import write_jsonl
from tdrl.records import Problem, Test


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """Four problems ``def f(x): return x`` + ? where the tests want ``x + 1``, and a tiny model
    SFT-warmed to answer `` + 1``, `` - 1``, `` * 2`` or `` + 2`` about equally often."""
    from tdrl.llm.tiny import build_tiny_model
    from tdrl.training.sft import sft_train

    root = tmp_path_factory.mktemp("toy")
    problems, rows = [], []
    for i, name in enumerate(["f", "g", "h", "k"]):
        prompt = f"def {name}(x):\n    return x"
        tests = [Test("call", input=f"[{x}]", output=str(x + 1)) for x in (0, 1, 5, -3)]
        problems.append(Problem(f"p{i}", tests, prompt=prompt, entry_point=name))
        rows += [{"prompt": prompt, "completion": c} for c in (" + 1\n", " - 1\n", " * 2\n", " + 2\n") for _ in range(4)]
    write_jsonl(root / "problems.jsonl", problems)
    base = build_tiny_model(root / "base")
    sft_train(base, rows, root / "sft", epochs=30, learning_rate=3e-3, batch_size=16, progress=False)
    return root
