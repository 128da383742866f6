"""The soak's bookkeeping without servers: stub names, the memory sampler, and that every
criterion of benchmarks/soak.py fails the soak when it should (the live soak:
test_soak.py)."""

from __future__ import annotations

import os
import subprocess

from benchmarks.loadgen import Sample
from benchmarks.rss import RssSample, RssSampler, memory_kib, stub_identity
from benchmarks.soak import Criteria, SoakOptions, SoakResult, summarise

OPTIONS = SoakOptions(duration_s=40.0, concurrency=4, warmup_s=10.0, window_s=20.0,
                      interval_s=2.0, memory_span_s=4.0)
STUB = "/venv/backends/python/triton_python_backend_stub"


def test_stubs_are_named_by_model_and_instance():
    argv = [STUB, "/repo/generator/1/model.py", "triton_python_backend_shm_region_x", "1048576",
            "1048576", "123", "/venv/backends/python", "336", "generator_0_1", "DEFAULT"]
    assert stub_identity(argv) == ("generator", "generator_0_1")
    assert stub_identity(argv[:8]) == ("generator", "generator")  # no instance name
    assert stub_identity(["/usr/bin/python", "-m", "x"]) is None


def test_sampler_reads_memory_and_notices_a_restarted_process():
    child = subprocess.Popen(["sleep", "30"])
    try:
        pids = iter([{"server": os.getpid()}, {"server": child.pid}, {}])
        sampler = RssSampler(lambda: next(pids))
        for _ in range(3):
            sampler.sample_once()
    finally:
        child.kill()
        child.wait()
    assert [s.pid for s in sampler.samples] == [os.getpid(), child.pid]
    assert sampler.samples[0].rss_kib > 10 * 1024 > sampler.samples[1].rss_kib  # pytest; sleep
    assert 0 < sampler.samples[0].anon_kib < sampler.samples[0].rss_kib
    assert [(name, old, new) for _, name, old, new in sampler.restarts] == \
        [("server", os.getpid(), child.pid)]
    assert [(name, pid) for _, name, pid in sampler.vanished] == [("server", child.pid)]
    assert memory_kib(child.pid) is None  # reaped: gone


def steady_requests(count: int = 200, latency_s: float = 0.5) -> list[Sample]:
    span = OPTIONS.warmup_s + OPTIONS.duration_s
    return [Sample(span * i / count, latency_s, 200) for i in range(count)]


def memory(growth: float = 0.0, name: str = "gateway") -> list[RssSample]:
    """A process at 100 MiB, up by `growth` from halfway through the measured span."""
    samples = []
    for step in range(26):
        t_s = 2.0 * step
        rss = int(102400 * (1 + growth * (t_s >= OPTIONS.warmup_s + OPTIONS.duration_s / 2)))
        samples.append(RssSample(t_s, name, 42, rss, rss // 2, 1.0))
    return samples


def test_a_steady_soak_passes():
    summary = summarise(SoakResult(OPTIONS, steady_requests(), memory()), Criteria())
    assert summary["verdict"] == "pass", summary["reasons"]
    assert summary["requests"] == {"sent": 200, "succeeded": 200, "rejected": 0, "failed": 0,
                                   "failures": {}}
    assert summary["memory"]["gateway"]["growth_pct"] == 0.0
    assert [w["requests"] for w in summary["windows"]] == [80, 80]
    assert summary["p99_ratio"] == 1.0


def test_a_leak_fails_the_soak():
    summary = summarise(SoakResult(OPTIONS, steady_requests(), memory(growth=0.12)),
                        Criteria(max_growth_pct=10.0))
    assert summary["verdict"] == "fail"
    assert summary["reasons"] == ["gateway RSS grew 12.0% after the warm-up (100.0 -> 112.0 MiB;"
                                  " limit 10%)"]


def test_errors_and_429s_fail_the_soak_even_during_the_warm_up():
    requests = steady_requests()
    requests[0] = Sample(0.0, 10.0, 503)  # in the warm-up
    requests[5] = Sample(1.0, 120.0, 0)  # no answer
    requests[150] = Sample(37.5, 0.001, 429)
    summary = summarise(SoakResult(OPTIONS, requests, memory()), Criteria())
    counts = summary["requests"]
    assert (counts["succeeded"], counts["rejected"], counts["failed"]) == (197, 1, 2)
    assert counts["failures"] == {"503": 1, "no answer": 1}
    assert summary["reasons"][0] == "2 of 200 requests failed (1 x 503, 1 x no answer)"
    assert summary["reasons"][1].startswith("1 of 200 requests were rejected with 429")


def test_a_rising_p99_and_a_restarted_stub_fail_the_soak():
    requests = [Sample(s.started, 2.0 if s.started >= 30.0 else s.latency, s.status)
                for s in steady_requests()]
    result = SoakResult(OPTIONS, requests, memory(), restarts=[(20.0, "generator", 7, 8)])
    summary = summarise(result, Criteria(max_p99_ratio=1.5))
    assert summary["p99_ratio"] == 4.0
    assert summary["reasons"][0] == "generator was restarted at 20 s (pid 7 -> 8)"
    assert summary["reasons"][1].startswith("p99 rose 4.00x from the first window to the last")
    assert summarise(result, Criteria(max_p99_ratio=None))["reasons"] == \
        summary["reasons"][:1]
