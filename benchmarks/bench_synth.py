"""How fast `data synth` makes faces: per stage on one core, and end to end with workers.

    .venv/bin/python benchmarks/bench_synth.py [--faces 100] [--repeats 3] [--size 256]

Prints a table (median of the repeats, with min..max) and the throughput of one worker
process (= one core) against the 20 faces/s/core target of the data issue, then the
throughput with one worker per core to show how it scales (on 2 vCPUs that share a
physical core it cannot double). Exits 1 if the one-core throughput is below the target,
so a regression is visible when run by hand or in `make bench-data`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

from sketch2idol.core.data.dataset import encode_png
from sketch2idol.core.data.faces import render_face, sample_face_params
from sketch2idol.core.data.sketch import extract_sketch
from sketch2idol.core.data.synth import face_rng, synthesize

TARGET_FACES_PER_SECOND_PER_CORE = 20.0


def time_stages(faces: int, size: int) -> dict[str, float]:
    """Seconds per face for each stage, single process, one OpenCV thread."""
    totals = {"sample params": 0.0, "render": 0.0, "sketch": 0.0, "png x2": 0.0}
    for index in range(faces):
        t0 = time.perf_counter()
        params = sample_face_params(face_rng(1234, index))
        t1 = time.perf_counter()
        photo = render_face(params, size).photo
        t2 = time.perf_counter()
        sketch = extract_sketch(photo)
        t3 = time.perf_counter()
        encode_png(photo), encode_png(sketch)
        t4 = time.perf_counter()
        for name, seconds in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            totals[name] += seconds
    return {name: seconds / faces for name, seconds in totals.items()}


def time_end_to_end(faces: int, size: int, workers: int) -> float:
    """Faces per second of `synthesize` into a fresh directory, pool start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        synthesize(Path(tmp), count=faces, seed=99, size=size, workers=workers, progress=False)
        return faces / (time.perf_counter() - start)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.2f}  ({min(values):.2f}..{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    cores = len(__import__("os").sched_getaffinity(0))

    stage_runs = [time_stages(args.faces, args.size) for _ in range(args.repeats)]
    print(f"per-face time on one core, {args.size}x{args.size}, {args.faces} faces x "
          f"{args.repeats} repeats (median, min..max)")
    for name in stage_runs[0]:
        print(f"  {name:<14} ms/face {spread([run[name] * 1e3 for run in stage_runs])}")
    per_face = [sum(run.values()) for run in stage_runs]
    print(f"  {'total':<14} ms/face {spread([s * 1e3 for s in per_face])}")

    results = {}
    for workers in sorted({1, cores}):
        rates = [time_end_to_end(args.faces, args.size, workers) for _ in range(args.repeats)]
        results[workers] = rates
        print(f"synthesize, {workers} worker(s): faces/s {spread(rates)}  "
              f"-> per core {statistics.median(rates) / workers:.1f}")
    per_core = statistics.median(results[1])
    ratio = per_core / TARGET_FACES_PER_SECOND_PER_CORE
    verdict = "PASS" if ratio >= 1.0 else "FAIL"
    scaling = statistics.median(results[cores]) / per_core
    print(f"{verdict}: {per_core:.1f} faces/s on one core = {ratio:.2f}x the "
          f"{TARGET_FACES_PER_SECOND_PER_CORE:.0f} faces/s/core target; {cores} workers give "
          f"{scaling:.2f}x one worker")
    return 0 if ratio >= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
