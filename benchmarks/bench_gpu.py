"""GPU throughput of the three networks (batch 1..64) and torch KNN on the GPU vs the CPU.

    benchmarks/gpu.sh                  # on a GPU machine; see that script
    PYTHONPATH=. python3 -m benchmarks.bench_gpu [--out benchmarks/results] [--quick]

Needs only torch (CUDA), numpy, safetensors, opencv/scikit-image (to render the held-out
sketches) and this repository: no onnxruntime, FAISS or Triton. The networks are the
served graphs (sketch2idol/export/graphs.py: uint8 in, uint8 out) built from `weights/default` with
sketch2idol.core.weights.load_weights, run in fp32 (TF32 allowed) and in fp16 autocast, on real
held-out sketches and the tensors the reference computes from them. KNN: exact K=10 search
(one matrix product + topk) over banks of 10k / 100k / 1M x 512 rows (real bank rows
resampled with noise) at batch 1 and 32, on the GPU and on all CPU cores, with the GPU's
neighbours checked against the CPU's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import RESULTS, Run, heldout
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import DEFAULT_WEIGHTS, load_weights
from sketch2idol.export.graphs import network_graphs
from sketch2idol.export.samples import reference_chain

BATCHES = (1, 2, 4, 8, 16, 32, 64)
BANK_SIZES = (10_000, 100_000, 1_000_000)
K = 10


def timed(function, device: torch.device, repeats: int) -> float:
    """Median seconds of function() after 3 warm-up calls, synchronising on CUDA."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    for _ in range(3):
        function()
    sync()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def networks(run: Run, device: torch.device, repeats: int, batches) -> dict:
    weights = load_weights(DEFAULT_WEIGHTS)
    sketches, _ = heldout(8, weights.size)
    chain = reference_chain(Pipeline(weights), sketches, (0.5,))
    results = {}
    for name, graph in network_graphs(weights).items():
        module = graph.module.to(device).eval()
        samples = [torch.from_numpy(np.ascontiguousarray(chain[name]))
                   for name in graph.input_names]  # the generator: refined sketch + look
        for precision in ("fp32", "fp16"):
            for batch in batches:
                x = [sample[torch.arange(batch) % len(sample)].to(device) for sample in samples]

                def call(module=module, x=x, precision=precision):
                    with torch.no_grad(), torch.autocast(device.type, torch.float16,
                                                         enabled=precision == "fp16"):
                        return module(*x)
                seconds = timed(call, device, repeats)
                row = run.add(part="network", name=name, precision=precision, batch=batch,
                              ms=round(1e3 * seconds, 3),
                              images_per_s=round(batch / seconds, 1))
                results[f"{name}/{precision}/{batch}"] = row
                print(f"{name:<10} {precision} batch {batch:>2}: {row['ms']:8.2f} ms  "
                      f"{row['images_per_s']:9.1f} images/s", flush=True)
        module.to("cpu")
    return results


def knn(run: Run, device: torch.device, repeats: int, sizes) -> dict:
    weights = load_weights(DEFAULT_WEIGHTS)
    real = torch.from_numpy(np.ascontiguousarray(weights.bank_features[:, -1]))
    generator = torch.Generator().manual_seed(0)
    scale = real.std(dim=0, keepdim=True) * 0.3
    results = {}
    for rows in sizes:
        picks = torch.randint(0, len(real), (rows,), generator=generator)
        bank = real[picks] + scale * torch.randn(rows, real.shape[1], generator=generator)
        queries = real[torch.randint(0, len(real), (32,), generator=generator)]
        found = {}
        for where in ("cuda", "cpu"):
            target = device if where == "cuda" else torch.device("cpu")  # "cuda": --device
            b, q = bank.to(target), queries.to(target)
            norms = (b * b).sum(dim=1)

            def search(q, b=b, norms=norms):
                distances = norms[None, :] - 2.0 * q @ b.T
                return distances.topk(K, dim=1, largest=False).indices
            found[where] = search(q).cpu()
            for batch in (1, 32):
                seconds = timed(lambda q=q[:batch], search=search: search(q), target, repeats)
                row = run.add(part="knn", name=f"torch exact {where}", rows=rows, batch=batch,
                              ms=round(1e3 * seconds, 3))
                results[f"{rows}/{where}/{batch}"] = row
                print(f"knn {rows:>9,} rows {where:<4} batch {batch:>2}: {row['ms']:8.3f} ms",
                      flush=True)
            del b, norms
        agreement = float(np.mean([len(set(a.tolist()) & set(c.tolist())) / K
                                   for a, c in zip(found["cuda"], found["cpu"])]))
        results[f"{rows}/agreement"] = agreement
        print(f"knn {rows:>9,} rows: GPU/CPU neighbour agreement {agreement:.4f}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="batches 1, 8, 64; banks to 100k")
    parser.add_argument("--device", default="cuda", help="cpu: a smoke test of this script")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("FAIL: no CUDA device visible to torch")
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    run = Run("bench_gpu", "quick" if args.quick else "full", results=args.out)
    batches = (1, 8, 64) if args.quick else BATCHES
    sizes = BANK_SIZES[:2] if args.quick else BANK_SIZES
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (smoke test)"
    gpu = {"name": name, "torch": torch.__version__,
           "cuda": torch.version.cuda, "cpu_threads": torch.get_num_threads()}
    print(gpu, flush=True)
    summary = {"gpu": gpu, "networks": networks(run, device, args.repeats, batches),
               "knn": knn(run, device, args.repeats, sizes)}
    failures = [key for key, value in summary["knn"].items()
                if key.endswith("agreement") and value < 0.99]
    print("PASS" if not failures else f"FAIL: GPU and CPU neighbours disagree: {failures}")
    run.write(summary)


if __name__ == "__main__":
    main()
