"""The gateway's drawing guide: the mean of the guide sketches the export wrote into a
projection version (guide_sketches.npy), read memory-mapped, resized to the face. (The
export side: tests/exporting/test_guide_sketches.py; a real answer's guide: test_gateway.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sketch2idol.core import contract
from sketch2idol.gateway.guides import GuideLibrary, GuideSource

SIDE = 128
IDS = ["000007", "000003", "000011", "000001"]


def sketches(rows: int, seed: int = 0) -> np.ndarray:
    """Stand-in guide sketches: white pages with a dark block at a different place each."""
    pages = np.full((rows, SIDE, SIDE), 255, np.uint8)
    rng = np.random.default_rng(seed)
    for page in pages:
        y, x = rng.integers(0, SIDE - 40, 2)
        page[y:y + 40, x:x + 40] = rng.integers(0, 120)
    return pages


def version(repository, number: int, ids: list[str], guide: np.ndarray | None):
    directory = repository / contract.PROJECTION / str(number)
    directory.mkdir(parents=True)
    (directory / contract.BANK_IDS_FILE).write_text(json.dumps(ids))
    if guide is not None:
        np.save(directory / contract.GUIDE_SKETCHES, guide)
    return directory


def test_the_guide_is_the_mean_of_the_chosen_rows_at_the_face_size(tmp_path):
    pages = sketches(len(IDS))
    version(tmp_path, 1, IDS, pages)
    source = GuideSource.from_repository(tmp_path)
    assert source.drawable and isinstance(source.sketches, np.memmap)
    rows = np.array([2, 0, 3])
    mean = pages[[2, 0, 3]].astype(np.float32).mean(axis=0)
    at_side = source.guide(rows, SIDE)
    assert at_side.dtype == np.uint8 and at_side.shape == (SIDE, SIDE)
    np.testing.assert_array_equal(at_side, np.rint(mean).astype(np.uint8))
    face_side = source.guide(rows, 256)
    assert face_side.dtype == np.uint8 and face_side.shape == (256, 256)
    expected = np.asarray(Image.fromarray(mean).resize((256, 256), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(face_side, np.clip(np.rint(expected), 0, 255).astype(np.uint8))
    assert 0 < face_side.min() < 255 == face_side.max()  # grey where only some rows have lines
    assert not np.array_equal(source.guide(np.array([1]), SIDE), at_side)
    # A row outside the bank (a version that is not this one) adds nothing.
    np.testing.assert_array_equal(source.guide(np.array([2, 0, 3, 99, -1]), SIDE), at_side)
    assert source.guide(np.array([99]), SIDE) is None
    assert source.sample_ids(np.array([2, 0])) == ["000011", "000007"]


@pytest.mark.parametrize("guide", [
    None,  # a bank made from real photos: export wrote no guide sketches
    sketches(len(IDS) - 1),  # not one row per bank row
    sketches(len(IDS)).astype(np.float32),  # not uint8 images
])
def test_without_usable_guide_sketches_there_is_no_guide_but_still_ids(tmp_path, guide):
    version(tmp_path, 1, IDS, guide)
    source = GuideSource.from_repository(tmp_path)
    assert not source.drawable
    assert source.guide(np.array([0, 1]), 256) is None
    assert source.sample_ids(np.array([3])) == ["000001"]


def test_each_projection_version_has_its_own_guide(tmp_path):
    version(tmp_path, 1, IDS[:2], sketches(2, seed=1))
    version(tmp_path, 2, IDS, sketches(len(IDS), seed=2))
    library = GuideLibrary(tmp_path)
    first, second = library.for_version(1), library.for_version(2)
    assert len(first.sketches) == 2 and len(second.sketches) == len(IDS)
    assert library.for_version(None).bank_ids == IDS  # the latest on disk
    assert not np.array_equal(first.guide(np.array([0]), SIDE),
                              second.guide(np.array([0]), SIDE))
    assert library.for_version(3) is None and GuideLibrary(tmp_path / "none").for_version(1) \
        is None
