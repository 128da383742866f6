import shutil
import subprocess

import pytest

from sketch2idol.serving.integrity import (
    MANIFEST_NAME,
    IntegrityError,
    read_manifest,
    verify_manifest,
    write_manifest,
)


@pytest.fixture
def artifacts(tmp_path):
    (tmp_path / "index.faiss").write_bytes(bytes(range(256)) * 4000)  # > one hash chunk
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ids.json").write_text('["a", "b"]')
    write_manifest(tmp_path, ["index.faiss", tmp_path / "sub" / "ids.json"])
    return tmp_path


def test_a_written_manifest_verifies(artifacts):
    verified = verify_manifest(artifacts)
    assert sorted(p.name for p in verified) == ["ids.json", "index.faiss"]
    assert [entry.path for entry in read_manifest(artifacts)] == ["index.faiss", "sub/ids.json"]


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="no sha256sum")
def test_sha256sum_accepts_the_manifest(artifacts):
    result = subprocess.run(["sha256sum", "-c", "--strict", MANIFEST_NAME], cwd=artifacts,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_flipped_byte_is_a_checksum_mismatch_naming_the_file(artifacts):
    data = bytearray((artifacts / "index.faiss").read_bytes())
    data[123_456] ^= 1
    (artifacts / "index.faiss").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"index\.faiss: checksum mismatch") as caught:
        verify_manifest(artifacts)
    assert "\n" not in str(caught.value)


def test_a_truncated_file_is_a_size_mismatch(artifacts):
    (artifacts / "sub" / "ids.json").write_text('["a"]')
    with pytest.raises(IntegrityError, match=r"ids\.json: size mismatch \(expected 10 bytes"):
        verify_manifest(artifacts)


def test_a_missing_file_and_a_missing_manifest_are_named(artifacts):
    (artifacts / "index.faiss").unlink()
    with pytest.raises(IntegrityError, match=r"index\.faiss: missing"):
        verify_manifest(artifacts)
    (artifacts / MANIFEST_NAME).unlink()
    with pytest.raises(IntegrityError, match="manifest missing"):
        verify_manifest(artifacts)


def test_a_malformed_manifest_line_is_reported(artifacts):
    with open(artifacts / MANIFEST_NAME, "a") as manifest:
        manifest.write("not a hash line\n")
    with pytest.raises(IntegrityError, match=r"MANIFEST\.sha256:\d+: not a"):
        verify_manifest(artifacts)


def test_write_manifest_refuses_files_outside_the_directory(tmp_path):
    (tmp_path / "inside").mkdir()
    (tmp_path / "outside.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="not inside"):
        write_manifest(tmp_path / "inside", [tmp_path / "outside.bin"])
    with pytest.raises(ValueError, match=r"'\.\.'"):
        write_manifest(tmp_path / "inside", ["../outside.bin"])
