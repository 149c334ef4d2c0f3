"""Training recipes on TRL: the Bradley-Terry reward model (and, later, RL).

Imports torch, transformers, trl and peft inside functions only.
"""
