"""perf_analyzer (gRPC) concurrency sweeps on sketch2face and on each composing model.

    make perf-analyzer     # once: the binary from the tritonclient 2.47.0 wheel
    .venv/bin/python -m benchmarks.bench_perf_analyzer [--profile quick|full] \
        [--repository model_repository]

Starts tritonserver on free ports and, for the ensemble and each composing model, runs
perf_analyzer at each concurrency (quick: 1, 8; full: 1, 2, 4, 8, 16, 32) with REAL
inputs as --input-data JSON: held-out sketches (seed 1), each in its own look (APPEARANCE:
named and random looks, sketch2idol/export/samples.sample_looks) and, for the composing models, the
tensors the PyTorch reference computes from them (features, projected features, refined
sketches; t = 0.5), so the KNN step searches real features. Records throughput, p50 / p95 /
p99 latency, perf_analyzer's server queue / compute split, and from Triton's statistics
over the same window, every model's queue and compute time per request and average batch
size (for the ensemble: where its time went, step by step).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import tritonclient.http as httpclient

from benchmarks import servers, triton_stats
from benchmarks.common import PROFILES, ROOT, Run, heldout
from sketch2idol.core import contract
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.export.samples import reference_chain

PERF_DIR = ROOT / "build" / "perf_analyzer"
BINARY = PERF_DIR / "bin" / "perf_analyzer"
CONCURRENCY = {"quick": (1, 8), "full": (1, 2, 4, 8, 16, 32)}
WINDOW_MS = {"quick": 2000, "full": 5000}
MODELS = (contract.ENSEMBLE, *contract.COMPOSING_MODELS)
T = 0.5
#: perf_analyzer's CSV columns that add up to the average latency (us).
AVERAGE_PARTS = ("Client Send", "Network+Server Send/Recv", "Server Queue",
                 "Server Compute Input", "Server Compute Infer", "Server Compute Output",
                 "Client Recv")


def input_files(directory: Path, count: int) -> dict[str, Path]:
    """model -> perf_analyzer input JSON of `count` real requests (batch axis left out):
    every input the model takes, by contract name (the ensemble's and the generator's
    include APPEARANCE)."""
    sketches, _ = heldout(count)
    chain = reference_chain(Pipeline.from_weights(), sketches, (T,))
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for model in MODELS:
        inputs = contract.MODEL_IO[model][0]
        data = [{name: {"content": chain[name][i].ravel().tolist(),
                        "shape": list(chain[name].shape[1:])} for name in inputs}
                for i in range(count)]
        files[model] = directory / f"{model}.json"
        files[model].write_text(json.dumps({"data": data}))
    return files


def perf_analyzer(model: str, grpc: str, data: Path, concurrency: int, window_ms: int,
                  out: Path) -> dict | str:
    """One perf_analyzer run; its CSV row (latencies in us) or the error text."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(PERF_DIR / "lib")}
    command = [str(BINARY), "-m", model, "-i", "grpc", "-u", grpc, "--input-data", str(data),
               "--concurrency-range", f"{concurrency}:{concurrency}", "-p", str(window_ms),
               "--max-trials", "6", "-s", "25", "-f", str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    out.with_suffix(".log").write_text(result.stdout + result.stderr)
    if result.returncode != 0 or not out.exists():
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit {result.returncode}"
    with open(out) as handle:
        return next(csv.DictReader(handle))


def point(row: dict) -> dict:
    """The numbers kept from a perf_analyzer CSV row (ms, inferences/s)."""
    us = {key: float(row[key]) for key in row if key and row[key] not in ("", None)
          and key not in ("Concurrency",) and _number(row[key])}
    compute = sum(us.get(k, 0.0) for k in ("Server Compute Input", "Server Compute Infer",
                                            "Server Compute Output"))
    return {"throughput": round(us["Inferences/Second"], 2),
            "p50": round(us["p50 latency"] / 1e3, 2), "p95": round(us["p95 latency"] / 1e3, 2),
            "p99": round(us["p99 latency"] / 1e3, 2),
            "avg": round(sum(us.get(k, 0.0) for k in AVERAGE_PARTS) / 1e3, 2),
            "server_queue": round(us.get("Server Queue", 0.0) / 1e3, 2),
            "server_compute": round(compute / 1e3, 2)}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--concurrency", help="comma-separated (default: the profile's)")
    parser.add_argument("--requests", type=int, default=16, help="real inputs in the JSON")
    args = parser.parse_args()
    if not BINARY.exists():
        sys.exit(f"{BINARY} is missing: run `make perf-analyzer`")
    levels = ([int(c) for c in args.concurrency.split(",")] if args.concurrency
              else CONCURRENCY[args.profile])
    run = Run("bench_perf_analyzer", args.profile)
    work = servers.WORK / "perf_analyzer"
    files = input_files(work / "inputs", args.requests)
    results: dict[str, dict] = {}
    failures = []
    with servers.triton_server(args.repository, "perf") as triton:
        stats = httpclient.InferenceServerClient(triton.http_address)
        for model in args.models.split(","):
            results[model] = {}
            for concurrency in levels:
                run.quiet()
                before = triton_stats.snapshot(stats)
                row = perf_analyzer(model, triton.grpc_address, files[model], concurrency,
                                    WINDOW_MS[args.profile], work / f"{model}_c{concurrency}.csv")
                models = triton_stats.window(before, triton_stats.snapshot(stats))
                if isinstance(row, str):
                    failures.append(f"{model} c={concurrency}: {row}")
                    print(f"  {model:<20} c={concurrency:>2}: FAILED {row}", flush=True)
                    continue
                summary = point(row)
                raw = run.add(model=model, concurrency=concurrency, **summary,
                              **{f"{m}.{k}": v for m, s in models.items() for k, v in s.items()})
                results[model][concurrency] = {**summary, "models": models, "load": raw["load"]}
                batch = models.get(model, {}).get("avg_batch")
                print(f"  {model:<20} c={concurrency:>2}: {summary['throughput']:7.2f} infer/s  "
                      f"p50 {summary['p50']:7.1f}  p99 {summary['p99']:7.1f} ms  queue "
                      f"{summary['server_queue']:6.1f}  compute {summary['server_compute']:6.1f}"
                      f" ms  batch {batch}  (load {raw['load']})", flush=True)
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    run.write({"repository": str(args.repository), "window_ms": WINDOW_MS[args.profile],
               "requests": args.requests, "concurrency": levels, "failures": failures,
               "results": results})
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
