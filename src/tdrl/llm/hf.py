"""Local generation with Hugging Face ``transformers`` (CPU or GPU), batched per problem."""

from __future__ import annotations

import hashlib
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
                ids = row.tolist()
                eos = self.tokenizer.eos_token_id
                finish = "length"
                if eos is not None and eos in ids:
                    ids = ids[: ids.index(eos)]
                    finish = "stop"
                while ids and ids[-1] == self.tokenizer.pad_token_id:
                    ids.pop()
                text, cut = truncate_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), stop)
                out.append(Generation(text, prompt_len, len(ids), "stop" if cut else finish))
        return out
