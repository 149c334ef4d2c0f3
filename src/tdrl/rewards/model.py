"""Score programs with a trained reward model: batched, on CPU or GPU, usable as an RL reward.

The text scored is built exactly as TRL's ``RewardTrainer`` built it in training: for a
standard pair, ``prompt + completion`` plus the EOS token; for a conversational one, the
chat template over the prompt messages and the assistant's answer. Long inputs are cut from
the left, so the end of the answer (where a sequence-classification head reads) is kept.
"""

from __future__ import annotations

from pathlib import Path


class RewardModelScorer:
    """``scorer(prompts, completions) -> list[float]``, also TRL's reward-function signature."""

    __name__ = "reward_model"

    def __init__(self, path: str, device: str | None = None, batch_size: int = 16, max_length: int = 1024):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if not (Path(path) / "config.json").exists() and not (Path(path) / "adapter_config.json").exists():
            raise FileNotFoundError(f"reward model {path}: not a model folder (train one with `tdrl train-rm`)")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.truncation_side = "left"
        if (Path(path) / "adapter_config.json").exists():  # a LoRA reward model: adapter and score head, merged in memory
            from peft import AutoPeftModelForSequenceClassification

            model = AutoPeftModelForSequenceClassification.from_pretrained(path, num_labels=1).merge_and_unload()
        else:
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        self.model = model.to(self.device).eval()
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size, self.max_length = batch_size, max_length

    def _ids(self, prompt, completion) -> list[int]:
        if isinstance(prompt, list):  # conversational
            answer = completion if isinstance(completion, list) else [{"role": "assistant", "content": completion}]
            ids = self.tokenizer.apply_chat_template(prompt + answer, tokenize=True, return_dict=True)["input_ids"]
        else:
            if isinstance(completion, list):  # a conversational completion scored against a plain prompt
                completion = "".join(m.get("content", "") for m in completion)
            text = prompt + completion
            eos = self.tokenizer.eos_token or ""
            if eos and not text.endswith(eos):
                text += eos
            ids = self.tokenizer(text)["input_ids"]
        return ids[-self.max_length :]

    def score(self, prompts: list, completions: list) -> list[float]:
        import torch

        encoded = [self._ids(p, c) for p, c in zip(prompts, completions)]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        scores = [0.0] * len(encoded)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[row, : len(encoded[i])] = 1
            with torch.no_grad():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            for row, i in enumerate(idx):
                scores[i] = float(logits[row, 0])
        return scores

    def __call__(self, prompts: list, completions: list, **_) -> list[float]:
        return self.score(prompts, completions)
