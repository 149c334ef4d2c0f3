"""Play episodes with a transformers model: batched, multi-turn, token-exact.

:func:`play` runs every task as an :class:`~tdrl.envs.base.Episode`: the model answers, the
verifier's reply is appended as the next user turn, and the model answers again until the
episode is solved or out of attempts. It keeps the exact tokens: the prompt, and one
completion holding every answer (``env_mask`` 1, what the model wrote) and every reply in
between (``env_mask`` 0, what the environment wrote). The same function serves evaluation
(greedy), SFT-vs-RL studies, and TRL's ``GRPOTrainer`` through :func:`grpo_rollout`, whose
``env_mask`` keeps the replies out of the loss and whose per-token ``logprobs`` are what
TRL's importance-sampling correction compares against (:func:`completion_logprobs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tdrl.envs.base import Episode, Task

_SLOT = "\x00ANSWER\x00"


@dataclass
class Rollout:
    episode: Episode
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)


class Turns:
    """Token ids of a task's prompt and of the environment's replies, in the model's chat format.

    With a chat template, a reply is whatever the template puts between an assistant answer
    and the next assistant turn (end of turn, user header, reply, assistant header); without
    one, the reply is a plain text line.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.chat = bool(getattr(tokenizer, "chat_template", None))
        self.eos_text = tokenizer.eos_token or ""

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_text(self, prompt: str) -> str:
        if not self.chat:
            return prompt + "\n"
        messages = [{"role": "user", "content": prompt}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def reply_text(self, reply: str, answered_eos: bool) -> str:
        if not self.chat:
            return f"\n{reply}\n"
        messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": _SLOT}, {"role": "user", "content": reply}]
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        text = rendered.split(_SLOT, 1)[1]
        if answered_eos and self.eos_text and text.startswith(self.eos_text):
            text = text[len(self.eos_text) :]  # the model already wrote the end of its turn
        return text


def play(
    model,
    tokenizer,
    env,
    tasks: list[Task],
    max_new_tokens: int = 96,
    temperature: float = 0.0,
    batch_size: int = 16,
    progress=None,
) -> list[Rollout]:
    """Play ``tasks`` to the end; greedy when ``temperature`` is 0. ``progress()`` is called per finished episode."""
    import torch

    turns = Turns(tokenizer)
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    rollouts = [Rollout(Episode(env, t), turns.encode(turns.prompt_text(t.prompt))) for t in tasks]
    device = next(model.parameters()).device
    while active := [r for r in rollouts if not r.episode.done]:
        for start in range(0, len(active), batch_size):
            chunk = active[start : start + batch_size]
            contexts = [r.prompt_ids + r.completion_ids for r in chunk]
            width = max(len(c) for c in contexts)
            ids = torch.tensor([[pad] * (width - len(c)) + c for c in contexts], device=device)
            mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in contexts], device=device)
            sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
            with torch.no_grad():
                out = model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=pad,
                    eos_token_id=eos,
                    use_cache=True,
                    **sampling,
                )
            for r, row in zip(chunk, out[:, width:].tolist()):
                answer_ids = row[: row.index(eos) + 1] if eos in row else row
                answer = tokenizer.decode(answer_ids, skip_special_tokens=True)
                r.completion_ids += answer_ids
                r.env_mask += [1] * len(answer_ids)
                reply = r.episode.step(answer)
                if reply is None:
                    if progress:
                        progress()
                    continue
                reply_ids = turns.encode(turns.reply_text(reply, bool(answer_ids) and answer_ids[-1] == eos))
                r.completion_ids += reply_ids
                r.env_mask += [0] * len(reply_ids)
    return rollouts


def play_chat(chat, env, tasks: list[Task], seed: int = 0, progress=None) -> list[Episode]:
    """Play ``tasks`` through a :class:`tdrl.llm.chat.Chat` (an OpenAI-compatible server, or a local model).

    The conversation is a list of messages: the task, then each answer and the verifier's
    reply as the next user turn. Episodes run concurrently, ``chat.parallel`` at a time.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tdrl.llm.hf import stable_seed

    def one(task: Task) -> Episode:
        episode = Episode(env, task)
        messages = [{"role": "user", "content": task.prompt}]
        while not episode.done:
            answer = chat(messages, stable_seed(seed, f"{task.id}/{len(episode.verdicts)}")).text
            reply = episode.step(answer)
            messages.append({"role": "assistant", "content": answer})
            if reply is not None:
                messages.append({"role": "user", "content": reply})
        if progress:
            progress()
        return episode

    with ThreadPoolExecutor(max(1, chat.parallel)) as pool:
        return list(pool.map(one, tasks))


def evaluate(model, tokenizer, env, tasks: list[Task], max_new_tokens: int = 96, batch_size: int = 16, progress=None) -> dict:
    """Greedy play; success (within ``verify_iter`` attempts), first-try success and mean return, plus the episodes."""
    rollouts = play(model, tokenizer, env, tasks, max_new_tokens, 0.0, batch_size, progress)
    episodes = [r.episode.summary() for r in rollouts]
    return summarize(env, episodes, tasks)


def summarize(env, episodes: list[dict], tasks: list[Task]) -> dict:
    """Success, first-try success and mean return of episode summaries, plus the environment's own
    ``metrics(episodes, tasks)`` where it has one (navigation: whole-route success)."""
    n = max(len(episodes), 1)
    out = {
        "episodes": len(episodes),
        "success": sum(e["solved"] for e in episodes) / n,
        "first_try": sum(e["first_try"] for e in episodes) / n,
        "mean_return": sum(e["return"] for e in episodes) / n,
    }
    if hasattr(env, "metrics"):
        out.update(env.metrics(episodes, tasks))
    return out


def completion_logprobs(
    model, prompt_ids: list[list[int]], completion_ids: list[list[int]], temperature: float = 1.0, batch_size: int = 8
) -> list[list[float]]:
    """Per-token log-probabilities of each completion after its prompt, as TRL computes them.

    ``log_softmax(logits / temperature)`` at each completion token, from one forward pass of
    ``model`` over prompt + completion (right-padded batches, so no position moves). Reply
    tokens written by the environment get their log-probability too; ``env_mask`` keeps
    them out of the loss.
    """
    import torch

    device = next(model.parameters()).device
    scale = temperature if temperature > 0 else 1.0
    out: list[list[float]] = []
    for start in range(0, len(prompt_ids), batch_size):
        rows = [p + c for p, c in zip(prompt_ids[start : start + batch_size], completion_ids[start : start + batch_size])]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows], device=device)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits.float() / scale
        logps = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        for row, (p, c) in enumerate(zip(prompt_ids[start : start + batch_size], completion_ids[start : start + batch_size])):
            out.append(logps[row, len(p) - 1 : len(p) - 1 + len(c)].tolist())
    return out


def grpo_rollout(env, tasks: list[Task], max_new_tokens: int, temperature: float = 1.0):
    """A ``rollout_func`` for TRL's ``GRPOTrainer``: multi-turn episodes for the batch's prompts.

    The dataset's ``prompt`` column holds the task prompt (plain text); the rollout finds the
    task by its prompt, plays it with the policy being trained, and returns the tokens, their
    ``logprobs`` under the policy at ``temperature`` (what TRL's vLLM importance-sampling
    correction reads; here sampling and training model are one, so the ratio is 1), the
    ``env_mask`` and two columns the reward functions read: ``env_return`` and ``env_solved``.
    """
    by_prompt = {t.prompt: t for t in tasks}

    def rollout(prompts: list, trainer) -> dict:
        model = trainer.accelerator.unwrap_model(trainer.model)
        batch = [by_prompt[p if isinstance(p, str) else p[-1]["content"]] for p in prompts]
        rollouts = play(model, trainer.processing_class, env, batch, max_new_tokens, temperature, batch_size=len(batch))
        prompt_ids, completion_ids = [r.prompt_ids for r in rollouts], [r.completion_ids for r in rollouts]
        return {
            "prompt_ids": prompt_ids,
            "completion_ids": completion_ids,
            "logprobs": completion_logprobs(model, prompt_ids, completion_ids, temperature),
            "env_mask": [r.env_mask for r in rollouts],
            "env_return": [r.episode.ret for r in rollouts],
            "env_solved": [float(r.episode.solved) for r in rollouts],
        }

    return rollout


def env_return(completions, env_return, **kwargs) -> list[float]:
    """Reward: the episode return (see :mod:`tdrl.envs.base`)."""
    return [float(x) for x in env_return]


def env_solved(completions, env_solved, **kwargs) -> list[float]:
    """Metric (weight 0): 1.0 for a solved episode."""
    return [float(x) for x in env_solved]
