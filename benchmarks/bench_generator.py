"""Choose the generator size by measurement: MACs, CPU latency and training speed.

    .venv/bin/python benchmarks/bench_generator.py [--repeats 5] [--size 256]
    .venv/bin/python benchmarks/bench_generator.py --train --size 128 --batch 8

For each (ngf, downsamplings, residual blocks) candidate: parameters, G MACs per image
(torch's FLOP counter / 2) and PyTorch eager latency for one image (median of the
repeats, with min..max), and its ratio to the default config measured in the same run.
With --train: seconds per stage-2 optimisation step (generator + discriminator, the
trainer's losses) at --size and --batch, and images per second: what a CPU training
budget buys. Every candidate takes the look (FiLM) and upsamples by resize + conv; one adds
the palette head (generator.PaletteHead) to the default.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sketch2idol.core.contract import LOOK_DIM
from sketch2idol.core.models.discriminator import define_discriminator
from sketch2idol.core.models.generator import GeneratorConfig, define_generator
from sketch2idol.core.models.losses import feature_matching_loss, lsgan_loss

CANDIDATES = [
    GeneratorConfig(ngf=16, downsamplings=3, blocks=6),
    GeneratorConfig(ngf=24, downsamplings=3, blocks=6),  # the default
    GeneratorConfig(ngf=24, downsamplings=3, blocks=6, palette_head=True),
    GeneratorConfig(ngf=32, downsamplings=3, blocks=6),
    GeneratorConfig(ngf=32, downsamplings=3, blocks=9),
    GeneratorConfig(ngf=48, downsamplings=3, blocks=6),
]
DEFAULT = GeneratorConfig()


def macs(model: torch.nn.Module, x: torch.Tensor, look: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, look)
    return counter.get_total_flops() / 2


def latency_ms(model: torch.nn.Module, x: torch.Tensor, look: torch.Tensor,
               repeats: int) -> list[float]:
    times = []
    with torch.no_grad():
        model(x, look)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(x, look)
            times.append((time.perf_counter() - start) * 1e3)
    return times


def train_step_seconds(config: GeneratorConfig, size: int, batch: int, repeats: int
                       ) -> list[float]:
    """Wall time of stage-2 optimisation steps (as Stage2Trainer.train_step), after one warm-up."""
    generator, discriminator = define_generator(config), define_discriminator()
    opt_g = torch.optim.Adam(generator.parameters(), 2e-4)
    opt_d = torch.optim.Adam(discriminator.parameters(), 2e-4)
    sketch, real = torch.randn(batch, 1, size, size), torch.rand(batch, 3, size, size) * 2 - 1
    look = torch.rand(batch, LOOK_DIM)
    times = []
    for step in range(repeats + 1):
        start = time.perf_counter()
        fake = generator(sketch, look)
        loss_d = (lsgan_loss(discriminator(sketch, fake.detach(), look), False)
                  + lsgan_loss(discriminator(sketch, real, look), True))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        verdicts = discriminator(sketch, fake, look)
        real_features = [[f.detach() for f in s] for s in discriminator(sketch, real, look)]
        loss_g = (lsgan_loss(verdicts, True) + 10 * feature_matching_loss(verdicts, real_features)
                  + 20 * F.l1_loss(fake, real))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step:
            times.append(time.perf_counter() - start)
    return times


def report_training(args) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, stage-2 step at "
          f"{args.size}², batch {args.batch}, {args.repeats} repeats")
    print(f"{'ngf':>4} {'down':>4} {'blocks':>6} {'head':>7} {'s/step (median)':>16} "
          f"{'images/s':>9}")
    for config in CANDIDATES:
        median = statistics.median(train_step_seconds(config, args.size, args.batch,
                                                      args.repeats))
        mark = "  <- default" if config == DEFAULT else ""
        print(f"{shape(config)} {median:>16.2f} "
              f"{args.batch / median:>9.1f}{mark}")


def shape(config: GeneratorConfig) -> str:
    head = "palette" if config.palette_head else "free"
    return f"{config.ngf:>4} {config.downsamplings:>4} {config.blocks:>6} {head:>7}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--train", action="store_true",
                        help="time stage-2 training steps instead of inference")
    parser.add_argument("--batch", type=int, default=8, help="batch size with --train")
    args = parser.parse_args()
    if args.train:
        report_training(args)
        return
    x = torch.zeros(1, 1, args.size, args.size)
    look = torch.rand(1, LOOK_DIM)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}², "
          f"batch 1, {args.repeats} repeats")
    print(f"{'ngf':>4} {'down':>4} {'blocks':>6} {'head':>7} {'params M':>9} {'GMACs':>7} "
          f"{'ms (median, min..max)':>24} {'x default':>9}")
    rows = []
    for config in CANDIDATES:
        model = define_generator(config).eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        rows.append((config, params, macs(model, x, look) / 1e9,
                     latency_ms(model, x, look, args.repeats)))
    default_ms = statistics.median(next(r[3] for r in rows if r[0] == DEFAULT))
    for config, params, gmacs, times in rows:
        median = statistics.median(times)
        mark = "  <- default" if config == DEFAULT else ""
        print(f"{shape(config)} {params:>9.2f} "
              f"{gmacs:>7.2f} {median:>10.1f} ({min(times):.1f}..{max(times):.1f})"
              f" {median / default_ms:>9.2f}{mark}")


if __name__ == "__main__":
    main()
