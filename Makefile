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

.PHONY: run test lint typecheck check-knowledge pytest golden-cards lock image bench bench-screen clean

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

# Figures, not a pass/fail (docs/PERFORMANCE.md): a patient-view call in process for
# records of 10 to 20,000 resources beside the json.loads floor, then over HTTP with wrk
# (6 s per line; skipped, saying so, without wrk). About two minutes; writes
# benchmarks/results.json. The population screen has its own, longer bench-screen.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

# `sclc-cds screen` on 10k and 100k generated patients with 1 and 2 local workers: patients
# per second, peak memory (flat from 10k to 100k), results byte-identical across worker
# counts and against `sclc-cds evaluate`. Populations are generated once into the temp
# dir (SCLC_BENCH_DIR) and kept; about 10 minutes the first time, 5 after.
bench-screen: $(STAMP)
	$(BIN)/python benchmarks/bench_screen.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
