"""TensorRT plans for the `tensorrt` runtime, built on the target GPU (NGC container).

TensorRT cannot be installed on the project's CPU machines, so `sketch2idol export
--runtime tensorrt` writes the ONNX graphs, the configs and a parity set, and this module
runs inside the NGC `tritonserver` container (or the k8s init job) to finish the job:

    python -m sketch2idol.export.tensorrt --repository model_repository [--trtexec trtexec]

For each network: `trtexec` builds `1/model.plan` with a min/opt/max batch profile
matching the config's max_batch_size for every input (the generator's REFINED_SKETCH and
APPEARANCE share the batch axis), in FP16. The plan is then run on the parity inputs
(`trtexec --loadInputs ... --exportOutput`) and compared with the fp32 ONNX reference
outputs, using the export tolerances. Instance normalisation is the layer most likely to
lose accuracy in FP16 (its variance sums squares over a whole feature map): if the FP16
plan fails parity, it is rebuilt with every InstanceNormalization pinned to FP32, and
only if that also fails does the build stop. The plan is added to the version
directory's sha256 manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from sketch2idol.core import contract
from sketch2idol.export.parity import Parity, compare
from sketch2idol.export.triton_config import parse
from sketch2idol.serving.integrity import write_manifest

PARITY_DIR = "parity"  # beside the version directories; Triton ignores non-numeric dirs
PLAN_FILE = "model.plan"
ONNX_FILE = "model.onnx"


def tensor_shapes(specs: tuple[contract.TensorSpec, ...], batch: int) -> str:
    """trtexec's shape list: NAME:BxDxD,NAME:BxD for every input at one batch size."""
    return ",".join(f"{spec.name}:" + "x".join(str(d) for d in (batch, *spec.dims))
                    for spec in specs)


@dataclass(frozen=True)
class PlanSpec:
    onnx_path: Path
    plan_path: Path
    inputs: tuple[contract.TensorSpec, ...]
    max_batch: int
    fp32_layers: tuple[str, ...] = ()

    @property
    def opt_batch(self) -> int:
        """The batch TensorRT tunes kernels for: half the maximum (dynamic batching)."""
        return max(1, self.max_batch // 2)

    def shape(self, batch: int) -> str:
        return tensor_shapes(self.inputs, batch)


def build_command(spec: PlanSpec, trtexec: str = "trtexec") -> list[str]:
    command = [trtexec, f"--onnx={spec.onnx_path}", f"--saveEngine={spec.plan_path}",
               f"--minShapes={spec.shape(1)}", f"--optShapes={spec.shape(spec.opt_batch)}",
               f"--maxShapes={spec.shape(spec.max_batch)}", "--fp16", "--skipInference"]
    if spec.fp32_layers:
        command += ["--precisionConstraints=obey",
                    "--layerPrecisions=" + ",".join(f"{name}:fp32" for name in spec.fp32_layers)]
    return command


def run_command(plan: Path, input_files: dict[contract.TensorSpec, Path], outputs: Path,
                batch: int, trtexec: str = "trtexec") -> list[str]:
    """Run a plan once on raw input files (one per input tensor) and export its output."""
    loads = ",".join(f"{spec.name}:{path}" for spec, path in input_files.items())
    return [trtexec, f"--loadEngine={plan}", f"--loadInputs={loads}",
            f"--shapes={tensor_shapes(tuple(input_files), batch)}",
            f"--exportOutput={outputs}", "--iterations=1", "--warmUp=0", "--duration=0"]


def instance_norm_layers(onnx_path: Path) -> tuple[str, ...]:
    return tuple(node.name for node in onnx.load(str(onnx_path)).graph.node
                 if node.op_type == "InstanceNormalization")


def read_exported_output(path: Path, spec: contract.TensorSpec) -> np.ndarray:
    """trtexec --exportOutput JSON ([{"name", "dimensions": "AxBxC", "values": [...]}])."""
    for entry in json.loads(Path(path).read_text()):
        if entry["name"] == spec.name:
            shape = [int(d) for d in str(entry["dimensions"]).split("x")]
            return np.asarray(entry["values"], spec.numpy_dtype).reshape(shape)
    raise ValueError(f"{path} holds no output named {spec.name}")


def save_parity_set(repository: Path, tensors: dict[str, np.ndarray]) -> None:
    """Written by export for the tensorrt runtime: each network's reference input/output."""
    for model in contract.NETWORK_MODELS:
        directory = Path(repository) / model / PARITY_DIR
        directory.mkdir(parents=True, exist_ok=True)
        for name in (*contract.MODEL_IO[model][0], *contract.MODEL_IO[model][1]):
            np.save(directory / f"{name}.npy", tensors[name])


def check_plan(spec: PlanSpec, output: contract.TensorSpec, model_dir: Path,
               trtexec: str) -> Parity:
    inputs = {tensor: np.load(model_dir / PARITY_DIR / f"{tensor.name}.npy")
              for tensor in spec.inputs}
    expected = np.load(model_dir / PARITY_DIR / f"{output.name}.npy")
    with tempfile.TemporaryDirectory() as scratch:
        raw = {}
        for tensor, values in inputs.items():
            raw[tensor] = Path(scratch) / f"{tensor.name}.bin"
            values.astype(tensor.numpy_dtype).tofile(raw[tensor])
        exported = Path(scratch) / "output.json"
        batch = len(next(iter(inputs.values())))
        subprocess.run(run_command(spec.plan_path, raw, exported, batch, trtexec),
                       check=True, capture_output=True)
        actual = read_exported_output(exported, output)
    return compare(model_dir.name, output.name, actual, expected)


def image_size(config) -> int:
    """The image side S of a network's config (its [S, S] sketch or [S, S, 3] face)."""
    for tensor in (*config.input, *config.output):
        if tensor.name in (contract.SKETCH, contract.REFINED_SKETCH, contract.FACE):
            return int(tensor.dims[0])
    raise ValueError(f"{config.name}: no image tensor in its config")


def build_plans(repository: Path, trtexec: str = "trtexec") -> list[Parity]:
    if shutil.which(trtexec) is None:
        raise FileNotFoundError(f"{trtexec} not found: run this inside the NGC tritonserver "
                                "container (TensorRT is not installable on CPU machines)")
    results = []
    for model in contract.NETWORK_MODELS:
        model_dir = Path(repository) / model
        config = parse((model_dir / "config.pbtxt").read_text())
        if config.platform != "tensorrt_plan":
            raise ValueError(f"{model_dir}: exported for {config.platform or config.backend}; "
                             "re-export with --runtime tensorrt")
        version_dir = model_dir / "1"
        specs = contract.model_specs(image_size(config), 1)[model]
        plan = PlanSpec(version_dir / ONNX_FILE, version_dir / PLAN_FILE, specs.inputs,
                        config.max_batch_size)
        for attempt in (plan, PlanSpec(**{**plan.__dict__, "fp32_layers":
                                          instance_norm_layers(plan.onnx_path)})):
            subprocess.run(build_command(attempt, trtexec), check=True)
            parity = check_plan(attempt, specs.outputs[0], model_dir, trtexec)
            print(parity.line() + (" (instance norm in fp32)" if attempt.fp32_layers else ""))
            if parity.passed or not instance_norm_layers(plan.onnx_path):
                break
        if not parity.passed:
            pinned = " even with instance norm in FP32" if attempt.fp32_layers else ""
            raise RuntimeError(f"{model}: the FP16 plan fails parity{pinned}: {parity.line()}")
        write_manifest(version_dir, [ONNX_FILE, PLAN_FILE])
        results.append(parity)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and check the TensorRT plans of a "
                                                 "model repository exported --runtime tensorrt.")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--trtexec", default="trtexec")
    args = parser.parse_args(argv)
    try:
        build_plans(args.repository, args.trtexec)
    except (FileNotFoundError, ValueError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"sketch2idol.export.tensorrt: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
