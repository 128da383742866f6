"""The FAISS side of the manifold projection: build, save, load and search per-component
indexes, and the ProjectionEngine that turns one batched search into projected features.

Artifacts (all in one directory, the Triton model version directory):

    index_<component>.faiss   one FAISS index per geometry.COMPONENTS entry
    bank_vectors.npy          float32 [C, M, D] bank rows (memory-mapped at load); the
                              locally-linear weights need the neighbours' vectors
    bank_ids.json             JSON list of M sample ids: NEIGHBORS value r is bank_ids[r]
    projection.json           k, regularisation, dims, rows, index kinds, policy, faiss version

The maths (weights, weighted sum, blend) is sketch2idol.core.manifold's; the exact index returns
the same neighbours in the same order as manifold.nearest_neighbours, on every CPU: FAISS's
distances round differently with the SIMD width (AVX2, AVX-512) and between its per-query
loops and its BLAS path, even for identical bank rows, so FAISS only shortlists K +
manifold.TIE_MARGIN rows and manifold.rank_shortlist orders them by float64 distances
computed directly (nearest first, rows at equal distance by the lower row). Nothing here
imports torch or Triton.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from sketch2idol.core import contract, manifold
from sketch2idol.core.contract import BANK_IDS_FILE
from sketch2idol.core.geometry import COMPONENTS

FORMAT_VERSION = 1
VECTORS_FILE = "bank_vectors.npy"
CONFIG_FILE = "projection.json"
INDEX_KINDS = ("flat", "hnsw", "ivf")
#: Exact search switches from per-query loops to one BLAS matrix product at this many
#: queries (FAISS 1.15's default switches at 250 queries of 512 dims). Measured with
#: benchmarks/bench_faiss_blas.py on the default remainder bank (5000 x 512, 1 thread,
#: 2-core Xeon, AVX-512): loops 0.39 / 1.51 / 12.5 ms at batch 1 / 4 / 32, BLAS 1.34 /
#: 1.77 / 6.3.
#: FAISS 1.15 compares queries x dimension with its threshold (found by measurement), and
#: the setting is process-wide, which is fine: each Triton model instance is a process.
BLAS_MIN_QUERIES = 4
DEVICES = ("auto", "cpu", "gpu")
T_RANGE_MESSAGE = f"T must be in {contract.T_RANGE_TEXT} ({contract.T_MEANING})"


def index_file_name(component: str) -> str:
    """File name of one component's FAISS index."""
    return f"index_{component}.faiss"


@dataclass(frozen=True)
class IndexPolicy:
    """Which FAISS index each component bank gets, and where it is searched.

    Banks of up to `exact_max_rows` rows get an exact IndexFlatL2 (neighbours identical to
    the NumPy oracle); bigger banks get the `approximate` kind. The defaults come from
    `python -m benchmarks.bench_knn --profile full` (BENCHMARKS.md, "KNN at scale", one
    search thread): exact search costs ~0.9 ms per query at 10k rows but ~16 ms at 100k, so
    it stops at 10,000 rows (the shipped 5,000-row bank stays exact); HNSW M=32 with
    efSearch 32 was the fastest setting with recall@10 >= 0.95 at both 100k (0.99, 4.9 ms
    per batch of 32) and 1M rows (0.975, 9.5 ms, vs 3.3 s for NumPy), where M=16 needed
    efSearch 64 (12.6 ms at 1M) and IVF several times the search time for that recall.
    """

    exact_max_rows: int = 10_000
    approximate: str = "hnsw"  # "hnsw" or "ivf"
    hnsw_m: int = 32  # graph degree
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 32  # FAISS searches with max(efSearch, K)
    ivf_nlist: int = 1024  # capped at rows // 39 so every list trains on enough points
    ivf_nprobe: int = 32
    device: str = "auto"  # "auto": GPU when faiss has one; "cpu"; "gpu": GPU or fail

    def __post_init__(self) -> None:
        if self.approximate not in INDEX_KINDS[1:]:
            raise ValueError(f"approximate={self.approximate!r} must be 'hnsw' or 'ivf'")
        if self.device not in DEVICES:
            raise ValueError(f"device={self.device!r} must be one of {DEVICES}")
        for name in ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nlist",
                     "ivf_nprobe"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        if self.exact_max_rows < 0:
            raise ValueError(f"exact_max_rows={self.exact_max_rows} must not be negative")

    def index_kind(self, rows: int) -> str:
        """'flat' for banks of up to exact_max_rows rows, else the approximate kind."""
        return "flat" if rows <= self.exact_max_rows else self.approximate


def gpu_available() -> bool:
    """Whether this faiss build has GPU support and sees at least one GPU."""
    if not hasattr(faiss, "StandardGpuResources"):
        return False
    try:
        return faiss.get_num_gpus() > 0
    except Exception:  # a GPU build without a usable driver
        return False


def resolve_device(device: str) -> str:
    """'auto' -> 'gpu' when available, else 'cpu'; 'gpu' without a GPU raises RuntimeError."""
    if device not in DEVICES:
        raise ValueError(f"index device {device!r} must be one of {DEVICES}")
    if device == "gpu" and not gpu_available():
        raise RuntimeError("index device 'gpu' was requested but this faiss build has no GPU "
                           f"support or sees no GPU (faiss {faiss.__version__}); use 'auto' or "
                           "'cpu'")
    if device == "auto":
        return "gpu" if gpu_available() else "cpu"
    return device


def build_index(vectors: np.ndarray, kind: str, policy: IndexPolicy) -> faiss.Index:
    """A CPU FAISS index of `kind` ('flat', 'hnsw', 'ivf') holding the rows of [M, D]."""
    rows, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatL2(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, policy.hnsw_m)
        index.hnsw.efConstruction = policy.hnsw_ef_construction
        index.hnsw.efSearch = policy.hnsw_ef_search
    elif kind == "ivf":
        nlist = max(1, min(policy.ivf_nlist, rows // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist)
        index.train(vectors)
        index.nprobe = min(policy.ivf_nprobe, nlist)
    else:
        raise ValueError(f"index kind {kind!r} must be one of {INDEX_KINDS}")
    index.add(vectors)
    return index


def _validate_bank(bank_features: np.ndarray, bank_ids: list[str], k: int) -> None:
    if bank_features.ndim != 3 or bank_features.shape[1] != len(COMPONENTS):
        raise ValueError(f"bank features {bank_features.shape} must be [M, {len(COMPONENTS)}, D]"
                         f" (components {', '.join(COMPONENTS)})")
    rows, _, dim = bank_features.shape
    if rows < 1 or dim < 1:
        raise ValueError(f"bank features {bank_features.shape} must have rows and features")
    if not np.isfinite(bank_features).all():
        raise ValueError("bank features contain NaN or inf")
    if len(bank_ids) != rows:
        raise ValueError(f"{len(bank_ids)} bank ids for {rows} bank rows; need one id per row")
    if not all(isinstance(sample_id, str) and sample_id for sample_id in bank_ids):
        raise ValueError("bank ids must be non-empty strings")
    if len(set(bank_ids)) != rows:
        raise ValueError("bank ids must be unique")
    if not 1 <= k <= rows:
        raise ValueError(f"k={k} must be between 1 and the bank size {rows}")


def build_projection_artifacts(bank_features: np.ndarray, bank_ids: list[str],
                               out_dir: str | Path, policy: IndexPolicy | None = None,
                               k: int = manifold.DEFAULT_K,
                               regularisation: float = manifold.DEFAULT_REGULARISATION,
                               ) -> list[Path]:
    """Write the projection artifacts for a bank of [M, C, D] features into `out_dir`.

    Returns the absolute paths of every file written (for the integrity manifest).
    """
    policy = policy or IndexPolicy()
    bank_features = np.asarray(bank_features, np.float32)
    bank_ids = list(bank_ids)
    _validate_bank(bank_features, bank_ids, k)
    if not regularisation >= 0.0:
        raise ValueError(f"regularisation={regularisation} must be >= 0")
    rows, _, dim = bank_features.shape
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    vectors = np.ascontiguousarray(bank_features.transpose(1, 0, 2))  # [C, M, D]
    written = [out_dir / VECTORS_FILE]
    np.save(written[0], vectors)
    kind = policy.index_kind(rows)
    for component, component_vectors in zip(COMPONENTS, vectors):
        path = out_dir / index_file_name(component)
        faiss.write_index(build_index(component_vectors, kind, policy), str(path))
        written.append(path)
    written.append(out_dir / BANK_IDS_FILE)
    written[-1].write_text(json.dumps(bank_ids), encoding="utf-8")
    config = {
        "format_version": FORMAT_VERSION,
        "components": list(COMPONENTS),
        "rows": rows,
        "feature_dim": dim,
        "k": k,
        "regularisation": regularisation,
        "index_kind": kind,
        "index_files": {c: index_file_name(c) for c in COMPONENTS},
        "vectors_file": VECTORS_FILE,
        "bank_ids_file": BANK_IDS_FILE,
        "policy": asdict(policy),
        "faiss_version": faiss.__version__,
    }
    written.append(out_dir / CONFIG_FILE)
    written[-1].write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return written


def read_projection_config(directory: str | Path) -> dict:
    """projection.json of an artifact directory, checked against this code's components."""
    config = json.loads((Path(directory) / CONFIG_FILE).read_text(encoding="utf-8"))
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{directory}/{CONFIG_FILE}: format_version "
                         f"{config.get('format_version')} is not {FORMAT_VERSION}")
    if tuple(config["components"]) != COMPONENTS:
        raise ValueError(f"{directory}/{CONFIG_FILE}: components {config['components']} are "
                         f"not {list(COMPONENTS)}")
    return config


class ComponentIndexes:
    """The C loaded component indexes plus the memory-mapped bank vectors [C, M, D]."""

    def __init__(self, indexes: list, vectors: np.ndarray, config: dict, devices: list[str],
                 gpu_resources=None):
        self.indexes = indexes
        self.vectors = vectors
        self.config = config
        self.devices = devices  # per component: "cpu" or "gpu"
        self.rows = int(config["rows"])
        self.dim = int(config["feature_dim"])
        self.kind = config["index_kind"]
        self.exact_fallbacks = 0  # query rows an approximate index returned too few ids for
        # Largest squared row norm per component, for rank_shortlist's rounding bound (only
        # the exact index shortlists).
        self.max_norms = [float(np.einsum("md,md->m", component_vectors, component_vectors,
                                          dtype=np.float64).max())
                          if self.kind == "flat" else None for component_vectors in vectors]
        self._gpu_resources = gpu_resources  # must outlive the GPU indexes

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None,
             threads: int | None = None) -> ComponentIndexes:
        """Load the indexes of an artifact directory.

        device: 'auto', 'cpu' or 'gpu' (None: the policy's). HNSW has no GPU version, so
        'auto' keeps it on the CPU and 'gpu' refuses it. threads > 0 sets FAISS's OpenMP
        thread count (process-wide); None or 0 keeps the current one.
        """
        directory = Path(directory)
        config = read_projection_config(directory)
        policy = IndexPolicy(**config["policy"])
        requested = device or policy.device
        if requested == "gpu" and config["index_kind"] == "hnsw":
            raise ValueError("index device 'gpu' cannot serve an HNSW index (FAISS has no GPU "
                             "HNSW); rebuild with approximate='ivf' or use 'auto'/'cpu'")
        device = resolve_device(requested)
        if config["index_kind"] == "hnsw":  # 'auto' keeps HNSW on the CPU
            device = "cpu"
        if threads is not None and threads < 0:
            raise ValueError(f"search threads={threads} must be >= 0 (0: FAISS's default)")
        if threads:
            faiss.omp_set_num_threads(int(threads))
        faiss.cvar.distance_compute_blas_threshold = BLAS_MIN_QUERIES * config["feature_dim"]
        vectors = np.load(directory / config["vectors_file"], mmap_mode="r")
        expected = (len(COMPONENTS), config["rows"], config["feature_dim"])
        if vectors.shape != expected or vectors.dtype != np.float32:
            raise ValueError(f"{directory / config['vectors_file']}: {vectors.dtype} "
                             f"{vectors.shape}, expected float32 {expected}")
        resources = faiss.StandardGpuResources() if device == "gpu" else None
        indexes, devices = [], []
        for component in COMPONENTS:
            path = directory / config["index_files"][component]
            index = faiss.read_index(str(path))
            if index.ntotal != config["rows"] or index.d != config["feature_dim"]:
                raise ValueError(f"{path}: {index.ntotal} rows of {index.d} features, expected "
                                 f"{config['rows']} of {config['feature_dim']}")
            _apply_search_parameters(index, config["index_kind"], policy)
            if resources is not None:
                index = faiss.index_cpu_to_gpu(resources, 0, index)
                devices.append("gpu")
            else:
                devices.append("cpu")
            indexes.append(index)
        return cls(indexes, vectors, config, devices, resources)

    def search(self, features: np.ndarray,
               k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """K nearest bank rows of every component of a batch [B, C, D] (K: projection.json's
        k unless given).

        One FAISS search per component over the whole batch. Returns (ids [B, C, K] int64,
        squared L2 distances [B, C, K] float32), nearest first by manifold.exact_distances,
        rows at equal distance (identical bank rows, for one) by the lower row, whatever the
        CPU, batch size or device. The exact index searches K + manifold.TIE_MARGIN rows and
        ranks them (a query whose shortlist cannot be shown to hold every row as near as its
        K-th is ranked over the whole bank); an approximate index's K rows are only ordered.
        """
        k = int(self.config["k"]) if k is None else k
        if not 1 <= k <= self.rows:
            raise ValueError(f"k={k} must be between 1 and the bank size {self.rows}")
        batch = len(features)
        queries = np.ascontiguousarray(np.asarray(features, np.float32).transpose(1, 0, 2))
        ids = np.empty((batch, len(COMPONENTS), k), np.int64)
        distances = np.empty((batch, len(COMPONENTS), k), np.float32)
        exact = self.kind == "flat"
        shortlist = min(self.rows, k + manifold.TIE_MARGIN) if exact else k
        for component, (index, component_queries) in enumerate(zip(self.indexes, queries)):
            bank = np.asarray(self.vectors[component])  # a plain view: cheaper to index
            found_distances, found_ids = index.search(component_queries, shortlist)
            missing = (found_ids < 0).any(axis=1)
            if missing.any():  # an approximate index reached fewer than K rows
                self.exact_fallbacks += int(missing.sum())
                found_ids[missing], found_distances[missing] = manifold.nearest_neighbours(
                    component_queries[missing], bank, k)
            ids[:, component], component_distances = manifold.rank_shortlist(
                component_queries, bank, found_ids, k,
                found_distances if exact else None, self.max_norms[component])
            distances[:, component] = component_distances
        return ids, distances


def _apply_search_parameters(index, kind: str, policy: IndexPolicy) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = policy.hnsw_ef_search
    elif kind == "ivf":
        index.nprobe = min(policy.ivf_nprobe, index.nlist)


def t_errors(t: np.ndarray) -> list[str | None]:
    """Per row of T [B, C]: None when every value is in T_RANGE, else a one-line message
    naming the first bad component."""
    t = np.asarray(t, np.float32)
    if t.ndim != 2 or t.shape[1] != len(COMPONENTS):
        raise ValueError(f"T {t.shape} must be [B, {len(COMPONENTS)}]")
    bad = contract.t_outside_range(t)
    errors: list[str | None] = []
    for row, row_bad in zip(t, bad):
        if row_bad.any():
            component = int(np.argmax(row_bad))
            errors.append(f"{T_RANGE_MESSAGE}; got {float(row[component]):g} for "
                          f"{COMPONENTS[component]}")
        else:
            errors.append(None)
    return errors


def feature_errors(features: np.ndarray) -> list[str | None]:
    """Per row of FEATURES [B, C, D]: None when finite, else a one-line message."""
    finite = np.isfinite(features).all(axis=2)  # [B, C]
    return [None if row.all() else
            f"FEATURES must be finite; got NaN or inf for {COMPONENTS[int(np.argmin(row))]}"
            for row in finite]


class ProjectionEngine:
    """Manifold projection of a batch: FAISS search + locally-linear weights + blend.

    No Triton dependency; the Triton adapter validates rows, concatenates requests and calls
    `run` once per batch.
    """

    def __init__(self, indexes: ComponentIndexes, bank_ids: list[str], k: int,
                 regularisation: float):
        if not 1 <= k <= indexes.rows:
            raise ValueError(f"k={k} must be between 1 and the bank size {indexes.rows}")
        if len(bank_ids) != indexes.rows:
            raise ValueError(f"{len(bank_ids)} bank ids for {indexes.rows} bank rows")
        self.indexes = indexes
        self.bank_ids = bank_ids
        self.k = k
        self.regularisation = regularisation
        self.last_search_seconds = 0.0  # wall time of the last run's FAISS searches

    @classmethod
    def load(cls, directory: str | Path, k: int | None = None,
             regularisation: float | None = None, device: str | None = None,
             threads: int | None = None) -> ProjectionEngine:
        """Load an artifact directory; k and regularisation default to projection.json's."""
        indexes = ComponentIndexes.load(directory, device=device, threads=threads)
        bank_ids = json.loads((Path(directory) / indexes.config["bank_ids_file"])
                              .read_text(encoding="utf-8"))
        return cls(indexes, bank_ids,
                   k if k is not None else int(indexes.config["k"]),
                   regularisation if regularisation is not None
                   else float(indexes.config["regularisation"]))

    @property
    def dim(self) -> int:
        return self.indexes.dim

    def validate_t(self, t: np.ndarray) -> list[str | None]:
        """Per row of T [B, C]: None when fine, else the message for that request's error."""
        return t_errors(t)

    def validate_features(self, features: np.ndarray) -> list[str | None]:
        """Per row of FEATURES [B, C, D]: None when finite, else a one-line message."""
        return feature_errors(features)

    def run(self, features: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(projected [B, C, D] float32, neighbour rows [B, C, K] int64) for a batch.

        Matches manifold.project_components(features, banks, t, k, regularisation).
        """
        features = np.asarray(features, np.float32)
        t = np.asarray(t, np.float32)
        batch, components = len(features), len(COMPONENTS)
        if features.shape[1:] != (components, self.dim) or t.shape != (batch, components):
            raise ValueError(f"features {features.shape} and t {t.shape} must be "
                             f"[B, {components}, {self.dim}] and [B, {components}]")
        for error in self.validate_t(t) + self.validate_features(features):
            if error:
                raise ValueError(error)
        if batch == 0:
            return features.copy(), np.empty((0, components, self.k), np.int64)
        start = time.perf_counter()
        ids, _ = self.indexes.search(features, self.k)
        self.last_search_seconds = time.perf_counter() - start
        # All B x C (query, neighbours) pairs in one vectorised weights solve.
        neighbours = self.indexes.vectors[np.arange(components)[None, :, None], ids]
        flat_neighbours = np.asarray(neighbours, np.float32).reshape(-1, self.k, self.dim)
        weights = manifold.locally_linear_weights(features.reshape(-1, self.dim),
                                                  flat_neighbours, self.regularisation)
        projected = np.einsum("nk,nkd->nd", weights, flat_neighbours).astype(np.float32)
        return manifold.blend(features, projected.reshape(features.shape), t), ids
