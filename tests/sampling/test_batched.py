"""Generation batched across problems: every wanted sample once, bounded batches, incremental delivery."""

import pytest

from tdrl.llm.hf import _batches

pytest.importorskip("transformers")


def test_batches_respect_sequence_and_token_bounds():
    lengths = [5, 50, 10, 200]
    rows = sorted(((i, j) for i in range(4) for j in range(3)), key=lambda r: (lengths[r[0]], r))
    batches = list(_batches(rows, lengths, new_tokens=20, size=4, max_tokens=300))
    assert [r for b in batches for r in b] == rows  # nothing lost, order kept
    for b in batches:
        assert len(b) <= 4
        longest = max(lengths[i] for i, _ in b)
        assert len(b) == 1 or len(b) * (longest + 20) <= 300
    # a row too long for the token bound still gets a batch of its own
    assert [(3, 0)] in batches and [(3, 1)] in batches


def test_generate_many_gives_each_wanted_sample_once(tiny_model):
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    prompts = ["def f(x):\n", "def a_much_longer_function_name(first, second, third):\n", "x = "]
    done = []
    out = model.generate_many(
        prompts,
        n=3,
        max_new_tokens=6,
        seeds=[1, 2, 3],
        batch_size=4,
        todo=[[0, 1, 2], [2], []],
        on_done=lambda i, gens: done.append((i, sorted(gens))),
    )
    assert [sorted(g) for g in out] == [[0, 1, 2], [2], []]
    assert sorted(done) == [(0, [0, 1, 2]), (1, [2])]  # each prompt reported once, when complete
    lengths = [len(model.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    for i, gens in enumerate(out):
        for g in gens.values():
            assert g.prompt_tokens == lengths[i] and 0 <= g.completion_tokens <= 6
            assert g.finish_reason in ("stop", "length")


def test_generate_many_greedy_matches_one_prompt_at_a_time(tiny_model):
    """Left padding in a mixed batch must not change what a prompt's greedy continuation is."""
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    prompts = ["def f(x):\n    return", "def add_two_numbers(a, b):\n    return a +", "print("]
    alone = [model.generate(p, n=1, max_new_tokens=5, temperature=0.0)[0].text for p in prompts]
    together = model.generate_many(prompts, n=1, max_new_tokens=5, temperature=0.0, batch_size=3)
    assert [g[0].text for g in together] == alone


def test_stop_sequences_per_prompt(tiny_model):
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    out = model.generate_many(["a", "b"], n=2, max_new_tokens=8, seeds=[0, 1], stop=[["\n"], [" "]], batch_size=4)
    for gens, stop in zip(out, ["\n", " "]):
        for g in gens.values():
            assert stop not in g.text
