"""A sha256 manifest of a directory's artifacts: write it at export, verify it before loading.

The manifest is `MANIFEST.sha256` in the directory, in the text format `sha256sum` writes
(`<hex>  <relative path>`), so `cd DIR && sha256sum -c MANIFEST.sha256` checks it too. Each
hash line is preceded by a `# size <bytes>  <path>` comment (sha256sum skips lines starting
with '#'), so a truncated file is reported as a size mismatch without hashing it.

`verify_manifest` raises `IntegrityError` with one line naming the first bad file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MANIFEST_NAME = "MANIFEST.sha256"
CHUNK_BYTES = 1 << 20

_HASH_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_SIZE_LINE = re.compile(r"^# size (\d+)  (.+)$")


class IntegrityError(Exception):
    """An artifact directory does not match its manifest; the message is one line."""


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative POSIX path inside the directory
    sha256: str  # lower-case hex digest
    size: int | None  # bytes, when the manifest records it


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in CHUNK_BYTES chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _relative_name(directory: Path, file: str | Path) -> str:
    """`file` as a POSIX path relative to `directory` (it may be given either way)."""
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(directory.resolve())
        except ValueError:
            raise ValueError(f"{file} is not inside {directory}") from None
    name = path.as_posix()
    if ".." in PurePosixPath(name).parts or any(c in name for c in "\n\r\\"):
        raise ValueError(f"{file}: manifest paths must stay inside the directory and must not "
                         "contain '..', newlines or backslashes")
    return name


def write_manifest(directory: str | Path, files: Iterable[str | Path]) -> Path:
    """Write `directory/MANIFEST.sha256` for `files` (relative to `directory`, or absolute
    paths inside it) and return its path. Files are listed sorted; the manifest never lists
    itself."""
    directory = Path(directory)
    names = sorted({_relative_name(directory, file) for file in files} - {MANIFEST_NAME})
    if not names:
        raise ValueError("write_manifest needs at least one file")
    lines = [f"# sketch2idol artifact manifest; check with: sha256sum -c {MANIFEST_NAME}"]
    for name in names:
        path = directory / name
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
        lines.append(f"# size {path.stat().st_size}  {name}")
        lines.append(f"{sha256_file(path)}  {name}")
    manifest = directory / MANIFEST_NAME
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def read_manifest(directory: str | Path) -> list[ManifestEntry]:
    """The entries of `directory/MANIFEST.sha256`; IntegrityError if it is missing or bad."""
    manifest = Path(directory) / MANIFEST_NAME
    if not manifest.is_file():
        raise IntegrityError(f"{manifest}: manifest missing")
    sizes: dict[str, int] = {}
    entries = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if size_line := _SIZE_LINE.match(line):
            sizes[size_line.group(2)] = int(size_line.group(1))
        elif line.startswith("#") or not line.strip():
            continue
        elif hash_line := _HASH_LINE.match(line):
            name = hash_line.group(2)
            if Path(name).is_absolute() or ".." in PurePosixPath(name).parts:
                raise IntegrityError(f"{manifest}:{number}: path {name!r} leaves the directory")
            entries.append(ManifestEntry(name, hash_line.group(1).lower(), sizes.get(name)))
        else:
            raise IntegrityError(f"{manifest}:{number}: not a '<sha256>  <path>' line: "
                                 f"{line[:80]!r}")
    if not entries:
        raise IntegrityError(f"{manifest}: lists no files")
    return entries


def verify_manifest(directory: str | Path) -> list[Path]:
    """Check every file listed in `directory/MANIFEST.sha256` (existence, size, sha256).

    Returns the verified paths; raises IntegrityError naming the first bad file.
    """
    directory = Path(directory)
    return [verify_entry(directory, entry) for entry in read_manifest(directory)]


def verify_entry(directory: Path, entry: ManifestEntry) -> Path:
    """Check one manifest entry's file (existence, size, sha256); returns its path, or
    raises IntegrityError naming what is wrong."""
    path = Path(directory) / entry.path
    if not path.is_file():
        raise IntegrityError(f"artifact {path}: missing (listed in {MANIFEST_NAME})")
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise IntegrityError(f"artifact {path}: size mismatch (expected {entry.size} "
                             f"bytes, found {size})")
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise IntegrityError(f"artifact {path}: checksum mismatch (expected sha256 "
                             f"{entry.sha256[:16]}..., found {digest[:16]}...)")
    return path
