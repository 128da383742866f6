import pytest
import torch
from torch.utils.data import DataLoader

from sketch2idol.core.data.augment import Stage1Augment
from sketch2idol.core.data.loader import FacePairs
from sketch2idol.core.data.synth import synthesize


@pytest.fixture(scope="module")
def face_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    synthesize(root, count=4, seed=2, workers=1, progress=False)
    return root


def batches(pairs, workers):
    loader = DataLoader(pairs, batch_size=2, shuffle=False, num_workers=workers)
    return [batch["sketch"] for batch in loader]


def test_augmented_batches_do_not_depend_on_the_worker_count(face_set):
    pairs = FacePairs(face_set, sketch_augment=Stage1Augment(), seed=3)
    in_process, two_workers = batches(pairs, 0), batches(pairs, 2)
    assert all(torch.equal(a, b) for a, b in zip(in_process, two_workers))


def test_each_epoch_augments_differently_and_clean_sketch_stays_clean(face_set):
    pairs = FacePairs(face_set, sketch_augment=Stage1Augment(), seed=3)
    first = pairs[0]
    pairs.set_epoch(1)
    second = pairs[0]
    assert not torch.equal(first["sketch"], second["sketch"])
    assert torch.equal(first["clean_sketch"], second["clean_sketch"])
    assert first["sketch"].shape == (1, 256, 256) and first["photo"].shape == (3, 256, 256)
    assert first["sketch"].dtype == torch.uint8


def test_a_directory_without_manifest_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="data synth"):
        FacePairs(tmp_path)
