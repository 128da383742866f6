"""RELIABILITY.md's soak figures, rendered from benchmarks/results/soak.json.

    .venv/bin/python -m benchmarks.soak --report

Only the text between the `<!-- soak:begin -->` and `<!-- soak:end -->` lines is replaced;
the rest of the file (the other sections, the prose around the block) is left alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BEGIN = "<!-- soak:begin -->"
END = "<!-- soak:end -->"


def _number(value, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:,.{digits}f}"


def _machine(summary: dict) -> str:
    machine = summary["machine"]
    gpu = "a GPU present (unused)" if summary.get("gpu") else "no GPU"
    return (f"{machine['cpu']}, {machine['cpus']} vCPUs, {machine['ram_gib']} GiB RAM, {gpu}; "
            f"onnxruntime {machine['versions'].get('onnxruntime', '?')}")


def render(summary: dict) -> str:
    """The block's Markdown (without the markers)."""
    options, criteria, counts = summary["options"], summary["criteria"], summary["requests"]
    verdict = "PASS" if summary["verdict"] == "pass" else "FAIL: " + "; ".join(summary["reasons"])
    others = summary.get("other_jobs") or []
    lines = [
        f"**{verdict}** — `{summary['command']}`, {summary['started']} → {summary['finished']}, "
        f"on {_machine(summary)}. Load average before {summary['load_before']}, after "
        f"{summary['load_after']}; other heavy jobs seen meanwhile: "
        + (f"{len(others)} (" + "; ".join(f"`{job[:70]}`" for job in others[:4])
           + (" ..." if len(others) > 4 else "") + ")" if others else "none") + ".",
        "",
        f"{options['concurrency']} closed-loop clients, {options['warmup_s']:g} s warm-up + "
        f"{options['duration_s']:g} s measured ({summary['seconds']:g} s in all), "
        f"{options['sketches']} held-out sketches as PNG uploads, t = {options['t']:g}.",
        "",
        "| requests sent | succeeded | rejected (429) | failed | req/s after warm-up "
        "| p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
        f"| {counts['sent']:,} | {counts['succeeded']:,} | {counts['rejected']:,} | "
        f"{counts['failed']:,}"
        + (f" ({', '.join(f'{n} x {k}' for k, n in counts['failures'].items())})"
           if counts["failures"] else "")
        + f" | {summary['throughput']:g} | {_number(summary['latency_ms']['p50'])} | "
        f"{_number(summary['latency_ms']['p99'])} |",
        "",
        f"Memory (VmRSS sampled every {options['interval_s']:g} s; 'at warm-up end' and "
        f"'at the end' are medians over {options['memory_span_s']:g} s; growth limit "
        f"< {criteria['max_growth_pct']:g}% per process):",
        "",
        "| process | at warm-up end MiB | at the end MiB | peak MiB | growth | anonymous growth |",
        "|---|---|---|---|---|---|",
    ]
    for name, grown in summary["memory"].items():
        lines.append(f"| {name} | {_number(grown['warmup_end_mib'])} | "
                     f"{_number(grown['end_mib'])} | {_number(grown['peak_mib'])} | "
                     f"{grown['growth_pct']:+.2f}% | {grown['anon_growth_pct']:+.2f}% |")
    ratio = summary["p99_ratio"]
    limit = criteria["max_p99_ratio"]
    lines += [
        "",
        "Latency per window (successful requests, by start time; the load average at the "
        "window's end):",
        "",
        "| window s | requests | req/s | p50 ms | p99 ms | load average (1 min) |",
        "|---|---|---|---|---|---|",
        *(f"| {w['start_s']:g}–{w['end_s']:g} | {w['requests']} | {w['throughput']:g} | "
          f"{_number(w['p50'])} | {_number(w['p99'])} | {_number(w['load_1m'], 2)} |"
          for w in summary["windows"]),
        "",
        f"p99 of the last window / the first: {_number(ratio, 2)}×"
        + (f" (limit {limit:g}×)." if limit else " (not checked)."),
        "",
        f"![RSS per process and p99 per window]({summary['figure']})",
    ]
    return "\n".join(lines)


def update(report: Path, summary_path: Path) -> str:
    """Replace the block in `report` with the one for `summary_path`; returns a line."""
    summary = json.loads(Path(summary_path).read_text())
    text = report.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{report} has no {BEGIN} ... {END} block to fill")
    block = f"{BEGIN}\n{render(summary)}\n{END}"
    report.write_text(pattern.sub(lambda _: block, text, count=1))
    return f"updated the soak block of {report} from {summary_path}"
