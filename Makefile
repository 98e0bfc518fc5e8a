# Quick start: `make run` serves, `make test` runs the whole suite. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Python folders ruff checks and formats.
PY_PATHS := service tests benchmarks tools
# constraints.txt pins every runtime and test dependency, transitively; `make lock`
# rewrites it from pyproject.toml, keeping every pin that still fits (LOCK_FLAGS=--upgrade
# moves everything to the newest release instead).
LOCK_TOOL := uv==0.13.8
LOCK_COMPILE := uv pip compile pyproject.toml --extra test --python-version 3.11 \
    --output-file constraints.txt
LOCK_FLAGS ?=

.PHONY: run test lint typecheck check-knowledge pytest golden-cards lock image bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sclc-cds serve --port 8080

lint: $(STAMP)
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/ruff format --check $(PY_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

# The knowledge base (cards/) against the source documents in ../shared/docs.
check-knowledge: $(STAMP)
	$(BIN)/python -m tools.check_knowledge

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck check-knowledge pytest

# Rewrite tests/expected/cards/ from the current code, on purpose; review the diff.
golden-cards: $(STAMP)
	$(BIN)/python -m tests.update_golden_cards

# Needs only the venv, not the install: a lock that no longer fits pyproject.toml must
# still be rewritable.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(LOCK_TOOL)
	$(BIN)/$(LOCK_COMPILE) --quiet $(LOCK_FLAGS) \
	    --custom-compile-command 'make lock  (which runs: $(LOCK_COMPILE))'

# Build the container image with podman and check it serves (scripts/image.sh; root).
image:
	bash scripts/image.sh

# Figures, not a pass/fail: how long reading, evaluating and a hook call take here.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
