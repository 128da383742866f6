import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sketch2idol.core.data import dataset
from sketch2idol.core.data.dataset import DatasetMismatch
from sketch2idol.core.data.faces import Label, draw_casual, render_face
from sketch2idol.core.data.faces.casual import HAIR_HUG_RANGE, STYLES
from sketch2idol.core.data.preview import write_contact_sheet
from sketch2idol.core.data.synth import synthesize

COUNT = 6


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("w1")
    synthesize(out, count=COUNT, seed=11, size=256, workers=1, progress=False)
    return out


def tree_bytes(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_output_is_byte_identical_whatever_the_worker_count(one_worker, tmp_path):
    synthesize(tmp_path, count=COUNT, seed=11, size=256, workers=2, progress=False)
    assert tree_bytes(tmp_path) == tree_bytes(one_worker)


def test_layout_and_manifest_hashes_match_the_files(one_worker):
    rows = dataset.read_manifest(one_worker)
    assert [row["id"] for row in rows] == [f"{i:06d}" for i in range(COUNT)]
    for row in rows:
        assert set(row["sha256"]) == set(dataset.SYNTH_FILES)
        for kind in dataset.SYNTH_FILES:
            path = dataset.sample_path(one_worker, kind, row["id"])
            assert dataset.sha256_file(path) == row["sha256"][kind], (row["id"], kind)
        assert row["seed"] == 11 and row["size"] == 256
        assert set(row["landmarks"]) == {"left_eye", "right_eye", "nose_tip", "mouth"}
        json.dumps(row["params"])  # render parameters are recorded, as plain JSON
    assert json.loads((one_worker / dataset.INFO_NAME).read_text())["seed"] == 11


def test_casual_drawings_and_label_maps_are_those_of_the_face(one_worker):
    styles = set()
    for row in dataset.read_manifest(one_worker)[:3]:
        styles.add(row["casual"]["style"])
        assert row["casual"]["style"] in STYLES
        face = render_face(row["params"], row["size"])
        labels = dataset.read_grey(dataset.labels_path(one_worker, row["id"]))
        assert np.array_equal(labels, face.labels) and labels.max() < len(Label)
        casual = dataset.read_grey(dataset.casual_path(one_worker, row["id"]))
        assert np.array_equal(casual, draw_casual(row["params"], row["size"], row["casual"]))
        assert (casual < 128).mean() > 0.02  # something is drawn


# sha256 of the photo pixels of faces 0..2 of the set with seed 0, as `data synth` wrote them
# before it wrote casual drawings and label maps.
SEED_0_PHOTOS = "3666c4390528f771c044a58e55afe6a1b408af5a160feef804271ed7401fea5d"


def test_photos_of_a_seed_are_those_of_earlier_data_sets(tmp_path):
    synthesize(tmp_path, count=3, seed=0, workers=1, progress=False)
    digest = hashlib.sha256()
    for index in range(3):
        digest.update(dataset.read_rgb(dataset.photo_path(tmp_path, f"{index:06d}")).tobytes())
    assert digest.hexdigest() == SEED_0_PHOTOS


def as_made_before_casual_drawings(root) -> None:
    """Turn a set into what `data synth` wrote before casual drawings and label maps."""
    shutil.rmtree(root / dataset.CASUAL_DIR)
    shutil.rmtree(root / dataset.LABELS_DIR)
    rows = dataset.read_manifest(root)
    for row in rows:
        del row["casual"], row["sha256"]["casual"], row["sha256"]["labels"]
    dataset.write_manifest(root, rows)


def test_rerun_on_a_set_made_before_casual_drawings_adds_them(one_worker, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(one_worker, old)
    as_made_before_casual_drawings(old)
    photos = {p.name: p.read_bytes() for p in (old / dataset.PHOTO_DIR).iterdir()}
    summary = synthesize(old, count=COUNT, seed=11, workers=1, progress=False)
    assert (summary.rendered, summary.skipped) == (COUNT, 0)
    assert {p.name: p.read_bytes() for p in (old / dataset.PHOTO_DIR).iterdir()} == photos
    assert tree_bytes(old) == tree_bytes(one_worker)


def test_preview_shows_casual_drawings_and_label_maps_of_synth_sets(one_worker, tmp_path):
    side = 64
    write_contact_sheet(one_worker, tmp_path / "synth.png", count=2, columns=2, side=side)
    sheet = dataset.read_rgb(tmp_path / "synth.png")
    assert sheet.shape[1] == 6 + 2 * (4 * side + 6)  # photo | sketch | casual | labels
    old = tmp_path / "old"
    shutil.copytree(one_worker, old)
    as_made_before_casual_drawings(old)
    write_contact_sheet(old, tmp_path / "old.png", count=2, columns=2, side=side)
    assert dataset.read_rgb(tmp_path / "old.png").shape[1] == 6 + 2 * (2 * side + 6)


def test_different_seeds_give_different_faces(one_worker, tmp_path):
    synthesize(tmp_path, count=2, seed=12, size=256, workers=1, progress=False)
    ours = {r["sha256"]["photo"] for r in dataset.read_manifest(tmp_path)}
    theirs = {r["sha256"]["photo"] for r in dataset.read_manifest(one_worker)}
    assert not ours & theirs


def test_rerun_adds_missing_and_repairs_damaged_faces(tmp_path):
    first = synthesize(tmp_path, count=3, seed=5, workers=1, progress=False)
    assert (first.rendered, first.skipped, first.total) == (3, 0, 3)
    kept = dataset.photo_path(tmp_path, "000000")
    kept_mtime = kept.stat().st_mtime_ns
    damaged = dataset.sketch_path(tmp_path, "000001")
    original = damaged.read_bytes()
    damaged.write_bytes(b"not a png")

    second = synthesize(tmp_path, count=5, seed=5, workers=1, progress=False)
    assert (second.rendered, second.skipped, second.total) == (3, 2, 5)  # 2 new + 1 repaired
    assert kept.stat().st_mtime_ns == kept_mtime  # intact faces are not rewritten
    assert damaged.read_bytes() == original

    reference = tmp_path / "reference"
    synthesize(reference, count=5, seed=5, workers=1, progress=False)
    assert (tmp_path / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()


def test_refuses_to_mix_seeds_or_sizes(one_worker):
    with pytest.raises(DatasetMismatch, match="seed=11"):
        synthesize(one_worker, count=COUNT + 1, seed=12, workers=1, progress=False)
    with pytest.raises(DatasetMismatch, match="size=256"):
        synthesize(one_worker, count=COUNT, seed=11, size=512, workers=1, progress=False)
    assert len(dataset.read_manifest(one_worker)) == COUNT  # nothing was added


def test_a_hair_hug_share_redraws_only_the_casual_drawings_it_picks(one_worker, tmp_path):
    synthesize(tmp_path, count=COUNT, seed=11, workers=2, progress=False, hair_hug_prob=0.5)
    plain = {row["id"]: row for row in dataset.read_manifest(one_worker)}
    rows = dataset.read_manifest(tmp_path)
    hugs = [row["casual"].get("hair_hug") for row in rows]
    assert 0 < sum(hug is not None for hug in hugs) < COUNT, hugs
    for row, hug in zip(rows, hugs):
        before = plain[row["id"]]
        for kind in ("photo", "sketch", "labels"):
            assert row["sha256"][kind] == before["sha256"][kind], (row["id"], kind)
        # Every other choice of the drawing is the plain set's.
        assert {k: v for k, v in row["casual"].items() if k != "hair_hug"} == before["casual"]
        if hug is None:
            assert row["sha256"]["casual"] == before["sha256"]["casual"]
        else:
            assert HAIR_HUG_RANGE[0] <= hug <= HAIR_HUG_RANGE[1]
            casual = dataset.read_grey(dataset.casual_path(tmp_path, row["id"]))
            assert np.array_equal(casual, draw_casual(row["params"], row["size"], row["casual"]))
    assert json.loads((tmp_path / dataset.INFO_NAME).read_text())["hair_hug_prob"] == 0.5
    assert "hair_hug_prob" not in json.loads((one_worker / dataset.INFO_NAME).read_text())
    with pytest.raises(DatasetMismatch, match="hair_hug_prob=0.5"):
        synthesize(tmp_path, count=COUNT, seed=11, workers=1, progress=False)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sketch2idol", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_synth_preview_and_a_one_line_error(one_worker, tmp_path):
    done = run_cli("data", "synth", "--count", "2", "--seed", "3", "--workers", "1",
                   "--out", str(tmp_path / "set"))
    assert done.returncode == 0, done.stderr
    assert "2 rendered" in done.stdout

    grid = tmp_path / "grid.png"
    done = run_cli("data", "preview", str(one_worker), "-o", str(grid), "--count", "4")
    assert done.returncode == 0, done.stderr
    image = dataset.read_rgb(grid)
    assert image.shape[0] > 150 and image.shape[1] > 4 * 2 * 150  # 4 photo|sketch pairs

    done = run_cli("data", "synth", "--count", "2", "--seed", "4", "--workers", "1",
                   "--out", str(tmp_path / "set"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "seed=3" in done.stderr
    assert "Traceback" not in done.stderr
