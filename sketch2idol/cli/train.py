"""`sketch2idol train stage1|stage2`: train the models, with progress, grids and resume."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path

from sketch2idol.cli.arguments import (
    component_names,
    non_negative_float,
    non_negative_int,
    odd_side,
    positive_int,
    probability,
    unit_interval,
)
from sketch2idol.core.errors import UserError

#: Stage 1's term weights: (flag, Stage1Config field, help).
STAGE1_WEIGHTS = (
    ("--anchor-weight", "anchor_weight", "with --teacher: weight of the term that keeps the "
     "feature of each clean detailed sketch at the teacher's (default 0)"),
    ("--flat-detail-weight", "flat_detail_weight", "with --through-generator: weight of the L1 "
     "between the face's and the photo's high-pass detail in skin and background (default "
     "20)"),
    ("--feature-weight", "feature_weight", "with --through-generator: keep the distillation "
     "towards the teacher's features of the detailed sketch at weight W beside the face's "
     "terms (default 0: the face alone)"),
)

#: The stage-2 loss weights a fine-tune may change: (flag, Stage2Config field, help).
STAGE2_LOSS_WEIGHTS = (
    ("--gan-weight", "lambda_gan", "weight of the generator's LSGAN term (default 1; the "
     "discriminator still trains for feature matching at 0)"),
    ("--feature-matching-weight", "lambda_feature_matching", "weight of the L1 between the "
     "discriminator's features of the output and of the truth (default 10); with "
     "--gan-weight 0 too, the discriminator is left out: a reconstruction-only fine-tune"),
    ("--flat-detail-weight", "lambda_flat_detail", "weight of the L1 between the output's and "
     "the truth's high-pass detail inside skin and background (default 20): higher paints "
     "flatter regions"),
    ("--part-detail-weight", "lambda_part_detail", "weight of the L1 between the output's and "
     "the truth's high-pass detail inside the face's parts: eyes, brows, nose, lips (default "
     "0; at 20 in a reconstruction-only fine-tune it did not keep their lines: see the model "
     "card)"),
    ("--region-weight", "lambda_region", "weight of the L1 between the output's and the "
     "truth's mean colour in each look region: hair, skin, iris, lips, clothes, background "
     "(default 10)"),
    ("--palette-weight", "lambda_palette", "with a palette head: weight of the cross-entropies "
     "that teach its gate and colour choice the label map (default 1)"),
)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, help="training data set directory "
                        "(default: data/synth; ignored with --resume)")
    parser.add_argument("--out", type=Path, required=True, help="run directory, e.g. runs/NAME")
    parser.add_argument("--steps", type=positive_int, help="total optimisation steps")
    parser.add_argument("--batch-size", type=positive_int)
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--lr-decay-steps", type=non_negative_int, metavar="N",
                        help="decay the learning rate linearly to 0 over the last N steps "
                             "(0: constant)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--sample-every", type=positive_int,
                        help="steps between sample grids (samples_<step>.png)")
    parser.add_argument("--checkpoint-every", type=positive_int)
    parser.add_argument("--loader-workers", type=int, help="data-loader processes")
    parser.add_argument("--device", help="auto (CUDA when present), cpu or cuda[:N]")
    parser.add_argument("--init-from", type=Path, metavar="RUN",
                        help="start from the weights of the run in RUN (a fine-tune: fresh "
                             "optimizers, step 0) instead of at random")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint")
    parser.add_argument("--debug", action="store_true",
                        help="smoke test: 4 steps of batch 2, a grid every 2 steps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def register(groups: argparse._SubParsersAction) -> None:
    train = groups.add_parser("train", help="train stage 1 or stage 2",
                              description="Train the stage-1 autoencoders (and feature bank) "
                                          "or the stage-2 generator.")
    stages = train.add_subparsers(dest="stage", metavar="STAGE", required=True)
    stage1 = stages.add_parser(
        "stage1", help="component autoencoders + feature bank",
        description="Train the five component autoencoders on augmented training sketches, "
                    "then encode the feature bank (bank.npz) into the run directory.")
    add_common(stage1)
    stage1.add_argument("--casual-prob", type=probability, metavar="P",
                        help="share of inputs that are casual drawings (default 0)")
    stage1.add_argument("--teacher", type=Path, metavar="RUN",
                        help="a trained stage-1 run: train only the encoders, so that a "
                             "drawing encodes to the feature RUN's encoder gives its "
                             "detailed sketch; the decoders stay RUN's")
    stage1.add_argument("--taught-components", type=component_names, metavar="NAMES",
                        help="with --teacher: train only these components' encoders "
                             "(comma-separated, e.g. left_eye,right_eye,nose,mouth; default "
                             "all five); the others, and their bank rows, stay the teacher's")
    stage1.add_argument("--through-generator", type=Path, metavar="STAGE2_RUN",
                        help="with --teacher: teach the encoders on the face STAGE2_RUN's "
                             "generator (frozen) paints from each refined drawing, against "
                             "the true photo, instead of on the teacher's features; the "
                             "drawings are not augmented")
    stage1.add_argument("--face-t", type=unit_interval, metavar="T",
                        help="with --through-generator: the t the drawings are refined at "
                             "(default 0.5, the served default)")
    for flag, field, help_text in STAGE1_WEIGHTS:
        stage1.add_argument(flag, type=non_negative_float, metavar="W", dest=field,
                            help=help_text)
    stage1.set_defaults(handler=run_stage1)
    stage2 = stages.add_parser(
        "stage2", help="pix2pixHD generator on stage-1 outputs",
        description="Train the generator (and its multi-scale discriminator) on the stage-1 "
                    "refined sketches of the training set; they are computed once and cached "
                    "in the stage-1 run directory.")
    add_common(stage2)
    stage2.add_argument("--stage1", type=Path, help="stage-1 run directory (default runs/stage1)")
    stage2.add_argument("--train-size", type=positive_int,
                        help="train at this image side (area-downsampled), e.g. 128 for the "
                             "cheap first phase, then --resume --train-size 256")
    stage2.add_argument("--casual-prob", type=probability, metavar="P",
                        help="share of inputs refined from casual drawings (default 0.5)")
    stage2.add_argument("--palette-head", action="store_true",
                        help="give the generator a palette head that paints look regions in "
                             "the look's own colours (with --init-from a run without one, "
                             "the head starts fresh)")
    stage2.add_argument("--palette-smoothing", type=odd_side, metavar="PX",
                        help="box-filter the palette head's colour choice over PX x PX pixels "
                             "(odd; 0 = none, the default): ambiguous regions blend instead of "
                             "flipping in patches")
    stage2.add_argument("--palette-target", choices=("paintable", "labels"),
                        help="what the palette head's gate learns to open on: the look "
                             "regions' pixels that are the look colour times a gain "
                             "(paintable, the default: pupils and outlines are left to the "
                             "free head) or the label map's whole regions (labels)")
    stage2.add_argument("--d-warmup", type=non_negative_int, metavar="N", dest="d_warmup_steps",
                        help="train the discriminator alone for the first N steps (counted in "
                             "--steps): for a fine-tune whose discriminator starts fresh, "
                             "e.g. from `weights unpack` (default 0)")
    for flag, field, help_text in STAGE2_LOSS_WEIGHTS:
        stage2.add_argument(flag, type=non_negative_float, metavar="W", dest=field,
                            help=help_text)
    stage2.set_defaults(handler=run_stage2)


def with_generator_options(config, args: argparse.Namespace):
    """`config` with the generator changes stage 2's flags ask for (--palette-head,
    --palette-smoothing); a resumed run keeps its own generator."""
    asked = {"palette_head": True if getattr(args, "palette_head", False) else None,
             "palette_smoothing": getattr(args, "palette_smoothing", None)}
    changes = {field: value for field, value in asked.items()
               if value is not None and value != getattr(config.generator, field)}
    if not changes:
        return config
    flags = " and ".join("--" + field.replace("_", "-") for field in changes)
    if args.resume:
        raise UserError(f"{flags} changes the generator; a resumed run keeps its own: start "
                        "a new run with --init-from")
    generator = dataclasses.replace(config.generator, **changes)
    if generator.palette_smoothing and not generator.palette_head:
        raise UserError("--palette-smoothing smooths the palette head's choice: add "
                        "--palette-head")
    return dataclasses.replace(config, generator=generator)


def resolve_config(args: argparse.Namespace, cls):
    from sketch2idol.core.train.checkpoint import has_checkpoint
    from sketch2idol.core.train.config import read_config

    if args.resume:
        if not has_checkpoint(args.out):
            raise UserError(f"--resume given but {args.out} holds no checkpoint")
        config = read_config(args.out, cls)
    else:
        config = cls()
    overrides = {"data": args.data, "steps": args.steps, "batch_size": args.batch_size,
                 "lr": args.lr, "lr_decay_steps": args.lr_decay_steps, "seed": args.seed,
                 "sample_every": args.sample_every,
                 "checkpoint_every": args.checkpoint_every,
                 "loader_workers": args.loader_workers, "device": args.device,
                 "stage1": getattr(args, "stage1", None),
                 "train_size": getattr(args, "train_size", None),
                 "init_from": args.init_from,
                 "casual_prob": getattr(args, "casual_prob", None),
                 "teacher": getattr(args, "teacher", None),
                 "taught_components": getattr(args, "taught_components", None),
                 "through_generator": getattr(args, "through_generator", None),
                 "face_t": getattr(args, "face_t", None),
                 "d_warmup_steps": getattr(args, "d_warmup_steps", None),
                 "palette_target": getattr(args, "palette_target", None),
                 **{field: getattr(args, field, None)
                    for _, field, _ in STAGE1_WEIGHTS + STAGE2_LOSS_WEIGHTS}}
    if args.resume:
        if args.init_from:
            raise UserError("--init-from starts a new run; --resume continues one: pass one")
        # a run keeps its inputs
        overrides["data"] = overrides["stage1"] = overrides["teacher"] = None
        overrides["through_generator"] = None
    if args.debug:
        overrides.update(steps=4, batch_size=2, sample_every=2, checkpoint_every=2,
                         loader_workers=0)
    values = {key: (str(value) if isinstance(value, Path) else value)
              for key, value in overrides.items() if value is not None}
    config = dataclasses.replace(config, **{k: v for k, v in values.items()
                                            if k in {f.name for f in dataclasses.fields(cls)}})
    config = with_generator_options(config, args)
    if not Path(config.data).is_dir():
        raise UserError(f"training data {config.data} is not a directory (make it with "
                        "`make data` or pass --data)")
    return config


def interrupt(_signum: int, _frame) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, config_cls, trainer_cls) -> int:
    from sketch2idol.core.train.loop import run_training
    from sketch2idol.core.train.runtime import pick_device, seed_everything

    config = resolve_config(args, config_cls)
    device = pick_device(config.device)
    seed_everything(config.seed)
    trainer = trainer_cls(config, device)
    # `kill PID` (SIGTERM: what nohup'd, container and CI runs are stopped with) stops the run
    # as Ctrl-C does: the checkpoint is written on the way out, so --resume continues it.
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        step = run_training(trainer, args.out, resume=args.resume, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"sketch2idol: interrupted; {args.out}/checkpoint.pt holds the last finished "
              "step: continue with --resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"{args.out}: trained to step {step} on {device}; losses.png, samples_*.png and "
          "checkpoint.pt are there")
    return 0


def run_stage1(args: argparse.Namespace) -> int:
    from sketch2idol.core.train.config import Stage1Config
    from sketch2idol.core.train.stage1 import Stage1Trainer

    return run(args, Stage1Config, Stage1Trainer)


def run_stage2(args: argparse.Namespace) -> int:
    from sketch2idol.core.train.config import Stage2Config
    from sketch2idol.core.train.stage2 import Stage2Trainer

    return run(args, Stage2Config, Stage2Trainer)
