"""When should exact FAISS search switch from per-query loops to one BLAS product?

    .venv/bin/python benchmarks/bench_faiss_blas.py [--repository model_repository]

Searches one component bank of an exported repository (IndexFlatL2, K=10, one thread)
with batches of 1..32 noisy bank rows, once with FAISS's default switch-over
(`distance_compute_blas_threshold`, never for these batches) and once forcing BLAS;
prints the median of 20 runs. sketch2idol.serving.knn.BLAS_MIN_QUERIES comes from this.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import faiss
import numpy as np

from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.serving.knn import VECTORS_FILE

BATCHES = (1, 2, 4, 8, 16, 32)


def median_ms(index, queries: np.ndarray, k: int, repeats: int) -> float:
    index.search(queries, k)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        index.search(queries, k)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--component", choices=COMPONENTS, default="remainder")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    vectors = np.load(args.repository / "manifold_projection" / "1" / VECTORS_FILE)
    bank = np.ascontiguousarray(vectors[COMPONENTS.index(args.component)])
    faiss.omp_set_num_threads(1)
    index = faiss.IndexFlatL2(bank.shape[1])
    index.add(bank)
    rng = np.random.default_rng(0)
    default = faiss.cvar.distance_compute_blas_threshold
    print(f"{args.component} bank {bank.shape}, K=10, 1 thread; median ms of {args.repeats}")
    print("batch " + " ".join(f"{b:>7}" for b in BATCHES))
    for label, threshold in (("loops", default), ("BLAS", 1)):
        faiss.cvar.distance_compute_blas_threshold = threshold
        row = []
        for batch in BATCHES:
            queries = bank[rng.integers(0, len(bank), batch)]
            queries = queries + rng.normal(0, 0.1, queries.shape).astype(np.float32)
            row.append(median_ms(index, queries, 10, args.repeats))
        print(f"{label:<5} " + " ".join(f"{ms:7.2f}" for ms in row))


if __name__ == "__main__":
    main()
