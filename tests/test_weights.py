"""Packaging trained runs as fp16 weights and loading them back."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from sketch2idol.core.data.synth import synthesize
from sketch2idol.core.models.discriminator import DiscriminatorConfig
from sketch2idol.core.models.generator import GeneratorConfig
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.train.checkpoint import load_net_state
from sketch2idol.core.train.config import Stage1Config, Stage2Config, read_config
from sketch2idol.core.train.loop import run_training
from sketch2idol.core.train.stage1 import Stage1Trainer, load_autoencoders
from sketch2idol.core.train.stage2 import Stage2Trainer
from sketch2idol.core.weights import (
    MANIFEST,
    export_weights,
    load_weights,
    recorded_fields,
    training_record,
)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = root / "faces"
    synthesize(data, count=12, seed=4, workers=1, progress=False)
    common = dict(data=str(data), steps=2, batch_size=2, sample_every=100,
                  checkpoint_every=100, loader_workers=0)
    run_training(Stage1Trainer(Stage1Config(**common), CPU), root / "s1", resume=False,
                 progress=False)
    stage2 = Stage2Config(**common, stage1=str(root / "s1"),
                          generator=GeneratorConfig(ngf=8, downsamplings=2, blocks=1),
                          discriminator=DiscriminatorConfig(ndf=8), lambda_part_detail=5.0)
    run_training(Stage2Trainer(stage2, CPU), root / "s2", resume=False, progress=False)
    export_weights(root / "s1", root / "s2", root / "weights")
    return root


def test_exported_weights_are_fp16_and_load_as_the_trained_nets(runs):
    weights = load_weights(runs / "weights")
    info = json.loads((runs / "weights" / MANIFEST).read_text())
    assert info["size"] == 256 and len(info["bank_ids"]) == 12
    # how the nets were trained travels with them: steps, the loss weights, warm starts
    assert info["training"]["stage2_steps"] == 2 and info["training"]["stage2_gan_weight"] == 1.0
    assert (info["training"]["stage2_flat_detail_weight"],
            info["training"]["stage2_region_weight"],
            info["training"]["stage2_part_detail_weight"]) == (20.0, 10.0, 5.0)
    # the parts' detail term was trained with: it is in every step's logged losses
    logged = [json.loads(line) for line in (runs / "s2" / "losses.jsonl").read_text().splitlines()]
    assert logged and all(row["G_parts"] > 0 for row in logged)
    assert info["training"]["stage1_init_from"] is info["training"]["stage2_init_from"] is None
    assert weights.bank_features.shape == (12, 5, 512)
    trained = load_autoencoders(runs / "s1", CPU)
    crop = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = trained["left_eye"].encode(crop)
        got = weights.autoencoders["left_eye"].encode(crop)
    # fp16 storage: features agree to about 3 significant digits.
    torch.testing.assert_close(got, expected, atol=2e-2 * expected.abs().max().item(), rtol=0)
    from safetensors import safe_open
    with safe_open(runs / "weights" / "generator.safetensors", "pt") as f:
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())


def test_pipeline_runs_any_drawing_and_checks_t(runs):
    pipeline = Pipeline.from_weights(runs / "weights")
    drawing = np.full((600, 900), 255, np.uint8)
    drawing[200:400, 300:302] = 0
    drawing[200:202, 300:500] = 0
    result = pipeline(drawing, t=[1.0, 1.0, 0.5, 0.5, 0.0])
    assert result.face.shape == (256, 256, 3) and result.face.dtype == np.uint8
    assert result.refined.shape == (256, 256) and result.sketch.shape == (256, 256)
    bank = set(json.loads((runs / "weights" / MANIFEST).read_text())["bank_ids"])
    assert all(len(ids) == 10 and set(ids) <= bank for ids in result.neighbours.values())
    for bad, message in ((1.5, r"\[0, 1\]"), ([0.5, 0.5], "one per component")):
        with pytest.raises(ValueError, match=message):
            pipeline(drawing, t=bad)


def test_a_generator_with_a_palette_head_exports_and_loads_with_it(runs, tmp_path):
    stage2 = Stage2Config(data=str(runs / "faces"), stage1=str(runs / "s1"), steps=2,
                          batch_size=2, sample_every=100, checkpoint_every=100,
                          loader_workers=0, discriminator=DiscriminatorConfig(ndf=8),
                          generator=GeneratorConfig(ngf=8, downsamplings=2, blocks=1,
                                                    palette_head=True, palette_smoothing=3))
    run_training(Stage2Trainer(stage2, CPU), tmp_path / "s2", resume=False, progress=False)
    export_weights(runs / "s1", tmp_path / "s2", tmp_path / "weights")
    info = json.loads((tmp_path / "weights" / MANIFEST).read_text())
    assert info["generator"]["palette_head"] is True
    assert info["generator"]["palette_smoothing"] == 3
    assert info["training"]["stage2_palette_weight"] == 1.0
    generator = load_weights(tmp_path / "weights").generator
    assert generator.palette.smoothing == 3  # the served generator filters as it trained
    trained, _ = load_net_state(tmp_path / "s2", "G")
    loaded = generator.state_dict()
    assert any(key.startswith("palette.") for key in trained) and set(loaded) == set(trained)
    for key, tensor in trained.items():  # fp16 storage
        torch.testing.assert_close(loaded[key], tensor.float(), atol=1e-3, rtol=1e-3)
    # a weights directory of a generator without one (or older, without
    # palette_smoothing in its weights.json) still loads as before
    assert load_weights(runs / "weights").generator.palette is None
    info["generator"].pop("palette_smoothing")
    (tmp_path / "weights" / MANIFEST).write_text(json.dumps(info))
    assert load_weights(tmp_path / "weights").generator.palette.smoothing == 0


def test_unpacked_weights_export_back_byte_for_byte_and_fine_tune_with_a_fresh_discriminator(
        runs, tmp_path, capsys):
    from sketch2idol.core.errors import UserError
    from sketch2idol.core.weights import unpack_weights

    stage1, stage2 = unpack_weights(runs / "weights", tmp_path / "unpacked")
    export_weights(stage1, stage2, tmp_path / "again")
    for name in ("autoencoders.safetensors", "generator.safetensors", "bank.safetensors"):
        assert (tmp_path / "again" / name).read_bytes() == (runs / "weights" / name).read_bytes()
    before = json.loads((runs / "weights" / MANIFEST).read_text())
    after = json.loads((tmp_path / "again" / MANIFEST).read_text())
    assert after == before  # where the weights came from survives the round trip
    assert read_config(stage2, Stage2Config).data == before["training"]["stage2_data"]
    with pytest.raises(FileExistsError, match="already holds a run"):
        unpack_weights(runs / "weights", tmp_path / "unpacked")

    # a stage-2 fine-tune from the unpacked runs: G loads, D (never shipped) starts fresh
    fine_tune = Stage2Config(data=str(runs / "faces"), stage1=str(stage1), steps=1,
                             batch_size=2, sample_every=100, checkpoint_every=100,
                             loader_workers=0, init_from=str(stage2),
                             generator=GeneratorConfig(ngf=8, downsamplings=2, blocks=1),
                             discriminator=DiscriminatorConfig(ndf=8))
    trainer = Stage2Trainer(fine_tune, CPU)
    run_training(trainer, tmp_path / "tuned", resume=False, progress=False)
    assert "no net 'D' there" in capsys.readouterr().out
    # ... and an unpacked run holds no optimizer state: --resume names what to do instead
    with pytest.raises(UserError, match="--init-from"):
        run_training(Stage2Trainer(dataclasses.replace(fine_tune, init_from=None), CPU),
                     stage2, resume=True, progress=False)


def test_averaged_weights_mix_two_generators_and_refuse_different_stage_ones(runs, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from sketch2idol.core.weights import AUTOENCODERS, GENERATOR, average_weights

    first = runs / "weights"
    second = tmp_path / "second"
    shutil.copytree(first, second)
    ours = load_file(first / GENERATOR)
    theirs = {name: (tensor + 1).half() for name, tensor in ours.items()}
    save_file(theirs, second / GENERATOR)
    info = json.loads((second / MANIFEST).read_text())
    info["training"]["stage2_steps"] = 99
    (second / MANIFEST).write_text(json.dumps(info))

    for share, expected in ((0.0, ours), (1.0, theirs)):
        out = average_weights(first, second, tmp_path / f"ends{share}", share)
        got = load_file(out / GENERATOR)
        assert all(torch.equal(got[name], tensor) for name, tensor in expected.items())
    out = average_weights(first, second, tmp_path / "half", 0.25)
    mixed = load_weights(out).generator.state_dict()
    for name, tensor in ours.items():
        torch.testing.assert_close(mixed[name], tensor.float() + 0.25, atol=2e-3, rtol=1e-3)
    for name in (AUTOENCODERS, "bank.safetensors"):
        assert (out / name).read_bytes() == (first / name).read_bytes()
    record = json.loads((out / MANIFEST).read_text())["training"]
    assert record["stage2_steps"] == 2  # the first's own record, and the second's beside it
    assert record["stage2_averaged_with"] == {"share": 0.25, "training": info["training"]}
    # an average of an average keeps both records
    again = average_weights(out, second, tmp_path / "again", 0.5)
    record = json.loads((again / MANIFEST).read_text())["training"]
    assert record["stage2_averaged_with"] == {
        "share": 0.5, "training": info["training"],
        "first_averaged_with": {"share": 0.25, "training": info["training"]}}

    with pytest.raises(ValueError, match="one of the weights being averaged"):
        average_weights(first, second, second, 0.5)
    autoencoders = load_file(second / AUTOENCODERS)
    save_file({name: (t * 2).contiguous() for name, t in autoencoders.items()},
              second / AUTOENCODERS)
    with pytest.raises(ValueError, match="different autoencoders.safetensors"):
        average_weights(first, second, tmp_path / "refused", 0.5)
    assert not (tmp_path / "refused").exists()


def test_the_taught_components_are_recorded_and_read_back():
    """weights.json says which encoders a distillation taught (`--taught-components`), and
    `weights unpack` gives the run config back the same tuple; a run without a teacher
    taught every net, so nothing is recorded."""
    student = Stage1Config(teacher="runs/teacher", taught_components=("left_eye", "mouth"))
    record = json.loads(json.dumps(training_record(student, Stage2Config())))
    assert record["stage1_taught_components"] == ["left_eye", "mouth"]
    assert recorded_fields(record, 1)["taught_components"] == ("left_eye", "mouth")
    plain = training_record(Stage1Config(), Stage2Config())
    assert plain["stage1_taught_components"] is None
    assert "taught_components" not in recorded_fields(plain, 1)
