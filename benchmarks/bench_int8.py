"""Which generator layers can be int8: face SSIM against the fp32 graph and CPU latency.

    .venv/bin/python -m benchmarks.bench_int8 [--weights weights/default] [--probe] \
        [--samples 16] [--repeats 10] [--threads 2]

The generator graph (REFINED_SKETCH + APPEARANCE -> FACE) is exported in fp32 and
quantised as `sketch2idol export --precision int8` does (static QDQ, per-channel int8
weights, calibrated on 32 training faces' refined sketches in sample looks), once per
choice of the layers kept in fp32: none, the pixel layers (the first 7x7 convolution reads
the 1-channel sketch, the last writes the 3 colour channels), the look layers (the look MLP
and the FiLM projections, computed from APPEARANCE alone), the full-resolution layers (the
pixel layers and the last upsampling convolution), and combinations; export keeps
sketch2idol/export/precision.float_layers. For each: the
faces of held-out sketches (seed 1, t = 0.5, each in its own sample look) against the fp32
graph's (SSIM and PSNR; DESIGN.md's budget is an SSIM loss <= 0.02), and the median
ms/image at batch 1 and 8 with `--threads` onnxruntime threads. The choices are timed in
interleaved rounds (one run of each per round), so a machine whose load changes meanwhile
slows them alike and their ratios hold; --no-wait measures beside other heavy jobs (a
training run) instead of waiting for them to end, and the summary says so.

--probe measures a look probe of the generator instead (sketch2idol/export/graphs.look_probe: its
FiLM
layers randomised), for weights that ignore the look (an untrained generator), where the
look layers' precision would otherwise not show.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx

from benchmarks.common import Run, heldout, machine, timed_ms
from sketch2idol.core import contract
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import DEFAULT_WEIGHTS, load_weights
from sketch2idol.export.graphs import generator_graph, ignores_look, look_probe
from sketch2idol.export.onnx_export import export_onnx
from sketch2idol.export.parity import onnx_session, run_onnx
from sketch2idol.export.precision import float_layers, look_layers, pixel_layers, quantize_int8
from sketch2idol.export.quality import face_similarity
from sketch2idol.export.repository import weights_id
from sketch2idol.export.samples import TRAINING_SEED, reference_chain, render_sketches, sample_looks

BATCHES = (1, 8)
CALIBRATION = 32
T = 0.5


def first_conv(model: onnx.ModelProto) -> list[str]:
    return pixel_layers(model)[:1]


def last_conv(model: onnx.ModelProto) -> list[str]:
    return pixel_layers(model)[-1:]


#: name -> the layers kept in fp32 (None: the fp32 graph itself).
CHOICES: dict[str, Callable[[onnx.ModelProto], list[str]] | None] = {
    "fp32": None,
    "int8, pixel + look + full-res fp32 (export)": float_layers,
    "int8, pixel + look layers fp32": lambda m: [*pixel_layers(m), *look_layers(m)],
    "int8, look layers fp32": look_layers,
    "int8, pixel layers fp32": pixel_layers,
    "int8, first conv + look fp32": lambda m: [*first_conv(m), *look_layers(m)],
    "int8, last conv + look fp32": lambda m: [*last_conv(m), *look_layers(m)],
    "int8, everything": lambda m: [],
}


def count_ops(path: Path) -> dict[str, int]:
    """Convolutions and Gemms of a graph, split into int8 (QDQ-wrapped weights) and fp32."""
    model = onnx.load(str(path))
    producer = {output: node.op_type for node in model.graph.node for output in node.output}
    counts = {"int8": 0, "fp32": 0}
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            quantised = producer.get(node.input[1]) == "DequantizeLinear"
            counts["int8" if quantised else "fp32"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--probe", action="store_true",
                        help="measure a look probe of the generator (FiLM randomised)")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--choices", help="';'-separated subset of: " + "; ".join(CHOICES))
    parser.add_argument("--no-wait", action="store_true",
                        help="measure beside other heavy jobs instead of waiting for them")
    args = parser.parse_args()
    run = Run("bench_int8")
    weights = load_weights(args.weights)
    pipeline = Pipeline(weights)
    generator = look_probe(weights.generator) if args.probe else weights.generator
    graph = generator_graph(generator, weights.size)
    calibration = reference_chain(pipeline, render_sketches(TRAINING_SEED, CALIBRATION,
                                                            weights.size), (T,),
                                  looks=sample_looks(CALIBRATION, TRAINING_SEED))
    sketches, _ = heldout(args.samples, weights.size)
    held_out = reference_chain(pipeline, sketches, (T,)).inputs(contract.GENERATOR)
    choices = {name: CHOICES[name] for name in (args.choices.split(";") if args.choices
                                                else CHOICES)}
    cpu = machine()
    print(f"{cpu['cpu']}, {cpu['cpus']} CPUs ({', '.join(cpu['flags'])}); "
          f"onnxruntime {cpu['versions'].get('onnxruntime')}, {args.threads} threads; "
          f"{'look probe of ' if args.probe else ''}{args.weights} "
          f"(ignores the look: {ignores_look(weights.generator)}); {args.samples} held-out "
          f"faces, {len(np.unique(held_out[contract.APPEARANCE], axis=0))} looks", flush=True)
    rows, sessions = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = export_onnx(graph, Path(scratch) / "fp32.onnx")
        reference = run_onnx(onnx_session(fp32, args.threads), held_out)
        for name, keep_float in choices.items():
            path = fp32
            if keep_float is not None:
                path = quantize_int8(fp32, Path(scratch) / f"int8-{len(rows)}.onnx",
                                     calibration.inputs(contract.GENERATOR), keep_float)
            sessions[name] = onnx_session(path, args.threads)
            quality = face_similarity(run_onnx(sessions[name], held_out), reference)
            rows[name] = {"choice": name, **count_ops(path), "ssim_vs_fp32": quality["ssim"],
                          "ssim_loss": round(1 - quality["ssim"], 4),
                          # identical faces (fp32 itself): no finite PSNR
                          "psnr_vs_fp32": quality["psnr"] if np.isfinite(quality["psnr"])
                          else None}
            print(f"quantised: {name}", flush=True)
    for batch in BATCHES:
        feed = {key: np.ascontiguousarray(np.resize(value, (batch, *value.shape[1:])))
                for key, value in held_out.items()}
        if not args.no_wait:
            run.quiet()
        times = {name: [] for name in sessions}
        for session in sessions.values():
            run_onnx(session, feed)  # warm-up: each shape's first run plans its memory
        for _ in range(args.repeats):
            for name, session in sessions.items():
                times[name] += timed_ms(lambda s=session, f=feed: run_onnx(s, f), 1, warmup=0)
        for name in sessions:
            rows[name][f"ms_per_image_b{batch}"] = round(statistics.median(times[name]) / batch,
                                                         2)
    results = {}
    for name, row in rows.items():
        results[name] = run.add(**row)
        print(f"{name:<48} int8/fp32 layers {row['int8']:>2}/{row['fp32']:<2} SSIM "
              f"{row['ssim_vs_fp32']:.4f} (loss {row['ssim_loss']:.4f}) PSNR "
              f"{row['psnr_vs_fp32'] or float('inf'):5.1f} dB  "
              + "  ".join(f"b{b} {row[f'ms_per_image_b{b}']:6.1f} ms/img" for b in BATCHES)
              + f"  (load {results[name]['load']})", flush=True)
    run.write({"weights": str(args.weights), "weights_id": weights_id(args.weights),
               "weights_training": weights.info.get("training", {}),
               "ignores_look": ignores_look(weights.generator),
               "probe": args.probe, "samples": args.samples,
               "repeats": args.repeats, "threads": args.threads, "t": T,
               "calibration": CALIBRATION, "waited_for_other_jobs": not args.no_wait,
               "results": results})


if __name__ == "__main__":
    main()
