"""Shared helpers of the benchmarks: where results go, the machine, the load, real inputs.

Every benchmark writes its raw rows to `benchmarks/results/raw/<name>.csv` (rebuilt, not
committed) and a small summary to `benchmarks/results/<name>.json` (committed; the report
draws from it). Each summary records the command that made it, the machine, the load
average before and after, and whether another heavy job was running meanwhile.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RAW = RESULTS / "raw"
#: Processes whose presence makes a measurement suspect (pgrep -f patterns).
HEAVY_JOBS = ("sketch2idol train", "sketch2idol export", "pytest")
PROFILES = ("quick", "full")
#: lscpu flags worth naming in the report (SIMD width, VNNI, AMX, bf16, fp16).
NOTABLE_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
                 "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def heavy_jobs() -> list[str]:
    """Command lines of other heavy jobs running now (training, test suites)."""
    found = []
    for pattern in HEAVY_JOBS:
        result = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
        for line in result.stdout.splitlines():
            pid, _, command = line.partition(" ")
            if int(pid) != os.getpid() and "pgrep" not in command:
                found.append(command[:120])
    return found


def wait_quiet(max_wait_s: float = 1800.0, poll_s: float = 10.0) -> float:
    """Wait (up to max_wait_s) until no other heavy job runs; returns the seconds waited.

    Two cores are easily disturbed: a test suite beside a 2-thread model slows it several
    times over (OpenMP threads wait for the one that lost its core), so points are measured
    only when the machine is otherwise idle, or flagged when the wait ran out.
    """
    started = time.monotonic()
    announced = False
    while (jobs := heavy_jobs()) and time.monotonic() - started < max_wait_s:
        if not announced:
            print(f"waiting for other jobs to finish: {jobs[0]} ...", file=sys.stderr,
                  flush=True)
            announced = True
        time.sleep(poll_s)
    if announced:
        time.sleep(poll_s)  # let their last processes exit and caches settle
    return round(time.monotonic() - started, 1)


def lscpu() -> dict[str, str]:
    result = subprocess.run(["lscpu"], capture_output=True, text=True, check=False)
    fields = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def machine() -> dict:
    """CPU model, cores, notable flags, RAM, and the versions of the numeric stack."""
    cpu = lscpu()
    flags = cpu.get("Flags", "").split()
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    versions = {"python": platform.python_version()}
    for module in ("numpy", "torch", "onnxruntime", "faiss"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    return {
        "cpu": cpu.get("Model name", platform.processor()),
        "cpus": int(cpu.get("CPU(s)", os.cpu_count() or 0)),
        "threads_per_core": int(cpu.get("Thread(s) per core", "1")),
        "hypervisor": cpu.get("Hypervisor vendor", ""),
        "l2": cpu.get("L2 cache", ""), "l3": cpu.get("L3 cache", ""),
        "flags": [flag for flag in NOTABLE_FLAGS if flag in flags],
        "ram_gib": round(memory_kib / 2**20, 1),
        "versions": versions,
    }


class Run:
    """One benchmark invocation: its command, load before/after, raw rows and summary."""

    def __init__(self, name: str, profile: str = "quick", results: Path = RESULTS):
        self.name = name
        self.results = Path(results)
        self.profile = profile
        self.command = "python -m benchmarks." + name + " " + shlex.join(sys.argv[1:])
        self.started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        self.load_before = load_average()
        self.jobs_before = heavy_jobs()
        self.rows: list[dict] = []
        self.waited_s = 0.0
        self.disturbed: list[str] = []  # heavy jobs seen while measuring
        if self.jobs_before:
            print(f"warning: other heavy jobs are running: {self.jobs_before}", file=sys.stderr)
        print(f"[{name}] {self.started}, load average {self.load_before}", flush=True)

    def quiet(self) -> None:
        """Call before each measurement: waits for other heavy jobs to end."""
        self.waited_s += wait_quiet()
        jobs = heavy_jobs()  # still running: the wait ran out
        self.disturbed += [job for job in jobs if job not in self.disturbed]

    def add(self, **row) -> dict:
        """Record a raw row, stamped with the load average at the time it was measured."""
        jobs = heavy_jobs()
        self.disturbed += [job for job in jobs if job not in self.disturbed]
        row = {**row, "load": load_average(), "other_jobs": len(jobs)}
        self.rows.append(row)
        return row

    def write(self, summary: dict) -> Path:
        """Raw CSV under results/raw/, summary JSON under results/; returns the JSON path."""
        raw = self.results / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        if self.rows:
            write_csv(raw / f"{self.name}.csv", self.rows)
        document = {
            "benchmark": self.name, "profile": self.profile, "command": self.command,
            "started": self.started,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "load_before": self.load_before, "load_after": load_average(),
            "other_jobs": sorted(set(self.disturbed + heavy_jobs())),
            "waited_for_quiet_s": self.waited_s,
            "machine": machine(), **summary,
        }
        path = self.results / f"{self.name}.json"
        path.write_text(json.dumps(document, indent=1, default=_plain) + "\n")
        print(f"[{self.name}] wrote {path} (load average {load_average()})")
        return path


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value)} is not JSON serialisable")


def write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def read_summary(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def percentiles(values_ms, points=(50, 95, 99)) -> dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ...} of latencies in ms (NaN for none)."""
    values = np.asarray(values_ms, np.float64)
    if values.size == 0:
        return {f"p{p}": float("nan") for p in points}
    return {f"p{p}": round(float(np.percentile(values, p)), 2) for p in points}


def timed_ms(function, repeats: int, warmup: int = 1) -> list[float]:
    """Wall times of `function()` in ms, after `warmup` untimed calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(1e3 * (time.perf_counter() - started))
    return times


def heldout(count: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Real held-out inputs (procedural faces of seed 1, never trained on): (sketches uint8
    [N, S, S], photos uint8 [N, S, S, 3])."""
    from sketch2idol.core.data.synth import render_sample

    samples = [render_sample(1, index, size) for index in range(count)]
    return (np.stack([sample[2] for sample in samples]),
            np.stack([sample[1] for sample in samples]))
