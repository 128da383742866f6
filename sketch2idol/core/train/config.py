"""Run configurations: one dataclass per stage, written next to every checkpoint.

`config.json` in a run directory holds the resolved config and, under "changed", the
settings that differ from the defaults, so a run explains itself months later.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from sketch2idol.core.data.augment import Stage1Augment, Stage2Augment
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.models.autoencoder import AutoencoderConfig
from sketch2idol.core.models.discriminator import DiscriminatorConfig
from sketch2idol.core.models.generator import GeneratorConfig

CONFIG_NAME = "config.json"

# The defaults are the recipe of the shipped weights/default (see its README.md), so
# `make train` reproduces them; on a GPU, raise --steps (and --batch-size) freely.


@dataclass
class RunConfig:
    """What every training run has, whichever stage: its data, schedule, seed, output
    cadence and device. The stages set their own recipe's defaults for the schedule."""

    data: str = "data/synth"
    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-4
    lr_decay_steps: int = 0  # the last N steps decay lr linearly to 0 (pix2pixHD's niter_decay)
    init_from: str | None = None  # start from this run's weights (a fine-tune), not at random
    seed: int = 0
    sample_every: int = 250
    checkpoint_every: int = 250
    loader_workers: int = 2
    device: str = "auto"


@dataclass
class Stage1Config(RunConfig):
    steps: int = 2800
    lr: float = 5e-4
    size: int | None = None  # image side; None = the data set's (resolved when training)
    line_weight: float = 10.0
    casual_prob: float = 0.0  # share of inputs that are casual drawings (if the data has them)
    # A trained stage-1 run: train only the encoders, so that a drawing (casual or detailed)
    # encodes to the feature the teacher's encoder gives the face's detailed sketch; the
    # decoders stay the teacher's. (With the plain L1 objective, casual drawings drove the
    # decoders to blank output: weights/default/README.md, "Stage 1 and casual drawings".)
    teacher: str | None = None
    # With a teacher: the weight of a second term that holds the encoder's feature of the
    # clean detailed sketch itself at the teacher's, so that learning casual drawings does
    # not blur how detailed sketches refine (0: only the drawings are distilled).
    anchor_weight: float = 0.0
    # With a teacher: the components whose encoders learn (the others stay the teacher's,
    # and so do their bank rows): e.g. the face's parts without the remainder, whose encoder
    # decides the hair's length.
    taught_components: tuple[str, ...] = COMPONENTS
    # With a teacher: a stage-2 run whose generator, frozen, paints each refined drawing
    # (blended at `face_t`, as served); the encoders then learn from the L1 between that
    # face and the true photo (+ `flat_detail_weight` x the high-pass L1 in skin and
    # background) instead of the teacher's features (train/through_generator.py).
    through_generator: str | None = None
    face_t: float = 0.5
    flat_detail_weight: float = 20.0
    # With through_generator: the weight of the teacher-feature distillation term kept beside
    # the face's (0: the face alone; it holds a drawing near where the teacher's features
    # put it, what the face's L1 alone trades away where a drawing is unclear).
    feature_weight: float = 0.0
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    augment: Stage1Augment = field(default_factory=Stage1Augment)


@dataclass
class Stage2Config(RunConfig):
    # The first phase of the shipped schedule: 128², batch 8; `make train` then continues
    # the run at 256², batch 4 (--resume --train-size 256 --batch-size 4 --steps 2000).
    steps: int = 900
    checkpoint_every: int = 100
    stage1: str = "runs/stage1"
    lambda_gan: float = 1.0  # the LSGAN term; 0 trains on feature matching and the L1s alone
    lambda_feature_matching: float = 10.0
    lambda_l1: float = 20.0
    t_values: tuple[float, ...] = (0.0, 0.5, 1.0)
    train_size: int | None = 128  # train at this side (area-downsampled); None = the data's
    casual_prob: float = 0.5  # share of inputs refined from casual drawings (if the data has them)
    lambda_region: float = 10.0  # mean colour per look region (label maps) vs the truth's
    lambda_flat_detail: float = 20.0  # high-pass detail in flat regions (skin, background)
    lambda_part_detail: float = 0.0  # high-pass detail in the face's parts (eyes, nose, mouth)
    lambda_palette: float = 1.0  # with generator.palette_head: its gate and choice vs labels
    # What the palette head's gate learns to open on: "paintable", the label map's look
    # regions where the truth is the look colour times a gain (losses.paintable: not the
    # pupil, nor the outlines a region's class covers), or "labels", the whole regions (what
    # runs made before this field trained with: read_config gives them that, see
    # FIELDS_ADDED_LATER).
    palette_target: str = "paintable"
    # The first N steps train the discriminator alone (the generator is not updated): for a
    # fine-tune whose discriminator starts fresh (`weights unpack` ships none), so that its
    # feature matching and GAN terms judge lines before they steer the generator.
    d_warmup_steps: int = 0
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    augment: Stage2Augment = field(default_factory=Stage2Augment)


def to_dict(config) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def changed_settings(config) -> dict:
    """The settings of `config` that differ from its class's defaults (dotted names)."""
    def flatten(value, prefix=""):
        if isinstance(value, dict):
            out = {}
            for key, inner in value.items():
                out.update(flatten(inner, f"{prefix}{key}."))
            return out
        return {prefix[:-1]: value}

    ours, defaults = flatten(to_dict(config)), flatten(to_dict(type(config)()))
    return {key: value for key, value in ours.items() if defaults.get(key) != value}


def from_dict(cls, values: dict):
    """Rebuild a (nested) config dataclass from `to_dict` output."""
    kwargs = {}
    for item in dataclasses.fields(cls):
        if item.name not in values:
            continue
        value = values[item.name]
        default = item.default_factory() if item.default_factory is not dataclasses.MISSING \
            else item.default
        if dataclasses.is_dataclass(default):
            value = from_dict(type(default), value)
        elif isinstance(default, tuple):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[item.name] = value
    return cls(**kwargs)


def write_config(run_dir: Path, config) -> None:
    document = {"stage": type(config).__name__, "config": to_dict(config),
                "changed": changed_settings(config)}
    (Path(run_dir) / CONFIG_NAME).write_text(json.dumps(document, indent=2) + "\n")


#: Fields added after runs had been made, with the value such a run's config.json (which
#: lacks them) stands for where it is not today's default: a resumed run goes on as it began.
FIELDS_ADDED_LATER = {Stage2Config: {"palette_target": "labels"}}


def read_config(run_dir: Path, cls):
    document = json.loads((Path(run_dir) / CONFIG_NAME).read_text())
    return from_dict(cls, {**FIELDS_ADDED_LATER.get(cls, {}), **document["config"]})
