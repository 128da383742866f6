"""Triton Python-backend adapter of the manifold projection (model `manifold_projection`).

initialize: read the config.pbtxt parameters (k, regularisation, index_device,
search_threads; string values), verify the version directory's MANIFEST.sha256 (a bad
artifact makes loading fail with one line naming the file), load the ProjectionEngine.
execute: validate every request's rows, run the good ones as ONE batch, split the outputs
back per request; a bad request gets an error response without failing the others. Every
answer also says which version of the model (its feature bank) made it, PROJECTION_VERSION,
when the config declares that output (repositories exported before it existed do not).
Custom metrics (Prometheus, on Triton's /metrics):

    sketch2idol_knn_search_duration_us  counter  FAISS search wall time, microseconds
    sketch2idol_knn_search_count        counter  batched searches (one per execute)
    sketch2idol_knn_search_rows         counter  request rows searched
    sketch2idol_knn_search_latency_us   histogram (when the backend supports histograms)

Mean search time = duration_us / count; mean batch = rows / count.

`triton_python_backend_utils` only exists inside the backend stub, so it is imported
guarded and this module stays importable (and torch-free) in plain Python.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sketch2idol.core.contract import FEATURES, NEIGHBORS, PROJECTED, PROJECTION_VERSION, T
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.serving.batching import execute_batched
from sketch2idol.serving.integrity import verify_manifest
from sketch2idol.serving.knn import ProjectionEngine
from sketch2idol.serving.parameters import model_parameters, parse_parameter

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # plain Python: only the Triton stub provides it
    pb_utils = None

SEARCH_DURATION_METRIC = "sketch2idol_knn_search_duration_us"
SEARCH_COUNT_METRIC = "sketch2idol_knn_search_count"
SEARCH_ROWS_METRIC = "sketch2idol_knn_search_rows"
SEARCH_LATENCY_METRIC = "sketch2idol_knn_search_latency_us"
LATENCY_BUCKETS_US = [100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0, 25_000.0,
                      50_000.0, 100_000.0, 250_000.0]


def _last_dim(tensor_config: dict | None) -> int | None:
    return int(tensor_config["dims"][-1]) if tensor_config and tensor_config.get("dims") else None


class TritonPythonModel:
    """Serves PROJECTED and NEIGHBORS for FEATURES and T with a ProjectionEngine."""

    def initialize(self, args: dict) -> None:
        if pb_utils is None:
            raise RuntimeError("projection_model runs inside Triton's Python backend only")
        model_config = json.loads(args["model_config"])
        parameters = model_parameters(model_config)
        version_dir = Path(args["model_repository"]) / args["model_version"]
        verify_manifest(version_dir)  # IntegrityError: one line naming the bad artifact

        neighbors_k = _last_dim(pb_utils.get_output_config_by_name(model_config, NEIGHBORS))
        k = parse_parameter(parameters, "k", int, neighbors_k)
        if neighbors_k is not None and k != neighbors_k:
            raise ValueError(f"parameter k={k} but output {NEIGHBORS} has K={neighbors_k}")
        self.engine = ProjectionEngine.load(  # absent parameters: projection.json's values
            version_dir, k=k,
            regularisation=parse_parameter(parameters, "regularisation", float),
            device=parse_parameter(parameters, "index_device", str),
            threads=parse_parameter(parameters, "search_threads", int))
        for name in (FEATURES, PROJECTED):
            for tensor_config in (pb_utils.get_input_config_by_name(model_config, name),
                                  pb_utils.get_output_config_by_name(model_config, name)):
                dim = _last_dim(tensor_config)
                if dim is not None and dim != self.engine.dim:
                    raise ValueError(f"{name} has {dim} features in the model config but the "
                                     f"bank in {version_dir} has {self.engine.dim}")
        self.output_dtypes = {
            name: pb_utils.triton_string_to_numpy(output_config["data_type"])
            for name in (PROJECTED, NEIGHBORS, PROJECTION_VERSION)
            if (output_config := pb_utils.get_output_config_by_name(model_config, name))}
        self.version = int(args["model_version"])
        self._create_metrics({"model": args["model_name"], "version": args["model_version"]})
        indexes = self.engine.indexes
        pb_utils.Logger.log_info(
            f"{args['model_name']}: {indexes.kind} indexes of {indexes.rows} rows x "
            f"{indexes.dim} on {'/'.join(sorted(set(indexes.devices)))}, k={self.engine.k}, "
            f"regularisation={self.engine.regularisation}, "
            f"search threads={parameters.get('search_threads', 'default')}")

    def _create_metrics(self, labels: dict[str, str]) -> None:
        """Counters for the mean search time, plus a latency histogram where supported."""
        def counter(name: str, description: str):
            family = pb_utils.MetricFamily(name=name, description=description,
                                           kind=pb_utils.MetricFamily.COUNTER)
            return family, family.Metric(labels=labels)

        self._metric_families, self._metrics = [], {}
        for name, description in (
                (SEARCH_DURATION_METRIC, "Cumulative FAISS search time, microseconds"),
                (SEARCH_COUNT_METRIC, "Number of batched FAISS searches"),
                (SEARCH_ROWS_METRIC, "Number of request rows searched")):
            family, self._metrics[name] = counter(name, description)
            self._metric_families.append(family)
        if hasattr(pb_utils.MetricFamily, "HISTOGRAM"):
            try:
                family = pb_utils.MetricFamily(
                    name=SEARCH_LATENCY_METRIC, description="FAISS search time per batch, "
                    "microseconds", kind=pb_utils.MetricFamily.HISTOGRAM)
                self._metrics[SEARCH_LATENCY_METRIC] = family.Metric(
                    labels=labels, buckets=LATENCY_BUCKETS_US)
                self._metric_families.append(family)
            except Exception as error:  # the counters still give the mean
                pb_utils.Logger.log_warn(f"no search latency histogram: {error}")

    def _record_search(self, rows: int) -> None:
        duration_us = self.engine.last_search_seconds * 1e6
        self._metrics[SEARCH_DURATION_METRIC].increment(duration_us)
        self._metrics[SEARCH_COUNT_METRIC].increment(1)
        self._metrics[SEARCH_ROWS_METRIC].increment(rows)
        if SEARCH_LATENCY_METRIC in self._metrics:
            self._metrics[SEARCH_LATENCY_METRIC].observe(duration_us)

    def _request_error(self, features: np.ndarray, t: np.ndarray) -> str | None:
        """The first problem with one request's rows, or None."""
        components = len(COMPONENTS)
        if features.shape[1:] != (components, self.engine.dim) or t.shape != (
                len(features), components):
            return (f"{FEATURES} {features.shape} and {T} {t.shape} must be "
                    f"[B, {components}, {self.engine.dim}] and [B, {components}]")
        errors = [t_error or feature_error for t_error, feature_error in zip(
            self.engine.validate_t(t), self.engine.validate_features(features))]
        for row, error in enumerate(errors):
            if error:
                return f"row {row}: {error}" if len(errors) > 1 else error
        return None

    def execute(self, requests: list) -> list:
        """One response per request; the valid requests' rows go through ONE engine.run."""
        return execute_batched(
            pb_utils, requests, (FEATURES, T),
            lambda arrays: self._request_error(arrays[FEATURES], arrays[T]), self._project,
            lambda error: f"manifold projection failed: {type(error).__name__}: {error}")

    def _project(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The batch's outputs, in the config's dtypes; PROJECTION_VERSION where declared."""
        projected, neighbors = self.engine.run(batch[FEATURES], batch[T])
        self._record_search(len(projected))
        outputs = {PROJECTED: projected.astype(self.output_dtypes[PROJECTED], copy=False),
                   NEIGHBORS: neighbors.astype(self.output_dtypes[NEIGHBORS], copy=False)}
        if PROJECTION_VERSION in self.output_dtypes:
            outputs[PROJECTION_VERSION] = np.full((len(projected), 1), self.version,
                                                  self.output_dtypes[PROJECTION_VERSION])
        return outputs

    def finalize(self) -> None:
        """Release the indexes and metrics (metrics before their families, as Triton needs)."""
        self._metrics = {}
        self._metric_families = []
        self.engine = None
