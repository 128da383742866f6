"""Save and restore everything a run needs to continue exactly where it stopped."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sketch2idol.core.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(run_dir: Path, *, step: int, nets: dict, optimizers: dict,
                    config: dict) -> Path:
    path = Path(run_dir) / CHECKPOINT_NAME
    state = {
        "step": step,
        "config": config,
        "nets": {name: net.state_dict() for name, net in nets.items()},
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "torch_rng": torch.get_rng_state(),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(run_dir: Path, *, nets: dict, optimizers: dict,
                    device: torch.device) -> int:
    """Restore nets and optimizers in place; returns the step to continue from."""
    state = torch.load(Path(run_dir) / CHECKPOINT_NAME, map_location=device, weights_only=False)
    lacking = [name for name in optimizers if name not in state["optimizers"]]
    lacking += [name for name in nets if name not in state["nets"]]
    if lacking:  # a run unpacked from a weights directory: nets only, and no discriminator
        raise UserError(f"{run_dir} holds no training state for {', '.join(lacking)} "
                        f"(unpacked from weights?): start a new run with --init-from {run_dir}")
    for name, net in nets.items():
        net.load_state_dict(state["nets"][name])
    for name, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


def load_net_state(run_dir: Path, net: str, device: str | torch.device = "cpu"
                   ) -> tuple[dict, int]:
    """(state dict of the net named `net`, the step it was saved at) from a run directory."""
    state = torch.load(Path(run_dir) / CHECKPOINT_NAME, map_location=device, weights_only=False)
    return state["nets"][net], int(state["step"])


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / CHECKPOINT_NAME).exists()
