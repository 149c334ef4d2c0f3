"""Problems to the engines' prompt data.

* verl's RL parquet: ``data_source``, ``prompt`` (chat messages), ``ability``,
  ``reward_model`` (``style: rule``, ``ground_truth``: the problem's JSON) and ``extra_info``.
* OpenRLHF's prompt JSONL: ``prompt`` (chat messages for ``--data.apply_chat_template``, or
  the plain text for the completion format), ``label`` (the problem's JSON, or its id with
  ``labels="id"``) and ``problem_id``, read with ``--data.input_key prompt --data.label_key label``.

Labels never carry the reference solution.
"""

from __future__ import annotations

from tdrl.errors import ConfigError


def verl_rows(problems, fmt: str = "instruct", data_source: str = "tdrl", split: str = "train") -> list[dict]:
    from tdrl.sampling.prompts import build_prompt
    from tdrl.serve.scoring import problem_label

    rows = []
    for index, problem in enumerate(problems):
        messages, prompt, _ = build_prompt(problem, fmt)
        rows.append(
            {
                "data_source": data_source,
                "prompt": messages if messages is not None else [{"role": "user", "content": prompt}],
                "ability": "code",
                "reward_model": {"style": "rule", "ground_truth": problem_label(problem)},
                "extra_info": {"split": split, "index": index, "problem_id": problem.id},
            }
        )
    return rows


def export_verl(problems_path, out_path, fmt: str = "instruct", data_source: str = "tdrl", split: str = "train") -> int:
    """Write ``out_path`` (parquet); returns the row count."""
    from datasets import Dataset

    from tdrl.io import read_problems

    rows = verl_rows(read_problems(problems_path), fmt, data_source, split)
    Dataset.from_list(rows).to_parquet(str(out_path))
    return len(rows)


def openrlhf_rows(problems, fmt: str = "instruct", labels: str = "problem") -> list[dict]:
    """Rows for OpenRLHF's ``--data.prompt_dataset``; ``labels`` is ``problem`` (self-contained) or ``id``."""
    from tdrl.sampling.prompts import build_prompt
    from tdrl.serve.scoring import problem_label

    if labels not in ("problem", "id"):
        raise ConfigError(f"labels {labels!r}: problem or id")
    rows = []
    for problem in problems:
        messages, prompt, _ = build_prompt(problem, fmt)
        label = problem_label(problem) if labels == "problem" else problem.id
        rows.append({"prompt": messages if messages is not None else prompt, "label": label, "problem_id": problem.id})
    return rows


def export_openrlhf(problems_path, out_path, fmt: str = "instruct", labels: str = "problem") -> int:
    """Write ``out_path`` (JSONL, one prompt per line); returns the row count."""
    from tdrl.io import read_problems, write_jsonl

    rows = openrlhf_rows(read_problems(problems_path), fmt, labels)
    write_jsonl(out_path, rows)
    return len(rows)
