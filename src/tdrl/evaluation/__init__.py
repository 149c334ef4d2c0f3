"""Evaluation: benchmark loaders (and later pass@k and reports)."""
