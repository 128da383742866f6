"""The `sketch2idol` console command.

Each command group lives in its own module under `sketch2idol.cli` and adds its
subcommands to the parser; `main` only wires them and turns expected failures into a
one-line reason and a non-zero exit (set SKETCH2IDOL_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys

from sketch2idol import __version__
from sketch2idol.cli import data as data_commands
from sketch2idol.cli import demo as demo_commands
from sketch2idol.cli import gateway as gateway_commands
from sketch2idol.cli import generate as generate_commands
from sketch2idol.cli import models as model_commands
from sketch2idol.cli import repository as repository_commands
from sketch2idol.cli import serve as serve_commands
from sketch2idol.cli import train as train_commands
from sketch2idol.core.errors import UserError

COMMAND_GROUPS = (data_commands, train_commands, model_commands, repository_commands,
                  serve_commands, gateway_commands, generate_commands, demo_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sketch2idol",
        description="Rough face sketch -> refined sketch -> face portrait.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    for module in COMMAND_GROUPS:
        module.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except UserError as error:
        print(f"sketch2idol: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sketch2idol: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence for the user
        if os.environ.get("SKETCH2IDOL_DEBUG"):
            raise
        print(f"sketch2idol: internal error: {type(error).__name__}: {error} "
              "(set SKETCH2IDOL_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
