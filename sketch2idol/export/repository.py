"""Weights directory -> a complete Triton model repository.

    <out>/encoders/config.pbtxt, 1/model.onnx (+ 1/model.py for python-ort)
    <out>/manifold_projection/config.pbtxt, 1/index_*.faiss, bank_vectors.npy,
                                 guide_sketches.npy (sketch2idol/export/guides.py), ...
    <out>/decoders/..., <out>/generator/...
    <out>/sketch2face/config.pbtxt, 1/          the ensemble
    <out>/export_report.json                     options, parity, precision deltas

Every network is checked against the PyTorch reference on held-out sketches (the generator
in several looks) before it is written (fp32 parity failures abort the export), and every
version directory gets a sha256 manifest that the serving models verify before loading.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sketch2idol import __version__
from sketch2idol.core import contract
from sketch2idol.core.contract import TRAINING_DATA
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import Weights, load_weights
from sketch2idol.export import PRECISIONS, quality
from sketch2idol.export.graphs import ignores_look, network_graphs
from sketch2idol.export.guides import write_guide_sketches
from sketch2idol.export.onnx_export import export_onnx
from sketch2idol.export.parity import ParityError, check_look_path, check_parity
from sketch2idol.export.precision import convert_fp16, network_precision, quantize_int8
from sketch2idol.export.samples import (
    HELDOUT_SEED,
    TRAINING_SEED,
    reference_chain,
    render_sketches,
    sample_looks,
)
from sketch2idol.export.tensorrt import save_parity_set
from sketch2idol.export.triton_config import DeploymentOptions, render, repository_configs
from sketch2idol.serving.integrity import MANIFEST_NAME, write_manifest
from sketch2idol.serving.knn import IndexPolicy, build_projection_artifacts

VERSION = "1"
REPORT = "export_report.json"
ONNX_FILE = "model.onnx"
SHIM = '''"""Triton entry point of {model}; the code lives in {module}."""

from {package} import TritonPythonModel

__all__ = ["TritonPythonModel"]
'''
SHIM_MODULES = {"network": "sketch2idol.serving.onnx_model",
                "projection": "sketch2idol.serving.projection_model"}


@dataclass(frozen=True)
class ExportRequest:
    weights: Path
    out: Path
    options: DeploymentOptions
    precision: str = "fp32"
    parity_count: int = 8
    calibration_count: int = 32
    index_policy: IndexPolicy = IndexPolicy()


def shim_source(kind: str, model: str) -> str:
    module = SHIM_MODULES[kind]
    return SHIM.format(model=model, module=module.replace(".", "/") + ".py", package=module)


def weights_id(path: Path) -> str:
    """Short content hash of a weights directory (names the version that served a face)."""
    digest = hashlib.sha256()
    for file in sorted(Path(path).iterdir()):
        if file.suffix in (".json", ".safetensors"):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def clean_version_dir(directory: Path) -> Path:
    """Empty a version directory of generated artifacts (keeps nothing stale)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def check_generator_looks(weights: Weights, parity_set, say: Callable[[str], None]) -> dict:
    """The generator's look path on a look probe (sketch2idol/export/parity.py); ParityError if the
    exported probe disagrees with its PyTorch reference."""
    with tempfile.TemporaryDirectory() as scratch:
        probe = check_look_path(weights.generator, weights.size, parity_set, Path(scratch))
    say(probe.line())
    if not probe.passed:
        raise ParityError(f"{probe.line()}: the exported graph does not read APPEARANCE as "
                          "the generator does (tolerances in sketch2idol/export/parity.py)")
    return {"look_probe_parity": probe.as_dict(), "ignores_look": ignores_look(weights.generator),
            "parity_looks": int(len(np.unique(parity_set[contract.APPEARANCE], axis=0)))}


def export_networks(weights: Weights, request: ExportRequest, pipeline: Pipeline,
                    say: Callable[[str], None]) -> dict:
    """ONNX for encoders, decoders, generator; fp32 parity gate; optional int8/fp16 (per
    network: precision.network_precision keeps the encoders fp32 under int8)."""
    parity_set = reference_chain(pipeline, render_sketches(HELDOUT_SEED, request.parity_count,
                                                           weights.size))
    calibration = None
    if request.precision == "int8":
        say(f"rendering {request.calibration_count} training sketches for int8 calibration")
        calibration = reference_chain(pipeline, render_sketches(
            TRAINING_SEED, request.calibration_count, weights.size),
            looks=sample_looks(request.calibration_count, TRAINING_SEED))
    report = {}
    graphs = network_graphs(weights)
    lowered = {}
    for name, graph in graphs.items():
        version_dir = clean_version_dir(request.out / name / VERSION)
        onnx_path = export_onnx(graph, version_dir / ONNX_FILE)
        parity = check_parity(name, onnx_path, parity_set)
        say(parity.line())
        if not parity.passed:
            raise ParityError(f"{parity.line()} (tolerances in sketch2idol/export/parity.py)")
        entry = {"fp32_parity": parity.as_dict()}
        if name == contract.GENERATOR:
            entry.update(check_generator_looks(weights, parity_set, say))
        entry["precision"] = precision = network_precision(name, request.precision)
        if precision != "fp32":
            started = time.perf_counter()
            lowered_path = version_dir / f"model.{precision}.onnx"
            if precision == "int8":
                quantize_int8(onnx_path, lowered_path, calibration.inputs(name))
            else:
                convert_fp16(onnx_path, lowered_path)
            lowered_path.replace(onnx_path)
            lowered[name] = onnx_path
            entry["convert_seconds"] = round(time.perf_counter() - started, 1)
        report[name] = entry
    if request.options.runtime == "tensorrt":  # plans are checked on the GPU against these
        save_parity_set(request.out, parity_set.tensors)
    if lowered:
        report["precision_delta"] = quality.precision_delta(lowered, parity_set, pipeline)
        say(quality.describe(report["precision_delta"], request.precision))
    for name in graphs:
        version_dir = request.out / name / VERSION
        files = [ONNX_FILE]  # relative to the version directory
        if request.options.runtime == "python-ort":
            (version_dir / "model.py").write_text(shim_source("network", name))
        write_manifest(version_dir, files)
    return report


def write_projection_version(version_dir: Path, bank_ids: list[str], bank_features,
                             data: dict, policy: IndexPolicy, k: int,
                             regularisation: float, *, previous: Path | None = None,
                             say: Callable[[str], None] = print) -> list[Path]:
    """One manifold_projection version directory: the FAISS artifacts of a bank, what the
    bank was made from (TRAINING_DATA), the drawing guide's sketches when they can be
    redrawn (sketch2idol/export/guides.py; `previous`: an earlier version of the bank whose
    rows may be copied), the manifest and the model.py entry point."""
    version_dir = Path(version_dir).resolve()  # the manifest takes absolute paths inside it
    files = build_projection_artifacts(bank_features, bank_ids, version_dir, policy, k,
                                       regularisation)
    (version_dir / TRAINING_DATA).write_text(json.dumps(data, indent=1) + "\n")
    files.append(version_dir / TRAINING_DATA)
    guides = write_guide_sketches(version_dir, bank_ids, data, previous=previous, say=say)
    if guides is not None:
        files.append(guides)
    write_manifest(version_dir, files)
    (version_dir / "model.py").write_text(shim_source("projection", contract.PROJECTION))
    return files


def export_projection(weights: Weights, request: ExportRequest,
                      say: Callable[[str], None]) -> dict:
    version_dir = clean_version_dir(request.out / contract.PROJECTION / VERSION)
    started = time.perf_counter()
    files = write_projection_version(version_dir, weights.bank_ids, weights.bank_features,
                                     weights.info.get("data", {}), request.index_policy,
                                     request.options.k, request.options.regularisation,
                                     say=say)
    return {"rows": len(weights.bank_ids), "files": sorted(p.name for p in files),
            "seconds": round(time.perf_counter() - started, 1)}


def write_configs(request: ExportRequest, identity: dict[str, str]) -> None:
    configs = repository_configs(request.options)
    for key, value in identity.items():
        configs[contract.ENSEMBLE].parameters[key].string_value = value
    for name, config in configs.items():
        (request.out / name).mkdir(parents=True, exist_ok=True)
        (request.out / name / "config.pbtxt").write_text(render(config))
    (request.out / contract.ENSEMBLE / VERSION).mkdir(exist_ok=True)


def network_precisions(precision: str) -> str:
    """What each network is served in when the repository asks for `precision`, e.g.
    "encoders:fp32,decoders:int8,generator:int8" (an int8 export keeps the encoders fp32):
    the ensemble's `network_precision` parameter, which the gateway reports."""
    return ",".join(f"{name}:{network_precision(name, precision)}"
                    for name in contract.NETWORK_MODELS)


def build_repository(request: ExportRequest, say: Callable[[str], None] = print) -> dict:
    """Export everything; returns (and writes) the export report."""
    if request.precision not in PRECISIONS:
        raise ValueError(f"precision {request.precision!r} is not one of {PRECISIONS}")
    weights = load_weights(request.weights)
    if weights.size != request.options.size:
        raise ValueError(f"the weights in {request.weights} were trained at {weights.size}², "
                         f"not {request.options.size}²: export with --size {weights.size}")
    if weights.k != request.options.k:  # K is the weights' (weights.json), not an option
        request = replace(request, options=replace(request.options, k=weights.k))
    request.out.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(weights)
    started = time.perf_counter()
    identity = {"sketch2idol_version": __version__, "weights_id": weights_id(request.weights),
                "precision": request.precision,
                "network_precision": network_precisions(request.precision),
                "runtime": request.options.runtime}
    report = {"identity": identity, "options": {**request.options.__dict__},
              "networks": export_networks(weights, request, pipeline, say)}
    say(f"building the FAISS indexes of {len(weights.bank_ids)} bank rows")
    report["projection"] = export_projection(weights, request, say)
    write_configs(request, identity)
    report["seconds"] = round(time.perf_counter() - started, 1)
    (request.out / REPORT).write_text(json.dumps(report, indent=1) + "\n")
    return report


def version_artifacts(repository: Path) -> dict[str, list[str]]:
    """model -> generated files of its version directory (for docs and tests); a served
    repository also holds the Python models' __pycache__, which is not an artifact."""
    return {model: sorted(p.name for p in (Path(repository) / model / VERSION).iterdir()
                          if p.is_file() and p.name != MANIFEST_NAME)
            for model in contract.COMPOSING_MODELS}
