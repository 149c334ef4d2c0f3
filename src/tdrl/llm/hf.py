"""Local generation with Hugging Face ``transformers`` (CPU or GPU).

``HFModel.generate`` samples n sequences of one prompt; ``HFModel.generate_many`` batches
sequences of many prompts together (length-sorted, bounded batches), which is what makes
local sampling fast: on a CPU a batch of 16 prompts gives several times the tokens per
second of n = 2 sequences of one prompt (``bench/bench_generation.py``).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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
        """``n`` samples for each of many prompts, generated together across prompts (continuous batching).

        At most ``batch_size`` sequences decode together and, when ``max_batch_tokens`` is set,
        at most that many prompt-plus-new tokens (this bounds memory). A sequence leaves the
        batch, with its rows of the KV cache, the step it ends (EOS, a stop sequence or
        ``max_new_tokens``); waiting prompts, shortest first, take the freed places. A prompt is
        encoded once for all of its samples. ``todo[i]`` lists the sample indices still wanted
        for prompt ``i`` (default all ``n``); ``on_done(i, generations)`` is called as soon as
        prompt ``i`` has all of them, so a caller can write results while others run. ``stop``
        is one list for all prompts or one list per prompt. Sample ``j`` of prompt ``i`` draws
        its tokens from its own random generator seeded from ``seeds[i]`` and ``j``: a rerun
        with the same prompts and batch settings gives the same samples (other batch settings
        change them only through floating-point rounding in differently shaped products).
        Sampling is as ``transformers``' ``generate``: temperature, the model's top-k (50 by
        default), then top-p; greedy when ``temperature`` is 0.
        """
        import torch

        wanted = todo if todo is not None else [list(range(n)) for _ in prompts]
        out: list[dict[int, Generation]] = [{} for _ in prompts]
        if not any(wanted):
            return out
        stops = stop if stop and isinstance(stop[0], list) else [stop or []] * len(prompts)
        seeds = seeds or [0] * len(prompts)
        ids = self.tokenizer(prompts, add_special_tokens=not self.has_chat_template)["input_ids"]
        if not _plain_cache(self.model):
            return self._generate_in_batches(
                prompts, ids, wanted, max_new_tokens, temperature, top_p, seeds, stops, batch_size, max_batch_tokens, on_done
            )
        # one waiting entry: a prompt and up to batch_size of its samples (they share one prefill)
        order = sorted(range(len(prompts)), key=lambda i: (len(ids[i]), i))
        waiting = deque((i, wanted[i][k : k + batch_size]) for i in order for k in range(0, len(wanted[i]), batch_size))
        pending = [len(js) for js in wanted]
        eos = self.model.generation_config.eos_token_id
        eos = {e for e in (eos if isinstance(eos, list) else [eos]) + [self.tokenizer.eos_token_id] if e is not None}
        batch = _Batch(self.model, self.device)
        sampler = _Sampler(self.model, temperature, top_p)
        with torch.inference_mode():
            while waiting or batch.rows:
                admit = _admit(waiting, batch, ids, batch_size, max_batch_tokens, max_new_tokens)
                if admit:
                    rows = [_Row(i, j, len(ids[i]), stops[i], sampler.generator(seeds[i], j)) for i, js in admit for j in js]
                    batch.add([ids[i] for i, _ in admit], [len(js) for _, js in admit], rows)
                tokens = sampler.sample(batch.logits, batch.rows)
                ended = [row.push(t, eos, max_new_tokens, self.tokenizer) for row, t in zip(batch.rows, tokens)]
                for row, end in zip(batch.rows, ended):
                    if end:
                        out[row.prompt][row.sample] = row.generation(self.tokenizer)
                        pending[row.prompt] -= 1
                        if pending[row.prompt] == 0 and on_done is not None:
                            on_done(row.prompt, out[row.prompt])
                batch.advance([t for t, end in zip(tokens, ended) if not end], [not end for end in ended])
        return out

    def _generate_in_batches(
        self, prompts, ids, wanted, max_new_tokens, temperature, top_p, seeds, stops, batch_size, max_batch_tokens, on_done
    ) -> list[dict[int, Generation]]:
        """``generate_many`` for models whose KV cache is not one plain tensor per layer (sliding windows...):
        fixed length-sorted batches through ``transformers``' ``generate``, each run until its longest row ends."""
        import torch

        lengths = [len(x) for x in ids]
        # prompts with different stop sequences never share a batch: a stop ends the whole sequence
        groups = [tuple(sorted(s)) for s in stops]
        rows = sorted(((i, j) for i, js in enumerate(wanted) for j in js), key=lambda r: (groups[r[0]], lengths[r[0]], r))
        out: list[dict[int, Generation]] = [{} for _ in prompts]
        pending = [len(js) for js in wanted]
        for batch in _batches(rows, lengths, max_new_tokens, batch_size, max_batch_tokens, groups):
            enc = self.tokenizer(
                [prompts[i] for i, _ in batch], return_tensors="pt", padding=True, add_special_tokens=not self.has_chat_template
            ).to(self.device)
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


def _plain_cache(model) -> bool:
    """Whether ``model``'s KV cache is one growing tensor per layer, which ``generate_many`` can index by row."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        layers = DynamicCache(config=model.config).layers
    except (TypeError, AttributeError):  # an older transformers, whose caches are laid out otherwise
        return False
    return not model.config.is_encoder_decoder and all(type(layer) is DynamicLayer for layer in layers)


def _admit(waiting: deque, batch: _Batch, ids: list[list[int]], size: int, max_tokens: int | None, new_tokens: int) -> list:
    """The waiting entries to start now: as many as fit beside the running rows, once enough places are free
    (a quarter of the batch, or the next prompt's samples) that a prefill is worth its pass over the weights."""
    active = len(batch.rows)
    if not waiting or (active and size - active < min(size, max(len(waiting[0][1]), size // 4, 1))):
        return []
    admit, rows, longest = [], active, max((r.prompt_tokens for r in batch.rows), default=0)
    while waiting:
        i, js = waiting[0]
        wider = max(longest, len(ids[i]))
        fits = rows + len(js) <= size and (max_tokens is None or (rows + len(js)) * (wider + new_tokens) <= max_tokens)
        if not fits and (admit or active):
            break
        admit.append(waiting.popleft())
        rows, longest = rows + len(js), wider
    return admit


@dataclass
class _Row:
    """One sequence being generated: sample ``sample`` of prompt ``prompt``."""

    prompt: int
    sample: int
    prompt_tokens: int
    stop: list[str]
    generator: object
    tokens: list[int] = field(default_factory=list)
    finish: str = "length"

    def push(self, token: int, eos: set[int], max_new_tokens: int, tokenizer) -> bool:
        """Add a sampled token; whether the sequence has ended (EOS, a stop sequence, the length limit)."""
        if token in eos:
            self.finish = "stop"
            return True
        self.tokens.append(token)
        if self.stop and truncate_at_stop(tokenizer.decode(self.tokens, skip_special_tokens=True), self.stop)[1]:
            self.finish = "stop"
            return True
        return len(self.tokens) >= max_new_tokens

    def generation(self, tokenizer) -> Generation:
        text, cut = truncate_at_stop(tokenizer.decode(self.tokens, skip_special_tokens=True), self.stop)
        return Generation(text, self.prompt_tokens, len(self.tokens), "stop" if cut else self.finish)


class _Batch:
    """The running sequences of ``generate_many``: their KV cache (left-padded to one width), attention mask
    and the logits of each one's next token. Rows join after a prefill and leave when they end."""

    def __init__(self, model, device: str):
        import inspect

        self.model, self.device = model, device
        # transformers 5.x renames forward's past_key_values to cache
        self.cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.rows: list[_Row] = []
        self.cache: Any = None  # a DynamicCache, with the mask and last logits of the running rows
        self.mask: Any = None
        self.logits: Any = None

    def add(self, prompts: list[list[int]], counts: list[int], rows: list[_Row]) -> None:
        """Encode ``prompts`` (one pass, left-padded), each one's cache repeated for its ``counts`` samples."""
        import torch
        from transformers import DynamicCache

        width = max(len(p) for p in prompts)
        ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        cache = DynamicCache(config=self.model.config)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self.cache_arg: cache},
        )
        repeats = torch.tensor(counts, device=self.device)
        logits, mask = out.logits[:, -1].float().repeat_interleave(repeats, 0), mask.repeat_interleave(repeats, 0)
        for layer in cache.layers:
            layer.keys, layer.values = layer.keys.repeat_interleave(repeats, 0), layer.values.repeat_interleave(repeats, 0)
        if not self.rows:
            self.cache, self.mask, self.logits = cache, mask, logits
        else:
            wide = max(self.mask.shape[1], mask.shape[1])
            for old, new in zip(self.cache.layers, cache.layers):
                old.keys = torch.cat([_left_pad(old.keys, wide, 2), _left_pad(new.keys, wide, 2)])
                old.values = torch.cat([_left_pad(old.values, wide, 2), _left_pad(new.values, wide, 2)])
            self.mask = torch.cat([_left_pad(self.mask, wide, 1), _left_pad(mask, wide, 1)])
            self.logits = torch.cat([self.logits, logits])
        self.rows += rows

    def advance(self, tokens: list[int], keep: list[bool]) -> None:
        """Drop the rows not kept (and the cache columns only their padding needed); run the kept rows'
        ``tokens`` through the model for their next logits."""
        import torch

        if not all(keep):
            self.rows = [row for row, k in zip(self.rows, keep) if k]
            if not self.rows:
                self.cache = self.mask = self.logits = None
                return
            index = torch.tensor([i for i, k in enumerate(keep) if k], device=self.device)
            mask = self.mask[index]
            first = int(mask.any(0).nonzero()[0])  # leading columns that are padding in every kept row
            self.mask = mask[:, first:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[index, :, first:], layer.values[index, :, first:]
        positions = self.mask.sum(1, keepdim=True)
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], 1)
        out = self.model(
            input_ids=torch.tensor(tokens, device=self.device)[:, None],
            attention_mask=self.mask,
            position_ids=positions,
            use_cache=True,
            **{self.cache_arg: self.cache},
        )
        self.logits = out.logits[:, -1].float()


def _left_pad(x, width: int, dim: int):
    """``x`` padded with zeros at the start of ``dim`` to ``width``."""
    import torch

    missing = width - x.shape[dim]
    if missing == 0:
        return x
    shape = list(x.shape)
    shape[dim] = missing
    return torch.cat([x.new_zeros(shape), x], dim)


class _Sampler:
    """Next tokens as ``transformers``' ``generate`` samples them (temperature, top-k, top-p), each row from its
    own generator; greedy when the temperature is 0."""

    def __init__(self, model, temperature: float, top_p: float):
        from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

        self.device = model.device
        self.greedy = temperature <= 0
        top_k = model.generation_config.top_k if model.generation_config.top_k is not None else 50
        self.warpers = [] if self.greedy else [TemperatureLogitsWarper(temperature)]
        if not self.greedy and top_k:
            self.warpers.append(TopKLogitsWarper(top_k))
        if not self.greedy and top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))

    def generator(self, seed: int, sample: int):
        import torch

        gen = torch.Generator(device=self.device)
        gen.manual_seed(stable_seed(seed, f"sample {sample}"))
        return gen

    def sample(self, logits, rows: list[_Row]) -> list[int]:
        import torch

        if self.greedy:
            return logits.argmax(-1).tolist()
        for warp in self.warpers:
            logits = warp(None, logits)
        probs = logits.softmax(-1)
        return [int(torch.multinomial(p, 1, generator=row.generator)) for p, row in zip(probs, rows)]
