"""TensorRT plans for the `tensorrt` runtime, built on the target GPU (NGC container).

TensorRT cannot be installed on the project's CPU machines, so `sketch2idol export
--runtime tensorrt` writes the ONNX graphs, the configs and a parity set, and this module
runs inside the NGC `tritonserver` container (or the k8s init job) to finish the job:

    python -m export.tensorrt --repository model_repository [--trtexec trtexec]

For each network: `trtexec` builds `1/model.plan` with a min/opt/max batch profile
matching the config's max_batch_size, in FP16. The plan is then run on the parity inputs
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

from export.parity import Parity, compare
from export.triton_config import parse
from sketch2idol import contract
from sketch2idol.serving.integrity import write_manifest

PARITY_DIR = "parity"  # beside the version directories; Triton ignores non-numeric dirs
PLAN_FILE = "model.plan"
ONNX_FILE = "model.onnx"


@dataclass(frozen=True)
class PlanSpec:
    onnx_path: Path
    plan_path: Path
    input: contract.TensorSpec
    max_batch: int
    fp32_layers: tuple[str, ...] = ()

    @property
    def opt_batch(self) -> int:
        """The batch TensorRT tunes kernels for: half the maximum (dynamic batching)."""
        return max(1, self.max_batch // 2)

    def shape(self, batch: int) -> str:
        return f"{self.input.name}:" + "x".join(str(d) for d in (batch, *self.input.dims))


def build_command(spec: PlanSpec, trtexec: str = "trtexec") -> list[str]:
    command = [trtexec, f"--onnx={spec.onnx_path}", f"--saveEngine={spec.plan_path}",
               f"--minShapes={spec.shape(1)}", f"--optShapes={spec.shape(spec.opt_batch)}",
               f"--maxShapes={spec.shape(spec.max_batch)}", "--fp16", "--skipInference"]
    if spec.fp32_layers:
        command += ["--precisionConstraints=obey",
                    "--layerPrecisions=" + ",".join(f"{name}:fp32" for name in spec.fp32_layers)]
    return command


def run_command(plan: Path, input_spec: contract.TensorSpec, inputs: Path, outputs: Path,
                batch: int, trtexec: str = "trtexec") -> list[str]:
    return [trtexec, f"--loadEngine={plan}", f"--loadInputs={input_spec.name}:{inputs}",
            f"--shapes={input_spec.name}:" + "x".join(str(d) for d in (batch, *input_spec.dims)),
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
    inputs = np.load(model_dir / PARITY_DIR / f"{spec.input.name}.npy")
    expected = np.load(model_dir / PARITY_DIR / f"{output.name}.npy")
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "input.bin"
        inputs.astype(spec.input.numpy_dtype).tofile(raw)
        exported = Path(scratch) / "output.json"
        subprocess.run(run_command(spec.plan_path, spec.input, raw, exported, len(inputs),
                                   trtexec), check=True, capture_output=True)
        actual = read_exported_output(exported, output)
    return compare(model_dir.name, output.name, actual, expected)


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
        specs = contract.model_specs(config.input[0].dims[0], 1)[model]
        plan = PlanSpec(version_dir / ONNX_FILE, version_dir / PLAN_FILE, specs.inputs[0],
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
        print(f"export.tensorrt: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
