"""The report's figures, drawn from the summaries in benchmarks/results/*.json.

    serving_throughput_p99.png   throughput vs p99 per configuration (closed-loop sweeps)
    knn_time_vs_rows.png         search time vs bank size, per index family
    roofline.png                 each network's achieved G(FL)OP/s against the CPU's roofs
    soak.png                     RSS per serving process over time, p50/p99 per window
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 100


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def serving(serving_summary: dict | None, perf_summary: dict | None, path: Path) -> Path | None:
    curves = {}
    if serving_summary:
        for target, result in serving_summary["results"].items():
            closed = result["closed"]
            curves[f"HTTP {target}"] = [(c, p["throughput"], p["p99"])
                                        for c, p in closed.items()]
    if perf_summary and "sketch2face" in perf_summary["results"]:
        points = perf_summary["results"]["sketch2face"]
        curves["gRPC perf_analyzer sketch2face"] = [(c, p["throughput"], p["p99"])
                                                    for c, p in points.items()]
    if not curves:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for label, points in curves.items():
        points = sorted(points, key=lambda p: int(p[0]))
        axes.plot([p[1] for p in points], [p[2] for p in points], marker="o", label=label)
        for concurrency, x, y in points:
            axes.annotate(str(concurrency), (x, y), textcoords="offset points", xytext=(3, 3),
                          fontsize=7)
    axes.set_xlabel("throughput (requests/s)")
    axes.set_ylabel("p99 latency (ms, log)")
    axes.set_yscale("log")
    axes.set_title("throughput vs p99 (labels: concurrency)")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7)
    return _save(figure, path)


def knn(knn_summary: dict | None, path: Path, min_recall: float = 0.95) -> Path | None:
    if not knn_summary:
        return None
    rows = knn_summary["rows"]
    families = ("numpy", "flat", "ivf", "hnsw", "ivfpq+refine")
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for family in families:
        for batch, style in (("ms_batch32", "-"), ("ms_batch1", ":")):
            best = {}
            for row in rows:
                if row["family"] != family or row["recall10"] < min_recall:
                    continue
                size = row["rows"]
                if size not in best or row[batch] < best[size]:
                    best[size] = row[batch]
            if best:
                sizes = sorted(best)
                label = f"{family} ({'batch 32' if batch == 'ms_batch32' else 'per query'})"
                axes.plot(sizes, [best[s] for s in sizes], style, marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("bank rows (x 512)")
    axes.set_ylabel("ms, one thread (log)")
    axes.set_title(f"KNN search time, fastest setting with recall@10 >= {min_recall}")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=6, ncol=2)
    return _save(figure, path)


def roofline(bars: list[tuple[str, float]], roofs: dict[str, float], path: Path) -> Path | None:
    """bars: (label, achieved G op/s); roofs: label -> G op/s."""
    if not bars:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    labels = [label for label, _ in bars]
    axes.barh(labels, [value for _, value in bars], color="tab:blue")
    for (name, value), color in zip(roofs.items(), ("tab:red", "tab:purple")):
        axes.axvline(value, color=color, linestyle="--", label=f"{name} {value:.0f}")
    axes.set_xlabel("achieved G(FL)OP/s = MACs x 2 / time (batch 8, 2 threads)")
    axes.set_title("networks against the measured CPU roofs")
    axes.invert_yaxis()
    axes.legend(fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    return _save(figure, path)


def soak(summary: dict, memory_rows: list[dict], path: Path) -> Path:
    """Top: VmRSS of each serving process over the soak (warm-up end marked); bottom: p50
    and p99 per latency window, with the 1-minute load average on a second axis."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7.2, 6.4), sharex=True)
    warmup = summary["options"]["warmup_s"]
    for name in dict.fromkeys(row["process"] for row in memory_rows):
        series = [row for row in memory_rows if row["process"] == name]
        top.plot([row["t_s"] for row in series], [row["rss_kib"] / 1024 for row in series],
                 label=name)
    for axes in (top, bottom):
        axes.axvline(warmup, color="grey", linestyle=":", label="end of warm-up"
                     if axes is top else None)
        axes.grid(alpha=0.3)
    top.set_ylabel("RSS (MiB)")
    top.set_title(f"soak: {summary['options']['concurrency']} clients, "
                  f"{summary['requests']['sent']} requests, "
                  f"{summary['requests']['failed']} failed")
    top.legend(fontsize=7, ncol=2)
    windows = [w for w in summary["windows"] if w["requests"]]
    middles = [(w["start_s"] + w["end_s"]) / 2 for w in windows]
    bottom.plot(middles, [w["p99"] for w in windows], marker="o", label="p99")
    bottom.plot(middles, [w["p50"] for w in windows], marker="o", label="p50")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("seconds since the load began")
    bottom.set_ylabel("latency per window (ms)")
    load = bottom.twinx()
    loads = {row["t_s"]: row["load_1m"] for row in memory_rows}
    load.plot(list(loads), list(loads.values()),
              color="tab:grey", alpha=0.4, linewidth=0.8, label="load average (1 min)")
    load.set_ylabel("load average", color="tab:grey")
    load.set_ylim(bottom=0)
    lines, labels = bottom.get_legend_handles_labels()
    more_lines, more_labels = load.get_legend_handles_labels()
    bottom.legend(lines + more_lines, labels + more_labels, fontsize=7, loc="lower right")
    return _save(figure, path)
