"""A tally of what a fuzz run sent and got back, and its summary as JSON.

Every case the fuzzer sends is recorded (operation, generation mode, status, content type),
and every case whose response failed a check, with the start of the report, so a run can say
how many cases it sent, which statuses it saw and what (if anything) went wrong.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FAILURE_EXAMPLES = 10


@dataclass
class FuzzLedger:
    started: float = field(default_factory=time.perf_counter)
    cases: int = 0
    by_operation: Counter = field(default_factory=Counter)
    by_mode: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    content_types: Counter = field(default_factory=Counter)
    damaged_statuses: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)

    def record(self, operation: str, mode: str, status: int, content_type: str,
               damaged: bool = False) -> None:
        self.cases += 1
        if damaged:
            self.damaged_statuses[status] += 1
        self.by_operation[operation] += 1
        self.by_mode[mode] += 1
        self.statuses[status] += 1
        self.content_types[f"{status} {content_type.split(';')[0].strip() or '-'}"] += 1

    def record_failure(self, operation: str, status: int, message: str) -> None:
        """`message`: schemathesis' report; kept up to its curl line, at most 8 lines."""
        lines = []
        for line in (line.strip() for line in message.strip().splitlines()):
            if line.startswith("Reproduce with") or len(lines) == 8:
                break
            if line:
                lines.append(line)
        self.failures.append({"operation": operation, "status": status,
                              "report": " / ".join(lines)})

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def summary(self, **context) -> dict:
        return {
            **context,
            "cases": self.cases,
            "wall_s": round(time.perf_counter() - self.started, 1),
            "by_operation": dict(sorted(self.by_operation.items())),
            "by_generation_mode": dict(sorted(self.by_mode.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "status_content_types": dict(sorted(self.content_types.items())),
            "damaged_upload_statuses": {str(k): v for k, v in
                                        sorted(self.damaged_statuses.items())},
            "server_errors": self.server_errors,
            "failing_cases": len(self.failures),
            "failure_examples": self.failures[:FAILURE_EXAMPLES],
        }

    def write(self, path: Path, **context) -> dict:
        summary = self.summary(**context)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2) + "\n")
        return summary
