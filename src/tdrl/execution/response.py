"""A model's response as the verifier should see it: without the tokenizer's special tokens.

Engines hand rewards text decoded in different ways. OpenRLHF (0.11) decodes prompt +
response with ``skip_special_tokens=False``, so the end-of-turn text (``<|im_end|>``,
``<|endoftext|>``, ``</s>``, ...) and any padding follow the answer; verl and TRL decode
with ``skip_special_tokens=True``. :func:`normalize_response` makes them agree:

* with a tokenizer, every one of its special tokens is removed wherever it occurs, which
  is what ``skip_special_tokens=True`` would have given;
* without one, a trailing run of known end-of-turn and padding texts (and the whitespace
  between them) is removed; text of that shape inside the answer is left alone, since
  ``"</s>"`` is also an HTML tag a program may print.

What was removed is returned, so adapters can report it. Nothing here runs or trusts the
response; it is text in, text out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# end-of-turn / end-of-text / padding texts of common chat models (Qwen, Llama 2/3, Mistral,
# Gemma, Phi, DeepSeek, StarCoder, SmolLM), for engines that do not give us their tokenizer
ENGINE_SPECIAL_TEXTS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<|eos|>",
    "<|pad|>",
    "<|fim_pad|>",
    "<end_of_turn>",
    "<eos>",
    "<pad>",
    "</s>",
    "[PAD]",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  # DeepSeek's full-width bars
)


@dataclass
class Normalized:
    """The cleaned text and the special texts taken out of it, in order of appearance."""

    text: str
    stripped: list[str] = field(default_factory=list)


def special_texts(tokenizer) -> tuple[str, ...]:
    """A HF tokenizer's special tokens as text (eos, pad, added special tokens), longest first."""
    names = set(getattr(tokenizer, "all_special_tokens", None) or [])
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    names |= {t.content for t in added.values() if getattr(t, "special", False)}  # what skip_special_tokens drops
    for attr in ("eos_token", "pad_token", "bos_token"):
        value = getattr(tokenizer, attr, None)
        if isinstance(value, str):
            names.add(value)
    return tuple(sorted((n for n in names if n), key=len, reverse=True))


def _reversed_run(specials: tuple[str, ...]) -> re.Pattern:
    """The trailing run ``(?:\\s*(?:specials))+\\s*`` of a text, as a pattern matched at the start of the reversed text.

    Searching for the run with ``\\Z`` at the end retries from every position of a long
    whitespace run, quadratic in it (10 s for 20 KB of newlines); matched once, at position 0
    of the reversed text, it costs the run's length.
    """
    alternatives = "|".join(re.escape(s[::-1]) for s in sorted(specials, key=len, reverse=True))
    return re.compile(rf"(?:\s*(?:{alternatives}))+\s*")


_ENGINE_RUN = _reversed_run(ENGINE_SPECIAL_TEXTS)
_ENGINE_ONE = re.compile("|".join(re.escape(s) for s in sorted(ENGINE_SPECIAL_TEXTS, key=len, reverse=True)))


def normalize_response(text: str, tokenizer=None, specials: tuple[str, ...] | None = None) -> Normalized:
    """``text`` without special tokens: all of ``tokenizer``'s (or ``specials``) anywhere, else a trailing run of engine EOS/pad texts."""
    if not isinstance(text, str):
        raise TypeError(f"a response is text, got {type(text).__name__}")
    if tokenizer is not None or specials:
        names = tuple(specials or ()) + (special_texts(tokenizer) if tokenizer is not None else ())
        names = tuple(sorted(set(names), key=len, reverse=True))
        if not names:
            return Normalized(text)
        pattern = re.compile("|".join(re.escape(s) for s in names))
        stripped = pattern.findall(text)
        return Normalized(pattern.sub("", text) if stripped else text, stripped)
    m = _ENGINE_RUN.match(text[::-1])
    if m is None:
        return Normalized(text)
    start = len(text) - m.end()
    return Normalized(text[:start], _ENGINE_ONE.findall(text, start))
