"""One-request-at-a-time latency of the sketch2face ensemble in a real tritonserver.

    .venv/bin/python benchmarks/bench_triton_latency.py --repository model_repository \
        [--requests 30] [--warmup 3]

Starts tritonserver on free ports, sends held-out sketches (batch 1, t = 0.5, each in one of
the sample looks) over HTTP one after another, and prints the client-side p50/p90 latency
plus, from Triton's statistics, each composing model's compute and queue time per request.
Concurrency sweeps and throughput are perf_analyzer's job (benchmarks issue); this is the
interactive number.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient

from sketch2idol.core import contract
from sketch2idol.core.faces_request import ensemble_inputs
from sketch2idol.export.samples import HELDOUT_SEED, render_sketches, sample_looks
from sketch2idol.launch.tritonserver import TritonServer, free_ports


def model_times(client, names) -> dict[str, tuple[float, float, int]]:
    """model -> (total compute ns, total queue ns, requests) so far."""
    stats = {s["name"]: s for s in client.get_inference_statistics()["model_stats"]}
    times = {}
    for name in names:
        inference = stats[name]["inference_stats"]
        compute = sum(inference[key]["ns"] for key in
                      ("compute_input", "compute_infer", "compute_output"))
        times[name] = (compute, inference["queue"]["ns"], inference["success"]["count"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    sketches = render_sketches(HELDOUT_SEED, 8, 256)
    looks = sample_looks(len(sketches))
    t = np.full((1, 5), 0.5, np.float32)
    names = (*contract.COMPOSING_MODELS, contract.ENSEMBLE)
    with tempfile.TemporaryDirectory() as work:
        ports = free_ports(3)
        with TritonServer(args.repository, http_port=ports[0], grpc_port=ports[1],
                          metrics_port=ports[2], work_dir=Path(work)) as server:
            client = httpclient.InferenceServerClient(server.http_address)

            def infer(i: int) -> float:
                inputs = ensemble_inputs(sketches[i % len(sketches)][None], t,
                                         looks[i % len(looks)][None], httpclient)
                started = time.perf_counter()
                client.infer(contract.ENSEMBLE, inputs)
                return time.perf_counter() - started

            for i in range(args.warmup):
                infer(i)
            before = model_times(client, names)
            latencies = [infer(i) for i in range(args.requests)]
            after = model_times(client, names)
    ms = 1000 * np.asarray(latencies)
    print(f"{args.repository}: {args.requests} requests, batch 1, HTTP, one at a time")
    print(f"end to end: p50 {np.percentile(ms, 50):.1f} ms, p90 {np.percentile(ms, 90):.1f} ms")
    for name in names:
        count = after[name][2] - before[name][2]
        compute = (after[name][0] - before[name][0]) / count / 1e6
        queue = (after[name][1] - before[name][1]) / count / 1e6
        print(f"  {name:<20} compute {compute:6.1f} ms   queue {queue:5.1f} ms")


if __name__ == "__main__":
    main()
