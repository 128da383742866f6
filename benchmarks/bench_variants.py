"""Model variants on CPU: torch eager vs onnxruntime fp32 vs onnxruntime int8, per network.

    .venv/bin/python -m benchmarks.bench_variants [--profile quick|full] [--threads 2]

For encoders, decoders and generator (the served graphs: uint8/float in, uint8/float out,
pre/post-processing inside): G MACs per image (torch's FlopCounterMode), ms/image at batch
1 and 8 (median of the repeats) in each runtime, and the quality change on held-out
sketches (seed 1, t = 0.5, each face in its own sample look): each network's output against
torch's for the same inputs, and end to end (all three networks in one runtime, NumPy
projection between) the face against the ground-truth photo (L1, PSNR, SSIM: the eval
metrics), the face against torch's face (SSIM) and the refined sketch against the drawing
(edge F1). The ONNX files are exported
and int8-quantised exactly as `sketch2idol export` does (cached under build/bench/onnx/).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import PROFILES, ROOT, Run, heldout, timed_ms
from sketch2idol.core import contract
from sketch2idol.core.evaluate.metrics import image_quality, sketch_fidelity
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import DEFAULT_WEIGHTS, load_weights
from sketch2idol.export.graphs import network_graphs
from sketch2idol.export.onnx_export import export_onnx
from sketch2idol.export.parity import onnx_session, run_onnx
from sketch2idol.export.precision import quantize_int8
from sketch2idol.export.repository import weights_id
from sketch2idol.export.samples import TRAINING_SEED, reference_chain, render_sketches, sample_looks

RUNTIMES = ("torch", "ort-fp32", "ort-int8")
BATCHES = (1, 8)
CHUNK = 8
T = 0.5


def graphs_id() -> str:
    """A hash of the code that makes the exported graphs: the networks and the export."""
    digest = hashlib.sha256()
    for folder in ("sketch2idol/core/models", "sketch2idol/export"):
        for path in sorted((ROOT / folder).glob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def onnx_files(weights_dir: Path, weights, pipeline: Pipeline) -> dict[str, dict[str, Path]]:
    """precision -> network -> ONNX file, exported once per weights id and graph code."""
    cache = ROOT / "build" / "bench" / "onnx" / f"{weights_id(weights_dir)}-{graphs_id()}"
    graphs = network_graphs(weights)
    files = {p: {name: cache / p / f"{name}.onnx" for name in graphs} for p in ("fp32", "int8")}
    if all(path.exists() for paths in files.values() for path in paths.values()):
        return files
    calibration = reference_chain(pipeline, render_sketches(TRAINING_SEED, 32, weights.size),
                                  looks=sample_looks(32, TRAINING_SEED))
    for name, graph in graphs.items():
        print(f"exporting {name} (fp32, int8) into {cache}", flush=True)
        files["int8"][name].parent.mkdir(parents=True, exist_ok=True)
        export_onnx(graph, files["fp32"][name])
        quantize_int8(files["fp32"][name], files["int8"][name], calibration.inputs(name))
    return files


def runners(graphs, files, threads: int) -> dict[str, dict]:
    """runtime -> network -> callable({input name: numpy array}) -> numpy output."""
    def torch_runner(graph):
        return lambda feed: graph(*(feed[name] for name in graph.input_names)).numpy()

    def ort_runner(path):
        session = onnx_session(path, threads=threads)
        return lambda feed: run_onnx(session, feed)

    return {"torch": {name: torch_runner(g) for name, g in graphs.items()},
            "ort-fp32": {name: ort_runner(files["fp32"][name]) for name in graphs},
            "ort-int8": {name: ort_runner(files["int8"][name]) for name in graphs}}


def gmacs(graph) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        graph.module(*graph.example(batch=1))
    return counter.get_total_flops() / 2 / 1e9


def chunked(function, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """function over CHUNK rows of every input at a time (batch 100 of 256² images would
    need ~20 GB)."""
    rows = len(next(iter(inputs.values())))
    return np.concatenate([function({name: value[i:i + CHUNK] for name, value in inputs.items()})
                           for i in range(0, rows, CHUNK)])


def end_to_end(run_network, pipeline: Pipeline, sketches: np.ndarray,
               looks: np.ndarray) -> dict[str, np.ndarray]:
    t = np.full((len(sketches), 5), T, np.float32)
    features = chunked(lambda x: run_network(contract.ENCODERS, x), {contract.SKETCH: sketches})
    projected, _ = pipeline.refiner.project(features, t)
    refined = chunked(lambda x: run_network(contract.DECODERS, x),
                      {contract.PROJECTED: projected})
    return {"refined": refined,
            "face": chunked(lambda x: run_network(contract.GENERATOR, x),
                            {contract.REFINED_SKETCH: refined, contract.APPEARANCE: looks})}


def reference_tensors(pipeline: Pipeline, sketches: np.ndarray) -> dict[str, np.ndarray]:
    """Every contract tensor of the torch reference chain, CHUNK sketches at a time (sketch
    i in sample look i)."""
    looks = sample_looks(len(sketches))
    parts = [reference_chain(pipeline, sketches[i:i + CHUNK], (T,), looks[i:i + CHUNK]).tensors
             for i in range(0, len(sketches), CHUNK)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def inputs_of(chain: dict[str, np.ndarray], network: str) -> dict[str, np.ndarray]:
    """A network's inputs from the reference chain, by contract name."""
    return {name: chain[name] for name in contract.MODEL_IO[network][0]}


def quality(outputs, reference, sketches, photos) -> dict[str, float]:
    from skimage.metrics import structural_similarity

    truth = [image_quality(face, photo) for face, photo in zip(outputs["face"], photos)]
    fidelity = [sketch_fidelity(r, s)["edge_f1"] for r, s in zip(outputs["refined"], sketches)]
    vs_torch = [structural_similarity(a, b, channel_axis=2, data_range=255)
                for a, b in zip(outputs["face"], reference["face"])]
    return {"l1": float(np.mean([q["l1"] for q in truth])),
            "psnr": float(np.mean([q["psnr"] for q in truth])),
            "ssim": float(np.mean([q["ssim"] for q in truth])),
            "ssim_vs_torch": float(np.mean(vs_torch)),
            "refined_edge_f1": float(np.mean(fidelity))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads")
    parser.add_argument("--samples", type=int, help="held-out sketches (quick 24, full 100)")
    parser.add_argument("--repeats", type=int, help="timed runs per point (quick 5, full 15)")
    args = parser.parse_args()
    samples = args.samples or (24 if args.profile == "quick" else 100)
    repeats = args.repeats or (5 if args.profile == "quick" else 15)
    run = Run("bench_variants", args.profile)
    torch.set_num_threads(args.threads)
    weights = load_weights(args.weights)
    pipeline = Pipeline(weights)
    graphs = network_graphs(weights)
    files = onnx_files(args.weights, weights, pipeline)
    calls = runners(graphs, files, args.threads)
    sketches, photos = heldout(samples, weights.size)
    chain = reference_tensors(pipeline, sketches)

    timings = {}
    for name, graph in graphs.items():
        macs = gmacs(graph)
        for runtime in RUNTIMES:
            for batch in BATCHES:
                inputs = {key: np.ascontiguousarray(np.resize(x, (batch, *x.shape[1:])))
                          for key, x in inputs_of(chain, name).items()}
                run.quiet()
                times = timed_ms(lambda c=calls[runtime][name], i=inputs: c(i), repeats)
                per_image = statistics.median(times) / batch
                row = run.add(network=name, runtime=runtime, batch=batch, gmacs=round(macs, 3),
                              ms_per_image=round(per_image, 2),
                              min_ms_per_image=round(min(times) / batch, 2))
                timings[f"{name}/{runtime}/{batch}"] = row
                print(f"{name:<10} {runtime:<9} batch {batch:>2}: {per_image:7.2f} ms/image "
                      f"({macs:.2f} GMACs, load {row['load']})", flush=True)

    deltas = {}
    for name, graph in graphs.items():
        reference = chain[graph.output.name].astype(np.float64)
        for runtime in RUNTIMES[1:]:
            output = chunked(calls[runtime][name], inputs_of(chain, name)).astype(np.float64)
            diff = np.abs(output - reference)
            deltas[f"{name}/{runtime}"] = {"max_abs": round(float(diff.max()), 4),
                                           "mean_abs": round(float(diff.mean()), 5)}
    results = {runtime: end_to_end(lambda n, x, r=runtime: calls[r][n](x), pipeline, sketches,
                                   chain[contract.APPEARANCE])
               for runtime in RUNTIMES}
    scores = {runtime: {k: round(v, 4) for k, v in
                        quality(results[runtime], results["torch"], sketches, photos).items()}
              for runtime in RUNTIMES}
    for runtime, score in scores.items():
        print(f"end to end {runtime:<9} {score}")
    run.write({"threads": args.threads, "samples": samples, "repeats": repeats, "t": T,
               "weights_id": weights_id(args.weights), "timings": timings,
               "output_delta": deltas, "quality": scores})


if __name__ == "__main__":
    main()
