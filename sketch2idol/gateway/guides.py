"""Shadow guidance: the nearest training sketches of a drawing, blended into a faint guide.

The projection returns, per component, the bank rows of the K nearest training sketches.
The remainder component's neighbours are whole faces; their sketches, averaged, show a
person where a plausible face's lines run (DeepFaceDrawing's shadow guidance). The sketches
are rendered at export time (sketch2idol/export/guides.py) into each projection version,
beside `bank_ids.json`: `guide_sketches.npy`, uint8 [rows, side, side], row for row, read
here memory-mapped. A version without that file (a bank made from real photos, or a
repository exported before guides were) has no guide; this module never renders.

Each manifold_projection version has its own bank (a hot swap can grow it), so
`GuideLibrary` keeps one GuideSource per version, read when an answer first names it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from sketch2idol.core.contract import BANK_IDS_FILE, GUIDE_SKETCHES, PROJECTION

log = logging.getLogger("sketch2idol.gateway")


def latest_version(model_dir: Path) -> Path | None:
    versions = [p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()] \
        if model_dir.is_dir() else []
    return max(versions, key=lambda p: int(p.name)) if versions else None


class GuideSource:
    """The bank's sample ids and, when the export rendered them, its guide sketches."""

    def __init__(self, bank_ids: list[str], sketches: np.ndarray | None = None):
        self.bank_ids = bank_ids
        self.sketches = sketches  # uint8 [rows, side, side], or None

    @property
    def drawable(self) -> bool:
        return self.sketches is not None

    @classmethod
    def from_repository(cls, repository: Path, version_number: int | None = None
                        ) -> GuideSource | None:
        """The guide source of a projection version (default: the latest) of a model
        repository, or None when there is no such version."""
        model_dir = Path(repository) / PROJECTION
        version = latest_version(model_dir) if version_number is None \
            else model_dir / str(version_number)
        if version is None or not (version / BANK_IDS_FILE).exists():
            return None
        bank_ids = json.loads((version / BANK_IDS_FILE).read_text())
        return cls(bank_ids, read_sketches(version / GUIDE_SKETCHES, len(bank_ids)))

    def sample_ids(self, rows: np.ndarray) -> list[str]:
        return [self.bank_ids[int(row)] if 0 <= row < len(self.bank_ids) else str(int(row))
                for row in rows]

    def guide(self, rows: np.ndarray, size: int) -> np.ndarray | None:
        """uint8 [size, size]: the mean of the guide sketches of `rows` (grey lines on
        white), resized bilinearly; None when none of the rows has one."""
        if self.sketches is None:
            return None
        rows = [int(row) for row in rows if 0 <= row < len(self.sketches)]
        if not rows:
            return None
        mean = self.sketches[rows].astype(np.float32).mean(axis=0)
        if mean.shape != (size, size):
            mean = np.asarray(Image.fromarray(mean).resize((size, size),
                                                           Image.Resampling.BILINEAR))
        return np.clip(np.rint(mean), 0, 255).astype(np.uint8)


def read_sketches(path: Path, rows: int) -> np.ndarray | None:
    """The guide sketches of a version, memory-mapped, or None when it has none (or a file
    that is not one uint8 image per bank row: logged)."""
    if not path.is_file():
        return None
    try:
        sketches = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:
        log.warning("no drawing guide: %s: %s", path, error)
        return None
    if sketches.dtype != np.uint8 or sketches.ndim != 3 or len(sketches) != rows:
        log.warning("no drawing guide: %s holds %s %s, not %d uint8 images", path,
                    sketches.dtype, sketches.shape, rows)
        return None
    return sketches


class GuideLibrary:
    """The guide source of each projection version of a repository, read once when needed."""

    def __init__(self, repository: Path):
        self.repository = Path(repository)
        self._sources: dict[int | None, GuideSource] = {}

    def for_version(self, version: int | None) -> GuideSource | None:
        """The source for the bank of `version` (None: the latest version on disk)."""
        source = self._sources.get(version)
        if source is None:  # not read yet, or not on disk when last asked
            source = GuideSource.from_repository(self.repository, version)
            if source is not None:
                self._sources[version] = source
        return source
