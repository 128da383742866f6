"""The ingest driver: walk, hash, skip what is known, process the rest in parallel, record.

Every file is keyed by the sha256 of its content, so re-running over a grown folder only
processes new content, a renamed or copied file is not processed twice, and the sample id
(the first 16 hex digits) is stable. Results are saved atomically every `save_every`
seconds and at the end, also when the run is interrupted.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from sketch2idol.core.data.dataset import (
    check_or_write_info,
    photo_path,
    prepare_dirs,
    read_jsonl,
    read_manifest,
    sha256_file,
    sketch_path,
    write_jsonl,
    write_manifest,
)
from sketch2idol.core.data.ingest.filters import FilterConfig
from sketch2idol.core.data.ingest.process import (
    FileProcessor,
    Settings,
    Task,
    init_worker,
    process_in_worker,
    rejection_row,
)
from sketch2idol.core.geometry import DEFAULT_SIZE, check_size

REJECTED_NAME = "rejected.jsonl"
#: Bump when the processing changes so much that old and new samples should not mix.
INGEST_VERSION = 1
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PIXELS = 80_000_000
#: Rejections that say nothing final about the file: tried again on the next run.
RETRY_REASONS = frozenset({"error", "unreadable"})
DEFAULT_FILTERS = FilterConfig()


@dataclass
class IngestSummary:
    """What one `run_ingest` call did. seen = processed + skipped."""

    src: str
    out: str
    seen: int = 0  # files found under SRC
    processed: int = 0  # distinct new contents looked at in this run
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0  # files not processed: content already known, or a duplicate
    known: int = 0  # ... of which: content already in the manifest or rejected.jsonl
    duplicates: int = 0  # ... of which: same content as another file of this walk
    reasons: Counter = field(default_factory=Counter)  # this run's rejections by reason
    total_accepted: int = 0  # samples in the set after the run
    total_rejected: int = 0  # rows in rejected.jsonl after the run
    workers: int = 1
    seconds: float = 0.0

    def describe(self) -> str:
        """One paragraph for people: what was seen, done, skipped and why files failed."""
        reasons = ", ".join(f"{count} {reason}" for reason, count in
                            sorted(self.reasons.items(), key=lambda item: (-item[1], item[0])))
        rejected = f"{self.rejected} rejected" + (f" ({reasons})" if reasons else "")
        rate = (f", {1000 * self.seconds / self.processed:.0f} ms per processed file"
                if self.processed else "")
        return (f"Ingest {self.src} -> {self.out}: {_count(self.seen, 'file')} seen, "
                f"{self.processed} processed ({self.accepted} accepted, {rejected}), "
                f"{self.skipped} skipped ({self.known} already ingested or rejected, "
                f"{_count(self.duplicates, 'duplicate')}). The set holds "
                f"{_count(self.total_accepted, 'face')}; {REJECTED_NAME} lists "
                f"{_count(self.total_rejected, 'file')}. {self.seconds:.1f} s with "
                f"{_count(self.workers, 'worker')}{rate}.")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def read_rejected(root: Path) -> list[dict]:
    return read_jsonl(Path(root) / REJECTED_NAME)


def write_rejected(root: Path, rows: Iterable[dict]) -> None:
    """Rewrite rejected.jsonl atomically, sorted by source path."""
    write_jsonl(Path(root) / REJECTED_NAME, rows,
                sort_key=lambda row: (row["source"], row["source_sha256"] or ""))


def list_files(src: Path, exclude: Path | None = None) -> list[tuple[Path, str]]:
    """Every regular file under `src` (recursively, sorted), as (path, POSIX path relative
    to `src`). Directory symlinks are not followed; `exclude` (the output) is skipped."""
    src = Path(src)
    excluded = exclude.resolve() if exclude is not None else None
    found = []
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        dirnames[:] = sorted(name for name in dirnames
                             if excluded is None or (here / name).resolve() != excluded)
        for name in sorted(filenames):
            path = here / name
            if path.is_file():
                found.append((path, path.relative_to(src).as_posix()))
    return found


def _hash(path: Path) -> str | OSError:
    try:
        return sha256_file(path)
    except OSError as error:
        return error


def _run_tasks(tasks: list[Task], settings: Settings, workers: int,
               work: Callable[[Task], tuple[str, dict]] = process_in_worker
               ) -> Iterator[tuple[str, dict]]:
    """(status, row) for every task, in completion order. `work` runs in the workers."""
    if not tasks:
        return
    if workers <= 1:
        processor = FileProcessor(settings)
        try:
            for task in tasks:
                yield processor.process(task)
        finally:
            processor.close()
        return
    yield from _run_in_pool(tasks, settings, workers, work)


def _run_in_pool(tasks: list[Task], settings: Settings, workers: int,
                 work: Callable[[Task], tuple[str, dict]]) -> Iterator[tuple[str, dict]]:
    """Process pool that survives a worker dying (a native crash in a decoder or MediaPipe).

    At most 2 x `workers` files are in flight. If a worker dies, the pool is broken: the
    files in flight are recorded as `error` (and so tried again on the next run) and a
    fresh pool takes the rest. Python exceptions never get here: `process` catches them.
    """
    # spawn: a fresh interpreter per worker; MediaPipe's threads do not survive fork.
    context = multiprocessing.get_context("spawn")
    pending = deque(tasks)
    barren_pools = 0  # consecutive pools that broke before finishing a single file
    while pending:
        finished, broken = 0, False
        with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                                 initargs=(settings,)) as pool:
            in_flight: dict = {}
            while in_flight or (pending and not broken):
                while pending and not broken and len(in_flight) < 2 * workers:
                    task = pending.popleft()
                    try:
                        in_flight[pool.submit(work, task)] = task
                    except BrokenProcessPool:
                        pending.appendleft(task)
                        broken = True
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    task = in_flight.pop(future)
                    try:
                        result = future.result()
                        finished += 1
                    except BrokenProcessPool:
                        broken = True
                        result = "rejected", rejection_row(
                            task.source, task.source_sha256, "error",
                            "a worker process died while this file was being processed")
                    except Exception as error:  # e.g. a result that cannot be pickled
                        result = "rejected", rejection_row(
                            task.source, task.source_sha256, "error",
                            f"{type(error).__name__}: {error}")
                    yield result
        barren_pools = barren_pools + 1 if broken and finished == 0 else 0
        if barren_pools >= 3 and pending:
            raise RuntimeError("ingest worker processes keep dying before finishing any "
                               "file; run with workers=1 to see why")


def run_ingest(src: Path | str, out: Path | str, size: int = DEFAULT_SIZE, workers: int = 1, *,
               filters: FilterConfig = DEFAULT_FILTERS, max_bytes: int = DEFAULT_MAX_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS, progress: bool = True,
               save_every: float = 30.0) -> IngestSummary:
    """Ingest the face photos under `src` into the data set at `out`; see the module doc.

    `workers` > 1 starts that many spawned processes (one face mesh each); a script that
    calls this must then guard its entry point with `if __name__ == "__main__":`.
    `max_bytes` / `max_pixels` bound what one file may cost before it is decoded.
    Raises DatasetMismatch if `out` holds a set made with another size, filters or version.
    """
    started = time.monotonic()
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is not a directory")
    check_size(size)
    check_or_write_info(out, {"kind": "ingest", "size": size, "version": INGEST_VERSION,
                              "filters": filters.as_dict()})
    prepare_dirs(out)
    summary = IngestSummary(src=str(src), out=str(out), workers=max(1, workers))

    accepted = {row["source_sha256"]: row for row in read_manifest(out)
                if photo_path(out, row["id"]).exists() and sketch_path(out, row["id"]).exists()}
    rejected: dict[str, dict] = {}
    retry: list[dict] = []
    for row in read_rejected(out):
        if row["reason"] in RETRY_REASONS or row.get("source_sha256") is None:
            retry.append(row)
        elif row["source_sha256"] not in accepted:
            rejected[row["source_sha256"]] = row

    files = list_files(src, exclude=out)
    summary.seen = len(files)
    with ThreadPoolExecutor(max_workers=min(8, max(2, workers))) as threads:
        hashes = list(tqdm(threads.map(_hash, [path for path, _ in files]), total=len(files),
                           desc="hashing", unit="file", file=sys.stderr,
                           disable=not progress or len(files) < 100, leave=False))

    tasks: list[Task] = []
    unreadable: list[dict] = []
    queued: set[str] = set()
    for (path, source), digest in zip(files, hashes, strict=True):
        if isinstance(digest, OSError):
            unreadable.append(rejection_row(source, None, "unreadable",
                                            f"the file cannot be read ({digest})"))
        elif digest in accepted or digest in rejected:
            summary.known += 1
        elif digest in queued:
            summary.duplicates += 1
        else:
            queued.add(digest)
            tasks.append(Task(path=str(path.resolve()), source=source, source_sha256=digest))
    summary.skipped = summary.known + summary.duplicates
    # Rows to retry are replaced by this run's outcome; the others stay as they were.
    retried_sources = {task.source for task in tasks} | {row["source"] for row in unreadable}
    kept_retry = [row for row in retry if row["source"] not in retried_sources
                  and (row.get("source_sha256") is None or row["source_sha256"] not in queued)]

    def record(status: str, row: dict) -> None:
        summary.processed += 1
        if status == "accepted":
            summary.accepted += 1
            accepted[row["source_sha256"]] = row
        else:
            summary.rejected += 1
            summary.reasons[row["reason"]] += 1
            if row.get("source_sha256") is None:
                kept_retry.append(row)
            else:
                rejected[row["source_sha256"]] = row

    def save() -> None:
        write_manifest(out, accepted.values())
        write_rejected(out, [*rejected.values(), *kept_retry])

    for row in unreadable:
        record("rejected", row)

    settings = Settings(out=str(out), size=size, filters=filters, max_bytes=max_bytes,
                        max_pixels=max_pixels)
    workers = max(1, min(workers, len(tasks)))
    summary.workers = workers
    last_save = time.monotonic()
    try:  # on an interrupt or crash, keep what was done: save, then let it propagate
        with tqdm(total=len(tasks), desc="ingest", unit="file", file=sys.stderr,
                  disable=not progress or not tasks) as bar:
            for status, row in _run_tasks(tasks, settings, workers):
                record(status, row)
                bar.update()
                if time.monotonic() - last_save > save_every:
                    save()
                    last_save = time.monotonic()
    finally:
        save()
        summary.total_accepted = len(accepted)
        summary.total_rejected = len(rejected) + len(kept_retry)
        summary.seconds = time.monotonic() - started
    return summary
