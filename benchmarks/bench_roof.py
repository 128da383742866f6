"""The CPU roof: measured peak fp32 GFLOP/s and int8 GOP/s of large matrix products.

    .venv/bin/python -m benchmarks.bench_roof [--size 4096] [--repeats 5] [--profile quick]

fp32: NumPy (OpenBLAS sgemm), torch.mm and onnxruntime MatMul (MLAS, what the exported
networks' convolutions run on). int8: onnxruntime MatMulInteger (uint8 x int8 -> int32,
MLAS's VNNI kernels, what the int8 networks run on) and torch._int_mm. Each at one thread
and at all cores; the roof is the best of each kind (2·M·N·K operations / the median
time). The report divides each network's MACs × 2 / time by these roofs.
"""

from __future__ import annotations

import argparse
import os
import statistics

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

from benchmarks.common import PROFILES, Run, timed_ms


def ort_matmul(a: np.ndarray, b: np.ndarray, integer: bool, threads: int):
    """A session computing a @ b with b a constant initializer (prepacked, like weights)."""
    a_type = TensorProto.UINT8 if integer else TensorProto.FLOAT
    out_type = TensorProto.INT32 if integer else TensorProto.FLOAT
    node = helper.make_node("MatMulInteger" if integer else "MatMul", ["A", "B"], ["Y"])
    graph = helper.make_graph(
        [node], "roof", [helper.make_tensor_value_info("A", a_type, list(a.shape))],
        [helper.make_tensor_value_info("Y", out_type, [a.shape[0], b.shape[1]])],
        initializer=[numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    onnx.checker.check_model(model)
    return lambda: session.run(None, {"A": a})


def kernels(size: int, threads: int) -> dict[str, tuple[str, object]]:
    """name -> (kind, zero-argument callable) for every product measured."""
    rng = np.random.default_rng(0)
    a32 = rng.standard_normal((size, size), np.float32)
    b32 = rng.standard_normal((size, size), np.float32)
    a8 = rng.integers(0, 256, (size, size), dtype=np.uint8)
    b8 = rng.integers(-128, 128, (size, size), dtype=np.int8)
    ta32, tb32 = torch.from_numpy(a32), torch.from_numpy(b32)
    ta8, tb8 = torch.from_numpy(b8.copy()), torch.from_numpy(b8.T.copy())
    return {
        "numpy sgemm": ("fp32", lambda: a32 @ b32),
        "torch.mm fp32": ("fp32", lambda: torch.mm(ta32, tb32)),
        "onnxruntime MatMul fp32": ("fp32", ort_matmul(a32, b32, False, threads)),
        "onnxruntime MatMulInteger u8s8": ("int8", ort_matmul(a8, b8, True, threads)),
        "torch._int_mm s8s8": ("int8", lambda: torch._int_mm(ta8, tb8)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="M = N = K")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    args = parser.parse_args()
    run = Run("bench_roof", args.profile)
    operations = 2.0 * args.size ** 3
    cores = len(os.sched_getaffinity(0))
    best: dict[str, dict] = {}
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        os.environ["OPENBLAS_NUM_THREADS"] = str(threads)  # read by OpenBLAS at start only
        for name, (kind, function) in kernels(args.size, threads).items():
            if name == "numpy sgemm" and threads != cores:
                continue  # OpenBLAS's thread count is fixed at import: all cores
            run.quiet()
            times = timed_ms(function, args.repeats)
            rate = operations / (statistics.median(times) / 1e3) / 1e9
            row = run.add(kernel=name, kind=kind, threads=threads, size=args.size,
                          median_ms=round(statistics.median(times), 2),
                          min_ms=round(min(times), 2), gops=round(rate, 1))
            print(f"{name:<32} {threads} thr  {row['median_ms']:9.1f} ms  {rate:7.1f} G/s  "
                  f"(load {row['load']})", flush=True)
            if rate > best.get((kind, threads), {}).get("gops", 0):
                best[(kind, threads)] = {"kernel": name, "gops": round(rate, 1)}
    roof = {kind: max((v for (k, _), v in best.items() if k == kind), key=lambda v: v["gops"])
            for kind in ("fp32", "int8")}
    per_thread = {f"{kind}@{threads}": value for (kind, threads), value in best.items()}
    print(f"roof: fp32 {roof['fp32']['gops']} GFLOP/s ({roof['fp32']['kernel']}), "
          f"int8 {roof['int8']['gops']} GOP/s ({roof['int8']['kernel']})")
    run.write({"size": args.size, "repeats": args.repeats, "roof": roof, "best": per_thread,
               "rows": run.rows})


if __name__ == "__main__":
    main()
