"""The FAISS projection engine against the NumPy oracle (sketch2idol.core.manifold), the artifact
files, and the Triton adapter driven through a stand-in for triton_python_backend_utils."""

import json
import shutil
import subprocess
import sys
import types

import faiss
import numpy as np
import pytest
from safetensors.numpy import load_file as load_numpy
from triton_stand_in import FakeTensor

from sketch2idol.core import manifold
from sketch2idol.core.contract import FEATURE_DIM, FEATURES, NEIGHBORS, NUMPY_DTYPES, PROJECTED, T
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.weights import BANK, DEFAULT_WEIGHTS, MANIFEST
from sketch2idol.serving import knn, projection_model
from sketch2idol.serving.integrity import IntegrityError, verify_manifest, write_manifest

ROWS, BATCH, K = 300, 7, 10
C = len(COMPONENTS)


def oracle(bank, features, t, k=K):
    return manifold.project_components(features, [bank[:, c] for c in range(C)], t, k)


@pytest.fixture(scope="module")
def bank():
    return np.random.default_rng(0).normal(size=(ROWS, C, FEATURE_DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def bank_ids():
    return [f"sample_{row:04d}" for row in range(ROWS)]


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory, bank, bank_ids):
    directory = tmp_path_factory.mktemp("projection")
    files = knn.build_projection_artifacts(bank, bank_ids, directory, knn.IndexPolicy(), K)
    write_manifest(directory, files)
    return directory


@pytest.fixture(scope="module")
def engine(artifact_dir):
    return knn.ProjectionEngine.load(artifact_dir, device="auto", threads=1)


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(BATCH, C, FEATURE_DIM)).astype(np.float32)
    t = rng.uniform(size=(BATCH, C)).astype(np.float32)
    t[0] = 0.0  # snap to the manifold
    t[1] = 1.0  # keep the drawing
    return features, t


def test_engine_matches_the_oracle(engine, bank, batch):
    projected, neighbors = engine.run(*batch)
    expected_projected, expected_neighbors = oracle(bank, *batch)
    assert neighbors.dtype == np.int64 and neighbors.shape == (BATCH, C, K)
    assert projected.dtype == np.float32 and projected.shape == (BATCH, C, FEATURE_DIM)
    np.testing.assert_array_equal(neighbors, expected_neighbors)
    np.testing.assert_allclose(projected, expected_projected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(projected[1], batch[0][1])  # t = 1 returns the input
    assert engine.last_search_seconds > 0.0


def test_batched_and_one_at_a_time_are_identical(engine, batch):
    projected, neighbors = engine.run(*batch)
    for row in range(BATCH):
        one_projected, one_neighbors = engine.run(batch[0][row:row + 1], batch[1][row:row + 1])
        np.testing.assert_array_equal(one_neighbors[0], neighbors[row])
        np.testing.assert_array_equal(one_projected[0], projected[row])


def test_exact_distance_ties_go_to_the_lower_row_as_in_the_oracle(tmp_path):
    # Small integers keep every distance exact in float32 (in the oracle's matrix-product
    # formula too): rows 2, 5, 8, 9, 17, 30, 31, 38 are all at distance 1, row r of the
    # others at 1 + (3 + r)^2.
    rows, dim = 40, 16
    centre = np.random.default_rng(2).integers(-2, 3, size=(C, dim)).astype(np.float32)
    axis = np.eye(dim, dtype=np.float32)
    bank = centre + (3 + np.arange(rows, dtype=np.float32))[:, None, None] * axis[1]
    ties = [2, 5, 9, 17, 30, 31, 38]
    bank[ties] = centre
    bank[8] = centre + 2 * axis[0]
    features = (centre + axis[0])[None]
    t = np.full((1, C), 0.5, np.float32)
    knn.build_projection_artifacts(bank, [str(i) for i in range(rows)], tmp_path, k=10)
    engine = knn.ProjectionEngine.load(tmp_path)
    projected, neighbors = engine.run(features, t)
    expected_projected, expected_neighbors = oracle(bank, features, t, k=10)
    assert neighbors[0, 0].tolist() == [2, 5, 8, 9, 17, 30, 31, 38, 0, 1]
    np.testing.assert_array_equal(neighbors, expected_neighbors)
    np.testing.assert_allclose(projected, expected_projected, atol=1e-4, rtol=0)
    # K cutting through the tie keeps the lower rows, in the engine and in the oracle.
    ids, _ = engine.indexes.search(features, 4)
    assert (ids == [2, 5, 8, 9]).all()
    oracle_ids, _ = manifold.nearest_neighbours(features[:, 0], bank[:, 0], 4)
    assert oracle_ids.tolist() == [[2, 5, 8, 9]]


class OtherCpuIndex:
    """A FAISS index as a CPU with other kernels computes it (AVX2 instead of AVX-512, other
    BLAS blocking: the failure of issue 13 on an AMD EPYC): every distance is off by up to
    4 ULPs of |q|^2 + |b|^2, as the expansion |q|^2 - 2 q.b + |b|^2 rounds, and the k
    smallest of those come back sorted, so identical bank rows get different distances and
    an arbitrary order. (The real AVX2 kernels: FAISS_SIMD_LEVEL=AVX2
    OPENBLAS_CORETYPE=Haswell; the old code failed the "this" CPU case with them too.)"""

    def __init__(self, index, bank: np.ndarray, seed: int):
        self.index, self.ntotal = index, index.ntotal
        self.norms = np.einsum("md,md->m", bank, bank, dtype=np.float64)
        self.rng = np.random.default_rng(seed)

    def search(self, queries: np.ndarray, k: int):
        distances, ids = self.index.search(queries, self.ntotal)
        magnitude = np.einsum("bd,bd->b", queries, queries, dtype=np.float64)[:, None]
        ulp = np.spacing((magnitude + self.norms[ids]).astype(np.float32))
        noisy = distances + self.rng.integers(-4, 5, distances.shape) * ulp
        order = np.argsort(noisy, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(noisy, order, 1), np.take_along_axis(ids, order, 1)


def on_another_cpu(indexes: knn.ComponentIndexes, seed: int = 0) -> None:
    indexes.indexes = [OtherCpuIndex(index, np.asarray(indexes.vectors[c]), seed + c)
                       for c, index in enumerate(indexes.indexes)]


@pytest.mark.parametrize("cpu", ["this", "another"])
def test_duplicate_rows_go_to_the_lower_row_at_any_batch_size(cpu, tmp_path):
    # The rule must not depend on how FAISS rounds: the shortlist is ranked by distances
    # computed directly, where identical rows are exactly equal.
    rng = np.random.default_rng(4)
    bank = rng.normal(size=(300, C, 64)).astype(np.float32)
    bank[[5, 9, 17, 30, 31, 38, 100, 150, 200]] = bank[2]
    features = (bank[2] + rng.normal(size=(40, C, 64)) * 0.01).astype(np.float32)
    knn.build_projection_artifacts(bank, [str(i) for i in range(300)], tmp_path, k=4)
    indexes = knn.ComponentIndexes.load(tmp_path)
    if cpu == "another":
        on_another_cpu(indexes)
        _, raw = indexes.indexes[0].search(features[:, 0], 4)
        assert not (raw == [2, 5, 9, 17]).all()  # FAISS alone breaks the rule there
    for queries in (features[:1], features):  # FAISS's per-query loops, then its BLAS path
        ids, distances = indexes.search(queries, 4)
        assert (ids == [2, 5, 9, 17]).all()
        assert (distances == distances[..., :1]).all()


@pytest.mark.parametrize("cpu", ["this", "another"])
def test_more_copies_than_the_shortlist_holds_still_go_to_the_lowest_rows(cpu, tmp_path):
    # 41 identical rows: the K + TIE_MARGIN shortlist cannot hold them all, so which ones
    # FAISS (or the oracle's fast distances) picks is rounding noise; the K-th exact
    # distance is then within rounding of the shortlist's last and the whole bank is ranked.
    rng = np.random.default_rng(6)
    bank = rng.normal(size=(300, C, 32)).astype(np.float32)
    copies = np.sort(rng.choice(np.arange(1, 300), 40, replace=False))
    bank[copies] = bank[0]
    features = (bank[0] + rng.normal(size=(8, C, 32)) * 0.01).astype(np.float32)
    knn.build_projection_artifacts(bank, [str(i) for i in range(300)], tmp_path, k=K)
    indexes = knn.ComponentIndexes.load(tmp_path)
    if cpu == "another":
        on_another_cpu(indexes, seed=1)
    expected = [0, *copies[:K - 1]]
    for queries in (features[:1], features):
        ids, _ = indexes.search(queries, K)
        assert (ids == expected).all()
    for component in range(C):
        oracle_ids, _ = manifold.nearest_neighbours(features[:, component],
                                                    bank[:, component], K)
        assert (oracle_ids == expected).all()


def test_the_default_bank_gives_the_oracles_neighbours_on_any_cpu(tmp_path):
    # The shipped bank (5000 rows of 512 features): FAISS's per-query loops (batch 1), its
    # BLAS path (batch 48) and a CPU that rounds differently all give the oracle's rows.
    bank = load_numpy(DEFAULT_WEIGHTS / BANK)["features"].astype(np.float32)
    bank_ids = json.loads((DEFAULT_WEIGHTS / MANIFEST).read_text())["bank_ids"]
    knn.build_projection_artifacts(bank, bank_ids, tmp_path, k=K)
    rng = np.random.default_rng(5)
    queries = bank[rng.choice(len(bank), 48, replace=False)]
    queries = (queries + np.repeat([0.0, 0.01, 0.1, 1.0], 12)[:, None, None]
               * rng.normal(size=queries.shape)).astype(np.float32)
    expected = np.stack([manifold.nearest_neighbours(queries[:, c], bank[:, c], K)[0]
                         for c in range(C)], axis=1)
    for cpu in ("this", "another"):
        indexes = knn.ComponentIndexes.load(tmp_path, threads=1)
        if cpu == "another":
            on_another_cpu(indexes, seed=2)
        for batch in (1, 48):
            ids = np.concatenate([indexes.search(queries[start:start + batch], K)[0]
                                  for start in range(0, len(queries), batch)])
            np.testing.assert_array_equal(ids, expected, err_msg=f"{cpu} CPU, batch {batch}")


def test_artifacts_round_trip(artifact_dir, engine, bank, bank_ids):
    names = sorted(path.name for path in artifact_dir.iterdir())
    assert names == sorted([knn.VECTORS_FILE, knn.BANK_IDS_FILE, knn.CONFIG_FILE,
                            "MANIFEST.sha256", *map(knn.index_file_name, COMPONENTS)])
    config = json.loads((artifact_dir / knn.CONFIG_FILE).read_text())
    assert (config["rows"], config["feature_dim"], config["k"]) == (ROWS, FEATURE_DIM, K)
    assert config["index_kind"] == "flat" and config["faiss_version"] == faiss.__version__
    assert engine.bank_ids == bank_ids and engine.indexes.devices == ["cpu"] * C
    vectors = np.load(artifact_dir / knn.VECTORS_FILE, mmap_mode="r")
    np.testing.assert_array_equal(vectors, bank.transpose(1, 0, 2))
    for component in COMPONENTS:
        index = faiss.read_index(str(artifact_dir / knn.index_file_name(component)))
        assert isinstance(index, faiss.IndexFlatL2) and index.ntotal == ROWS
    verify_manifest(artifact_dir)


def test_a_tampered_index_is_named_by_verify_manifest(artifact_dir, tmp_path):
    copy = shutil.copytree(artifact_dir, tmp_path / "copy")
    tampered = copy / knn.index_file_name("nose")
    data = bytearray(tampered.read_bytes())
    data[-1] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"index_nose\.faiss: checksum mismatch"):
        verify_manifest(copy)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_have_high_recall_on_clustered_banks(kind, tmp_path):
    rng = np.random.default_rng(3)
    rows, dim, clusters = 2000, 64, 40
    centres = rng.normal(size=(clusters, C, dim)) * 4.0
    bank = (centres[rng.integers(clusters, size=rows)]
            + rng.normal(size=(rows, C, dim))).astype(np.float32)
    queries = (centres[rng.integers(clusters, size=50)]
               + rng.normal(size=(50, C, dim))).astype(np.float32)
    policy = knn.IndexPolicy(exact_max_rows=100, approximate=kind)
    knn.build_projection_artifacts(bank, [str(i) for i in range(rows)], tmp_path, policy, K)
    index = faiss.read_index(str(tmp_path / knn.index_file_name("mouth")))
    assert isinstance(index, faiss.IndexHNSWFlat if kind == "hnsw" else faiss.IndexIVFFlat)

    engine = knn.ProjectionEngine.load(tmp_path)
    found, _ = engine.indexes.search(queries, K)
    hits = 0
    for component in range(C):
        exact, _ = manifold.nearest_neighbours(queries[:, component], bank[:, component], K)
        hits += sum(len(set(f) & set(e)) for f, e in zip(found[:, component], exact))
    recall = hits / (len(queries) * C * K)
    assert recall >= 0.95, f"{kind} recall@{K} = {recall:.3f}"
    projected, neighbors = engine.run(queries, np.full((50, C), 0.5, np.float32))
    assert np.isfinite(projected).all() and (neighbors >= 0).all()


def test_validate_t_names_each_bad_row(engine):
    t = np.full((6, C), 0.5, np.float32)
    t[1, 2], t[2, 0], t[3, 4], t[4, 1] = np.nan, -0.1, 1.5, np.inf
    t[5] = [0.0, 1.0, 0.0, 1.0, 0.0]
    errors = engine.validate_t(t)
    assert errors[0] is None and errors[5] is None
    assert errors[1] == ("T must be in [0, 1] (1 keeps the drawing, 0 snaps to the learned "
                         "faces); got nan for nose")
    assert errors[2].endswith("got -0.1 for left_eye")
    assert errors[3].endswith("got 1.5 for remainder")
    assert errors[4].endswith("got inf for right_eye")
    with pytest.raises(ValueError, match="T must be in"):
        engine.run(np.zeros((6, C, FEATURE_DIM), np.float32), t)


@pytest.mark.parametrize(("change", "message"), [
    (lambda bank, ids, k: (bank[:, :3], ids, k), "must be"),
    (lambda bank, ids, k: (bank, ids, 11), "k=11"),
    (lambda bank, ids, k: (bank, ids[:-1], k), "9 bank ids for 10"),
    (lambda bank, ids, k: (bank, ["a"] * 10, k), "unique"),
])
def test_build_rejects_bad_inputs(change, message, tmp_path):
    bank = np.zeros((10, C, 8), np.float32)
    with pytest.raises(ValueError, match=message):
        bank, ids, k = change(bank, [str(i) for i in range(10)], 5)
        knn.build_projection_artifacts(bank, ids, tmp_path, k=k)


def test_devices(artifact_dir):
    assert knn.resolve_device("cpu") == "cpu"
    if knn.gpu_available():
        assert knn.resolve_device("auto") == "gpu"
    else:
        assert knn.resolve_device("auto") == "cpu"
        with pytest.raises(RuntimeError, match="'gpu' was requested"):
            knn.ProjectionEngine.load(artifact_dir, device="gpu")


def test_serving_modules_do_not_import_torch():
    code = ("import sys, sketch2idol.serving.knn, sketch2idol.serving.integrity, "
            "sketch2idol.serving.projection_model; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# The Triton adapter, with a stand-in for the stub-only triton_python_backend_utils.

class FakeMetric:
    def __init__(self, family, labels, buckets=None):
        self.family, self.labels, self.buckets, self.total, self.observed = (
            family, labels, buckets, 0.0, [])

    def increment(self, value):
        self.total += value

    def observe(self, value):
        self.observed.append(value)


class FakeMetricFamily:
    COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
    created: dict = {}

    def __init__(self, name, description, kind):
        self.name, self.kind = name, kind

    def Metric(self, labels, buckets=None):  # noqa: N802 (the backend's spelling)
        metric = FakeMetric(self, labels, buckets)
        FakeMetricFamily.created[self.name] = metric
        return metric


def fake_pb_utils():
    def config_by_name(section):
        return lambda config, name: next(
            (tensor for tensor in config.get(section, []) if tensor["name"] == name), None)

    return types.SimpleNamespace(
        Tensor=FakeTensor,
        InferenceResponse=lambda output_tensors, error=None: types.SimpleNamespace(
            outputs={t.name(): t.as_numpy() for t in output_tensors}, error=error),
        TritonError=str,
        MetricFamily=FakeMetricFamily,
        Logger=types.SimpleNamespace(log_info=lambda message: None,
                                     log_warn=lambda message: None),
        get_input_tensor_by_name=lambda request, name: request[name],
        get_input_config_by_name=config_by_name("input"),
        get_output_config_by_name=config_by_name("output"),
        triton_string_to_numpy=lambda name: NUMPY_DTYPES[name.removeprefix("TYPE_")],
    )


def model_args(repository, parameters):
    def tensor(name, datatype, dims):
        return {"name": name, "data_type": f"TYPE_{datatype}", "dims": list(dims)}

    config = {"name": "manifold_projection", "max_batch_size": 32,
              "parameters": {key: {"string_value": value} for key, value in parameters.items()},
              "input": [tensor(FEATURES, "FP32", (C, FEATURE_DIM)), tensor(T, "FP32", (C,))],
              "output": [tensor(PROJECTED, "FP32", (C, FEATURE_DIM)),
                         tensor(NEIGHBORS, "INT64", (C, K))]}
    return {"model_config": json.dumps(config), "model_repository": str(repository),
            "model_version": "1", "model_name": "manifold_projection"}


PARAMETERS = {"k": str(K), "regularisation": str(manifold.DEFAULT_REGULARISATION),
              "index_device": "auto", "search_threads": "1"}


def test_adapter_batches_good_requests_and_fails_bad_ones(artifact_dir, bank, batch,
                                                          tmp_path, monkeypatch):
    monkeypatch.setattr(projection_model, "pb_utils", fake_pb_utils())
    shutil.copytree(artifact_dir, tmp_path / "1")
    model = projection_model.TritonPythonModel()
    model.initialize(model_args(tmp_path, PARAMETERS))
    features, t = batch
    bad_t = t[4:5].copy()
    bad_t[0, 2] = np.nan
    requests = [{FEATURES: FakeTensor(FEATURES, f), T: FakeTensor(T, t)} for f, t in (
        (features[:3], t[:3]), (features[4:5], bad_t), (features[3:7], t[3:7]))]
    responses = model.execute(requests)
    assert responses[1].error.endswith("got nan for nose")
    expected_projected, expected_neighbors = oracle(bank, features, t)
    for response, rows in ((responses[0], slice(0, 3)), (responses[2], slice(3, 7))):
        assert response.error is None
        np.testing.assert_array_equal(response.outputs[NEIGHBORS], expected_neighbors[rows])
        np.testing.assert_allclose(response.outputs[PROJECTED], expected_projected[rows],
                                   atol=1e-4, rtol=0)
    metrics = FakeMetricFamily.created
    assert metrics[projection_model.SEARCH_COUNT_METRIC].total == 1
    assert metrics[projection_model.SEARCH_ROWS_METRIC].total == 7
    assert metrics[projection_model.SEARCH_DURATION_METRIC].total > 0
    model.finalize()


def test_adapter_refuses_a_tampered_artifact_or_bad_parameters(artifact_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(projection_model, "pb_utils", fake_pb_utils())
    version_dir = shutil.copytree(artifact_dir, tmp_path / "1")
    with pytest.raises(ValueError, match=f"k=5 but output {NEIGHBORS} has K={K}"):
        projection_model.TritonPythonModel().initialize(
            model_args(tmp_path, {**PARAMETERS, "k": "5"}))
    with pytest.raises(ValueError, match="search_threads='many' is not a valid int"):
        projection_model.TritonPythonModel().initialize(
            model_args(tmp_path, {**PARAMETERS, "search_threads": "many"}))
    (version_dir / knn.BANK_IDS_FILE).write_text("[]")
    with pytest.raises(IntegrityError, match=r"bank_ids\.json: size mismatch"):
        projection_model.TritonPythonModel().initialize(model_args(tmp_path, PARAMETERS))
