"""Launchers: the tritonserver process and the demo supervisor (Triton + gateway)."""
