"""Test synthesis (``tdrl synth``): problems plus tests, from a reference solution, an LLM, or a brute-force oracle.

Seed, mutate, dedupe, check: inputs are grown from seed inputs and type hints (``inputs``),
expected outputs come from running the reference in the sandbox (``reference``), and tests
are chosen for how many wrong variants of the reference (``mutants``) they catch. ``llm``
asks a model for a problem and asserts (AceCoder-style), ``oracle`` checks an efficient
solution against an LLM-written brute force, ``decontaminate`` flags overlap with
benchmarks, and ``run`` drives the stage resumably with a quality report.
"""
