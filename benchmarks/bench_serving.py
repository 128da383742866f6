"""The seed-style baseline vs gateway→Triton, side by side, same load generator, same sketches.

    .venv/bin/python -m benchmarks.bench_serving [--profile quick|full] \
        [--repository model_repository] [--config NAME=SPEC ...]

In one run, one after the other on the same machine: the baseline
(benchmarks/baseline_server.py: FastAPI + PyTorch eager + brute-force NumPy KNN, one request
at a time), then for each Triton configuration the gateway (`sketch2idol gateway`) in front
of tritonserver. Each gets the same closed-loop concurrency sweep (benchmarks/loadgen.py,
real held-out sketches as PNG uploads, t = 0.5) and then open-loop runs at the same fixed
request rates (fractions of the baseline's best throughput): throughput at each
concurrency, p99 at matched request rates, and the ratios. For the gateway runs, Triton's
statistics give each model's queue and compute time per request and its average batch.

Configurations: `default` is the repository as exported; others are copies with config
changes, SPEC like `generator.instances=2,generator.threads=1,*.delay_us=5000` (see
benchmarks/triton_stats.py). Checks its results: every request answered 200, the baseline's
face equals the PyTorch reference and the gateway's is within SSIM 0.95 of it (PASS/FAIL).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from pathlib import Path

import httpx
import numpy as np
import tritonclient.http as httpclient
from PIL import Image
from skimage.metrics import structural_similarity

from benchmarks import loadgen, servers, triton_stats
from benchmarks.common import PROFILES, ROOT, Run, heldout
from sketch2idol.core.data.placement import place_drawing
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import DEFAULT_WEIGHTS
from sketch2idol.export.repository import weights_id

SWEEPS = {"quick": (1, 4, 8), "full": (1, 2, 4, 8, 16, 32)}
RATE_FRACTIONS = {"quick": (0.5, 0.9), "full": (0.25, 0.5, 0.75, 0.9)}
DURATION_S = {"quick": 8.0, "full": 20.0}
WARMUP_S = {"quick": 2.0, "full": 3.0}
#: Triton configurations compared by default (SPEC as in triton_stats.parse_overrides).
#: `tuned` won the exploration (2-core Xeon, 2026-11-24): two single-threaded generator
#: instances and two decoder instances overlap the stages without OpenMP threads waiting
#: for each other; longer batching delays only added latency (batching barely helps on CPU).
TUNED = "generator.instances=2,generator.threads=1,decoders.instances=2"
CONFIGS = {"quick": {"default": "", "tuned": TUNED},
           "full": {"default": "", "gen2": "generator.instances=2,generator.threads=1",
                    "tuned": TUNED}}


def reference_face(sketch: np.ndarray) -> np.ndarray:
    pipeline = Pipeline.from_weights()
    framed = place_drawing(np.stack([sketch] * 3, axis=-1), pipeline.size)
    return pipeline.run_batch(framed[None], 0.5)[1][0]


def stale_repository(repository: Path) -> str | None:
    """Why the repository does not serve the current weights/default, or None."""
    report = json.loads((repository / "export_report.json").read_text())
    exported, current = report["identity"]["weights_id"], weights_id(DEFAULT_WEIGHTS)
    if exported != current:
        return (f"{repository} was exported from weights {exported}, weights/default is now "
                f"{current}: run `make model-repository` (or export into --repository)")
    return None


def fetch_face(url: str, payload: bytes) -> np.ndarray:
    response = httpx.post(url + loadgen.ROUTE, files={"sketch": ("s.png", payload)},
                          data={"t": "0.5"}, timeout=60)
    response.raise_for_status()
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


class Sweep:
    """Closed- and open-loop runs against one URL, rows recorded into the Run."""

    def __init__(self, run: Run, args, payloads: list[bytes]):
        self.run, self.args, self.payloads = run, args, payloads

    def closed(self, target: str, url: str, stats=None) -> dict[int, dict]:
        results = {}
        for concurrency in self.args.levels:
            self.run.quiet()
            before = triton_stats.snapshot(stats) if stats else None
            samples = asyncio.run(loadgen.closed_loop(url, self.payloads, concurrency,
                                                      self.args.duration, self.args.warmup))
            summary = loadgen.summarize(samples, self.args.duration, self.args.warmup)
            if stats:
                summary["models"] = triton_stats.window(before, triton_stats.snapshot(stats))
            results[concurrency] = self.record(target, "closed", concurrency, summary)
        return results

    def open(self, target: str, url: str, rates: list[float]) -> dict[float, dict]:
        results = {}
        for rate in rates:
            self.run.quiet()
            samples = asyncio.run(loadgen.open_loop(url, self.payloads, rate,
                                                    self.args.duration, self.args.warmup))
            summary = loadgen.summarize(samples, self.args.duration, self.args.warmup,
                                        open_loop=True)
            results[rate] = self.record(target, "open", rate, summary)
        return results

    def record(self, target: str, mode: str, level: float, summary: dict) -> dict:
        models = summary.pop("models", {})
        row = self.run.add(target=target, mode=mode, level=level, **summary,
                           **{f"{m}.{k}": v for m, s in models.items() for k, v in s.items()})
        unit = "concurrency" if mode == "closed" else "req/s"
        print(f"  {target:<18} {mode:<6} {unit} {level:>5}: {summary['throughput']:6.2f} req/s "
              f" p50 {summary['p50']:8.1f}  p95 {summary['p95']:8.1f}  p99 {summary['p99']:8.1f}"
              f" ms  errors {summary['errors']}  (load {row['load']})", flush=True)
        return {**summary, "models": models, "load": row["load"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=SPEC",
                        help="a Triton configuration to compare (default: the profile's)")
    parser.add_argument("--duration", type=float, help="seconds per point (after warm-up)")
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--sketches", type=int, default=16)
    parser.add_argument("--no-baseline", action="store_true", help="only the gateway runs")
    parser.add_argument("--concurrency", help="comma-separated closed-loop levels "
                                              "(default: the profile's)")
    args = parser.parse_args()
    args.levels = ([int(c) for c in args.concurrency.split(",")] if args.concurrency
                   else SWEEPS[args.profile])
    args.duration = args.duration or DURATION_S[args.profile]
    args.warmup = args.warmup if args.warmup is not None else WARMUP_S[args.profile]
    configs = (dict(spec.split("=", 1) for spec in args.config) if args.config
               else CONFIGS[args.profile])
    stale = stale_repository(args.repository)
    if stale:
        sys.exit(f"FAIL: {stale}")
    run = Run("bench_serving", args.profile)
    sketches, _ = heldout(args.sketches)
    payloads = loadgen.png_payloads(sketches)
    sweep = Sweep(run, args, payloads)
    reference = reference_face(sketches[0])
    results: dict[str, dict] = {}
    checks: dict[str, float] = {}

    rates: list[float] = []
    if not args.no_baseline:
        print("baseline (seed style)", flush=True)
        with servers.baseline_server() as url:
            checks["baseline"] = float(np.mean(
                np.abs(fetch_face(url, payloads[0]).astype(int) - reference) <= 1))
            closed = sweep.closed("baseline", url)
            best = max(point["throughput"] for point in closed.values())
            rates = [round(f * best, 2) for f in RATE_FRACTIONS[args.profile]]
            results["baseline"] = {"closed": closed, "open": sweep.open("baseline", url, rates)}

    for name, spec in configs.items():
        repository = args.repository
        if spec:
            repository = triton_stats.variant_repository(
                args.repository, servers.WORK / "repos" / name,
                triton_stats.parse_overrides(spec))
        print(f"gateway -> Triton [{name}] {spec or '(as exported)'}", flush=True)
        target = f"gateway:{name}"
        with servers.triton_server(repository, name) as triton, \
                servers.gateway(triton, repository) as url:
            stats = httpclient.InferenceServerClient(triton.http_address)
            face = fetch_face(url, payloads[0])
            checks[target] = float(structural_similarity(face, reference, channel_axis=2))
            closed = sweep.closed(target, url, stats)
            results[target] = {"spec": spec, "closed": closed,
                               "open": sweep.open(target, url, rates) if rates else {}}

    failures = [f"{t}: {r['closed'][c]['errors']} errors at concurrency {c}"
                for t, r in results.items() for c in r["closed"] if r["closed"][c]["errors"]]
    if "baseline" in checks and checks["baseline"] < 0.99:
        failures.append(f"baseline face differs from the reference ({checks['baseline']:.3f})")
    failures += [f"{t} face SSIM {v:.3f} < 0.95 vs the reference" for t, v in checks.items()
                 if t != "baseline" and v < 0.95]
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    run.write({"duration_s": args.duration, "warmup_s": args.warmup,
               "sketches": args.sketches, "repository": str(args.repository),
               "configs": configs, "rates": rates, "checks": checks, "failures": failures,
               "results": results})
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
