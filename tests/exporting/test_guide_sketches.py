"""sketch2idol.export.guides: the drawing guide's sketches, rendered at export time into a
projection version (the whole export writes them too: test_export.py; a grown bank:
test_bank_version.py)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from sketch2idol.core import contract
from sketch2idol.core.data.synth import RENDERER_VERSION, render_sample
from sketch2idol.export import guides
from sketch2idol.export.guides import GUIDE_SIZE, write_guide_sketches
from sketch2idol.export.repository import write_projection_version
from sketch2idol.serving.integrity import read_manifest, verify_manifest, write_manifest
from sketch2idol.serving.knn import IndexPolicy

SEED = 3
DATA = {"kind": "synth", "seed": SEED, "size": 256, "renderer_version": RENDERER_VERSION,
        "thinning": "opencv-contrib"}
IDS = ["000004", "000000", "000002"]  # bank order is not id order


#: Rendering itself (the cache, which would answer a repeated bank, is tested on its own).
render = functools.partial(write_guide_sketches, cache=False)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test's exports keep their cache to themselves (not in the user's cache)."""
    monkeypatch.setenv("S2I_CACHE_DIR", str(tmp_path / "cache"))


def quiet(line: str) -> None:
    pass


@pytest.fixture(scope="module")
def sketches() -> dict[str, np.ndarray]:
    """The full-size detailed sketch of every sample in IDS."""
    return {sample_id: render_sample(SEED, int(sample_id), DATA["size"])[2]
            for sample_id in IDS}


def counting_renders(monkeypatch) -> list[int]:
    """Record the index of every face guides renders from now on."""
    rendered = []
    real = guides.guide_sketch

    def guide_sketch(task):
        rendered.append(task[1])
        return real(task)

    monkeypatch.setattr(guides, "guide_sketch", guide_sketch)
    return rendered


def test_a_procedural_bank_gets_its_sketches_area_downsampled_in_bank_order(tmp_path,
                                                                           sketches):
    path = render(tmp_path, IDS, DATA, say=quiet)
    assert path == tmp_path / contract.GUIDE_SKETCHES
    assert sorted(p.name for p in tmp_path.iterdir()) == [contract.GUIDE_SKETCHES]  # no .partial
    rows = np.load(path)
    assert rows.shape == (3, GUIDE_SIZE, GUIDE_SIZE) and rows.dtype == np.uint8
    for row, sample_id in enumerate(IDS):
        sketch = sketches[sample_id]
        assert (sketch < 128).any()  # a sketch with lines, not a blank page
        # Area downsampling of a 256² sketch to 128²: the mean of each 2x2 block.
        blocks = sketch.reshape(GUIDE_SIZE, 2, GUIDE_SIZE, 2).astype(np.float32).mean((1, 3))
        assert np.abs(rows[row].astype(np.float32) - blocks).max() <= 1, sample_id
    assert not np.array_equal(rows[0], rows[1])


@pytest.mark.parametrize("data", [
    {"kind": "photos", "seed": SEED, "size": 256},  # sketches extracted from real photos
    {**DATA, "renderer_version": RENDERER_VERSION + 1},  # another renderer's faces
    {},  # weights that do not say what the bank was made from
])
def test_a_bank_the_renderer_here_did_not_make_gets_no_file(tmp_path, monkeypatch, data):
    rendered = counting_renders(monkeypatch)
    said = []
    assert render(tmp_path, IDS, data, say=said.append) is None
    assert list(tmp_path.iterdir()) == [] and rendered == []
    assert said and said[0].startswith("no drawing guide: ")


def previous_version(directory, ids, data=DATA):
    """A version directory as export writes it: ids, training data, guides, manifest."""
    directory.mkdir()
    (directory / contract.BANK_IDS_FILE).write_text(json.dumps(ids))
    (directory / contract.TRAINING_DATA).write_text(json.dumps(data))
    render(directory, ids, data, say=quiet)
    write_manifest(directory, [contract.BANK_IDS_FILE, contract.TRAINING_DATA,
                               contract.GUIDE_SKETCHES])
    return directory


def test_a_grown_bank_renders_only_its_new_rows(tmp_path, monkeypatch, sketches):
    old = previous_version(tmp_path / "1", IDS[:2])
    rendered = counting_renders(monkeypatch)
    grown = tmp_path / "2"
    grown.mkdir()
    path = render(grown, IDS, DATA, previous=old, say=quiet)
    assert rendered == [int(IDS[2])]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    np.testing.assert_array_equal(np.load(path), np.load(
        render(fresh, IDS, DATA, say=quiet)))


def test_a_damaged_or_foreign_previous_version_is_not_copied(tmp_path, monkeypatch):
    damaged = previous_version(tmp_path / "damaged", IDS[:2])
    rows = np.load(damaged / contract.GUIDE_SKETCHES)
    rows[0] = 0  # all black: the manifest's sha256 no longer matches
    np.save(damaged / contract.GUIDE_SKETCHES, rows)
    other_seed = previous_version(tmp_path / "other", IDS[:2], {**DATA, "seed": SEED + 1})
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    expected = np.load(render(fresh, IDS, DATA, say=quiet))
    rendered = counting_renders(monkeypatch)
    for previous in (damaged, other_seed):
        rendered.clear()
        said = []
        out = tmp_path / f"from_{previous.name}"
        out.mkdir()
        render(out, IDS, DATA, previous=previous, say=said.append)
        assert sorted(rendered) == sorted(int(i) for i in IDS), previous.name
        np.testing.assert_array_equal(np.load(out / contract.GUIDE_SKETCHES), expected)
        if previous is damaged:
            assert any("does not match its manifest" in line for line in said), said


def test_a_projection_version_lists_its_guide_sketches_in_the_manifest(tmp_path, monkeypatch):
    """What export and bank_version write, into a directory named relative to the working
    directory (as `make model-repository` names it)."""
    monkeypatch.chdir(tmp_path)
    ids = [f"{i:06d}" for i in range(12)]
    features = np.random.default_rng(0).normal(size=(12, 5, 8)).astype(np.float32)
    version_dir = tmp_path / "repository" / "1"
    version_dir.mkdir(parents=True)
    files = write_projection_version(version_dir.relative_to(tmp_path), ids, features, DATA,
                                     IndexPolicy(), 10, 0.01, say=quiet)
    assert version_dir / contract.GUIDE_SKETCHES in files
    assert contract.GUIDE_SKETCHES in {entry.path for entry in read_manifest(version_dir)}
    verify_manifest(version_dir)
    assert np.load(version_dir / contract.GUIDE_SKETCHES).shape == (12, GUIDE_SIZE, GUIDE_SIZE)


def test_a_finished_bank_is_kept_in_the_cache_and_copied_by_the_next_export(
        tmp_path, monkeypatch):
    first, second, other = (tmp_path / name for name in ("first", "second", "other"))
    for directory in (first, second, other):
        directory.mkdir()
    expected = np.load(write_guide_sketches(first, IDS, DATA, say=quiet))
    assert [p.parent for p in (tmp_path / "cache").rglob("*.npy")] == [tmp_path / "cache"
                                                                          / "guides"]
    rendered = counting_renders(monkeypatch)
    said = []
    np.testing.assert_array_equal(
        np.load(write_guide_sketches(second, IDS, DATA, say=said.append)), expected)
    assert rendered == [] and "copied from the cache" in said[0]
    # Another bank (other ids, or other data) is not answered by that file.
    write_guide_sketches(other, IDS[:2], DATA, say=quiet)
    assert sorted(rendered) == sorted(int(i) for i in IDS[:2])
    rendered.clear()
    write_guide_sketches(other, IDS, {**DATA, "seed": SEED + 1}, say=quiet)
    assert sorted(rendered) == sorted(int(i) for i in IDS)
