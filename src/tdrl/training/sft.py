"""Supervised fine-tuning on verified solutions (TRL's ``SFTTrainer``), e.g. before RL.

Rows are TRL prompt-completion records (``prompt``/``completion``, strings or message
lists); the loss covers the completion only. The result is saved as a plain HF folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tdrl.errors import NoData


def sft_train(
    model: str,
    rows: list[dict],
    out_dir: str | Path,
    epochs: float = 1.0,
    learning_rate: float = 2e-5,
    batch_size: int = 8,
    max_steps: int = -1,
    seed: int = 0,
    progress: bool = True,
    callbacks: Sequence = (),
) -> dict:
    """Fine-tune ``model`` on ``rows``; returns TRL's training metrics. The model is saved to ``out_dir``.

    ``callbacks`` are transformers ``TrainerCallback`` objects (e.g. evaluation every few steps).
    """
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from tdrl.llm.embedded import resolve_model
    from tdrl.training.common import compact_trainer_output, load_tokenizer

    if not rows:
        raise NoData("no SFT rows")
    path = resolve_model(model)
    tokenizer = load_tokenizer(path)
    gpu = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=str(Path(out_dir) / "checkpoints"),
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        save_strategy="no",
        report_to="none",
        logging_steps=10,
        seed=seed,
        use_cpu=not gpu,
        bf16=False,
        disable_tqdm=not progress,
    )
    trainer = SFTTrainer(
        model=path,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
    compact_trainer_output(trainer, progress)  # log dicts stay in the run's metrics file
    result = trainer.train()
    trainer.model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return dict(result.metrics)
