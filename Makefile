# sketch2idol — every set-up step a fresh machine needs lives here.
#   make test    set up, then run the whole test suite (what CI runs)
#   make data    render the default procedural training set into data/synth
#   make lint    ruff

PYTHON      ?= python3.11
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
WORKERS     ?= $(shell nproc)
DATA_COUNT  ?= 5000
DATA_SEED   ?= 0
DATA_SIZE   ?= 256

.PHONY: setup test lint data preview bench-data clean help

help:
	@sed -n '1,5p' Makefile

# The stamp is rebuilt only when the pins change, so `make setup` is quick when nothing did.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

setup: $(STAMP)

test: setup
	$(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check sketch2idol tests benchmarks

data: setup
	$(BIN)/sketch2idol data synth --count $(DATA_COUNT) --size $(DATA_SIZE) \
		--seed $(DATA_SEED) --workers $(WORKERS) --out data/synth

preview: setup
	$(BIN)/sketch2idol data preview data/synth -o docs/synth_preview.png

bench-data: setup
	$(BIN)/python benchmarks/bench_synth.py

clean:
	rm -rf $(VENV) .pytest_cache
