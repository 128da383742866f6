"""BENCHMARKS.md and its figures, rebuilt from the summaries in benchmarks/results/*.json.

    .venv/bin/python -m benchmarks.report      (the last step of `make bench` / `bench-full`)

Tables and target verdicts are computed here from the numbers the benchmarks wrote, each
under the command that produced it; the conclusions are hand-written in
benchmarks/conclusions.md and included as they are.
"""

from __future__ import annotations

import math

from benchmarks import plots
from benchmarks.common import RESULTS, ROOT, read_summary

REPORT = ROOT / "BENCHMARKS.md"
CONCLUSIONS = ROOT / "benchmarks" / "conclusions.md"
NETWORKS = ("encoders", "decoders", "generator")
RUNTIMES = ("torch", "ort-fp32", "ort-int8")


def fmt(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits if abs(value) >= 10 else max(digits, 2)}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance(summary: dict) -> str:
    jobs = summary.get("other_jobs") or []
    note = f"; **other jobs running**: {'; '.join(jobs)}" if jobs else ""
    return (f"`{summary['command']}` ({summary['profile']} profile), {summary['started']} → "
            f"{summary['finished'][11:]}, load average before {summary['load_before']}, after "
            f"{summary['load_after']}{note}")


def machine_section(summaries: list[dict]) -> str:
    machine = summaries[0]["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    simd = "AVX-512" if "avx512f" in machine["flags"] else "AVX2 only, no AVX-512"
    return "\n".join([
        "## The machine", "",
        f"Every figure in this file was measured on this CPU: {machine['cpu']}, {simd}. "
        "Another CPU runs other FAISS, OpenBLAS and onnxruntime kernels (int8 without VNNI "
        "on AVX2), so its timings differ; compare ratios measured in one run.", "",
        f"- CPU: {machine['cpu']}, {machine['cpus']} vCPUs ({machine['threads_per_core']} "
        f"thread per core), {machine['hypervisor'] or 'bare metal'} guest; L2 {machine['l2']}, "
        f"L3 {machine['l3']}",
        f"- SIMD flags (lscpu): {', '.join(machine['flags'])}",
        f"- RAM: {machine['ram_gib']} GiB",
        f"- Software: {versions}", ""])


# -- targets ---------------------------------------------------------------------------------

def roof_for(roof: dict | None, kind: str, threads: int) -> float | None:
    if not roof:
        return None
    entry = roof["best"].get(f"{kind}@{threads}") or roof["roof"][kind]
    return entry["gops"]


def achieved(variants: dict, network: str, runtime: str, batch: int) -> float | None:
    row = variants["timings"].get(f"{network}/{runtime}/{batch}")
    if not row:
        return None
    return 2 * row["gmacs"] / (row["ms_per_image"] / 1e3)


def targets(serving, knn, variants, roof) -> str:
    rows = []
    if serving and "baseline" in serving["results"]:
        base = serving["results"]["baseline"]
        for target, result in serving["results"].items():
            if target == "baseline":
                continue
            c8 = result["closed"].get("8")
            if c8 and base["closed"].get("8"):
                ratio = c8["throughput"] / base["closed"]["8"]["throughput"]
                rows.append([f"{target} throughput at concurrency 8 ≥ 3× baseline",
                             f"{ratio:.2f}× ({c8['throughput']} vs "
                             f"{base['closed']['8']['throughput']} req/s)",
                             verdict(ratio >= 3, f"{ratio / 3:.0%} of the target")])
            lower = [(rate, result["open"][rate]["p99"], base["open"][rate]["p99"])
                     for rate in result["open"] if rate in base["open"]]
            if lower:
                wins = sum(g < b for _, g, b in lower)
                detail = ", ".join(f"{float(r):g}/s: {g:.0f} vs {b:.0f} ms" for r, g, b in lower)
                rows.append([f"{target} p99 lower than baseline at every matched rate",
                             detail, verdict(wins == len(lower),
                                             f"lower at {wins} of {len(lower)} rates")])
            c1 = result["closed"].get("1")
            if c1:
                rows.append([f"{target} interactive p50 ≤ 150 ms (one request at a time)",
                             f"{c1['p50']:.1f} ms", verdict(c1["p50"] <= 150,
                                                            f"{c1['p50'] - 150:+.1f} ms")])
    if knn and knn.get("best"):
        size = max(int(s) for s in knn["best"])
        best = knn["best"][str(size)]
        numpy_row = next(r for r in knn["rows"] if r["family"] == "numpy" and r["rows"] == size)
        speedup = numpy_row["ms_batch32"] / best["ms_batch32"]
        label = f"{best['family']} {best['build']} {best['search']}".strip()
        rows.append([f"KNN at {size:,} rows: ≥ 50× NumPy at batch 32, recall@10 ≥ 0.95",
                     f"{label}: {speedup:.0f}×, recall {best['recall10']:.3f}",
                     verdict(speedup >= 50 and size >= 1_000_000,
                             "measured only to 100k rows (quick profile)" if size < 1_000_000
                             else f"{speedup / 50:.0%} of the target")])
    if variants and roof:
        for runtime, kind in (("ort-int8", "int8"), ("ort-fp32", "fp32")):
            rate = achieved(variants, "generator", runtime, 8)
            peak = roof_for(roof, kind, variants["threads"])
            if rate and peak:
                fraction = rate / peak
                rows.append([f"generator ({runtime}, batch 8) ≥ 50% of the {kind} roof",
                             f"{rate:.0f} of {peak:.0f} G/s = {fraction:.0%}",
                             verdict(fraction >= 0.5, f"{fraction / 0.5:.0%} of the target")])
    if not rows:
        return ""
    return "\n".join(["## Targets", "", table(["target", "measured", "verdict"], rows), ""])


def verdict(ok: bool, miss: str) -> str:
    return "**met**" if ok else f"missed: {miss}"


# -- sections --------------------------------------------------------------------------------

def serving_section(serving: dict) -> str:
    results = serving["results"]
    targets_ = list(results)
    header = ["concurrency"]
    for target in targets_:
        header += [f"{target} req/s", "p50 ms", "p99 ms"]
        if target != "baseline" and "baseline" in results:
            header.append("× baseline")
    rows = []
    levels = sorted({int(c) for r in results.values() for c in r["closed"]})
    for level in levels:
        row = [level]
        for target in targets_:
            point = results[target]["closed"].get(str(level), {})
            row += [point.get("throughput"), point.get("p50"), point.get("p99")]
            if target != "baseline" and "baseline" in results:
                base = results["baseline"]["closed"].get(str(level))
                row.append(f"{point['throughput'] / base['throughput']:.2f}×"
                           if point and base and base["throughput"] else "–")
        rows.append(row)
    parts = ["## Serving: the seed-style baseline vs gateway → Triton", "", provenance(serving),
             "", "Closed loop (each of `concurrency` clients sends its next upload when the "
             "last one is answered), HTTP through `benchmarks/loadgen.py`, "
             f"{serving['sketches']} real held-out sketches as PNG uploads, t = 0.5, "
             f"{serving['duration_s']:g} s per point after {serving['warmup_s']:g} s warm-up. "
             "Configurations: " + "; ".join(f"`{k}` = {v or 'as exported'}"
                                            for k, v in serving["configs"].items()) + ".", "",
             table(header, rows), ""]
    if serving.get("rates"):
        header = ["rate req/s"]
        for target in targets_:
            header += [f"{target} p50", "p99 ms"]
            if target != "baseline":
                header.append("p99 baseline / this")
        rows = []
        for rate in serving["rates"]:
            key = str(rate)
            row = [rate]
            for target in targets_:
                point = results[target]["open"].get(key, {})
                row += [point.get("p50"), point.get("p99")]
                if target != "baseline":
                    base = results.get("baseline", {}).get("open", {}).get(key)
                    row.append(f"{base['p99'] / point['p99']:.2f}×" if base and point
                               and point.get("p99") else "–")
            rows.append(row)
        parts += ["Open loop at matched request rates (fractions of the baseline's best "
                  "throughput; latency from the scheduled start, so queueing counts):", "",
                  table(header, rows), ""]
    for target in targets_:
        if target == "baseline":
            continue
        rows = []
        for level, point in sorted(results[target]["closed"].items(), key=lambda i: int(i[0])):
            for model, stats in point.get("models", {}).items():
                rows.append([level, model, stats["avg_batch"], stats["queue_ms"],
                             stats["compute_ms"]])
        if rows:
            parts += [f"Where the time went in `{target}` (Triton statistics over each point's "
                      "window; per request):", "",
                      table(["concurrency", "model", "avg batch", "queue ms", "compute ms"],
                            rows), ""]
    parts += ["![throughput vs p99](benchmarks/results/serving_throughput_p99.png)", ""]
    return "\n".join(parts)


def perf_section(perf: dict) -> str:
    parts = ["## perf_analyzer (gRPC), the ensemble and each composing model", "",
             provenance(perf), "",
             f"Real inputs (`--input-data` JSON of {perf['requests']} held-out sketches and the "
             "tensors the reference computes from them), batch 1 per request, "
             f"{perf['window_ms']} ms windows. Server queue/compute: perf_analyzer's split per "
             "request; avg batch: the model's own batches (Triton statistics, same window).",
             ""]
    rows = []
    for model, points in perf["results"].items():
        for level, point in sorted(points.items(), key=lambda i: int(i[0])):
            own = point["models"].get(model, {})
            rows.append([model, int(level), point["throughput"], point["p50"], point["p95"],
                         point["p99"], point["server_queue"], point["server_compute"],
                         own.get("avg_batch")])
    parts += [table(["model", "concurrency", "infer/s", "p50 ms", "p95 ms", "p99 ms",
                     "server queue ms", "server compute ms", "avg batch"], rows), ""]
    ensemble = perf["results"].get("sketch2face", {})
    rows = []
    for level, point in sorted(ensemble.items(), key=lambda i: int(i[0])):
        for model, stats in point["models"].items():
            if model != "sketch2face":
                rows.append([int(level), model, stats["avg_batch"], stats["queue_ms"],
                             stats["compute_ms"]])
    if rows:
        parts += ["Inside `sketch2face` (its steps, per request, same windows):", "",
                  table(["concurrency", "step", "avg batch", "queue ms", "compute ms"], rows),
                  ""]
    if perf.get("failures"):
        parts += ["Failed points: " + "; ".join(perf["failures"]), ""]
    return "\n".join(parts)


def knn_section(knn: dict) -> str:
    rows = [[r["rows"], r["family"], r["build"], r["search"], r["build_s"], r["memory_mb"],
             r["ms_batch1"], r["ms_batch32"], r["recall10"]] for r in knn["rows"]]
    best = [[int(size), f"{r['family']} {r['build']} {r['search']}".strip(), r["ms_batch1"],
             r["ms_batch32"], r["recall10"]] for size, r in sorted(knn["best"].items(),
                                                                   key=lambda i: int(i[0]))]
    return "\n".join([
        "## KNN at scale", "", provenance(knn), "",
        f"Banks sampled from a Gaussian mixture ({knn['mixture_clusters']} clusters) fitted to "
        f"the real `{knn['component']}` bank ({knn['real_bank_rows']:,} rows); "
        f"{knn['queries']} real queries (held-out sketches' features); K = {knn['k']}. Search "
        f"with {knn['search_threads']} thread (as served), build with {knn['build_threads']}. "
        "Memory: the serialised index (the projection also memory-maps the bank vectors for "
        "the locally-linear weights). One component; a request searches five.", "",
        "Fastest setting with recall@10 ≥ 0.95 at batch 32, per bank size:", "",
        table(["rows", "index", "ms/query (batch 1)", "ms/batch of 32", "recall@10"], best),
        "", "<details><summary>every configuration</summary>", "",
        table(["rows", "family", "build", "search", "build s", "MiB", "ms/query",
               "ms/32", "recall@10"], rows), "", "</details>", "",
        "![KNN time vs bank size](benchmarks/results/knn_time_vs_rows.png)", ""])


def variants_section(variants: dict, roof: dict | None) -> str:
    rows = []
    for network in NETWORKS:
        for runtime in RUNTIMES:
            one = variants["timings"].get(f"{network}/{runtime}/1", {})
            eight = variants["timings"].get(f"{network}/{runtime}/8", {})
            delta = variants["output_delta"].get(f"{network}/{runtime}", {})
            rows.append([network, runtime, one.get("gmacs"), one.get("ms_per_image"),
                         eight.get("ms_per_image"),
                         f"{delta['mean_abs']:.3g}" if delta else "(reference)",
                         f"{delta['max_abs']:.3g}" if delta else "–"])
    quality = [[runtime, *(f"{variants['quality'][runtime][k]:.{2 if k == 'psnr' else 4}f}"
                           for k in ("l1", "psnr", "ssim", "ssim_vs_torch", "refined_edge_f1"))]
               for runtime in RUNTIMES]
    parts = ["## Model variants on CPU", "", provenance(variants), "",
             f"{variants['threads']} threads in every runtime; median of {variants['repeats']} "
             "runs; the served graphs (uint8 / float in and out, pre/post-processing inside). "
             "Output delta: against torch for the same input (grey levels for images, feature "
             "units for the encoders).", "",
             table(["network", "runtime", "GMACs/image", "ms/image batch 1", "ms/image batch 8",
                    "mean abs delta", "max abs delta"], rows), "",
             f"Quality end to end ({variants['samples']} held-out sketches, all three networks "
             "in one runtime, NumPy projection, t = 0.5): the face against the ground-truth "
             "photo (the eval metrics), against torch's face, and the refined sketch against "
             "the drawing:", "",
             table(["runtime", "L1", "PSNR dB", "SSIM", "SSIM vs torch", "refined edge F1"],
                   quality), ""]
    return "\n".join(parts)


def roof_section(roof: dict, variants: dict | None) -> tuple[str, list, dict]:
    rows = [[r["kernel"], r["threads"], r["median_ms"], r["gops"]] for r in roof["rows"]]
    parts = ["## The roof", "", provenance(roof), "",
             f"Square products of {roof['size']} (2·n³ operations / median time):", "",
             table(["kernel", "threads", "ms", "G(FL)OP/s"], rows), "",
             f"Roof: fp32 **{roof['roof']['fp32']['gops']:.0f} GFLOP/s** "
             f"({roof['roof']['fp32']['kernel']}), int8 **{roof['roof']['int8']['gops']:.0f} "
             f"GOP/s** ({roof['roof']['int8']['kernel']}).", ""]
    bars, peaks = [], {}
    if variants:
        threads = variants["threads"]
        peaks = {f"fp32 roof ({threads} thr)": roof_for(roof, "fp32", threads),
                 f"int8 roof ({threads} thr)": roof_for(roof, "int8", threads)}
        fp32_peak, int8_peak = peaks.values()
        rows = []
        for network in NETWORKS:
            for runtime in RUNTIMES:
                for batch in (1, 8):
                    rate = achieved(variants, network, runtime, batch)
                    if rate is None:
                        continue
                    rows.append([network, runtime, batch, rate, f"{rate / fp32_peak:.0%}",
                                 f"{rate / int8_peak:.0%}"])
                    if batch == 8:
                        bars.append((f"{network} {runtime}", rate))
        parts += [f"Each network's achieved rate (MACs × 2 / time, {threads} threads) as a "
                  "fraction of the roofs measured with the same thread count (int8 networks "
                  "keep the layers export/precision.py names in fp32):", "",
                  table(["network", "runtime", "batch", "G op/s", "of fp32 roof",
                         "of int8 roof"], rows), "",
                  "![roofline bars](benchmarks/results/roofline.png)", ""]
    return "\n".join(parts), bars, peaks


def op_profile_section(profile: dict) -> str:
    """Per network and precision: the operator kinds holding the time, and their rates."""
    rows = []
    for entry in profile["networks"].values():
        for op in entry["ops"]:
            if op["share"] < 0.02:
                continue
            rows.append([entry["network"], entry["precision"], op["op"], op["ms"],
                         f"{op['share']:.0%}", op["gmacs"] or None, op["gops"]])
    walls = ", ".join(f"{e['network']} {e['precision']} {e['wall_ms']:.1f} ms"
                      for e in profile["networks"].values())
    return "\n".join([
        "## Where the time goes inside each network", "", provenance(profile), "",
        f"onnxruntime's profiler, batch {profile['batch']}, {profile['threads']} threads, "
        f"{profile['repeats']} runs: kernel time per operator kind after onnxruntime's graph "
        "optimisations (\"Conv\" includes its fused NCHWc convolutions), with the MACs of "
        "each convolution kind counted in the graph (G op/s = MACs × 2 / kernel time; – where "
        "shape inference could not count them). Kinds under 2% are left out. Wall time per "
        f"run with the profiler on (it adds a little per node, so small-node graphs such as "
        f"the decoders look slower than in the variants table): {walls}.", "",
        table(["network", "precision", "operator", "ms", "share", "G MACs", "G op/s"], rows),
        ""])


def gpu_section(gpu: dict | None) -> str:
    head = ["## GPU", ""]
    if not gpu:
        return "\n".join(head + [
            "**Not run**: no GPU was available to the session that wrote this report. "
            "`benchmarks/gpu.sh` is ready for a GPU machine with no internet (python3 + torch "
            "CUDA + numpy/pillow/opencv/scikit-image/safetensors, `PYTHONPATH=.`, the "
            "repository without .venv/data/runs): the three networks at batch 1..64 in fp32 "
            "and fp16, and exact torch KNN on the GPU vs the CPU at 10k/100k/1M rows. It "
            "writes `bench_gpu.json`; put it in `benchmarks/results/` and rerun "
            "`python -m benchmarks.report`.", ""])
    rows = [[k.split("/")[0], k.split("/")[1], int(k.split("/")[2]), v["ms"],
             v["images_per_s"]] for k, v in gpu["networks"].items()]
    knn_rows = [[int(k.split("/")[0]), k.split("/")[1], int(k.split("/")[2]), v["ms"]]
                for k, v in gpu["knn"].items() if not k.endswith("agreement")]
    return "\n".join(head + [provenance(gpu), "", f"GPU: {gpu['gpu']}", "",
                             table(["network", "precision", "batch", "ms", "images/s"], rows),
                             "", table(["rows", "device", "batch", "ms"], knn_rows), ""])


def main() -> None:
    names = ("bench_serving", "bench_perf_analyzer", "bench_knn", "bench_variants",
             "bench_roof", "bench_op_profile", "bench_gpu")
    found = {name: read_summary(name) for name in names}
    serving, perf, knn, variants, roof, op_profile, gpu = (found[n] for n in names)
    present = [s for s in found.values() if s and s["benchmark"] != "bench_gpu"]
    if not present:
        raise SystemExit("no summaries in benchmarks/results/: run `make bench` first")
    plots.serving(serving, perf, RESULTS / "serving_throughput_p99.png")
    plots.knn(knn, RESULTS / "knn_time_vs_rows.png")
    parts = ["# Benchmarks", "",
             "Rebuilt by `make bench` (quick profile, a few minutes) or `make bench-full`; "
             "every number below comes from the command printed above its table, run on the "
             "machine described here, with the load average recorded before and after (raw "
             "rows, each with the load average when it was measured: "
             "`benchmarks/results/raw/*.csv`). Ratios are measured in one run on one machine.",
             "", machine_section(present)]
    parts.append(targets(serving, knn, variants, roof))
    if CONCLUSIONS.exists():
        parts += [CONCLUSIONS.read_text().rstrip(), ""]
    if serving:
        parts.append(serving_section(serving))
    if perf:
        parts.append(perf_section(perf))
    if knn:
        parts.append(knn_section(knn))
    if variants:
        parts.append(variants_section(variants, roof))
    if roof:
        text, bars, peaks = roof_section(roof, variants)
        parts.append(text)
        plots.roofline(bars, peaks, RESULTS / "roofline.png")
    if op_profile:
        parts.append(op_profile_section(op_profile))
    parts.append(gpu_section(gpu))
    REPORT.write_text("\n".join(parts).rstrip() + "\n")
    print(f"wrote {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
