"""A tiny Llama model and BPE tokenizer built locally in seconds, for tests and CPU demos.

Nothing is downloaded: the tokenizer is trained on a small built-in corpus of Python, the
model is randomly initialised (about 100K parameters). It writes code-shaped noise, which
is all a pipeline test needs; training stages teach it real tasks.
"""

from __future__ import annotations

from pathlib import Path

_CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def mean(xs):\n    return sum(xs) / len(xs)\n",
    "def is_even(n):\n    return n % 2 == 0\n",
    "for i in range(10):\n    print(i)\n",
    "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
    "def f(x):\n    if x > 0:\n        return x\n    return -x\n",
    "class Solution:\n    def solve(self, nums):\n        return sorted(nums)\n",
    "```python\ndef g(s):\n    return s[::-1]\n```\n",
    "assert add(1, 2) == 3\n",
    "while True:\n    break\n",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
    "{% if m['role'] == 'assistant' %}<|endoftext|>{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tiny_model(
    path: str | Path,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    vocab: int = 400,
    chat: bool = False,
    corpus: list[str] = (),
) -> str:
    """Write a tiny causal LM and its tokenizer to ``path`` (an HF folder); returns the path.

    ``corpus`` adds texts of the task at hand to the tokenizer's training, so they take fewer tokens.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|pad|>", "<|user|>", "<|assistant|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 20 + list(corpus), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>", bos_token="<|endoftext|>"
    )
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)
