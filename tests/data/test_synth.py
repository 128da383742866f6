import json
import subprocess
import sys

import pytest

from sketch2idol.data import dataset
from sketch2idol.data.dataset import DatasetMismatch
from sketch2idol.data.synth import synthesize

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
        assert dataset.sha256_file(dataset.photo_path(one_worker, row["id"])) == \
            row["sha256"]["photo"]
        assert dataset.sha256_file(dataset.sketch_path(one_worker, row["id"])) == \
            row["sha256"]["sketch"]
        assert row["seed"] == 11 and row["size"] == 256
        assert set(row["landmarks"]) == {"left_eye", "right_eye", "nose_tip", "mouth"}
        json.dumps(row["params"])  # render parameters are recorded, as plain JSON
    assert json.loads((one_worker / dataset.INFO_NAME).read_text())["seed"] == 11


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
