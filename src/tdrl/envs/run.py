"""``tdrl envs tasks`` and ``tdrl envs eval``: task files, expert (SFT) data, and ID-vs-OOD evaluation.

Evaluation writes one record per episode to ``<out>/episodes.jsonl`` as it goes (task id,
split, solved, attempts, return, rewards, the verifier's reasons and the answers) and
resumes after a crash: episodes already in the file are not played again. The report,
``<out>/report.json``, has per split the success rate within ``verify_iter`` attempts, the
first-try success rate and the mean return (navigation adds whole-route success).
"""

from __future__ import annotations

import json
from pathlib import Path

from tdrl.envs import SPLITS, make_env
from tdrl.envs.base import Task


def write_tasks(env_name: str, n: int, split: str, out: str | Path, seed: int = 0, expert: bool = False, **options) -> int:
    """Write ``n`` tasks of ``split`` as JSONL; with ``expert``, TRL prompt-completion rows (SFT data) instead."""
    from tdrl.io import write_jsonl

    env = make_env(env_name, **options)
    tasks = env.tasks(n, split, seed)
    if expert:
        return write_jsonl(out, ({"prompt": t.prompt, "completion": env.expert(t), "task_id": t.id} for t in tasks))
    return write_jsonl(out, tasks)


def run_eval(
    env_name: str,
    model: str,
    out: str | Path,
    n: int = 50,
    splits: tuple[str, ...] = SPLITS,
    seed: int = 1,
    max_new_tokens: int = 128,
    batch_size: int = 16,
    progress: bool = True,
    tasks_file: str | Path | None = None,
    backend: str = "hf",
    base_url: str | None = None,
    concurrency: int = 8,
    **options,
) -> dict:
    """Play ``n`` tasks per split greedily with ``model``; returns the report (also ``<out>/report.json``).

    ``backend`` ``hf`` plays a local transformers model in batches (token-exact, as in
    training); ``openai`` plays a model behind an OpenAI-compatible server at ``base_url``
    with ``concurrency`` conversations at once (temperature 0). ``tasks_file`` (a ``tdrl
    envs tasks`` JSONL) replaces the generated tasks: all its tasks of ``env_name`` are
    played, grouped by their ``split``.
    """
    from tdrl.envs.rollout import play, play_chat, summarize
    from tdrl.execution.run import ProgressBar
    from tdrl.io import ResumableWriter, iter_jsonl

    env = make_env(env_name, **options)
    if tasks_file is None:
        tasks = {split: env.tasks(n, split, seed) for split in splits}
    else:
        tasks = {}
        for t in read_tasks(tasks_file):
            if t.env == env_name:
                tasks.setdefault(t.split, []).append(t)
        splits = tuple(tasks)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "episodes.jsonl"
    with ResumableWriter(path, key=lambda r: r["task_id"]) as writer:
        todo = [t for split in splits for t in tasks[split] if t.id not in writer.done]
        if todo and backend == "openai":
            from tdrl.llm.chat import Chat

            with (
                Chat(model, "openai", base_url, concurrency, max_tokens=max_new_tokens, temperature=0.0) as chat,
                ProgressBar(progress, len(todo), label=f"{env_name} episodes", unit="episodes") as advance,
            ):
                for start in range(0, len(todo), batch_size):
                    for episode in play_chat(chat, env, todo[start : start + batch_size], seed, advance):
                        writer.write(episode.summary())
        elif todo:
            hf_model, tokenizer = _load(model)
            with ProgressBar(progress, len(todo), label=f"{env_name} episodes", unit="episodes") as advance:
                for start in range(0, len(todo), batch_size):
                    batch = todo[start : start + batch_size]
                    for r in play(hf_model, tokenizer, env, batch, max_new_tokens, 0.0, batch_size, progress=advance):
                        writer.write(r.episode.summary())
    episodes = {}
    for _, record in iter_jsonl(path):
        episodes[record["task_id"]] = record
    report = {"env": env_name, "model": model, "options": options, "seed": seed, "splits": {}}
    for split in splits:
        report["splits"][split] = summarize(env, [episodes[t.id] for t in tasks[split]], tasks[split])
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def _load(model: str):
    from transformers import AutoModelForCausalLM

    from tdrl.llm.embedded import resolve_model
    from tdrl.training.common import load_tokenizer

    path = resolve_model(model)
    hf_model = AutoModelForCausalLM.from_pretrained(path)
    hf_model.eval()
    return hf_model, load_tokenizer(path)


def read_tasks(path: str | Path) -> list[Task]:
    from tdrl.io import read_records

    return list(read_records(path, Task.from_dict))
