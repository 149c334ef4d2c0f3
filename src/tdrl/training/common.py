"""What the training recipes share: a tokenizer with a pad token, quiet logs, YAML recipes with overrides
(checked and converted to the declared types), the one ``lora`` block, and the trainer arguments every
TRL trainer takes from a recipe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdrl.errors import ConfigError


def load_tokenizer(path: str):
    """The tokenizer of ``path``, with EOS as pad token when it has none (TRL's convention)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def quiet() -> None:
    """No progress bars, load reports or warnings from third-party libraries, only their errors (``--no-progress``)."""
    import datasets
    import transformers

    from tdrl.io import silence_third_party

    silence_third_party()
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_recipe(cls, path, overrides=(), paths: tuple[str, ...] = ("problems",), flags: dict | None = None):
    """A ``cls`` dataclass from a YAML file plus ``key=value`` overrides (values parsed as YAML, dotted keys nest),
    then ``flags`` (``{dotted key: value}``, a command's own options that were given; they win).

    Every key is checked before any work starts, nested ones included (a dict field whose
    ``metadata["schema"]`` names a dataclass, a function or a key-to-type mapping): an
    unknown key or a value of the wrong type fails naming the key (``rm.max_step: unknown
    setting; did you mean max_steps?``). Values are converted to the declared type where that
    loses nothing: an int or a number written as text (YAML reads ``1e-5`` as a string) for a
    float field; ``"3"`` for an int field is an error. Relative paths in the file (the fields named in
    ``paths``, dotted for nested ones, ``[]`` for each item of a list; and ``model`` when
    such a folder exists there) are read from the config file's folder, so a recipe runs
    from anywhere; ``--set`` paths are relative to the current folder.
    """
    import yaml

    data: dict[str, Any] = {}
    if path is not None:
        if not Path(path).exists():
            raise ConfigError(f"{path}: config file not found")
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings")
        base = Path(path).resolve().parent
        for spec in paths:
            _rebase(data, spec.split("."), base)
        model = data.get("model")
        if isinstance(model, str) and not Path(model).expanduser().is_absolute() and (base / model).exists():
            data["model"] = str(base / model)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value")
        _seed_default(cls, data, key)
        _put(data, key, yaml.safe_load(value), f"--set {item!r}")
    for key, value in (flags or {}).items():
        _put(data, key, value, f"--{key}")
    check_settings(cls, data, where=f"{path}: " if path else "")
    return cls(**data)


def _seed_default(cls, data: dict, key: str) -> None:
    """Before ``--set rl.max_steps=2`` with no ``rl:`` given, start from the field's default mapping, so the
    other default keys stay (``--set rl={...}`` still replaces the whole mapping, as in a file)."""
    import dataclasses

    top, dot, _ = key.partition(".")
    if not dot or top in data or not dataclasses.is_dataclass(cls):
        return
    for f in dataclasses.fields(cls):
        if f.name == top and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
            if isinstance(default, dict):
                data[top] = default


def _put(data: dict, key: str, value: Any, source: str) -> None:
    """Set the dotted ``key`` of ``data`` (``rl.lora.r``), making the mappings on the way."""
    node = data
    *parents, last = key.split(".")
    for i, part in enumerate(parents):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: {'.'.join(parents[: i + 1])} is not a mapping of settings")
    node[last] = value


@dataclass
class LoraSettings:
    """The one ``lora:`` block of every recipe (RL, reward model, iterate, studies): ``{r: 16, alpha: 32}``.

    ``alpha`` defaults to ``2 * r``; the adapter goes on every linear layer (PEFT's ``all-linear``).
    No block (``null``) trains the whole model.
    """

    r: int = 16
    alpha: int | None = None
    dropout: float = 0.0


def peft_lora(lora: dict | None, task_type: str):
    """PEFT's ``LoraConfig`` for a recipe's ``lora`` block (``task_type`` ``CAUSAL_LM`` or ``SEQ_CLS``); None without one."""
    if not lora:
        return None
    if not isinstance(lora, dict):
        raise ConfigError(f"lora: expected a mapping such as {{r: 16, alpha: 32}}, got {lora!r}")
    from peft import LoraConfig

    s = LoraSettings(**lora)
    return LoraConfig(
        task_type=task_type, r=s.r, lora_alpha=s.alpha or 2 * s.r, lora_dropout=s.dropout, target_modules="all-linear"
    )


def trainer_args(cfg: Any, output_dir: str, progress: bool, **extra) -> dict:
    """The ``TrainingArguments`` fields every recipe sets the same way from its config (steps, rate, batch, logs, seed)."""
    return dict(
        output_dir=output_dir,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        disable_tqdm=not progress,
        **extra,
    )


def _rebase(node, parts: list[str], base: Path) -> None:
    """Make the relative path at ``parts`` (``a.b``, ``a[].b``) absolute against ``base``."""
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(node, dict) or key not in node:
        return
    if each:
        items = node[key] if isinstance(node[key], list) else []
        for item in items:
            if rest:
                _rebase(item, rest, base)
        return
    if rest:
        _rebase(node[key], rest, base)
    elif isinstance(node[key], str) and node[key] not in ("", "-") and not Path(node[key]).expanduser().is_absolute():
        node[key] = str(base / node[key])


def _schema(spec) -> dict | None:
    """Key -> type hint (None: any type) of a dataclass, a function's parameters, or a mapping; None: unchecked."""
    import dataclasses
    import importlib
    import inspect
    import typing

    if spec is None:
        return None
    if isinstance(spec, dict):
        return spec
    if isinstance(spec, str):
        module, _, name = spec.partition(":")
        spec = getattr(importlib.import_module(module), name)
    try:
        hints = typing.get_type_hints(spec)
    except Exception:  # forward references a third-party class cannot resolve: names only
        hints = {}
    if dataclasses.is_dataclass(spec):
        return {f.name: hints.get(f.name) for f in dataclasses.fields(spec)}
    return {n: hints.get(n) for n in inspect.signature(spec).parameters if n not in ("self", "kwargs", "args")}


def _type_ok(value, hint) -> bool:
    import types
    import typing

    if hint is None or hint is typing.Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    hint = origin or hint
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint in (str, list, dict, tuple):
        return isinstance(value, hint)
    return True  # a type this check does not know: left to the recipe


def _convert(value, hint):
    """``value`` as the declared type where that loses nothing: an int, or a number in text, for a float field."""
    import types
    import typing

    origin = typing.get_origin(hint)
    arms = typing.get_args(hint) if origin in (typing.Union, types.UnionType) else (hint,)
    if float not in arms or int in arms or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str) and str not in arms:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _type_name(hint) -> str:
    import typing

    args = typing.get_args(hint)
    if args and typing.get_origin(hint) not in (list, dict, tuple):
        return " or ".join(_type_name(a) for a in args)
    return "null" if hint is type(None) else getattr(typing.get_origin(hint) or hint, "__name__", str(hint))


def check_settings(spec, data: dict, where: str = "", prefix: str = "") -> None:
    """Raise :class:`~tdrl.errors.ConfigError` naming the first unknown key or wrongly typed value of ``data``
    (nested dicts too); values are converted in place where the declared type allows (:func:`_convert`)."""
    import dataclasses
    import difflib

    schema = _schema(spec)
    if schema is None:
        return
    nested = {}
    if isinstance(spec, str):
        import importlib

        module, _, name = spec.partition(":")
        spec = getattr(importlib.import_module(module), name)
    if dataclasses.is_dataclass(spec):
        nested = {f.name: f.metadata.get("schema") for f in dataclasses.fields(spec) if f.metadata.get("schema")}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else f"; known: {', '.join(sorted(schema))}"
            raise ConfigError(f"{where}{name}: unknown setting{hint}")
        value = data[key] = _convert(value, schema[key])
        if not _type_ok(value, schema[key]):
            raise ConfigError(f"{where}{name}: expected {_type_name(schema[key])}, got {value!r} ({type(value).__name__})")
        if key in nested and isinstance(value, dict):
            check_settings(nested[key], value, where, f"{name}.")
        elif key in nested and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    check_settings(nested[key], item, where, f"{name}[{i}].")


def compact_trainer_output(trainer, progress: bool) -> None:
    """The user sees tdrl's output, not the trainer's raw log dicts (they are in the run's metrics file).

    Without progress, the dict printer goes; with it, the bar stays and shows the latest loss,
    reward or accuracy as its postfix instead of printing every dict under it."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    if not progress:
        trainer.remove_callback(PrinterCallback)
        return

    class CompactProgress(ProgressCallback):
        shown = ("reward", "loss", "eval_loss", "eval_accuracy", "accuracy")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and self.training_bar is not None and logs:
                post = {k: f"{logs[k]:.3f}" for k in self.shown if isinstance(logs.get(k), (int, float))}
                if post:
                    self.training_bar.set_postfix(post, refresh=False)

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(CompactProgress())
