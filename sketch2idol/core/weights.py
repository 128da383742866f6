"""Packaged model weights: what ships in `weights/default/` and what serving loads.

    weights.json               size, network configs, K, component order, bank sample ids,
                               where the weights came from
    autoencoders.safetensors   the five component autoencoders (fp16)
    generator.safetensors      the stage-2 generator (fp16)
    bank.safetensors           the feature bank [M, 5, 512] (fp16)

Weights are stored in fp16 to keep the repository small and are loaded back as fp32.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file

from sketch2idol.core.contract import LOOK_DIM, LOOK_FIELDS
from sketch2idol.core.data.dataset import read_info
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.manifold import DEFAULT_K
from sketch2idol.core.models.autoencoder import AutoencoderConfig, define_autoencoders
from sketch2idol.core.models.generator import GeneratorConfig, define_generator
from sketch2idol.core.train.bank import BANK_NAME, read_run_bank, save_bank
from sketch2idol.core.train.checkpoint import has_checkpoint, load_net_state, save_checkpoint
from sketch2idol.core.train.config import (
    Stage1Config,
    Stage2Config,
    read_config,
    to_dict,
    write_config,
)

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "default"
MANIFEST = "weights.json"
AUTOENCODERS = "autoencoders.safetensors"
GENERATOR = "generator.safetensors"
BANK = "bank.safetensors"


@dataclass
class Weights:
    size: int
    k: int
    autoencoders: torch.nn.ModuleDict
    generator: torch.nn.Module
    bank_ids: list[str]
    bank_features: np.ndarray  # [M, C, D] float32
    info: dict


def _half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: (t.half() if t.is_floating_point() else t).contiguous().cpu()
            for name, t in state.items()}


#: How each run was trained, as weights.json's "training" records it: (stage, its config's
#: field, the key). Written by export_weights, read back by unpack_weights.
TRAINING_RECORD = (
    (1, "batch_size", "stage1_batch_size"),
    (2, "batch_size", "stage2_batch_size"),
    (1, "data", "data"),
    # The generator's own training set (records before it have only stage 1's "data").
    (2, "data", "stage2_data"),
    # A distilled stage 1 (`train stage1 --teacher`): the run it learnt from, whose decoders
    # it keeps; its steps are the student's.
    (1, "teacher", "stage1_teacher"),
    # ... the components whose encoders it taught (`--taught-components`; all five before)
    (1, "taught_components", "stage1_taught_components"),
    # ... taught on the faces a stage-2 run's generator paints (`--through-generator`)
    (1, "through_generator", "stage1_through_generator"),
    (1, "face_t", "stage1_face_t"),
    (1, "flat_detail_weight", "stage1_flat_detail_weight"),
    (1, "feature_weight", "stage1_feature_weight"),
    # A fine-tune (`--init-from RUN`) counts its own steps only: the run it started from
    # says where the rest came from.
    (1, "init_from", "stage1_init_from"),
    (2, "init_from", "stage2_init_from"),
    (2, "lambda_gan", "stage2_gan_weight"),
    (2, "lambda_feature_matching", "stage2_feature_matching_weight"),
    (2, "lambda_flat_detail", "stage2_flat_detail_weight"),
    (2, "lambda_part_detail", "stage2_part_detail_weight"),
    (2, "lambda_region", "stage2_region_weight"),
    (2, "lambda_palette", "stage2_palette_weight"),
    (2, "palette_target", "stage2_palette_target"),
)


def training_record(stage1: Stage1Config, stage2: Stage2Config) -> dict:
    """weights.json's TRAINING_RECORD entries of two run configs (no palette weight or target
    without a palette head: none was trained)."""
    configs = {1: stage1, 2: stage2}
    record = {key: getattr(configs[stage], field) for stage, field, key in TRAINING_RECORD}
    if not stage2.generator.palette_head:
        record["stage2_palette_weight"] = record["stage2_palette_target"] = None
    record["stage1_taught_components"] = (list(stage1.taught_components) if stage1.teacher
                                          else None)  # no teacher: every net learnt
    if not stage1.through_generator:  # no face objective: its settings did nothing
        record["stage1_face_t"] = record["stage1_flat_detail_weight"] = None
        record["stage1_feature_weight"] = None
    return record


def recorded_fields(training: dict, stage: int) -> dict:
    """The config fields of `stage` that weights.json's "training" recorded (not None)."""
    return {field: tuple(value) if isinstance(value, list) else value
            for number, field, key in TRAINING_RECORD
            if number == stage and (value := training.get(key)) is not None}


def export_weights(stage1_run: Path, stage2_run: Path, out: Path) -> Path:
    """Package two finished runs into a weights directory (fp16 safetensors + weights.json)."""
    stage1 = read_config(stage1_run, Stage1Config)
    stage2 = read_config(stage2_run, Stage2Config)
    autoencoders, steps1 = load_net_state(stage1_run, "autoencoders")
    generator, steps2 = load_net_state(stage2_run, "G")
    ids, features = read_run_bank(stage1_run)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(_half(autoencoders), out / AUTOENCODERS)
    save_file(_half(generator), out / GENERATOR)
    save_numpy({"features": features.astype(np.float16)}, out / BANK)
    info = {
        "size": stage1.size,
        "k": DEFAULT_K,
        "components": list(COMPONENTS),
        "autoencoder": dataclasses.asdict(stage1.autoencoder),
        "generator": dataclasses.asdict(stage2.generator),
        "training": {"stage1_steps": steps1, "stage2_steps": steps2,
                     **training_record(stage1, stage2)},
        # What the bank was made from (dataset.json: kind, seed, size, renderer): lets export
        # redraw a procedural bank's sketches (the drawing guide's, sketch2idol/export/guides.py).
        "data": read_info(stage1.data),
        "bank_ids": ids,
    }
    write_manifest(out, info)
    return out


def unpack_weights(path: Path, out: Path) -> tuple[Path, Path]:
    """export_weights the other way round, to fine-tune shipped weights: `out`/stage1 (the
    autoencoders and the bank, as a finished stage-1 run) and `out`/stage2 (the generator
    as net "G"). Both are starting points for `--init-from` (and stage 1's for `--stage1`):
    they hold no optimizer state, and no discriminator ships, so a stage-2 fine-tune trains
    a fresh one. Tensors come back as the fp32 of their fp16 storage, as serving loads them;
    each config records where the weights came from, so exporting again keeps it."""
    weights = load_weights(path)
    info, training = weights.info, weights.info["training"]
    stage1_dir, stage2_dir = Path(out) / "stage1", Path(out) / "stage2"
    for run_dir in (stage1_dir, stage2_dir):
        if has_checkpoint(run_dir):
            raise FileExistsError(f"{run_dir} already holds a run; choose another --out")
    stage1 = Stage1Config(size=info["size"], autoencoder=AutoencoderConfig(**info["autoencoder"]),
                          **recorded_fields(training, 1))
    stage2 = Stage2Config(**{"data": training["data"], **recorded_fields(training, 2)},
                          stage1=str(stage1_dir), generator=GeneratorConfig(**info["generator"]))
    for run_dir, config, step, nets in (
            (stage1_dir, stage1, training["stage1_steps"], {"autoencoders": weights.autoencoders}),
            (stage2_dir, stage2, training["stage2_steps"], {"G": weights.generator})):
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, config)
        save_checkpoint(run_dir, step=step, nets=nets, optimizers={}, config=to_dict(config))
    save_bank(stage1_dir / BANK_NAME, weights.bank_ids, weights.bank_features)
    return stage1_dir, stage2_dir


AVERAGED_WITH = "stage2_averaged_with"  # weights.json "training": what G was averaged with


def average_weights(first: Path, second: Path, out: Path, share: float = 0.5) -> Path:
    """Weights whose generator is (1 - share) x `first`'s + share x `second`'s, parameter by
    parameter: checkpoint averaging of two fine-tunes of one generator (as in model soups),
    which often keeps what each does better where they trade one quality for another. Both
    must share stage 1 (autoencoders and bank, byte for byte) and the generator's config.
    The rest is `first`'s; weights.json records `second`'s training and the share under
    "training" -> "stage2_averaged_with" (and, where `first` was itself an average, its
    record under that record's "first_averaged_with"; `weights unpack` does not carry these
    records into a run: a fine-tune of the average starts from the averaged generator)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    if Path(out).resolve() in (Path(first).resolve(), Path(second).resolve()):
        raise ValueError(f"--out {out} is one of the weights being averaged; choose another")
    info, other = read_manifest(first), read_manifest(second)
    for name in (AUTOENCODERS, BANK):
        if (Path(first) / name).read_bytes() != (Path(second) / name).read_bytes():
            raise ValueError(f"{first} and {second} have different {name}: only generators "
                             "trained behind the same stage 1 can be averaged")
    if info["generator"] != other["generator"] or info["bank_ids"] != other["bank_ids"]:
        raise ValueError(f"{first} and {second} differ in the generator's config or the bank's "
                         "ids: only fine-tunes of one generator can be averaged")
    ours, theirs = load_file(Path(first) / GENERATOR), load_file(Path(second) / GENERATOR)
    mixed = {name: torch.lerp(tensor.float(), theirs[name].float(), share)
             if tensor.is_floating_point() else tensor for name, tensor in ours.items()}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in (AUTOENCODERS, BANK):
        shutil.copyfile(Path(first) / name, out / name)
    save_file(_half(mixed), out / GENERATOR)
    record = {"share": share, "training": other["training"]}
    earlier = info["training"].pop(AVERAGED_WITH, None)
    if earlier is not None:  # `first` is itself an average: its record stays, one level down
        record["first_averaged_with"] = earlier
    info["training"][AVERAGED_WITH] = record
    write_manifest(out, info)
    return out


def read_manifest(path: Path) -> dict:
    """A weights directory's weights.json."""
    if not (Path(path) / MANIFEST).exists():
        raise FileNotFoundError(f"{path} holds no {MANIFEST}: not a weights directory")
    return json.loads((Path(path) / MANIFEST).read_text())


def write_manifest(path: Path, info: dict) -> None:
    """Write `info` as the weights directory's weights.json."""
    (Path(path) / MANIFEST).write_text(json.dumps(info, indent=1) + "\n")


def load_weights(path: Path = DEFAULT_WEIGHTS, device: str | torch.device = "cpu") -> Weights:
    path = Path(path)
    info = read_manifest(path)
    if tuple(info["components"]) != COMPONENTS:
        raise ValueError(f"{path}: components {info['components']} != {COMPONENTS}")
    autoencoders = define_autoencoders(info["size"], AutoencoderConfig(**info["autoencoder"]))
    autoencoders.load_state_dict({k: v.float() if v.is_floating_point() else v
                                  for k, v in load_file(path / AUTOENCODERS).items()})
    generator_config = GeneratorConfig(**info["generator"])
    if generator_config.look_dim != LOOK_DIM:
        raise ValueError(f"{path}: the generator takes a look of {generator_config.look_dim} "
                         f"values, the contract's is {LOOK_DIM} ({', '.join(LOOK_FIELDS)}); "
                         "retrain or re-export the weights")
    generator = define_generator(generator_config)
    generator.load_state_dict({k: v.float() for k, v in load_file(path / GENERATOR).items()})
    features = load_numpy(path / BANK)["features"].astype(np.float32)
    if len(features) != len(info["bank_ids"]):
        raise ValueError(f"{path}: {len(features)} bank rows but {len(info['bank_ids'])} ids")
    return Weights(size=info["size"], k=info["k"],
                   autoencoders=autoencoders.to(device).eval(),
                   generator=generator.to(device).eval(), bank_ids=info["bank_ids"],
                   bank_features=features, info=info)
