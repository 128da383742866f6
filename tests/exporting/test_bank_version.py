"""sketch2idol.export.bank_version: version N+1 of manifold_projection from a grown data set, and
what it
refuses. (The rollout under load is tests/reliability/test_fault_hot_swap.py.)"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sketch2idol.core import contract
from sketch2idol.core.data import dataset
from sketch2idol.core.data.synth import write_sample
from sketch2idol.export.bank_version import grow_bank, main, read_bank
from sketch2idol.export.guides import guide_sketch
from sketch2idol.serving.integrity import read_manifest, verify_manifest
from sketch2idol.serving.knn import ProjectionEngine

FIRST_NEW = 5000


@pytest.fixture
def repository(exported_repository, tmp_path):
    """What grow_bank reads of an exported repository: the projection and the ensemble."""
    source, _ = exported_repository
    copy = tmp_path / "repository"
    for model in (contract.PROJECTION, contract.ENSEMBLE):
        shutil.copytree(source / model, copy / model,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def grown_data(directory, info: dict, indexes) -> None:
    dataset.check_or_write_info(directory, info)
    dataset.prepare_dirs(directory)
    dataset.write_manifest(directory, [write_sample((str(directory), info["seed"], i,
                                                     info["size"])) for i in indexes])


def bank_info(repository) -> dict:
    return json.loads((repository / contract.PROJECTION / "1" / contract.TRAINING_DATA).read_text())


def test_the_next_version_keeps_every_row_and_appends_the_new_samples(repository, tmp_path):
    data = tmp_path / "synth"
    grown_data(data, bank_info(repository), [3, FIRST_NEW, FIRST_NEW + 1])  # 3 is known
    grown = grow_bank(repository, data, say=lambda line: None)
    assert (grown.version, grown.added, grown.rows) == (2, 2, FIRST_NEW + 2)
    assert sorted(p.name for p in grown.directory.parent.iterdir()
                  if not p.name.endswith(".pbtxt")) == ["1", "2"]  # no staging left
    verify_manifest(grown.directory)
    old, new = (read_bank(repository / contract.PROJECTION / v) for v in ("1", "2"))
    assert new.ids == old.ids + ["005000", "005001"]
    np.testing.assert_array_equal(new.features[:FIRST_NEW], old.features)
    assert (new.data, new.k, new.policy) == (old.data, old.k, old.policy)
    engine = ProjectionEngine.load(grown.directory)  # a new row is its own nearest neighbour
    _, rows = engine.run(new.features[FIRST_NEW:], np.ones((2, 5), np.float32))
    assert rows[:, :, 0].tolist() == [[FIRST_NEW] * 5, [FIRST_NEW + 1] * 5]
    # The guide sketches: version 1's rows kept, the new rows rendered, in the manifest.
    assert contract.GUIDE_SKETCHES in {entry.path for entry in read_manifest(grown.directory)}
    old_guides, new_guides = (np.load(repository / contract.PROJECTION / v /
                                      contract.GUIDE_SKETCHES) for v in ("1", "2"))
    assert new_guides.shape == (FIRST_NEW + 2, *old_guides.shape[1:])
    np.testing.assert_array_equal(new_guides[:FIRST_NEW], old_guides)
    for row in (FIRST_NEW, FIRST_NEW + 1):
        np.testing.assert_array_equal(new_guides[row], guide_sketch((new.data["seed"], row,
                                                                      new.data["size"])))


def test_it_refuses_another_data_set_other_weights_and_nothing_new(repository, tmp_path,
                                                                  capsys):
    info = bank_info(repository)
    other_seed = tmp_path / "other"
    grown_data(other_seed, {**info, "seed": 7}, [FIRST_NEW])
    with pytest.raises(ValueError, match="its seed is 7, the bank's 0"):
        grow_bank(repository, other_seed)
    nothing_new = tmp_path / "same"
    grown_data(nothing_new, info, [0, 1])
    assert main(["--repository", str(repository), "--data", str(nothing_new)]) == 2
    assert "nothing to add" in capsys.readouterr().err
    other_weights = tmp_path / "weights"
    other_weights.mkdir()
    (other_weights / "weights.json").write_text("{}")
    with pytest.raises(ValueError, match="was exported from weights"):
        grow_bank(repository, nothing_new, other_weights)
    assert not (repository / contract.PROJECTION / "2").exists()
