"""What a training run leaves behind besides weights: loss history, its plot, sample grids."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sketch2idol.core.data.dataset import write_png  # noqa: E402

HISTORY_NAME = "losses.jsonl"


class LossHistory:
    """Append-only per-step losses in `run/losses.jsonl`, trimmed to `step` on resume."""

    def __init__(self, run_dir: Path, start_step: int):
        self.path = Path(run_dir) / HISTORY_NAME
        self.rows = []
        if self.path.exists():
            rows = [json.loads(line) for line in self.path.read_text().splitlines() if line]
            self.rows = [row for row in rows if row["step"] <= start_step]
        self._rewrite()

    def _rewrite(self) -> None:
        self.path.write_text("".join(json.dumps(row) + "\n" for row in self.rows))

    def add(self, step: int, losses: dict[str, float]) -> None:
        row = {"step": step, **{k: round(float(v), 6) for k, v in losses.items()}}
        self.rows.append(row)
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def plot(self, out: Path, title: str) -> None:
        if not self.rows:
            return
        names = [key for key in self.rows[-1] if key != "step"]
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
        steps = np.array([row["step"] for row in self.rows])
        for ax, name in zip(axes[0], names):
            values = np.array([row.get(name, np.nan) for row in self.rows], dtype=float)
            ax.plot(steps, values, lw=0.5, alpha=0.35, color="tab:blue")
            window = max(1, len(values) // 50)
            if window > 1:
                smooth = np.convolve(values, np.ones(window) / window, mode="valid")
                ax.plot(steps[window - 1:], smooth, lw=1.5, color="tab:blue")
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(out, dpi=110)
        plt.close(fig)


def image_grid(columns: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Rows of samples, one column per stage: each column is uint8 [N, H, W] or [N, H, W, 3]."""
    tiles = [c if c.ndim == 4 else np.repeat(c[..., None], 3, axis=3) for c in columns]
    count, height, width = tiles[0].shape[:3]
    grid = np.full((count * (height + gap) + gap, len(tiles) * (width + gap) + gap, 3), 255,
                   np.uint8)
    for col, tile in enumerate(tiles):
        for row in range(count):
            top, left = gap + row * (height + gap), gap + col * (width + gap)
            grid[top:top + height, left:left + width] = tile[row]
    return grid


def save_grid(path: Path, columns: list[np.ndarray]) -> None:
    write_png(Path(path), image_grid(columns))
