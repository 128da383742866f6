"""The training loop shared by both stages: steps, progress, history, grids, checkpoints.

A stage is a `Trainer` (nets and optimizers in plain dicts, a dataset, one optimisation
step, and the columns of its sample grid); `run_training` does everything else the same
way for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from sketch2idol.core.errors import UserError
from sketch2idol.core.train.checkpoint import (
    has_checkpoint,
    load_checkpoint,
    load_net_state,
    save_checkpoint,
)
from sketch2idol.core.train.config import RunConfig, to_dict, write_config
from sketch2idol.core.train.logbook import LossHistory, save_grid
from sketch2idol.core.train.runtime import batches_from

SAMPLE_ROWS = 4


class Trainer(ABC):
    """One stage's models and its optimisation step. Subclasses fill `nets`/`optimizers`."""

    title = "training"
    #: Nets that a fine-tune (`--init-from`) may start fresh when the source run lacks them.
    FRESH_IN_FINE_TUNE: tuple[str, ...] = ()

    def __init__(self, config: RunConfig, device: torch.device):
        self.config = config
        self.device = device
        self.step = 0  # the optimisation step train_step runs (0-based), set by the loop
        self.nets: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @abstractmethod
    def dataset(self) -> Dataset: ...

    @abstractmethod
    def train_step(self, batch: dict) -> dict[str, float]: ...

    @abstractmethod
    def sample_columns(self, batch: dict) -> list[np.ndarray]:
        """uint8 image columns for the sample grid, e.g. input | refined | generated | truth."""

    def train_mode(self) -> None:
        """Put the nets in training mode (after a sample grid, and before the first step)."""
        for net in self.nets.values():
            net.train()

    def finish(self, run_dir: Path) -> None:  # noqa: B027 - optional hook
        """Work after the last step (e.g. the feature bank). Default: nothing."""
        return None


def learning_rate(base: float, step: int, steps: int, decay_steps: int) -> float:
    """The rate for optimisation step `step` (0-based): `base`, then, over the last
    `decay_steps` steps, a straight line down towards 0 (the last step still learns)."""
    if decay_steps <= 0:
        return base
    left = steps - step  # steps still to run, this one included
    return base * min(1.0, left / (decay_steps + 1))


def _set_learning_rate(trainer: Trainer, step: int) -> None:
    config = trainer.config
    rate = learning_rate(config.lr, step, config.steps, config.lr_decay_steps)
    for optimizer in trainer.optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] = rate * group.get("lr_scale", 1.0)


def _sample_batch(data: Dataset) -> dict:
    """The first SAMPLE_ROWS samples, un-augmented order, as one batch (fixed across runs)."""
    rows = [data[(0, i)] for i in range(min(SAMPLE_ROWS, len(data)))]
    return torch.utils.data.default_collate(rows)


def init_from_run(trainer: Trainer, source: Path) -> None:
    """Load every net of `trainer` from the checkpoint of the run in `source` (a fine-tune:
    the optimizers and the step start afresh)."""
    source = Path(source)
    if not has_checkpoint(source):
        raise UserError(f"--init-from {source}: no checkpoint there")
    for name, net in trainer.nets.items():
        try:
            state, _ = load_net_state(source, name, trainer.device)
        except KeyError:
            if name in trainer.FRESH_IN_FINE_TUNE:
                print(f"--init-from {source}: no net {name!r} there (unpacked from weights, "
                      "which ship none); it starts fresh")
                continue
            raise UserError(f"--init-from {source}: its checkpoint holds no net {name!r} "
                            "(a run of the other stage?)") from None
        try:
            missing, unexpected = net.load_state_dict(state, strict=False)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[-1].strip()
            raise UserError(f"--init-from {source}: net {name!r} does not fit this "
                            f"configuration ({first})") from None
        added = tuple(getattr(net, "ADDED_IN_FINE_TUNE", ()))
        unexplained = [key for key in missing if not key.startswith(added)]  # () matches none
        if unexplained or unexpected:
            keys = ", ".join((unexplained + list(unexpected))[:3])
            raise UserError(f"--init-from {source}: net {name!r} does not fit this "
                            f"configuration (tensors missing or unexpected: {keys}, ...)")
        if missing:
            print(f"--init-from {source}: net {name!r} loaded; its new "
                  f"{', '.join(p.rstrip('.') for p in added)} start fresh "
                  f"({len(missing)} tensors)")


def run_training(trainer: Trainer, run_dir: Path, *, resume: bool, progress: bool = True
                 ) -> int:
    """Train until `config.steps`; returns the last step. Checkpoints on exit or Ctrl-C."""
    config = trainer.config
    run_dir = Path(run_dir)
    if has_checkpoint(run_dir) and not resume:
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it or "
                        "choose another --out")
    if resume and not has_checkpoint(run_dir):
        raise UserError(f"--resume given but {run_dir} holds no checkpoint")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config)

    step = 0
    if not resume and config.init_from:
        init_from_run(trainer, Path(config.init_from))
    if resume:
        step = load_checkpoint(run_dir, nets=trainer.nets, optimizers=trainer.optimizers,
                               device=trainer.device)
    history = LossHistory(run_dir, step)
    data = trainer.dataset()
    fixed = _sample_batch(data)

    def checkpoint() -> None:
        save_checkpoint(run_dir, step=step, nets=trainer.nets, optimizers=trainer.optimizers,
                        config=to_dict(config))
        history.plot(run_dir / "losses.png", f"{trainer.title}: {run_dir.name}")

    def sample_grid() -> None:
        for net in trainer.nets.values():
            net.eval()
        with torch.no_grad():
            save_grid(run_dir / f"samples_{step:06d}.png", trainer.sample_columns(fixed))
        trainer.train_mode()

    keys = ([(epoch, i) for i in batch] for epoch, batch in
            batches_from(step, len(data), config.batch_size, config.seed))
    loader = DataLoader(data, batch_sampler=keys, num_workers=config.loader_workers,
                        persistent_workers=config.loader_workers > 0)
    bar = tqdm(total=config.steps, initial=step, desc=trainer.title, unit="step",
               disable=not progress, dynamic_ncols=True)
    trainer.train_mode()
    try:
        batches = iter(loader)
        while step < config.steps:
            _set_learning_rate(trainer, step)
            trainer.step = step
            losses = trainer.train_step(next(batches))
            step += 1
            history.add(step, losses)
            bar.update()
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            if step % config.sample_every == 0 or step == config.steps:
                sample_grid()
            if step % config.checkpoint_every == 0:
                checkpoint()
    finally:
        bar.close()
        checkpoint()
    trainer.finish(run_dir)
    return step
