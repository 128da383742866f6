"""The gateway: a FastAPI front for Triton's sketch2face ensemble and the drawing page
(static/). It imports only the core; the demo supervisor is in `sketch2idol.launch`.
Nothing here imports torch."""
