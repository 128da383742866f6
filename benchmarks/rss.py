"""Resident memory of the serving processes, read from /proc (Linux), sampled in a thread.

    processes = serving_processes(gateway_pid, triton_pid)
    # {"gateway": 812, "tritonserver": 640, "generator": 655, "encoders": 652, ...}
    with RssSampler(lambda: serving_processes(gateway_pid, triton_pid), interval_s=5) as s:
        ...  load  ...
    s.samples   # [RssSample(t_s, process, pid, rss_kib, anon_kib, load_1m), ...]

Python-backend stubs (`triton_python_backend_stub`, children of tritonserver) are named by
the model in their command line (`.../<model>/<version>/model.py`), or by their instance
name (`generator_0_1`) when a model has several. The process list is looked up again at
every sample, so a stub that Triton restarted shows up as a new pid under the same name.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sketch2idol.launch.tritonserver import STUB_NAME, stub_processes

PROC = Path("/proc")


@dataclass(frozen=True)
class RssSample:
    t_s: float  # seconds since the sampler started
    process: str
    pid: int
    rss_kib: int  # VmRSS
    anon_kib: int  # RssAnon: heap and anonymous maps, where a leak would show
    load_1m: float  # the machine's 1-minute load average at that moment


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, RssAnon) of a process in KiB, or None when it is gone."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            fields[key] = int(value.split()[0])
    if "VmRSS" not in fields:  # a zombie has no memory lines
        return None
    return fields["VmRSS"], fields.get("RssAnon", 0)


def stub_identity(argv: list[str]) -> tuple[str, str] | None:
    """(model, instance) of a Python-backend stub's command line, None for anything else.

    The stub is started as `triton_python_backend_stub <repo>/<model>/<version>/model.py
    <shm region> <shm size> <shm growth> <parent pid> <backend dir> <ipc size> <instance>
    <device>`; the instance name is missing from older backends.
    """
    if not argv or not argv[0].endswith(STUB_NAME) or len(argv) < 2:
        return None
    model = Path(argv[1]).parent.parent.name
    instance = argv[8] if len(argv) > 8 else model
    return model, instance


def python_stubs(triton_pid: int) -> dict[str, int]:
    """The Python-backend stubs tritonserver started, by model name (instance name where a
    model runs several)."""
    found: list[tuple[str, str, int]] = []
    for pid, argv in stub_processes(parent=triton_pid).items():
        identity = stub_identity([part.decode(errors="replace") for part in argv if part])
        if identity:
            found.append((*identity, pid))
    per_model: dict[str, int] = {}
    for model, _, _ in found:
        per_model[model] = per_model.get(model, 0) + 1
    return {(model if per_model[model] == 1 else instance): pid
            for model, instance, pid in sorted(found)}


def serving_processes(gateway_pid: int | None, triton_pid: int | None) -> dict[str, int]:
    """Name -> pid of the gateway, tritonserver and its Python-backend stubs (those given)."""
    processes = {}
    if gateway_pid:
        processes["gateway"] = gateway_pid
    if triton_pid:
        processes["tritonserver"] = triton_pid
        processes.update(python_stubs(triton_pid))
    return processes


class RssSampler:
    """Samples the memory of `discover()`'s processes every `interval_s`, in a thread.

    `samples` holds every reading; `restarts` lists (t_s, name, old pid, new pid) whenever a
    name came back with another pid, `vanished` (t_s, name, pid) when one went away.
    """

    def __init__(self, discover: Callable[[], dict[str, int]], interval_s: float = 5.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.discover = discover
        self.interval_s = interval_s
        self.clock = clock
        self.origin = clock()
        self.samples: list[RssSample] = []
        self.restarts: list[tuple[float, str, int, int]] = []
        self.vanished: list[tuple[float, str, int]] = []
        self._pids: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample_once(self) -> None:
        t_s = round(self.clock() - self.origin, 3)
        current = self.discover()
        load = round(os.getloadavg()[0], 2)
        for name, pid in self._pids.items():
            if name not in current:
                self.vanished.append((t_s, name, pid))
        for name, pid in current.items():
            if name in self._pids and self._pids[name] != pid:
                self.restarts.append((t_s, name, self._pids[name], pid))
            memory = memory_kib(pid)
            if memory is not None:
                self.samples.append(RssSample(t_s, name, pid, *memory, load))
        self._pids = current

    def _run(self) -> None:
        next_at = self.clock()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - self.clock()))

    def start(self, origin: float | None = None) -> RssSampler:
        """Start sampling; times count from `origin` (a `clock()` reading; default now)."""
        self.origin = self.clock() if origin is None else origin
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and take one last sample."""
        self._stop.set()
        self._thread.join()
        self.sample_once()

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
