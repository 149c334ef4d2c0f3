"""Local generation with Hugging Face ``transformers`` (CPU or GPU).

``HFModel.generate`` samples n sequences of one prompt; ``HFModel.generate_many`` batches
sequences of many prompts together (length-sorted, bounded batches), which is what makes
local sampling fast: on a CPU a batch of 16 prompts gives several times the tokens per
second of n = 2 sequences of one prompt (``bench/bench_generation.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


def stable_seed(seed: int, key: str) -> int:
    """A seed for one problem that does not depend on the order problems are run in."""
    return (seed * 1_000_003 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)) % (2**31)


def truncate_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop sequence; returns the text and whether it was cut."""
    cut = min((i for s in stop or [] if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class HFModel:
    """A causal LM and its tokenizer, loaded once; ``generate`` samples n completions per prompt."""

    def __init__(self, name_or_path: str, device: str | None = None, dtype: str = "float32"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = name_or_path
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        self.model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=getattr(torch, dtype)).to(self.device)
        self.model.eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def chat_prompt(self, messages: list[dict]) -> str:
        """The model's own chat template applied to ``messages``, ready for generation."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(
        self,
        prompt: str,
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int = 0,
        stop: list[str] | None = None,
        batch_size: int = 8,
    ) -> list[Generation]:
        """``n`` samples for one prompt (greedy when temperature is 0), cut at stop sequences."""
        import torch

        enc = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=not self.has_chat_template).to(self.device)
        prompt_len = enc["input_ids"].shape[1]
        out: list[Generation] = []
        torch.manual_seed(seed)
        while len(out) < n:
            m = min(batch_size, n - len(out))
            kwargs = dict(max_new_tokens=max_new_tokens, num_return_sequences=m, pad_token_id=self.tokenizer.pad_token_id)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
            else:
                kwargs.update(do_sample=False)
            if stop:
                kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)
            with torch.no_grad():
                seqs = self.model.generate(**enc, **kwargs)
            for row in seqs[:, prompt_len:]:
                out.append(self._decode(row.tolist(), prompt_len, stop or []))
        return out

    def generate_many(
        self,
        prompts: list[str],
        n: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seeds: list[int] | None = None,
        stop: list[str] | list[list[str]] | None = None,
        batch_size: int = 16,
        max_batch_tokens: int | None = None,
        todo: list[list[int]] | None = None,
        on_done: Callable[[int, dict[int, Generation]], None] | None = None,
    ) -> list[dict[int, Generation]]:
        """``n`` samples for each of many prompts, generated together across prompts.

        The ``(prompt, sample)`` rows are sorted by prompt length (so little padding is
        generated) and cut into batches of at most ``batch_size`` sequences and, when
        ``max_batch_tokens`` is set, at most that many prompt-plus-new tokens (this bounds
        memory). ``todo[i]`` lists the sample indices still wanted for prompt ``i`` (default
        all ``n``); ``on_done(i, generations)`` is called as soon as prompt ``i`` has all of
        them, so a caller can write results while later batches run. ``stop`` is one list
        for all prompts or one list per prompt. Each batch is seeded from the ``seeds`` of
        its rows: a rerun with the same prompts and batch settings gives the same samples.
        """
        import torch

        wanted = todo if todo is not None else [list(range(n)) for _ in prompts]
        if not any(wanted):
            return [{} for _ in prompts]
        stops = stop if stop and isinstance(stop[0], list) else [stop or []] * len(prompts)
        seeds = seeds or [0] * len(prompts)
        add_special = not self.has_chat_template
        lengths = [len(ids) for ids in self.tokenizer(prompts, add_special_tokens=add_special)["input_ids"]]
        # prompts with different stop sequences never share a batch: a stop ends the whole sequence
        groups = [tuple(sorted(s)) for s in stops]
        rows = sorted(((i, j) for i, js in enumerate(wanted) for j in js), key=lambda r: (groups[r[0]], lengths[r[0]], r))
        out: list[dict[int, Generation]] = [{} for _ in prompts]
        pending = [len(js) for js in wanted]
        for batch in _batches(rows, lengths, max_new_tokens, batch_size, max_batch_tokens, groups):
            enc = self.tokenizer(
                [prompts[i] for i, _ in batch], return_tensors="pt", padding=True, add_special_tokens=add_special
            )
            enc = enc.to(self.device)
            kwargs = dict(max_new_tokens=max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
            else:
                kwargs.update(do_sample=False)
            if stops[batch[0][0]]:
                kwargs.update(stop_strings=stops[batch[0][0]], tokenizer=self.tokenizer)
            torch.manual_seed(stable_seed(seeds[batch[0][0]], ",".join(f"{seeds[i]}:{j}" for i, j in batch)))
            with torch.no_grad():
                seqs = self.model.generate(**enc, **kwargs)
            width = enc["input_ids"].shape[1]
            for (i, j), row in zip(batch, seqs[:, width:]):
                out[i][j] = self._decode(row.tolist(), lengths[i], stops[i])
                pending[i] -= 1
                if pending[i] == 0 and on_done is not None:
                    on_done(i, out[i])
        return out

    def _decode(self, ids: list[int], prompt_tokens: int, stop: list[str]) -> Generation:
        """One generated row as text: cut at EOS, padding and the earliest stop sequence."""
        eos = self.tokenizer.eos_token_id
        finish = "length"
        if eos is not None and eos in ids:
            ids = ids[: ids.index(eos)]
            finish = "stop"
        while ids and ids[-1] == self.tokenizer.pad_token_id:
            ids.pop()
        text, cut = truncate_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), stop)
        return Generation(text, prompt_tokens, len(ids), "stop" if cut else finish)


def _batches(
    rows: list[tuple[int, int]],
    lengths: list[int],
    new_tokens: int,
    size: int,
    max_tokens: int | None,
    groups: list | None = None,
):
    """Consecutive runs of ``rows`` (sorted by prompt length) within ``size`` sequences and ``max_tokens`` tokens,
    each within one group (``groups[prompt]``, e.g. its stop sequences)."""
    batch: list[tuple[int, int]] = []
    for row in rows:
        longest = max(lengths[row[0]], *(lengths[i] for i, _ in batch)) if batch else lengths[row[0]]
        too_many = len(batch) >= size or (max_tokens is not None and (len(batch) + 1) * (longest + new_tokens) > max_tokens)
        other_group = groups is not None and bool(batch) and groups[batch[0][0]] != groups[row[0]]
        if batch and (too_many or other_group):
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch
