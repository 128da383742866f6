"""Training of the two stages: `sketch2idol train stage1|stage2`."""
