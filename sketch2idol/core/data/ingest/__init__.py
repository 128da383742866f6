"""Real-photo ingestion: folder of photos -> aligned face photos, sketches and a manifest.

    landmarks.py  MediaPipe face mesh -> template landmarks, head pose
    align.py      least-squares similarity onto the landmark template, warp
    filters.py    FilterConfig and the checks that reject a face (with a reason)
    process.py    one file -> accepted sample or rejection (runs in a worker)
    run.py        the incremental, parallel driver: run_ingest -> IngestSummary

Results: DIR/photo, DIR/sketch, DIR/manifest.jsonl (dataset.py) and DIR/rejected.jsonl.
"""

from sketch2idol.core.data.ingest.filters import FilterConfig
from sketch2idol.core.data.ingest.run import REJECTED_NAME, IngestSummary, read_rejected, run_ingest

__all__ = ["REJECTED_NAME", "FilterConfig", "IngestSummary", "read_rejected", "run_ingest"]
