"""Export: ONNX graphs, parity with the PyTorch reference, precisions, configs, CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from export.graphs import network_graphs
from export.parity import ParityError, check_parity, compare, onnx_session, run_onnx
from export.precision import convert_fp16, pixel_layers, quantize_int8
from export.quality import precision_delta
from export.repository import (
    REPORT,
    ExportRequest,
    build_repository,
    shim_source,
    version_artifacts,
)
from export.samples import HELDOUT_SEED, TRAINING_SEED, reference_chain, render_sketches
from export.triton_config import DeploymentOptions, parse, render, repository_configs
from sketch2idol import contract
from sketch2idol.cli import main
from sketch2idol.pipeline import Pipeline
from sketch2idol.serving.integrity import verify_manifest
from sketch2idol.weights import DEFAULT_WEIGHTS, load_weights

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.from_weights()


@pytest.fixture(scope="module")
def parity_set(pipeline):
    return reference_chain(pipeline, render_sketches(HELDOUT_SEED, 4, pipeline.size))


def test_every_network_is_a_checked_onnx_graph_with_the_contract_tensors(exported_repository):
    repository, report = exported_repository
    specs = contract.model_specs(256, 10)
    for name in contract.NETWORK_MODELS:
        model = onnx.load(str(repository / name / "1" / "model.onnx"))
        onnx.checker.check_model(model, full_check=True)
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
        (graph_input,), (graph_output,) = model.graph.input, model.graph.output
        for value, spec in ((graph_input, specs[name].inputs[0]),
                            (graph_output, specs[name].outputs[0])):
            tensor_type = value.type.tensor_type
            assert value.name == spec.name
            assert onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type) == \
                spec.numpy_dtype
            dims = tensor_type.shape.dim
            assert dims[0].dim_param  # the batch axis is dynamic
            assert tuple(d.dim_value for d in dims[1:]) == spec.dims
        assert report["networks"][name]["fp32_parity"]["passed"]


def test_exported_graphs_match_the_reference_at_batch_one_and_three(exported_repository,
                                                                    parity_set):
    repository, _ = exported_repository
    for name in contract.NETWORK_MODELS:
        (input_name,), (output_name,) = contract.MODEL_IO[name]
        session = onnx_session(repository / name / "1" / "model.onnx")
        for rows in (slice(0, 1), slice(1, 4)):
            actual = run_onnx(session, parity_set[input_name][rows])
            parity = compare(name, output_name, actual, parity_set[output_name][rows])
            assert parity.passed, parity.line()
            if actual.dtype != np.uint8:
                assert parity.max_abs <= 1e-3


def test_parity_check_catches_a_wrong_graph(exported_repository, parity_set, tmp_path):
    repository, _ = exported_repository
    model = onnx.load(str(repository / "generator" / "1" / "model.onnx"))
    biases = [init for init in model.graph.initializer if init.name.endswith("bias")]
    spoiled = numpy_helper.to_array(biases[-1]) + 0.5  # shift the last layer's colours
    biases[-1].CopyFrom(numpy_helper.from_array(spoiled, biases[-1].name))
    onnx.save(model, str(tmp_path / "spoiled.onnx"))
    parity = check_parity(contract.GENERATOR, tmp_path / "spoiled.onnx", parity_set)
    assert not parity.passed and parity.max_abs > 1
    with pytest.raises(ParityError, match="reference"):
        compare("generator", "FACE", np.zeros((1, 2, 2), np.uint8),
                np.zeros((1, 2, 2, 3), np.uint8))


def test_int8_generator_stays_close_to_fp32_and_keeps_pixel_layers_float(
        exported_repository, parity_set, pipeline, tmp_path):
    repository, _ = exported_repository
    fp32 = repository / "generator" / "1" / "model.onnx"
    calibration = reference_chain(pipeline, render_sketches(TRAINING_SEED, 8, pipeline.size))
    int8 = quantize_int8(fp32, tmp_path / "generator.int8.onnx",
                         calibration[contract.REFINED_SKETCH])
    model = onnx.load(str(int8))
    quantized = {n.input[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    assert quantized, "no QDQ nodes: nothing was quantised"
    kept_float = pixel_layers(onnx.load(str(fp32)))
    assert len(kept_float) == 2  # the first (1-channel in) and last (3-channel out) convs
    delta = precision_delta({contract.GENERATOR: int8}, parity_set, pipeline)
    assert delta["end_to_end"]["ssim"] >= 0.98  # DESIGN.md: SSIM loss <= 0.02


def test_fp16_conversion_keeps_uint8_interfaces(exported_repository, tmp_path):
    repository, _ = exported_repository
    fp16 = convert_fp16(repository / "encoders" / "1" / "model.onnx", tmp_path / "enc16.onnx")
    model = onnx.load(str(fp16))
    onnx.checker.check_model(model)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)


def test_repository_layout_manifests_and_report(exported_repository):
    repository, report = exported_repository
    artifacts = version_artifacts(repository)
    for name in contract.NETWORK_MODELS:
        assert artifacts[name] == ["model.onnx", "model.py"]
    assert "bank_vectors.npy" in artifacts[contract.PROJECTION]
    assert (repository / contract.ENSEMBLE / "1").is_dir()
    assert (repository / REPORT).exists()
    assert report["identity"]["runtime"] == "python-ort"
    assert report["projection"]["rows"] == len(load_weights().bank_ids)


def test_generated_configs_parse_and_the_ensemble_fits_every_model():
    for options in (DeploymentOptions(), DeploymentOptions(runtime="onnxruntime", device="gpu"),
                    DeploymentOptions(runtime="tensorrt", device="gpu", max_batch=64)):
        configs = repository_configs(options)
        assert set(configs) == {*contract.COMPOSING_MODELS, contract.ENSEMBLE}
        for config in configs.values():
            assert parse(render(config)) == config
        ensemble = configs[contract.ENSEMBLE]
        assert all(ensemble.max_batch_size <= configs[m].max_batch_size
                   for m in contract.COMPOSING_MODELS)
        steps = [step.model_name for step in ensemble.ensemble_scheduling.step]
        assert steps == list(contract.COMPOSING_MODELS)
        for name in contract.COMPOSING_MODELS:
            assert configs[name].dynamic_batching.max_queue_delay_microseconds == \
                options.max_queue_delay_us
            kinds = {group.kind for group in configs[name].instance_group}
            assert kinds == {options.instance_kind}
    assert repository_configs(DeploymentOptions(runtime="tensorrt", device="gpu"))[
        contract.GENERATOR].platform == "tensorrt_plan"
    with pytest.raises(ValueError, match="native GPU backend"):
        DeploymentOptions(runtime="tensorrt")


def test_committed_repository_sources_equal_what_export_writes(exported_repository):
    """model_repository/ in git is the default export's configs and entry points."""
    repository, report = exported_repository
    configs = repository_configs(DeploymentOptions())
    committed = REPO_ROOT / "model_repository"
    for name, config in configs.items():
        on_disk = parse((committed / name / "config.pbtxt").read_text())
        if name == contract.ENSEMBLE:  # identity parameters: weights id, runtime, precision
            on_disk.ClearField("parameters")
        assert on_disk == config, f"model_repository/{name}/config.pbtxt is stale: make " \
                                  "model-repository and commit"
    for name in contract.NETWORK_MODELS:
        assert (committed / name / "1" / "model.py").read_text() == \
            shim_source("network", name)
    assert (committed / contract.PROJECTION / "1" / "model.py").read_text() == \
        shim_source("projection", contract.PROJECTION)


def test_reference_graphs_do_not_depend_on_the_batch(pipeline):
    graphs = network_graphs(pipeline.weights)
    encoders = graphs[contract.ENCODERS]
    batch = encoders.example(3, seed=2)
    together = encoders.module(batch).detach().numpy()
    alone = np.concatenate([encoders.module(batch[i:i + 1]).detach().numpy() for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_cli_export_rejects_bad_arguments_with_one_line(tmp_path, capsys):
    assert main(["export", "--weights", str(tmp_path / "missing"), "--out",
                 str(tmp_path / "repo")]) == 2
    assert main(["export", "--size", "512", "--out", str(tmp_path / "repo")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert "is not a directory" in errors[0]
    assert "trained at 256" in errors[1] and "--size 256" in errors[1]


def test_export_refuses_an_unknown_precision(tmp_path):
    with pytest.raises(ValueError, match="precision"):
        build_repository(ExportRequest(weights=DEFAULT_WEIGHTS, out=tmp_path,
                                       options=DeploymentOptions(), precision="int4"))
    assert not any(tmp_path.iterdir())


def test_export_replaces_stale_artifacts(exported_repository, tmp_path):
    repository, _ = exported_repository
    copy = tmp_path / "repo"
    shutil.copytree(repository, copy)
    (copy / "generator" / "1" / "stale.plan").write_text("old")
    build_repository(ExportRequest(weights=DEFAULT_WEIGHTS, out=copy,
                                   options=DeploymentOptions(), parity_count=2),
                     say=lambda line: None)
    assert not (copy / "generator" / "1" / "stale.plan").exists()


def test_cli_export_into_a_relative_directory(tmp_path, monkeypatch, capsys):
    """What `make model-repository` does: --out relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--out", "model_repository", "--max-batch", "4"]) == 0
    assert "model repository written" in capsys.readouterr().out
    for name in contract.COMPOSING_MODELS:
        verify_manifest(tmp_path / "model_repository" / name / "1")
