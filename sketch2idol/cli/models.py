"""`sketch2idol eval` and `sketch2idol weights export|unpack`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sketch2idol.cli.arguments import fraction, positive_int
from sketch2idol.core.errors import UserError


def add_weights_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights directory (default: weights/default)")


def register(groups: argparse._SubParsersAction) -> None:
    evaluate = groups.add_parser(
        "eval", help="score weights on held-out faces",
        description="Faces generated in each held-out face's true look, from its detailed "
                    "sketch and its casual drawing: image quality (L1, PSNR, SSIM vs the "
                    "ground truth), colour adherence per look field, hair IoU, texture, "
                    "sketch fidelity (chamfer, edge F1; overall and per component window), "
                    "stage 1 on casual drawings (and which component loses them most), "
                    "stage-1 robustness, beside the average "
                    "training face and the ground truth. Writes eval.md, eval.json, "
                    "samples.png and robustness.png.")
    add_weights_option(evaluate)
    evaluate.add_argument("--data", type=Path, required=True,
                          help="held-out data set (a synth seed never used in training)")
    evaluate.add_argument("--out", type=Path, default=Path("reports/eval"),
                          help="report directory (default reports/eval)")
    evaluate.add_argument("--count", type=positive_int, default=100,
                          help="faces to evaluate (default 100)")
    evaluate.add_argument("--train-data", type=Path, default=Path("data/synth"),
                          help="training set whose mean face is the blur baseline row "
                               "(default data/synth; skipped with a note if absent)")
    evaluate.set_defaults(handler=run_eval)

    weights = groups.add_parser("weights", help="package trained runs as weights",
                                description="Package trained runs as a weights directory.")
    actions = weights.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="stage-1 + stage-2 runs -> fp16 safetensors directory",
        description="Write autoencoders, generator and feature bank as fp16 safetensors, "
                    "plus weights.json, into --out.")
    export.add_argument("--stage1", type=Path, required=True, help="stage-1 run directory")
    export.add_argument("--stage2", type=Path, required=True, help="stage-2 run directory")
    export.add_argument("--out", type=Path, required=True, help="weights directory")
    export.set_defaults(handler=run_export)
    unpack = actions.add_parser(
        "unpack", help="weights directory -> stage-1 + stage-2 runs to fine-tune from",
        description="Write --out/stage1 (autoencoders and bank, a finished stage-1 run) and "
                    "--out/stage2 (the generator) from a weights directory, to pass to "
                    "`train stage2 --stage1 OUT/stage1 --init-from OUT/stage2` (a fresh "
                    "discriminator trains beside it: weights ship none) or `train stage1 "
                    "--init-from OUT/stage1`. They hold no optimizer state: not for --resume.")
    add_weights_option(unpack)
    unpack.add_argument("--out", type=Path, required=True,
                        help="directory for the two runs (stage1/, stage2/)")
    unpack.set_defaults(handler=run_unpack)
    average = actions.add_parser(
        "average", help="two fine-tunes of one generator -> weights with their average",
        description="Write --out: FIRST's weights with the generator (1 - SHARE) x FIRST's + "
                    "SHARE x SECOND's, parameter by parameter (checkpoint averaging: where two "
                    "fine-tunes trade one quality for another, their average often keeps "
                    "both). Both must share stage 1 and the generator's config; weights.json "
                    "records SECOND's training and the share.")
    average.add_argument("first", type=Path, help="weights directory")
    average.add_argument("second", type=Path, help="weights directory")
    average.add_argument("--share", type=fraction, default=0.5,
                         help="SECOND's share of each parameter (default 0.5)")
    average.add_argument("--out", type=Path, required=True, help="weights directory to write")
    average.set_defaults(handler=run_average)


def run_eval(args: argparse.Namespace) -> int:
    from sketch2idol.core.evaluate.run import evaluate
    from sketch2idol.core.weights import DEFAULT_WEIGHTS

    weights = args.weights or DEFAULT_WEIGHTS
    for path, what in ((weights, "weights"), (args.data, "data")):
        if not Path(path).is_dir():
            raise UserError(f"--{what} {path} is not a directory")
    train_data = args.train_data if Path(args.train_data).is_dir() else None
    if train_data is None:
        print(f"note: {args.train_data} is not a directory; no average-face row")
    try:
        evaluate(weights, args.data, args.out, count=args.count, train_data=train_data)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    print(f"{args.out}/eval.md written")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from sketch2idol.core.weights import export_weights

    for run_dir in (args.stage1, args.stage2):
        if not (Path(run_dir) / "checkpoint.pt").exists():
            raise UserError(f"{run_dir} holds no checkpoint.pt: not a finished run")
    try:
        out = export_weights(args.stage1, args.stage2, args.out)
    except FileNotFoundError as error:
        raise UserError(str(error)) from None
    total = sum(p.stat().st_size for p in Path(out).iterdir()) / 1e6
    print(f"{out}: {total:.1f} MB")
    return 0


def run_unpack(args: argparse.Namespace) -> int:
    from sketch2idol.core.weights import DEFAULT_WEIGHTS, unpack_weights

    weights = args.weights or DEFAULT_WEIGHTS
    if not Path(weights).is_dir():
        raise UserError(f"--weights {weights} is not a directory")
    try:
        stage1, stage2 = unpack_weights(weights, args.out)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        raise UserError(str(error)) from None
    print(f"{stage1}: stage-1 run (autoencoders, bank); {stage2}: stage-2 run (generator)")
    return 0


def run_average(args: argparse.Namespace) -> int:
    from sketch2idol.core.weights import average_weights

    for weights in (args.first, args.second):
        if not Path(weights).is_dir():
            raise UserError(f"{weights} is not a directory")
    try:
        out = average_weights(args.first, args.second, args.out, args.share)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    print(f"{out}: generator {1 - args.share:g} x {args.first} + {args.share:g} x {args.second}")
    return 0
