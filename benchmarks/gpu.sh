#!/usr/bin/env bash
# GPU benchmarks: the three networks at batch 1..64 (fp32, fp16) and exact torch KNN on the
# GPU vs the CPU, for a lent GPU machine with NO internet.
#
#   benchmarks/gpu.sh [--quick] [--repeats 20]
#
# Needs: python3 (3.11 or 3.12) with torch (CUDA), numpy, pillow, opencv, scikit-image,
# safetensors, tqdm; this repository without .venv/data/runs (weights/default travels with
# it, ~55 MB). Nothing is installed or downloaded. Writes $OUT/bench_gpu.json and
# $OUT/raw/bench_gpu.csv ($OUT defaults to benchmarks/results); copy bench_gpu.json back
# into benchmarks/results/ and run `python -m benchmarks.report` to put it in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-benchmarks/results}
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
"$PYTHON" - <<'PY'
import sys
import torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}")
if not torch.cuda.is_available():
    sys.exit("FAIL: torch sees no CUDA device")
print(f"GPU: {torch.cuda.get_device_name(0)}")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader \
    || true
exec "$PYTHON" -m benchmarks.bench_gpu --out "$OUT" "$@"
