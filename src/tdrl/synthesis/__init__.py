"""Test synthesis: problems plus tests from reference solutions (and, later, LLMs).

Seed, mutate, dedupe, check: inputs are grown from seed inputs and type hints, expected
outputs come from running the reference in the sandbox, and tests are chosen for how many
wrong variants of the reference (mutants) they catch.
"""
