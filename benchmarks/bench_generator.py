"""Choose the generator size by measurement: MACs and CPU latency of candidate configs.

    .venv/bin/python benchmarks/bench_generator.py [--repeats 5] [--size 256]

For each (ngf, downsamplings, residual blocks) candidate: parameters, G MACs per image
(torch's FLOP counter / 2) and PyTorch eager latency for one image (median of the
repeats, with min..max), and its ratio to the default config measured in the same run.
The default is the largest candidate that stays inside the interactive budget (p50
<= 150 ms end to end on 2 cores, of which the generator may take most).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from sketch2idol.models.generator import GeneratorConfig, define_generator

CANDIDATES = [
    GeneratorConfig(ngf=16, downsamplings=3, blocks=6),
    GeneratorConfig(ngf=24, downsamplings=3, blocks=6),
    GeneratorConfig(ngf=32, downsamplings=3, blocks=6),  # the default
    GeneratorConfig(ngf=32, downsamplings=3, blocks=9),
    GeneratorConfig(ngf=48, downsamplings=3, blocks=6),
]
DEFAULT = GeneratorConfig()


def macs(model: torch.nn.Module, x: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() / 2


def latency_ms(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> list[float]:
    times = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    x = torch.zeros(1, 1, args.size, args.size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}², "
          f"batch 1, {args.repeats} repeats")
    print(f"{'ngf':>4} {'down':>4} {'blocks':>6} {'params M':>9} {'GMACs':>7} "
          f"{'ms (median, min..max)':>24} {'x default':>9}")
    rows = []
    for config in CANDIDATES:
        model = define_generator(config).eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        rows.append((config, params, macs(model, x) / 1e9, latency_ms(model, x, args.repeats)))
    default_ms = statistics.median(next(r[3] for r in rows if r[0] == DEFAULT))
    for config, params, gmacs, times in rows:
        median = statistics.median(times)
        mark = "  <- default" if config == DEFAULT else ""
        print(f"{config.ngf:>4} {config.downsamplings:>4} {config.blocks:>6} {params:>9.2f} "
              f"{gmacs:>7.2f} {median:>10.1f} ({min(times):.1f}..{max(times):.1f})"
              f" {median / default_ms:>9.2f}{mark}")


if __name__ == "__main__":
    main()
