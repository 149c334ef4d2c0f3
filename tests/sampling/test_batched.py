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


PROMPTS = ["def f(x):\n    return", "def add_two_numbers(a, b):\n    return a +", "print(", "x = [1, 2,", "import os\n", "y ="]
STOPS = [[" "], ["\n"], ["("], [","], ["o"], ["="]]


def _spy_on_batches(monkeypatch) -> list[tuple[int, int, int]]:
    """(rows already running, rows joining, longest prompt among them) for every prefill of ``generate_many``."""
    from tdrl.llm import hf

    calls = []
    add = hf._Batch.add

    def spy(self, prompts, counts, rows):
        calls.append((len(self.rows), len(rows), max(r.prompt_tokens for r in self.rows + rows)))
        return add(self, prompts, counts, rows)

    monkeypatch.setattr(hf._Batch, "add", spy)
    return calls


def test_continuous_batching_greedy_matches_one_prompt_at_a_time(tiny_model, monkeypatch):
    """Rows that end early leave the batch (their KV rows pruned) and waiting prompts join a running batch:
    greedy continuations, their token counts and finish reasons are those of each prompt generated alone."""
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    alone = [model.generate(p, n=1, max_new_tokens=10, temperature=0.0, stop=s)[0] for p, s in zip(PROMPTS, STOPS)]
    calls = _spy_on_batches(monkeypatch)
    together = model.generate_many(PROMPTS, n=1, max_new_tokens=10, temperature=0.0, stop=STOPS, batch_size=4)
    assert [g[0].text for g in together] == [g.text for g in alone]
    assert [g[0].completion_tokens for g in together] == [g.completion_tokens for g in alone]
    assert [g[0].finish_reason for g in together] == [g.finish_reason for g in alone]
    assert any(running > 0 for running, _, _ in calls)  # some prompts joined while others were decoding
    assert all(running + joining <= 4 for running, joining, _ in calls)
    assert len({g.completion_tokens for g in alone}) > 1  # rows ended at different steps: pruning was exercised


def test_stop_sequences_cut_generation(tiny_model):
    """A stop sequence ends a sequence the step it appears: the text stops before it, no further tokens are made."""
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    free = model.generate_many(PROMPTS, n=1, max_new_tokens=12, temperature=0.0, batch_size=8)
    cut = model.generate_many(PROMPTS, n=1, max_new_tokens=12, temperature=0.0, stop=STOPS, batch_size=8)
    stopped = 0
    for f, c, stop in zip(free, cut, STOPS):
        f, c = f[0], c[0]
        assert stop[0] not in c.text and f.text.startswith(c.text)
        if stop[0] in f.text:  # the free run went past the stop: the cut run ended where it appeared
            stopped += 1
            assert c.finish_reason == "stop" and c.text == f.text[: f.text.index(stop[0])]
            assert c.completion_tokens < f.completion_tokens or f.finish_reason == "stop"
    assert stopped >= 2


def test_samples_depend_on_their_seed_and_index_not_on_the_run(tiny_model):
    """Sample j of a prompt draws from its own generator: a rerun gives the same samples, and resuming
    (``todo``) the missing samples gives what the full run gave them (same batch shapes: one row at a time)."""
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    kwargs = dict(n=3, max_new_tokens=8, temperature=0.8, seeds=[5, 6, 7])
    full = model.generate_many(PROMPTS[:3], batch_size=1, **kwargs)
    again = model.generate_many(PROMPTS[:3], batch_size=1, **kwargs)
    assert [{j: g.text for j, g in d.items()} for d in full] == [{j: g.text for j, g in d.items()} for d in again]
    resumed = model.generate_many(PROMPTS[:3], batch_size=1, todo=[[2], [], [0, 1]], **kwargs)
    assert resumed[0][2] == full[0][2] and resumed[2][0] == full[2][0] and resumed[2][1] == full[2][1]
    assert resumed[1] == {}
    assert len({g.text for g in full[0].values()}) > 1  # the samples of one prompt differ
    batched = model.generate_many(PROMPTS[:3], batch_size=9, **kwargs)  # all 9 rows in one batch
    assert [sorted(d) for d in batched] == [[0, 1, 2]] * 3


def test_max_batch_tokens_bounds_the_running_batch(tiny_model, monkeypatch):
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    lengths = [len(x) for x in model.tokenizer(PROMPTS, add_special_tokens=False)["input_ids"]]
    calls = _spy_on_batches(monkeypatch)
    out = model.generate_many(
        PROMPTS, n=2, max_new_tokens=6, temperature=0.8, batch_size=16, max_batch_tokens=3 * (max(lengths) + 6)
    )
    assert [sorted(d) for d in out] == [[0, 1]] * len(PROMPTS)
    bound = 3 * (max(lengths) + 6)
    assert all((running + joining) * (longest + 6) <= bound for running, joining, longest in calls)
    assert max(running + joining for running, joining, _ in calls) > 3  # shorter prompts fit more rows


def test_fixed_batches_for_other_caches(tiny_model):
    """Models whose KV cache is not one tensor per layer go through transformers' generate in fixed batches."""
    from tdrl.llm.hf import HFModel

    model = HFModel(tiny_model)
    ids = model.tokenizer(PROMPTS[:3], add_special_tokens=False)["input_ids"]
    done = []
    out = model._generate_in_batches(
        PROMPTS[:3], ids, [[0, 1], [1], []], 5, 0.0, 0.95, [0, 0, 0], [[], [], []], 2, None, lambda i, g: done.append(i)
    )
    assert [sorted(d) for d in out] == [[0, 1], [1], []] and sorted(done) == [0, 1]
    greedy = model.generate_many(PROMPTS[:3], n=1, max_new_tokens=5, temperature=0.0)
    assert out[0][0].text == greedy[0][0].text
