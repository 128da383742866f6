"""Memory and speed of one onnxruntime session as the batch size varies, as the dynamic
batcher varies it: onnxruntime's memory patterns on (its default) against off (what
sketch2idol/serving/onnx_model.py sets).

    .venv/bin/python -m benchmarks.ort_memory [--model model_repository/generator/1/model.onnx]

Each setting runs in a fresh process (RSS is per process): batch sizes 1, 2, 4, 8, 12, 16,
each twice (the second run of a size is where a memory pattern takes its block), printing
VmRSS after each; then, in a third process holding both sessions, the median time of 8
interleaved runs of each at batch 1, 4, 8 and 16 (so both see the same machine load).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks.common import ROOT, load_average
from benchmarks.rss import memory_kib

BATCHES = (1, 2, 4, 8, 12, 16)
TIMED_BATCHES = (1, 4, 8, 16)
SETTINGS = {"patterns on (onnxruntime default)": True, "patterns off (served)": False}


def session(model: str, mem_pattern: bool, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_mem_pattern = mem_pattern
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def feed(session, size: int, rng: np.random.Generator) -> dict:
    """Random inputs at batch `size` for every graph input: uint8 pixels, float values in
    [0, 1] (an APPEARANCE is a look only there)."""
    inputs = {}
    for graph_input in session.get_inputs():
        shape = [size] + [d if isinstance(d, int) else 1 for d in graph_input.shape[1:]]
        inputs[graph_input.name] = (rng.integers(0, 255, shape).astype(np.uint8)
                                    if "uint8" in graph_input.type
                                    else rng.random(shape, dtype=np.float32))
    return inputs


def memory(model: str, mem_pattern: bool, threads: int) -> list[tuple[int, int]]:
    """(batch, VmRSS MiB) after each run of one session in this process."""
    runner, rng, rss_mib = session(model, mem_pattern, threads), np.random.default_rng(0), []
    for size in BATCHES:
        for _ in range(2):
            runner.run(None, feed(runner, size, rng))
            rss_mib.append((size, round(memory_kib(os.getpid())[0] / 1024)))
    return rss_mib


def speed(model: str, threads: int, repeats: int = 8) -> dict[str, dict[int, float]]:
    """Median ms per batch of both settings, their runs interleaved (so both see the same
    machine load)."""
    runners = {on: session(model, on, threads) for on in SETTINGS.values()}
    rng, times = np.random.default_rng(0), {on: {} for on in runners}
    for size in TIMED_BATCHES:
        inputs = feed(runners[True], size, rng)
        runs = {on: [] for on in runners}
        for runner in runners.values():
            runner.run(None, inputs)  # each shape's first run plans its memory
        for _ in range(repeats):
            for on, runner in runners.items():
                started = time.perf_counter()
                runner.run(None, inputs)
                runs[on].append(1e3 * (time.perf_counter() - started))
        for on in runners:
            times[on][size] = round(float(np.median(runs[on])), 1)
    return {str(on): values for on, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "model_repository/generator/1/model.onnx"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=("on", "off", "speed"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "speed":
        print(json.dumps(speed(args.model, args.threads)))
        return
    if args.child:
        print(json.dumps(memory(args.model, args.child == "on", args.threads)))
        return
    print(f"{args.model}, {args.threads} threads; load average before {load_average()}")
    results = {child: json.loads(subprocess.run(
        [sys.executable, "-m", "benchmarks.ort_memory", "--model", args.model, "--threads",
         str(args.threads), "--child", child], cwd=ROOT, check=True, capture_output=True,
        text=True).stdout.strip().splitlines()[-1]) for child in ("on", "off", "speed")}
    for label, on in SETTINGS.items():
        print(f"{label}: RSS MiB after each run (batch:MiB) "
              + " ".join(f"{b}:{m}" for b, m in results["on" if on else "off"]))
    for label, on in SETTINGS.items():
        print(f"{label}: median ms (interleaved runs) " + ", ".join(
            f"batch {b}: {ms}" for b, ms in results["speed"][str(on)].items()))
    print(f"load average after {load_average()}")


if __name__ == "__main__":
    main()
