"""The seed-style baseline: how the original team served the model, for side-by-side runs.

    .venv/bin/python -m uvicorn benchmarks.baseline_server:app --port 8090 --workers 1

One process, one FastAPI handler holding the PyTorch eager networks, a brute-force NumPy
KNN with a Python loop over the five components (distances to every bank row, argsort),
one request at a time (the handler computes on the event loop, so requests queue). The
upload is decoded and framed with the gateway's own functions and the face is returned as
the same PNG, so the two differ only in how the model is served. Same route and form as
the gateway: `POST /v1/faces` with `sketch`, `t` and `look` (a named look or `random`;
default: the default look).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Annotated

import numpy as np
import torch
from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import Response

from sketch2idol.core import manifold
from sketch2idol.core.faces_request import frame_drawing
from sketch2idol.core.looks import LookError, resolve_look
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import DEFAULT_WEIGHTS
from sketch2idol.gateway.uploads import decode_drawing, png_bytes

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 4096 * 4096


def seed_projection(features: np.ndarray, banks: list[np.ndarray], t: float,
                    k: int) -> np.ndarray:
    """One sketch's features [C, D] -> blended features [C, D], brute force per component."""
    blended = np.empty_like(features)
    for component, (feature, bank) in enumerate(zip(features, banks)):
        distances = np.linalg.norm(bank - feature, axis=1)
        nearest = np.argsort(distances)[:k]
        neighbours = bank[nearest]
        weights = manifold.locally_linear_weights(feature[None], neighbours[None])[0]
        projected = (weights @ neighbours).astype(np.float32)
        blended[component] = t * feature + (1.0 - t) * projected
    return blended


class SeedModel:
    """The torch eager networks and the bank, as the original handler held them."""

    def __init__(self, weights=DEFAULT_WEIGHTS):
        self.pipeline = Pipeline.from_weights(weights)
        self.size = self.pipeline.size
        self.banks = self.pipeline.refiner.banks
        self.k = self.pipeline.refiner.k

    @torch.no_grad()
    def __call__(self, sketch: np.ndarray, t: float, look=None) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [S, S] framed sketch (+ a look; None: the default) -> (refined [S, S],
        face [S, S, 3])."""
        refiner = self.pipeline.refiner
        features = refiner.encode(sketch[None])[0]
        blended = seed_projection(features, self.banks, t, self.k)
        refined = refiner.decode(blended[None])
        return refined[0], self.pipeline.faces(refined, look)[0]


model: SeedModel | None = None


@asynccontextmanager
async def lifespan(app: FastAPI):
    global model
    model = SeedModel()
    yield


app = FastAPI(title="seed-style baseline", lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok" if model is not None else "loading"}


@app.post("/v1/faces")
async def faces(sketch: Annotated[UploadFile, File()],
                t: Annotated[float, Form()] = 0.5,
                look: Annotated[str | None, Form()] = None) -> Response:
    try:
        chosen = resolve_look(look)
    except LookError as error:
        raise HTTPException(422, str(error)) from None
    drawing = decode_drawing(await sketch.read(), MAX_BYTES, MAX_PIXELS)
    _, face = model(frame_drawing(drawing, model.size), t, chosen)  # blocks: one at a time
    return Response(png_bytes(face), media_type="image/png")
