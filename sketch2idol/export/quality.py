"""What an int8 or fp16 export costs in quality, against the fp32 PyTorch reference.

Per network: its own output against the reference output for the same reference inputs.
End to end: held-out sketches through the lowered encoders -> NumPy projection (the same
t values) -> lowered decoders -> lowered generator (each face in the same look as its
reference face), faces compared with the reference faces by SSIM and PSNR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sketch2idol.core import contract
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.export.parity import compare, onnx_session, run_onnx
from sketch2idol.export.samples import ChainSamples


def face_similarity(faces: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    ssim = [structural_similarity(a, b, channel_axis=2) for a, b in zip(faces, reference)]
    psnr = [peak_signal_noise_ratio(b, a, data_range=255) for a, b in zip(faces, reference)]
    return {"ssim": round(float(np.mean(ssim)), 4), "psnr": round(float(np.mean(psnr)), 2)}


def precision_delta(lowered: dict[str, Path], samples: ChainSamples,
                    pipeline: Pipeline) -> dict:
    """lowered: model name -> its lowered ONNX file (any subset of the three networks)."""
    sessions = {name: onnx_session(path) for name, path in lowered.items()}
    delta = {}
    for name, session in sessions.items():
        (output_name,) = contract.MODEL_IO[name][1]
        own = compare(name, output_name, run_onnx(session, samples.inputs(name)),
                      samples[output_name])
        delta[name] = {"max_abs": own.max_abs, "within_tolerance": round(own.within, 4)}

    def stage(name: str, inputs: dict[str, np.ndarray], reference) -> np.ndarray:
        if name in sessions:
            return run_onnx(sessions[name], inputs)
        return reference(*inputs.values())

    refiner = pipeline.refiner
    features = stage(contract.ENCODERS, {contract.SKETCH: samples[contract.SKETCH]},
                     refiner.encode)
    projected, _ = refiner.project(features, samples[contract.T])
    refined = stage(contract.DECODERS, {contract.PROJECTED: projected}, refiner.decode)
    faces = stage(contract.GENERATOR, {contract.REFINED_SKETCH: refined,
                                       contract.APPEARANCE: samples[contract.APPEARANCE]},
                  pipeline.faces)
    delta["end_to_end"] = face_similarity(faces, samples[contract.FACE])
    return delta


def describe(delta: dict, precision: str) -> str:
    end = delta["end_to_end"]
    return (f"{precision} vs fp32 reference, end to end on held-out sketches: face SSIM "
            f"{end['ssim']:.4f} (loss {1 - end['ssim']:.4f}), PSNR {end['psnr']:.1f} dB")
