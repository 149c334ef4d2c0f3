"""What the training recipes share: a tokenizer with a pad token, quiet logs, YAML recipes with overrides."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path


def load_tokenizer(path: str):
    """The tokenizer of ``path``, with EOS as pad token when it has none (TRL's convention)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def quiet() -> None:
    """No dataset progress bars and only errors from transformers (``--no-progress``)."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()


def load_recipe(cls, path, overrides=()):
    """A ``cls`` dataclass from a YAML file plus ``key=value`` overrides (values parsed as YAML, dotted keys nest)."""
    import yaml

    data = {}
    if path is not None:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of settings")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected key=value")
        node = data
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path or '--set'}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return cls(**data)
