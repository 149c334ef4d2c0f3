"""Decontamination: flag synthesised problems that overlap evaluation benchmarks.

A problem overlaps a benchmark when its statement shares at least one word n-gram (13
words by default, after lower-casing and dropping punctuation) with a benchmark prompt.
Benchmark prompts come from files given by path (HumanEval/MBPP/EvalPlus/LiveCodeBench
JSONL, plain or gzipped): every string field named ``prompt``, ``text``, ``question``,
``question_content``, ``description`` or ``instruction`` is read. Nothing is downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path

from tdrl.io import iter_jsonl

PROMPT_FIELDS = ("prompt", "text", "question", "question_content", "description", "instruction")
_WORD = re.compile(r"[a-z0-9_]+")


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class BenchmarkIndex:
    """The n-grams of every benchmark prompt, with where each came from."""

    def __init__(self, paths: list[str | Path], n: int = 13):
        self.n = n
        self.grams: dict[tuple[str, ...], str] = {}
        for path in paths:
            for lineno, d in iter_jsonl(path):
                if not isinstance(d, dict):
                    continue
                label = f"{Path(path).name}:{d.get('task_id') or d.get('question_id') or d.get('id') or lineno}"
                for field in PROMPT_FIELDS:
                    if isinstance(d.get(field), str):
                        for g in ngrams(d[field], n):
                            self.grams.setdefault(g, label)

    def overlap(self, text: str) -> list[str]:
        """The benchmark items whose prompts share an n-gram with ``text`` (empty when clean)."""
        return sorted({self.grams[g] for g in ngrams(text, self.n) if g in self.grams})
