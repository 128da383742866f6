"""Device choice, seeding and the deterministic batch order that makes resume exact."""

from __future__ import annotations

import random

import numpy as np
import torch

from sketch2idol.core.errors import UserError


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cpu', 'cuda', 'cuda:1' as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for, but no CUDA device is available "
                        "(use --device auto or cpu)")
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise UserError(f"--device {name!r} is not a device: {error}") from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_batches(sample_count: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch: a permutation drawn from (seed, epoch) alone, cut into
    full batches (the ragged tail is dropped so every step sees `batch_size` samples)."""
    order = np.random.default_rng(np.random.SeedSequence([seed, epoch, 0xBA7C])).permutation(
        sample_count)
    full = sample_count // batch_size
    return [order[i * batch_size:(i + 1) * batch_size].tolist() for i in range(full)]


def batches_from(step: int, sample_count: int, batch_size: int, seed: int):
    """Yield (epoch, batch indices) for every step from `step` on, forever."""
    per_epoch = sample_count // batch_size
    if per_epoch == 0:
        raise UserError(f"the data set has {sample_count} samples, fewer than one batch of "
                        f"{batch_size}; lower --batch-size")
    epoch, offset = divmod(step, per_epoch)
    while True:
        for batch in epoch_batches(sample_count, batch_size, seed, epoch)[offset:]:
            yield epoch, batch
        epoch, offset = epoch + 1, 0
