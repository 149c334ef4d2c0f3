"""Training recipes on TRL: SFT on verified solutions (``sft``), the Bradley-Terry reward model
(``reward_model``), RL with verifiable rewards on GRPO/RLOO (``rl``), supervised RL from expert
steps (``srl``), and iterative self-training of a generator and a reranker (``iterate``);
``common`` holds what they share (YAML recipes with typed overrides, the ``lora`` block).

Imports torch, transformers, trl and peft inside functions only.
"""
