"""Rewards and preference data: pairs from pass rates, reward-model scoring, best-of-N reranking.

Nothing here imports torch at module load; the reward-model scorer loads it when built.
"""
