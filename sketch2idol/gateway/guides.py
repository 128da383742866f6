"""Shadow guidance: the nearest training sketches of a drawing, blended into a faint guide.

The projection returns, per component, the bank rows of the K nearest training sketches.
The remainder component's neighbours are whole faces; their sketches, averaged, show a
person where a plausible face's lines run (DeepFaceDrawing's shadow guidance). The sketches
themselves are not shipped: the model repository records what the bank was made from
(`training_data.json` beside `bank_ids.json`), and procedural training faces are redrawn
on demand from their seed and index (deterministic), with an LRU cache. For banks made
from real photos the guide is unavailable.

Each manifold_projection version has its own bank (a hot swap can grow it), so
`GuideLibrary` keeps one GuideSource per version, read when an answer first names it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from sketch2idol.core.contract import BANK_IDS_FILE, PROJECTION, TRAINING_DATA
from sketch2idol.core.data.synth import render_sample
from sketch2idol.core.geometry import DEFAULT_SIZE

CACHED_SKETCHES = 512


def latest_version(model_dir: Path) -> Path | None:
    versions = [p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()] \
        if model_dir.is_dir() else []
    return max(versions, key=lambda p: int(p.name)) if versions else None


class GuideSource:
    """The bank's sample ids and, for a procedural bank, its sketches (redrawn)."""

    def __init__(self, bank_ids: list[str], data: dict):
        self.bank_ids = bank_ids
        self.drawable = data.get("kind") == "synth"
        self.seed = int(data.get("seed", 0))
        self.size = int(data.get("size", DEFAULT_SIZE))
        self._sketch = lru_cache(maxsize=CACHED_SKETCHES)(self._render)

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
        data_file = version / TRAINING_DATA
        data = json.loads(data_file.read_text()) if data_file.exists() else {}
        return cls(json.loads((version / BANK_IDS_FILE).read_text()), data)

    def _render(self, sample_id: str) -> np.ndarray:
        return render_sample(self.seed, int(sample_id), self.size)[2]

    def sample_ids(self, rows: np.ndarray) -> list[str]:
        return [self.bank_ids[int(row)] if 0 <= row < len(self.bank_ids) else str(int(row))
                for row in rows]

    def guide(self, rows: np.ndarray, size: int) -> np.ndarray:
        """uint8 [size, size]: the mean of the sketches of `rows`, grey lines on white."""
        sketches = [self._sketch(sample_id) for sample_id in self.sample_ids(rows)]
        mean = np.mean(np.stack(sketches).astype(np.float32), axis=0)
        if mean.shape != (size, size):
            mean = np.asarray(Image.fromarray(mean).resize((size, size)))
        return np.clip(mean, 0, 255).astype(np.uint8)


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
