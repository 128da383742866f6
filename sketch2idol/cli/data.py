"""`sketch2idol data ...`: make, ingest and look at face data sets.

Heavy imports (OpenCV, MediaPipe) happen inside the handlers so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sketch2idol.cli.arguments import non_negative_int, positive_int, probability
from sketch2idol.core.errors import UserError
from sketch2idol.core.geometry import DEFAULT_SIZE, SUPPORTED_SIZES


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


def add_size_and_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, choices=SUPPORTED_SIZES,
                        help=f"output image side in pixels (default: {DEFAULT_SIZE})")
    parser.add_argument("--workers", type=positive_int, default=default_workers(),
                        help="worker processes (default: all cores)")


def register(groups: argparse._SubParsersAction) -> None:
    data = groups.add_parser("data", help="make, ingest and preview face data sets",
                             description="Make, ingest and preview face data sets.")
    commands = data.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)

    synth = commands.add_parser(
        "synth", help="render procedural idol faces, their sketches and casual drawings",
        description="Render procedural portrait faces (photo/<id>.png), their detailed "
                    "sketches (sketch/<id>.png), a casual drawing of each as a person draws "
                    "it (casual/<id>.png), their label maps (labels/<id>.png) and "
                    "manifest.jsonl. Same seed -> byte-identical output for any worker "
                    "count; re-running into the same --out adds the missing faces (and the "
                    "files a set made by an earlier version lacks) and skips the ones "
                    "already there.")
    synth.add_argument("--count", type=positive_int, required=True, help="number of faces")
    synth.add_argument("--seed", type=non_negative_int, default=0, help="data set seed (default 0)")
    synth.add_argument("--out", type=Path, required=True, help="output directory")
    synth.add_argument("--hair-hug-prob", type=probability, default=0.0, metavar="P",
                       help="share of the casual drawings that draw the hair's lines close "
                            "to the face, as people draw long hair (training sets for stage "
                            "1; default 0: the set as before)")
    add_size_and_workers(synth)
    synth.set_defaults(handler=run_synth)

    preview = commands.add_parser(
        "preview", help="draw a contact sheet of photos with their sketches",
        description="Draw a grid of photo | sketch (| casual drawing | label map, for "
                    "synth sets) tiles from a data set directory.")
    preview.add_argument("dir", type=Path, help="data set directory (made by synth or ingest)")
    preview.add_argument("-o", "--out", type=Path, required=True, help="output PNG")
    preview.add_argument("--count", type=positive_int, default=16,
                         help="number of samples to show (default 16)")
    preview.add_argument("--columns", type=positive_int, default=4,
                         help="samples per row (default 4)")
    preview.set_defaults(handler=run_preview)

    ingest = commands.add_parser(
        "ingest", help="align and sketch a folder of real face photos",
        description="Find frontal faces in a folder of photos (JPEG/PNG/WebP), align them "
                    "to the landmark template with MediaPipe face-mesh landmarks, crop and "
                    "sketch them. Incremental: files already seen (by content hash) are "
                    "skipped. Rejected files are listed with a reason in rejected.jsonl.")
    ingest.add_argument("src", type=Path, help="folder of photos (searched recursively)")
    ingest.add_argument("--out", type=Path, required=True, help="output data set directory")
    add_size_and_workers(ingest)
    ingest.set_defaults(handler=run_ingest_command)


def run_synth(args: argparse.Namespace) -> int:
    from sketch2idol.core.data.dataset import DatasetMismatch
    from sketch2idol.core.data.synth import synthesize

    try:
        summary = synthesize(args.out, count=args.count, seed=args.seed, size=args.size,
                             workers=args.workers, hair_hug_prob=args.hair_hug_prob)
    except DatasetMismatch as error:
        raise UserError(str(error)) from None
    print(f"{args.out}: {summary.rendered} rendered, {summary.skipped} already present, "
          f"{summary.total} faces in the set")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from sketch2idol.core.data.preview import write_contact_sheet

    if not args.dir.is_dir():
        raise UserError(f"{args.dir} is not a directory")
    shown = write_contact_sheet(args.dir, args.out, count=args.count, columns=args.columns)
    print(f"{args.out}: {shown} samples")
    return 0


def run_ingest_command(args: argparse.Namespace) -> int:
    from sketch2idol.core.data.dataset import DatasetMismatch
    from sketch2idol.core.data.ingest import run_ingest

    if not args.src.is_dir():
        raise UserError(f"{args.src} is not a directory")
    try:
        summary = run_ingest(args.src, args.out, size=args.size, workers=args.workers)
    except DatasetMismatch as error:
        raise UserError(str(error)) from None
    print(summary.describe())
    return 0
