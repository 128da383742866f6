"""What no error body may show a client: file system paths, tracebacks, memory addresses,
the addresses of internal services.

Importable from any test: tests/conftest.py puts this directory on sys.path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
FORBIDDEN = (str(REPOSITORY), "/work/", "/tmp/", "/home/", "/root/", "/usr/", "/etc/",
             "site-packages", ".venv", "Traceback", 'File "', ".py\", line")
MEMORY_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def internal_details(text: str, internal_addresses: Iterable[str] = ()) -> list[str]:
    """The forbidden fragments found in `text` (empty when it is clean)."""
    found = [fragment for fragment in (*FORBIDDEN, *internal_addresses)
             if fragment and fragment in text]
    return found + MEMORY_ADDRESS.findall(text)
