import dataclasses
import json

import pytest
import torch

from sketch2idol.data.synth import synthesize
from sketch2idol.models.discriminator import DiscriminatorConfig
from sketch2idol.models.generator import GeneratorConfig
from sketch2idol.train.checkpoint import CHECKPOINT_NAME
from sketch2idol.train.config import Stage1Config, Stage2Config
from sketch2idol.train.loop import run_training
from sketch2idol.train.stage1 import Stage1Trainer
from sketch2idol.train.stage2 import Stage2Trainer

DEVICE = torch.device("cpu")


@pytest.fixture(scope="module")
def face_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    synthesize(root, count=6, seed=21, workers=1, progress=False)
    return root


def train(trainer_cls, config, run_dir, resume=False):
    torch.manual_seed(config.seed)
    return run_training(trainer_cls(config, DEVICE), run_dir, resume=resume, progress=False)


def weights(run_dir):
    return torch.load(run_dir / CHECKPOINT_NAME, weights_only=False)["nets"]


def assert_same_weights(a, b):
    for net in a:
        for name, tensor in a[net].items():
            assert torch.equal(tensor, b[net][name]), f"{net}.{name} differs"


def losses(run_dir):
    return [json.loads(line) for line in (run_dir / "losses.jsonl").read_text().splitlines()]


def stage1_config(face_set, steps):
    return Stage1Config(data=str(face_set), steps=steps, batch_size=2, sample_every=100,
                        checkpoint_every=100, loader_workers=0)


def test_stage1_resume_gives_the_same_next_step(face_set, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(Stage1Trainer, stage1_config(face_set, 4), straight)
    train(Stage1Trainer, stage1_config(face_set, 3), split)  # crosses an epoch boundary
    train(Stage1Trainer, stage1_config(face_set, 4), split, resume=True)
    assert_same_weights(weights(straight), weights(split))
    assert losses(straight) == losses(split)
    assert (split / "bank.npz").exists() and (split / "losses.png").exists()
    assert (split / "samples_000004.png").exists()
    config = json.loads((split / "config.json").read_text())
    assert config["changed"]["steps"] == 4 and config["changed"]["batch_size"] == 2


def test_stage2_resume_gives_the_same_next_step(face_set, tmp_path):
    stage1 = tmp_path / "stage1"
    train(Stage1Trainer, stage1_config(face_set, 1), stage1)
    config = Stage2Config(data=str(face_set), stage1=str(stage1), steps=3, batch_size=2,
                          sample_every=100, checkpoint_every=100, loader_workers=0,
                          generator=GeneratorConfig(ngf=8, downsamplings=2, blocks=1),
                          discriminator=DiscriminatorConfig(ndf=8))
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(Stage2Trainer, config, straight)
    train(Stage2Trainer, dataclasses.replace(config, steps=2), split)
    train(Stage2Trainer, config, split, resume=True)
    assert_same_weights(weights(straight), weights(split))
    assert losses(straight) == losses(split)
    assert len(list((stage1 / "refined").glob("t*/*.png"))) == 6 * len(config.t_values)


def test_an_existing_run_is_not_overwritten(face_set, tmp_path):
    from sketch2idol.errors import UserError

    train(Stage1Trainer, stage1_config(face_set, 1), tmp_path)
    with pytest.raises(UserError, match="--resume"):
        train(Stage1Trainer, stage1_config(face_set, 2), tmp_path)


def test_stage1_learns_from_casual_drawings_towards_the_detailed_sketch(face_set):
    from sketch2idol.data import dataset
    from sketch2idol.data.augment import Stage1Augment
    from sketch2idol.train.stage1 import DrawingPairs

    pairs = DrawingPairs(face_set, Stage1Augment(), seed=0, casual_prob=0.5)
    samples = [pairs[(epoch, i)] for epoch in range(4) for i in range(len(pairs))]
    kinds = [bool(s["from_casual"]) for s in samples]
    assert any(kinds) and not all(kinds)
    for sample in samples:  # the target is always the clean detailed sketch
        detailed = dataset.read_grey(dataset.sketch_path(face_set, sample["id"]))
        assert (sample["clean_sketch"][0].numpy() == detailed).all()
    again = pairs[(1, 2)]
    assert bool(again["from_casual"]) == kinds[len(pairs) + 2]
    assert torch.equal(again["sketch"], samples[len(pairs) + 2]["sketch"])
    only_detailed = DrawingPairs(face_set, None, seed=0, casual_prob=0.0)[(0, 0)]
    assert not bool(only_detailed["from_casual"])
    assert torch.equal(only_detailed["sketch"], only_detailed["clean_sketch"])
