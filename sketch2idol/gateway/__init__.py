"""The client side of sketch2idol: the FastAPI gateway in front of Triton, its drawing page,
and the demo supervisor. Nothing here imports torch."""
