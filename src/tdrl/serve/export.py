"""Problems to verl's RL parquet: ``data_source``, ``prompt`` (chat messages), ``ability``,
``reward_model`` (``style: rule``, ``ground_truth``: the problem's JSON) and ``extra_info``."""

from __future__ import annotations


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
