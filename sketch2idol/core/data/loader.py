"""A PyTorch view of a face data set directory, with seeded per-sample augmentation.

    pairs = FacePairs("data/synth", sketch_augment=Stage1Augment(), seed=0)
    loader = DataLoader(pairs, batch_size=16, shuffle=True, num_workers=2)
    for epoch in range(epochs):
        pairs.set_epoch(epoch)  # new augmentations each epoch, the same ones on every rerun
        for batch in loader: ...

Sample `index` in epoch `e` is augmented from augment_rng(seed, e, index) alone, so the
batches do not depend on the number of loader workers. A key may also be the pair
(epoch, index): the training loop's batch sampler uses that form, which stays correct in
loader worker processes that never see `set_epoch`. Tensors are uint8 (sketch [1, H, W],
photo [3, H, W]); the models own their normalisation. With `looks=True` each sample also
carries "look", the face's appearance code (float32 [LOOK_DIM], sketch2idol.core.looks) read
from the manifest's renderer parameters; with `casual=True`, "casual", the face's casual
drawing as the renderer made it (uint8 [1, H, W]); with `labels=True`, "labels", its label
map (uint8 [1, H, W], sketch2idol.core.data.faces.labels).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sketch2idol.core.data import dataset
from sketch2idol.core.data.augment import augment_rng
from sketch2idol.core.looks import look_from_params, look_vector

SketchAugment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class FacePairs(Dataset):
    def __init__(self, root: Path, *, sketch_augment: SketchAugment | None = None,
                 seed: int = 0, ids: list[str] | None = None, photos: bool = True,
                 looks: bool = False, casual: bool = False, labels: bool = False):
        self.root = Path(root)
        rows = dataset.read_manifest(self.root)
        if not rows:
            raise FileNotFoundError(f"{self.root} holds no {dataset.MANIFEST_NAME}; make one "
                                    "with `sketch2idol data synth`")
        self.ids = ids if ids is not None else [row["id"] for row in rows]
        self.sketch_augment = sketch_augment
        self.seed = seed
        self.photos = photos  # False: sketches only (e.g. encoding the feature bank)
        self.casual = casual  # also the face's casual drawing (un-augmented), "casual"
        self.labels = labels  # also the face's label map, "labels"
        self.looks = {}
        if looks:
            missing = [row["id"] for row in rows if "params" not in row]
            if missing:
                raise ValueError(f"{self.root}: sample {missing[0]} records no renderer "
                                 "parameters, so its look is unknown (only `data synth` "
                                 "sets carry looks)")
            self.looks = {row["id"]: look_vector(look_from_params(row["params"]))
                          for row in rows}
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        sample_id = self.ids[index]
        sketch = dataset.read_grey(dataset.sketch_path(self.root, sample_id))
        clean = sketch
        if self.sketch_augment is not None:
            sketch = self.sketch_augment(sketch, augment_rng(self.seed, epoch, index))
        sample = {
            "id": sample_id,
            "sketch": torch.from_numpy(np.ascontiguousarray(sketch))[None],
            "clean_sketch": torch.from_numpy(np.ascontiguousarray(clean))[None],
        }
        if self.photos:
            photo = dataset.read_rgb(dataset.photo_path(self.root, sample_id))
            sample["photo"] = torch.from_numpy(photo).permute(2, 0, 1)
        if self.looks:
            sample["look"] = torch.from_numpy(self.looks[sample_id])
        if self.casual:
            drawing = dataset.read_grey(dataset.casual_path(self.root, sample_id))
            sample["casual"] = torch.from_numpy(drawing)[None]
        if self.labels:
            labels = dataset.read_grey(dataset.labels_path(self.root, sample_id))
            sample["labels"] = torch.from_numpy(labels)[None]
        return sample


def casual_share(root: Path, casual_prob: float) -> float:
    """`casual_prob` if the data set in `root` holds casual drawings, else 0 (with a note:
    a set made before them trains on detailed sketches only)."""
    if casual_prob and not dataset.has_casual_drawings(Path(root)):
        print(f"note: {root} holds no casual drawings; using detailed sketches only (re-run "
              "`sketch2idol data synth` to add them)")
        return 0.0
    return casual_prob


def take_drawing(sample: dict, rng: np.random.Generator, casual_prob: float
                 ) -> tuple[torch.Tensor, bool]:
    """(the drawing a sample is learnt from, whether it is the casual one): with probability
    `casual_prob` (one draw from `rng`; none when it is 0) the face's casual drawing, else
    its clean detailed sketch. Takes "casual" out of `sample`."""
    casual = sample.pop("casual", None)
    from_casual = casual_prob > 0 and rng.random() < casual_prob
    return (casual if from_casual else sample["clean_sketch"]), from_casual
