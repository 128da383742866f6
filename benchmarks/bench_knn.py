"""KNN at scale: NumPy brute force vs FAISS Flat, IVF, HNSW and IVF-PQ on big banks.

    .venv/bin/python -m benchmarks.bench_knn [--profile quick|full] [--sizes 10000,100000]

The shipped bank has 5,000 rows per component; bigger ones are sampled from a Gaussian
mixture fitted to the real bank (--component, default remainder): k-means (32 clusters),
then per cluster its mean and covariance (shrunk 10% toward the diagonal so that it is full
rank). Queries are real: the encoder's features of held-out sketches (seed 1).

For every index: build time (train + add, all cores), memory (the serialised index; the
projection also memory-maps the bank vectors for the weights, whatever the index), search
time with ONE thread as the served model runs it (batch 1: median ms per query; batch 32:
median ms per batch of 32), and recall@10 against exact search. Sweeps: IVF nlist x nprobe,
HNSW M x efSearch, IVF-PQ (64 x 8 bit codes) nprobe, with and without exact re-ranking of
4K candidates. One component's search; a request searches five. quick: 10k and 100k rows;
full: 10k, 100k, 1M.
"""

from __future__ import annotations

import os

# One search thread, as the served projection model runs (search_threads 1); OpenBLAS reads
# this once at import, so it is set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import PROFILES, Run, heldout  # noqa: E402
from sketch2idol.core import manifold  # noqa: E402
from sketch2idol.core.geometry import COMPONENTS  # noqa: E402
from sketch2idol.core.pipeline import Pipeline  # noqa: E402
from sketch2idol.core.weights import DEFAULT_WEIGHTS, load_weights  # noqa: E402
from sketch2idol.serving.knn import BLAS_MIN_QUERIES  # noqa: E402

K = 10
BATCH = 32
CLUSTERS = 32
SHRINK = 0.1
SIZES = {"quick": (10_000, 100_000), "full": (10_000, 100_000, 1_000_000)}
HNSW_M = (16, 32)
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = (16, 32, 64, 128, 256)
NPROBE = (1, 4, 16, 64)
PQ_CODES = 64
REFINE_FACTOR = 4
SEARCH_BUDGET_S = 1.5  # batch-1 timing stops after this long (NumPy at 1M rows is slow)


class Mixture:
    """A Gaussian mixture fitted to real bank rows [M, D]."""

    def __init__(self, rows: np.ndarray, clusters: int = CLUSTERS, seed: int = 0):
        kmeans = faiss.Kmeans(rows.shape[1], clusters, niter=25, seed=seed)
        kmeans.train(rows)
        _, labels = kmeans.index.search(rows, 1)
        self.weights, self.means, self.factors = [], [], []
        for cluster in range(clusters):
            members = rows[labels[:, 0] == cluster].astype(np.float64)
            if len(members) < 2:
                continue
            covariance = np.cov(members, rowvar=False)
            covariance = (1 - SHRINK) * covariance + SHRINK * np.diag(np.diag(covariance))
            covariance += 1e-6 * np.eye(len(covariance))
            self.weights.append(len(members))
            self.means.append(members.mean(axis=0))
            self.factors.append(np.linalg.cholesky(covariance))
        self.weights = np.asarray(self.weights, np.float64) / sum(self.weights)

    def sample(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(count, self.weights)
        out = np.empty((count, len(self.means[0])), np.float32)
        start = 0
        for mean, factor, n in zip(self.means, self.factors, counts):
            for chunk in range(0, n, 65_536):
                m = min(65_536, n - chunk)
                z = rng.standard_normal((m, len(mean)))
                out[start:start + m] = mean + z @ factor.T
                start += m
        return out[rng.permutation(count)]


def power_of_two(x: float) -> int:
    return 2 ** int(round(np.log2(max(1.0, x))))


def nlists(rows: int) -> list[int]:
    """About sqrt(rows) and 4 sqrt(rows), powers of two, at least 39 training rows each."""
    cap = rows // 39
    return sorted({min(power_of_two(f * rows ** 0.5), cap) for f in (1, 4)})


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)]))


def search_times(search, queries: np.ndarray) -> tuple[float, float]:
    """(median ms per query at batch 1, median ms per batch of 32)."""
    search(queries[:1])
    singles, deadline = [], time.perf_counter() + SEARCH_BUDGET_S
    for query in queries:
        started = time.perf_counter()
        search(query[None])
        singles.append(time.perf_counter() - started)
        if time.perf_counter() > deadline and len(singles) >= 3:
            break
    batches, deadline = [], time.perf_counter() + SEARCH_BUDGET_S
    for repeat in range(7):
        rows = np.roll(queries, -repeat * BATCH, axis=0)[:BATCH]
        started = time.perf_counter()
        search(np.ascontiguousarray(rows))
        batches.append(time.perf_counter() - started)
        if time.perf_counter() > deadline and len(batches) >= 3:
            break
    return 1e3 * statistics.median(singles), 1e3 * statistics.median(batches)


def built(factory, bank: np.ndarray, cores: int):
    """(index, build seconds), building with every core."""
    faiss.omp_set_num_threads(cores)
    started = time.perf_counter()
    index = factory()
    if not index.is_trained:
        index.train(bank)
    index.add(bank)
    seconds = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    return index, seconds


def index_configs(rows: int, dim: int):
    """(family, build parameters, factory, [(search parameters, setter)])."""
    configs = [("flat", "", lambda: faiss.IndexFlatL2(dim), [("", lambda index: None)])]
    for nlist in nlists(rows):
        def ivf(nlist=nlist):
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist)
            index.cp.max_points_per_centroid = 64  # bounds k-means time at 1M rows
            return index
        sweep = [(f"nprobe={p}", lambda index, p=p: setattr(index, "nprobe", p))
                 for p in NPROBE if p <= nlist]
        configs.append(("ivf", f"nlist={nlist}", ivf, sweep))
    for m in HNSW_M:
        def hnsw(m=m):
            index = faiss.IndexHNSWFlat(dim, m)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            return index
        sweep = [(f"efSearch={ef}", lambda index, ef=ef: setattr(index.hnsw, "efSearch", ef))
                 for ef in HNSW_EF_SEARCH]
        configs.append(("hnsw", f"M={m} efC={HNSW_EF_CONSTRUCTION}", hnsw, sweep))
    nlist = nlists(rows)[-1]
    for refine in (False, True):
        def ivfpq(nlist=nlist, refine=refine):
            index = faiss.IndexIVFPQ(faiss.IndexFlatL2(dim), dim, nlist, PQ_CODES, 8)
            index.cp.max_points_per_centroid = 64
            if refine:
                index = faiss.IndexRefineFlat(index)
                index.k_factor = REFINE_FACTOR
            return index

        def setter(p):
            def apply(index):
                faiss.extract_index_ivf(index).nprobe = p
            return apply
        sweep = [(f"nprobe={p}", setter(p)) for p in NPROBE[1:] if p <= nlist]
        family = "ivfpq+refine" if refine else "ivfpq"
        configs.append((family, f"nlist={nlist} m={PQ_CODES}x8", ivfpq, sweep))
    return configs


def bench_size(run: Run, rows: int, mixture: Mixture, queries: np.ndarray, cores: int) -> None:
    bank = mixture.sample(rows, seed=rows)
    dim = bank.shape[1]
    print(f"-- {rows:,} rows x {dim} (load {os.getloadavg()[0]:.2f})", flush=True)
    faiss.omp_set_num_threads(1)
    exact_ids, _ = manifold.nearest_neighbours(queries, bank, K)
    run.quiet()
    single, batch = search_times(lambda q: manifold.nearest_neighbours(q, bank, K), queries)
    run.add(rows=rows, family="numpy", build="manifold.nearest_neighbours", search="",
            build_s=0.0, memory_mb=round(bank.nbytes / 2**20, 1), ms_batch1=round(single, 3),
            ms_batch32=round(batch, 3), recall10=1.0)
    print(f"   numpy brute force: {single:.2f} ms/query, {batch:.2f} ms/32", flush=True)
    for family, build, factory, sweep in index_configs(rows, dim):
        run.quiet()
        index, seconds = built(factory, bank, cores)
        memory = faiss.serialize_index(index).nbytes / 2**20
        for search, apply in sweep:
            apply(index)
            _, found = index.search(queries, K)
            run.quiet()
            single, batch = search_times(lambda q, index=index: index.search(q, K), queries)
            row = run.add(rows=rows, family=family, build=build, search=search,
                          build_s=round(seconds, 2), memory_mb=round(memory, 1),
                          ms_batch1=round(single, 3), ms_batch32=round(batch, 3),
                          recall10=round(recall(found, exact_ids), 4))
            print(f"   {family:<12} {build:<16} {search:<13} build {seconds:7.1f} s "
                  f"{memory:8.1f} MiB  {single:8.3f} ms/q  {batch:8.2f} ms/32  recall "
                  f"{row['recall10']:.3f}  (load {row['load']})", flush=True)
        del index


def best_rows(rows: list[dict], min_recall: float = 0.95) -> dict[int, dict]:
    """Per bank size, the fastest configuration at batch 32 with recall@10 >= min_recall."""
    best = {}
    for row in rows:
        if row["family"] == "numpy" or row["recall10"] < min_recall:
            continue
        current = best.get(row["rows"])
        if current is None or row["ms_batch32"] < current["ms_batch32"]:
            best[row["rows"]] = row
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--sizes", help="comma-separated bank sizes (default: the profile's)")
    parser.add_argument("--component", choices=COMPONENTS, default="remainder")
    parser.add_argument("--queries", type=int, default=128, help="held-out query sketches")
    args = parser.parse_args()
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes else SIZES[args.profile])
    run = Run("bench_knn", args.profile)
    cores = len(os.sched_getaffinity(0))
    faiss.cvar.distance_compute_blas_threshold = BLAS_MIN_QUERIES * 512  # as served
    weights = load_weights(DEFAULT_WEIGHTS)
    component = COMPONENTS.index(args.component)
    real = np.ascontiguousarray(weights.bank_features[:, component])
    sketches, _ = heldout(args.queries, weights.size)
    queries = np.ascontiguousarray(Pipeline(weights).refiner.encode(sketches)[:, component])
    mixture = Mixture(real)
    for rows in sizes:
        bench_size(run, rows, mixture, queries, cores)
    best = best_rows(run.rows)
    for rows, row in best.items():
        print(f"fastest with recall@10 >= 0.95 at {rows:,}: {row['family']} {row['build']} "
              f"{row['search']} ({row['ms_batch32']} ms/32, recall {row['recall10']})")
    run.write({"component": args.component, "real_bank_rows": len(real),
               "queries": len(queries), "k": K, "search_threads": 1, "build_threads": cores,
               "mixture_clusters": CLUSTERS, "sizes": list(sizes),
               "best": {str(k): v for k, v in best.items()}, "rows": run.rows})


if __name__ == "__main__":
    main()
