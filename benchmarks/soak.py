"""Soak: sustained load through gateway -> Triton, watching failures, memory and the p99.

    .venv/bin/python -m benchmarks.soak [--duration 600] [--concurrency 16] [--warmup 60] \
        [--window 60] [--interval 5] [--repository model_repository] [--out benchmarks/results]
    .venv/bin/python -m benchmarks.soak --url http://127.0.0.1:8080 --gateway-pid N \
        --triton-pid N ...                     # attach to servers already running
    .venv/bin/python -m benchmarks.soak --report   # RELIABILITY.md's soak block from soak.json

Starts tritonserver on `--repository` and a gateway in front of it (or attaches to `--url`),
then runs `--concurrency` closed-loop clients (benchmarks/loadgen.py: real held-out sketches
as PNG uploads, t = 0.5) for `--warmup` + `--duration` seconds, while benchmarks/rss.py
samples the resident memory (VmRSS) of the gateway, tritonserver and every Python-backend
stub every `--interval` seconds.

Every request counts, warm-up included: 200 = succeeded; 429 = rejected (the gateway is
started with S2I_MAX_CONCURRENCY equal to the offered concurrency, so a 429 means a lost
slot, and it fails the soak like any other error); anything else, or no answer, = failed.
The gateway's per-client limits (S2I_MAX_CLIENT_CONCURRENCY, S2I_RATE_LIMIT_PER_S) are raised
likewise: the 16 clients stand for 16 users but share one address (`gateway_env`). The
soak passes when no request failed or was rejected, no serving process died or was
restarted, every process's RSS grew by less than `--max-growth` % from the end of the
warm-up to the end (each the median of the samples over `--memory-span` seconds), and the
p99 of the last `--window` is at most `--max-p99-ratio` times the first one's (0 skips that
check). Otherwise it exits 1 with one line saying why.

Writes benchmarks/results/soak.json (summary, with the command, machine and load average),
raw/soak.csv (the memory samples), raw/soak_requests.csv (every request) and soak.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import loadgen, plots, rss
from benchmarks.common import RESULTS, ROOT, Run, heldout, percentiles, write_csv

NAME = "soak"
REPORT = ROOT / "RELIABILITY.md"


@dataclass(frozen=True)
class SoakOptions:
    duration_s: float = 600.0  # measured, after the warm-up
    concurrency: int = 16
    warmup_s: float = 60.0
    window_s: float = 60.0  # latency windows
    interval_s: float = 5.0  # memory samples
    memory_span_s: float = 30.0  # RSS at the warm-up's end / at the end: medians over this
    sketches: int = 16
    t: float = 0.5


@dataclass(frozen=True)
class Criteria:
    max_growth_pct: float = 10.0  # RSS growth from the warm-up's end to the end, per process
    max_p99_ratio: float | None = 1.5  # last window's p99 / first window's; None: no check


@dataclass
class SoakResult:
    options: SoakOptions
    requests: list[loadgen.Sample]
    memory: list[rss.RssSample]
    restarts: list[tuple] = field(default_factory=list)
    vanished: list[tuple] = field(default_factory=list)
    seconds: float = 0.0


def gateway_env(concurrency: int) -> dict[str, str]:
    """Gateway settings for a soak at `concurrency` clients, all from one address: exactly
    that many requests at once are accepted, in all and per client, so a slot the gateway
    fails to give back shows up as 429s. The per-client rate limit stays on the path but
    cannot bind (1000/s against the ~10/s two cores serve)."""
    return {"S2I_MAX_CONCURRENCY": str(concurrency),
            "S2I_MAX_CLIENT_CONCURRENCY": str(concurrency),
            "S2I_RATE_LIMIT_PER_S": "1000", "S2I_RATE_LIMIT_BURST": "1000"}


def run_soak(url: str, discover: Callable[[], dict[str, int]],
             options: SoakOptions) -> SoakResult:
    """The closed-loop load against `url`, memory of `discover()`'s processes sampled."""
    payloads = loadgen.png_payloads(heldout(options.sketches)[0])
    sampler = rss.RssSampler(discover, options.interval_s)
    started = time.perf_counter()
    sampler.start(origin=started)
    try:
        requests = asyncio.run(loadgen.closed_loop(url, payloads, options.concurrency,
                                                   options.duration_s, options.warmup_s,
                                                   options.t))
    finally:
        sampler.stop()
    return SoakResult(options, requests, sampler.samples, sampler.restarts, sampler.vanished,
                      round(time.perf_counter() - started, 1))


def count_requests(samples: list[loadgen.Sample]) -> dict:
    """Every request sent, warm-up included: succeeded (200), rejected (429), failed."""
    failures: dict[str, int] = {}
    for sample in samples:
        if sample.status not in (200, 429):
            key = "no answer" if sample.status == 0 else str(sample.status)
            failures[key] = failures.get(key, 0) + 1
    return {"sent": len(samples), "succeeded": sum(s.status == 200 for s in samples),
            "rejected": sum(s.status == 429 for s in samples),
            "failed": sum(failures.values()), "failures": failures}


def latency_windows(samples: list[loadgen.Sample], memory: list[rss.RssSample],
                    options: SoakOptions) -> list[dict]:
    """Equal windows (about `window_s` each) over the measured span, by start time: the
    successful requests' count, rate, p50 and p99, and the load average at the window's end."""
    count = max(1, round(options.duration_s / options.window_s))
    width = options.duration_s / count
    windows = []
    for index in range(count):
        start = options.warmup_s + index * width
        end = start + width
        latencies = [1e3 * s.latency for s in samples
                     if s.status == 200 and start <= s.started < end]
        loads = [m.load_1m for m in memory if m.t_s <= end]
        windows.append({"start_s": round(start, 1), "end_s": round(end, 1),
                        "requests": len(latencies),
                        "throughput": round(len(latencies) / width, 2),
                        **percentiles(latencies, (50, 99)),
                        "load_1m": loads[-1] if loads else None})
    return windows


def memory_growth(memory: list[rss.RssSample], warmup_s: float,
                  span_s: float = 30.0) -> dict[str, dict]:
    """Per process: VmRSS (MiB) at the end of the warm-up and at the end (each the median of
    the samples over `span_s`, which smooths out the uploads and batches in flight at one
    instant), its peak, and the growth between the first two (%); RssAnon likewise."""
    result = {}
    for name in dict.fromkeys(m.process for m in memory):
        series = [m for m in memory if m.process == name]
        after = [m for m in series if m.t_s >= warmup_s]
        if not after:
            continue
        first = [m for m in after if m.t_s < after[0].t_s + span_s]
        last = [m for m in after if m.t_s > after[-1].t_s - span_s]
        start_kib, end_kib = (float(np.median([m.rss_kib for m in part]))
                              for part in (first, last))
        start_anon, end_anon = (float(np.median([m.anon_kib for m in part]))
                                for part in (first, last))
        result[name] = {
            "pids": sorted({m.pid for m in series}),
            "warmup_end_mib": round(start_kib / 1024, 1),
            "end_mib": round(end_kib / 1024, 1),
            "peak_mib": round(max(m.rss_kib for m in series) / 1024, 1),
            "growth_pct": round(100 * (end_kib - start_kib) / start_kib, 2),
            "anon_growth_pct": round(100 * (end_anon - start_anon) / max(start_anon, 1), 2),
            "samples": [len(first), len(last)],
        }
    return result


def verdict(summary: dict, criteria: Criteria) -> list[str]:
    """Why the soak failed (one short phrase per failed criterion); empty when it passed."""
    reasons = []
    counts = summary["requests"]
    if counts["failed"]:
        detail = ", ".join(f"{n} x {status}" for status, n in counts["failures"].items())
        reasons.append(f"{counts['failed']} of {counts['sent']} requests failed ({detail})")
    if counts["rejected"]:
        reasons.append(f"{counts['rejected']} of {counts['sent']} requests were rejected with "
                       "429 (the gateway refused load it was configured to accept)")
    if not counts["succeeded"]:
        reasons.append("no request succeeded")
    for t_s, name, old, new in summary["restarts"]:
        reasons.append(f"{name} was restarted at {t_s:.0f} s (pid {old} -> {new})")
    for t_s, name, pid in summary["vanished"]:
        reasons.append(f"{name} (pid {pid}) went away at {t_s:.0f} s")
    if not summary["memory"]:
        reasons.append("no memory samples after the warm-up")
    for name, grown in summary["memory"].items():
        if grown["growth_pct"] >= criteria.max_growth_pct:
            reasons.append(f"{name} RSS grew {grown['growth_pct']:.1f}% after the warm-up "
                           f"({grown['warmup_end_mib']} -> {grown['end_mib']} MiB; limit "
                           f"{criteria.max_growth_pct:g}%)")
    ratio = summary["p99_ratio"]
    if criteria.max_p99_ratio and ratio is not None and ratio > criteria.max_p99_ratio:
        first, last = summary["windows"][0], summary["windows"][-1]
        reasons.append(f"p99 rose {ratio:.2f}x from the first window to the last "
                       f"({first['p99']:.0f} -> {last['p99']:.0f} ms; load average "
                       f"{first['load_1m']} -> {last['load_1m']}; limit "
                       f"{criteria.max_p99_ratio:g}x)")
    return reasons


def summarise(result: SoakResult, criteria: Criteria) -> dict:
    options = result.options
    windows = latency_windows(result.requests, result.memory, options)
    measured = [1e3 * s.latency for s in result.requests
                if s.status == 200 and s.started >= options.warmup_s]
    p99s = [w["p99"] for w in windows if w["requests"]]
    summary = {
        "options": asdict(options), "criteria": asdict(criteria), "seconds": result.seconds,
        "requests": count_requests(result.requests),
        "throughput": round(len(measured) / options.duration_s, 2),
        "latency_ms": percentiles(measured),
        "windows": windows,
        "p99_ratio": round(p99s[-1] / p99s[0], 3) if len(p99s) >= 2 and p99s[0] else None,
        "memory": memory_growth(result.memory, options.warmup_s, options.memory_span_s),
        "restarts": result.restarts, "vanished": result.vanished,
        "gpu": Path("/dev/nvidia0").exists(),
    }
    summary["reasons"] = verdict(summary, criteria)
    summary["verdict"] = "fail" if summary["reasons"] else "pass"
    return summary


def write_outputs(run: Run, result: SoakResult, summary: dict) -> Path:
    """raw/<name>.csv (memory), raw/<name>_requests.csv, <name>.png and <name>.json."""
    raw = run.results / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    run.rows = [asdict(sample) for sample in result.memory]
    write_csv(raw / f"{run.name}_requests.csv",
              [{"started_s": round(s.started, 3), "latency_ms": round(1e3 * s.latency, 1),
                "status": s.status} for s in result.requests])
    figure = plots.soak(summary, run.rows, run.results / f"{run.name}.png")
    summary = {**summary, "figure": figure.relative_to(ROOT) if figure.is_relative_to(ROOT)
               else figure}
    return run.write(summary)


@contextlib.contextmanager
def started_servers(repository: Path, concurrency: int):
    """tritonserver and a gateway in front of it; yields (url, discover)."""
    from benchmarks import servers

    with servers.triton_server(repository, NAME) as triton, \
            servers.gateway_process(triton, repository, concurrency, log_name="soak-gateway.log",
                                    env=gateway_env(concurrency)) as (gateway, url):
        yield url, lambda: rss.serving_processes(gateway.pid, triton.pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults, limits = SoakOptions(), Criteria()
    parser.add_argument("--duration", type=float, default=defaults.duration_s,
                        help="seconds measured after the warm-up")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--warmup", type=float, default=defaults.warmup_s)
    parser.add_argument("--window", type=float, default=defaults.window_s,
                        help="seconds per latency window")
    parser.add_argument("--interval", type=float, default=defaults.interval_s,
                        help="seconds between memory samples")
    parser.add_argument("--memory-span", type=float, default=defaults.memory_span_s,
                        help="seconds of memory samples whose median is 'at the end of the "
                        "warm-up' and 'at the end'")
    parser.add_argument("--max-growth", type=float, default=limits.max_growth_pct,
                        help="largest RSS growth after the warm-up, %%")
    parser.add_argument("--max-p99-ratio", type=float, default=limits.max_p99_ratio,
                        help="largest p99 of the last window / the first (0: no check)")
    parser.add_argument("--repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--url", help="attach to this gateway instead of starting servers")
    parser.add_argument("--gateway-pid", type=int, help="with --url: the gateway's pid")
    parser.add_argument("--triton-pid", type=int, help="with --url: tritonserver's pid")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--report", action="store_true",
                        help="only rewrite RELIABILITY.md's soak block from <out>/soak.json")
    args = parser.parse_args(argv)
    if args.report:
        from benchmarks import soak_report

        print(soak_report.update(REPORT, args.out / f"{NAME}.json"))
        return 0
    options = SoakOptions(args.duration, args.concurrency, args.warmup, args.window,
                          args.interval, args.memory_span)
    criteria = Criteria(args.max_growth, args.max_p99_ratio or None)
    run = Run(NAME, results=args.out)
    if args.url:
        result = run_soak(args.url, lambda: rss.serving_processes(args.gateway_pid,
                                                                  args.triton_pid), options)
    else:
        with started_servers(args.repository, args.concurrency) as (url, discover):
            print(f"[{NAME}] {url}: {args.concurrency} clients, {args.warmup:g} s warm-up + "
                  f"{args.duration:g} s", flush=True)
            result = run_soak(url, discover, options)
    summary = summarise(result, criteria)
    write_outputs(run, result, summary)
    counts = summary["requests"]
    print(f"[{NAME}] {counts['sent']} sent, {counts['succeeded']} succeeded, "
          f"{counts['rejected']} rejected, {counts['failed']} failed; p99 per window (ms): "
          + ", ".join(f"{w['p99']:.0f}" for w in summary["windows"]))
    for name, grown in summary["memory"].items():
        print(f"[{NAME}] {name}: {grown['warmup_end_mib']} -> {grown['end_mib']} MiB "
              f"({grown['growth_pct']:+.1f}%)")
    if summary["reasons"]:
        print(f"soak failed: {'; '.join(summary['reasons'])}", file=sys.stderr)
        return 1
    print(f"[{NAME}] passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
