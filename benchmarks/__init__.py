"""Speed measurements of sketch2idol (run as `python -m benchmarks.<name>` from the repo root).

`make bench` (quick profile) and `make bench-full` run them all and rebuild BENCHMARKS.md;
see benchmarks/run_all.py. Nothing here is imported by the package or asserted in tests.
"""
