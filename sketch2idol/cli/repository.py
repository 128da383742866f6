"""`sketch2idol export`: weights -> Triton model repository (ONNX, FAISS, configs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sketch2idol.cli.arguments import non_negative_int, positive_int
from sketch2idol.core.errors import UserError
from sketch2idol.core.geometry import DEFAULT_SIZE, SUPPORTED_SIZES
from sketch2idol.export import DEVICES, PRECISIONS, RUNTIMES


def register(groups: argparse._SubParsersAction) -> None:
    export = groups.add_parser(
        "export", help="build the Triton model repository from weights",
        description="Export encoders, decoders and generator to ONNX (pre/post-processing "
                    "inside the graphs), check them against the PyTorch reference, build the "
                    "FAISS indexes of the feature bank, render the drawing guide's sketches "
                    "of a procedural bank, and write every config.pbtxt and the sketch2face "
                    "ensemble. fp32 parity failures abort the export.")
    export.add_argument("--weights", type=Path, default=None,
                        help="weights directory (default: weights/default)")
    export.add_argument("--out", type=Path, default=Path("model_repository"),
                        help="model repository to write (default: model_repository)")
    export.add_argument("--runtime", choices=RUNTIMES, default="python-ort",
                        help="python-ort (default; runs here): Python-backend models running "
                             "onnxruntime; onnxruntime / tensorrt: Triton's native backends "
                             "in the NGC container (GPU)")
    export.add_argument("--device", choices=DEVICES, default=None,
                        help="instance kind and execution providers (default: cpu for "
                             "python-ort, gpu for the native runtimes)")
    export.add_argument("--size", type=int, choices=SUPPORTED_SIZES, default=DEFAULT_SIZE,
                        help=f"image size the weights were trained at (default {DEFAULT_SIZE})")
    export.add_argument("--max-batch", type=positive_int, default=32,
                        help="max_batch_size of every model (default 32)")
    export.add_argument("--max-queue-delay-us", type=non_negative_int, default=2000,
                        help="dynamic batcher queue delay in microseconds (default 2000)")
    export.add_argument("--instances", type=positive_int, default=1,
                        help="instances of each composing model (default 1)")
    export.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="fp32 (default); int8: static quantisation calibrated on "
                             "training sketches (CPU); fp16 (GPU)")
    export.add_argument("--exact-max-rows", type=non_negative_int, default=None,
                        help="banks up to this many rows get an exact FAISS index, bigger "
                             "ones HNSW (default: see sketch2idol/serving/knn.py)")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from sketch2idol.core.weights import DEFAULT_WEIGHTS
    from sketch2idol.export.repository import ExportRequest, build_repository
    from sketch2idol.export.triton_config import DeploymentOptions
    from sketch2idol.serving.knn import IndexPolicy

    weights = args.weights or DEFAULT_WEIGHTS
    if not Path(weights).is_dir():
        raise UserError(f"--weights {weights} is not a directory")
    device = args.device or ("cpu" if args.runtime == "python-ort" else "gpu")
    policy = IndexPolicy() if args.exact_max_rows is None else \
        IndexPolicy(exact_max_rows=args.exact_max_rows)
    try:
        options = DeploymentOptions(runtime=args.runtime, device=device, size=args.size,
                                    max_batch=args.max_batch,
                                    max_queue_delay_us=args.max_queue_delay_us,
                                    instances=args.instances)
        request = ExportRequest(weights=Path(weights), out=args.out, options=options,
                                precision=args.precision, index_policy=policy)
        build_repository(request)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    print(f"{args.out}: model repository written (report: {args.out}/export_report.json)")
    if args.runtime == "tensorrt":
        print("next: build the TensorRT plans on the target GPU: "
              f"python -m sketch2idol.export.tensorrt --repository {args.out}")
    return 0
