"""The tensorrt runtime's plan builder, validated as far as possible without TensorRT:
command lines, trtexec's output format, and the build -> check -> FP32-instance-norm
fallback flow driven through a stand-in trtexec that runs the ONNX file with onnxruntime."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sketch2idol.core import contract
from sketch2idol.core.weights import DEFAULT_WEIGHTS
from sketch2idol.export.repository import ExportRequest, build_repository
from sketch2idol.export.tensorrt import (
    PlanSpec,
    build_command,
    build_plans,
    instance_norm_layers,
    read_exported_output,
)
from sketch2idol.export.triton_config import DeploymentOptions
from sketch2idol.serving.integrity import read_manifest

FAKE_TRTEXEC = Path(__file__).with_name("fake_trtexec.py")


@pytest.fixture(scope="module")
def tensorrt_repository(tmp_path_factory):
    out = tmp_path_factory.mktemp("trt_repository")
    build_repository(ExportRequest(weights=DEFAULT_WEIGHTS, out=out, parity_count=2,
                                   options=DeploymentOptions(runtime="tensorrt", device="gpu",
                                                             max_batch=16)),
                     say=lambda line: None)
    return out


@pytest.fixture
def trtexec(tmp_path):
    script = tmp_path / "trtexec"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE_TRTEXEC} \"$@\"\n")
    script.chmod(0o755)
    return str(script)


def test_build_command_has_a_batch_profile_matching_max_batch():
    spec = PlanSpec(Path("d.onnx"), Path("d.plan"),
                    contract.model_specs(256, 10)[contract.DECODERS].inputs, max_batch=32,
                    fp32_layers=("/norm/A", "/norm/B"))
    command = build_command(spec, "trtexec")
    assert "--minShapes=PROJECTED:1x5x512" in command
    assert "--optShapes=PROJECTED:16x5x512" in command
    assert "--maxShapes=PROJECTED:32x5x512" in command
    assert "--fp16" in command
    assert "--layerPrecisions=/norm/A:fp32,/norm/B:fp32" in command


def test_the_generator_profile_gives_every_input_the_same_batch_range():
    spec = PlanSpec(Path("g.onnx"), Path("g.plan"),
                    contract.model_specs(256, 10)[contract.GENERATOR].inputs, max_batch=8)
    command = build_command(spec, "trtexec")
    dim = contract.LOOK_DIM
    assert f"--minShapes=REFINED_SKETCH:1x256x256,APPEARANCE:1x{dim}" in command
    assert f"--optShapes=REFINED_SKETCH:4x256x256,APPEARANCE:4x{dim}" in command
    assert f"--maxShapes=REFINED_SKETCH:8x256x256,APPEARANCE:8x{dim}" in command


def test_trtexec_output_json_is_read_back(tmp_path):
    spec = contract.tensor_specs(4, 10)[contract.REFINED_SKETCH]
    values = np.arange(32, dtype=np.uint8).reshape(2, 4, 4)
    (tmp_path / "out.json").write_text(json.dumps([{"name": "REFINED_SKETCH",
                                                    "dimensions": "2x4x4",
                                                    "values": values.ravel().tolist()}]))
    np.testing.assert_array_equal(read_exported_output(tmp_path / "out.json", spec), values)
    with pytest.raises(ValueError, match="FACE"):
        read_exported_output(tmp_path / "out.json", contract.tensor_specs(4, 10)[contract.FACE])


def test_plans_are_built_checked_and_added_to_the_manifest(tensorrt_repository, trtexec):
    # The generator's parity set holds its looks, one per refined sketch, and not one look.
    looks = np.load(tensorrt_repository / "generator" / "parity" / "APPEARANCE.npy")
    assert looks.shape == (2, contract.LOOK_DIM) and looks.dtype == np.float32
    assert not np.array_equal(looks[0], looks[1])
    results = build_plans(tensorrt_repository, trtexec)
    assert [r.model for r in results] == list(contract.NETWORK_MODELS)
    assert all(r.passed for r in results)
    for model in contract.NETWORK_MODELS:
        listed = {entry.path for entry in read_manifest(tensorrt_repository / model / "1")}
        assert {"model.onnx", "model.plan"} <= listed


def test_a_failing_fp16_plan_is_rebuilt_with_instance_norm_in_fp32(tensorrt_repository, trtexec,
                                                                    monkeypatch, capsys):
    assert instance_norm_layers(tensorrt_repository / "generator" / "1" / "model.onnx")
    monkeypatch.setenv("FAKE_TRT_SPOIL", "generator")
    results = build_plans(tensorrt_repository, trtexec)
    assert results[-1].passed
    lines = capsys.readouterr().out.splitlines()
    assert any("generator" in line and "FAILED" in line for line in lines)
    assert any("instance norm in fp32" in line for line in lines)


def test_a_model_without_instance_norm_that_fails_stops_the_build(tensorrt_repository, trtexec,
                                                                   monkeypatch):
    monkeypatch.setenv("FAKE_TRT_SPOIL", "encoders")
    with pytest.raises(RuntimeError, match="encoders"):
        build_plans(tensorrt_repository, trtexec)


def test_without_trtexec_the_reason_is_given(tensorrt_repository):
    with pytest.raises(FileNotFoundError, match="NGC"):
        build_plans(tensorrt_repository, "no-such-trtexec")
