"""The drawing guide's sketches, rendered at export time into a projection version.

The gateway's drawing guide (`include=guide`) is the mean of the detailed sketches of the
K nearest training faces of a drawing's remainder component. Those sketches are rendered
here, once per projection version, so the gateway only reads an array and never imports
the renderer: for a bank made by the procedural renderer (training_data.json `kind`
"synth", of this RENDERER_VERSION), every bank row's detailed sketch is redrawn from its
seed and index (sketch2idol.core.data.synth.render_sample: deterministic), area-downsampled
to GUIDE_SIZE² and written, rows in bank order, as contract.GUIDE_SKETCHES (uint8 [M,
GUIDE_SIZE, GUIDE_SIZE], grey lines on white) beside bank_ids.json; the version's manifest
lists it. A bank made from real photos, or by another renderer version, gets no file: its
sketches cannot be redrawn here, and the guide is unavailable (null in the JSON answer).
The sketch extractor's thinning backend (training_data.json `thinning`) is not compared:
the two backends differ in a few pixels, which a faint mean of downsampled sketches does
not show.

A grown bank (sketch2idol/export/bank_version.py) copies the rows of the previous version
for the ids it already has, when that version's file is intact (its manifest entry), and
renders only the new rows.

Rendering is the cost, so a finished set of rows is also kept in a per-user cache
(`S2I_CACHE_DIR`, else `$XDG_CACHE_HOME/sketch2idol`, else `~/.cache/sketch2idol`; under
`guides/`), named by a hash of the bank ids, its training_data.json and GUIDE_SIZE: the next
export of the same bank (every `make model-repository`, the test suite's exports) copies
it instead of rendering. The renderer is deterministic for a RENDERER_VERSION, which the
training data names, so a changed renderer misses the cache.

Rendering: one face and its sketch per row, about 22 ms of one core each,
spread over one worker process per usable CPU. On the 2-vCPU Xeon beside a training run, the
5000 rows of the default bank took 112 s in 2 workers (78 MiB of guide sketches), the
int8 export 165 s instead of 51 s.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from numpy.lib.format import open_memmap
from tqdm import tqdm

from sketch2idol.core.contract import BANK_IDS_FILE, GUIDE_SKETCHES, TRAINING_DATA
from sketch2idol.core.data.synth import RENDERER_VERSION, render_sample
from sketch2idol.serving.integrity import IntegrityError, read_manifest, verify_entry

#: The side of a stored guide sketch; the gateway resizes the mean to the face's side.
GUIDE_SIZE = 128
#: Faces per task handed to a worker; a bank this small is rendered in this process.
RENDER_CHUNK = 32


def unavailable_reason(data: dict) -> str | None:
    """Why the sketches of a bank made from `data` (training_data.json) cannot be redrawn
    here, or None when they can."""
    if data.get("kind") != "synth":
        return f"the bank was not made by the procedural renderer (kind {data.get('kind')!r})"
    if data.get("renderer_version") != RENDERER_VERSION:
        return (f"the bank was made by renderer version {data.get('renderer_version')!r}, "
                f"this one is version {RENDERER_VERSION}")
    return None


def downsample(sketch: np.ndarray) -> np.ndarray:
    """uint8 [GUIDE_SIZE, GUIDE_SIZE]: a sketch, area-averaged."""
    return cv2.resize(sketch, (GUIDE_SIZE, GUIDE_SIZE), interpolation=cv2.INTER_AREA)


def guide_sketch(task: tuple[int, int, int]) -> np.ndarray:
    """The guide row of face `index` of the procedural set `seed` rendered at `size`."""
    seed, index, size = task
    return downsample(render_sample(seed, index, size)[2])


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one). A CPU
    quota (a container's cpu limit) is not seen: there the pool may start more workers than
    the quota runs at once, which costs memory, not correctness."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cache_dir() -> Path:
    """Where finished guide rows are kept between exports."""
    root = os.environ.get("S2I_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sketch2idol"
    return Path(root) / "guides"


def cache_path(bank_ids: list[str], data: dict) -> Path:
    """The cache file of the guide rows of a bank: named by what decides its pixels."""
    key = json.dumps({"ids": list(bank_ids), "data": data, "side": GUIDE_SIZE},
                     sort_keys=True)
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npy"


def from_cache(path: Path, cached: Path, rows: int, say: Callable[[str], None]) -> bool:
    """Copy the cached rows to `path` when the cache holds a well-formed file for them."""
    try:
        sketches = np.load(cached, mmap_mode="r")
        if sketches.shape != (rows, GUIDE_SIZE, GUIDE_SIZE) or sketches.dtype != np.uint8:
            return False
        del sketches
        partial = path.with_name(f".{GUIDE_SKETCHES}.partial")
        shutil.copyfile(cached, partial)
        partial.replace(path)
    except (OSError, ValueError):
        return False
    say(f"guide sketches of {rows} bank rows copied from the cache {cached}")
    return True


def to_cache(path: Path, cached: Path, say: Callable[[str], None]) -> None:
    """Keep a finished guide file for the next export; a cache that cannot be written
    costs only the next export's rendering."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
        shutil.copyfile(path, partial)
        partial.replace(cached)
    except OSError as error:
        say(f"guide sketches not cached ({error})")


def _init_worker() -> None:
    cv2.setNumThreads(1)


def previous_rows(previous: Path | None, data: dict,
                  say: Callable[[str], None]) -> tuple[dict[str, int], np.ndarray | None]:
    """id -> row of the guide sketches of an earlier version of the same bank, and those
    sketches (memory-mapped); nothing when there is no such version, it was made from other
    data, or its file does not match its manifest."""
    if previous is None or not (Path(previous) / GUIDE_SKETCHES).is_file():
        return {}, None
    previous = Path(previous)
    try:
        if json.loads((previous / TRAINING_DATA).read_text()) != data:
            return {}, None
        entry = {e.path: e for e in read_manifest(previous)}.get(GUIDE_SKETCHES)
        if entry is None:
            raise IntegrityError(f"{previous / GUIDE_SKETCHES} does not match its manifest "
                                 "(not listed)")
        try:
            verify_entry(previous, entry)
        except IntegrityError as error:
            raise IntegrityError(f"{previous / GUIDE_SKETCHES} does not match its manifest "
                                 f"({error})") from None
        ids = json.loads((previous / BANK_IDS_FILE).read_text(encoding="utf-8"))
        sketches = np.load(previous / GUIDE_SKETCHES, mmap_mode="r")
    except (OSError, ValueError, IntegrityError) as error:
        say(f"not reusing the guide sketches of {previous}: {error}")
        return {}, None
    if sketches.shape != (len(ids), GUIDE_SIZE, GUIDE_SIZE) or sketches.dtype != np.uint8:
        say(f"not reusing the guide sketches of {previous}: shape {sketches.shape} "
            f"{sketches.dtype}")
        return {}, None
    return {sample_id: row for row, sample_id in enumerate(ids)}, sketches


def write_guide_sketches(version_dir: Path, bank_ids: list[str], data: dict, *,
                         previous: Path | None = None, workers: int | None = None,
                         cache: bool = True, say: Callable[[str], None] = print
                         ) -> Path | None:
    """Write version_dir/GUIDE_SKETCHES for the bank `bank_ids` made from `data`; returns
    its path, or None (nothing written) when the bank's sketches cannot be redrawn.
    `previous`: an earlier version directory of the same bank whose rows may be copied;
    `workers`: processes rendering (default one per usable CPU; 1: in this process);
    `cache`: copy the rows from the cache when it has them, and keep rendered ones there."""
    reason = unavailable_reason(data)
    if reason is not None or not bank_ids:
        say(f"no drawing guide: {reason or 'the bank is empty'}")
        return None
    path = Path(version_dir) / GUIDE_SKETCHES
    cached = cache_path(bank_ids, data)
    if cache and from_cache(path, cached, len(bank_ids), say):
        return path
    seed, size = int(data["seed"]), int(data["size"])
    known, old = previous_rows(previous, data, say)
    todo = [(row, int(sample_id)) for row, sample_id in enumerate(bank_ids)
            if sample_id not in known]
    partial = path.with_name(f".{GUIDE_SKETCHES}.partial")  # never a half-written guide
    out = open_memmap(partial, mode="w+", dtype=np.uint8,
                      shape=(len(bank_ids), GUIDE_SIZE, GUIDE_SIZE))
    try:
        for row, sample_id in enumerate(bank_ids):
            if sample_id in known:
                out[row] = old[known[sample_id]]
        say(f"rendering the guide sketches of {len(todo)} bank rows"
            + (f" ({len(bank_ids) - len(todo)} copied from {previous})" if known else ""))
        tasks = [(seed, index, size) for _, index in todo]
        workers = workers or usable_cpus()
        bar = tqdm(total=len(tasks), desc="guide sketches", unit="sketch", disable=None)
        try:
            if workers <= 1 or len(tasks) <= RENDER_CHUNK:
                for (row, _), sketch in zip(todo, map(guide_sketch, tasks)):
                    out[row] = sketch
                    bar.update()
            else:
                context = multiprocessing.get_context("spawn")
                with context.Pool(min(workers, len(tasks)), initializer=_init_worker) as pool:
                    for (row, _), sketch in zip(todo, pool.imap(guide_sketch, tasks,
                                                                RENDER_CHUNK)):
                        out[row] = sketch
                        bar.update()
        finally:
            bar.close()
        out.flush()
        del out
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    if cache:
        to_cache(path, cached, say)
    return path
