"""Manifold projection, the reference implementation (NumPy, batched, exact).

For each query feature: find its K nearest bank features (squared L2), solve the
locally-linear reconstruction weights (the regularised local Gram system with the weights
summing to one, as in LLE and DeepFaceDrawing), take the weighted sum of the neighbours as
the projection, and blend it with the input: f = t * f_in + (1 - t) * f_proj.

This is the oracle the Triton FAISS model must match; the serving code imports these
functions rather than re-deriving the maths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_K = 10
DEFAULT_REGULARISATION = 1e-3
#: Extra candidates ranked exactly in nearest_neighbours, so ties at the K-th place and
#: rounding in the fast distance expansion cannot change which rows are returned.
TIE_MARGIN = 16


@dataclass(frozen=True)
class Projection:
    features: np.ndarray  # [B, D] the projected features, sum_k weights * neighbours
    ids: np.ndarray  # [B, K] int64 bank rows of the neighbours, nearest first
    weights: np.ndarray  # [B, K] locally-linear weights, each row sums to one
    distances: np.ndarray  # [B, K] squared L2 distances to the neighbours


def nearest_neighbours(queries: np.ndarray, bank: np.ndarray,
                       k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact K nearest bank rows of each query: (ids [B, K] int64, squared distances [B, K]).

    Ties are broken by the lower bank row, so the result is deterministic.
    """
    queries = np.asarray(queries, np.float32)
    bank = np.asarray(bank, np.float32)
    if queries.ndim != 2 or bank.ndim != 2 or queries.shape[1] != bank.shape[1]:
        raise ValueError(f"queries {queries.shape} and bank {bank.shape} must be [B, D] and "
                         "[M, D] with the same D")
    if not 1 <= k <= len(bank):
        raise ValueError(f"k={k} must be between 1 and the bank size {len(bank)}")
    distances = (np.einsum("bd,bd->b", queries, queries)[:, None]
                 - 2.0 * queries @ bank.T
                 + np.einsum("md,md->m", bank, bank)[None, :])
    # The expansion above is fast but rounds: duplicate bank rows can get different values.
    # Shortlist generously with it, then rank the shortlist by directly computed distances,
    # where equal rows are exactly equal and the tie rule (lower row first) holds.
    shortlist = min(len(bank), k + TIE_MARGIN)
    if shortlist < len(bank):
        candidates = np.argpartition(distances, shortlist - 1, axis=1)[:, :shortlist]
    else:
        candidates = np.broadcast_to(np.arange(len(bank)), distances.shape)
    differences = bank[candidates] - queries[:, None, :]
    candidate_distances = np.einsum("bkd,bkd->bk", differences, differences)
    order = np.lexsort((candidates, candidate_distances), axis=1)[:, :k]
    ids = np.take_along_axis(candidates, order, axis=1).astype(np.int64)
    return ids, np.take_along_axis(candidate_distances, order, axis=1)


def locally_linear_weights(queries: np.ndarray, neighbours: np.ndarray,
                           regularisation: float = DEFAULT_REGULARISATION) -> np.ndarray:
    """Weights w [B, K] minimising |q - sum_k w_k n_k|^2 subject to sum_k w_k = 1.

    Solves (G + r * trace(G) / K * I) w = 1 with the local Gram matrix
    G = (n - q)(n - q)^T, then normalises w to sum to one. The regulariser keeps the
    system solvable when K > D or the neighbours are (nearly) collinear.
    """
    queries = np.asarray(queries, np.float64)
    neighbours = np.asarray(neighbours, np.float64)
    differences = neighbours - queries[:, None, :]  # [B, K, D]
    gram = differences @ differences.transpose(0, 2, 1)  # [B, K, K]
    k = gram.shape[-1]
    trace = np.trace(gram, axis1=1, axis2=2)
    # An absolute floor keeps the system solvable when the query equals all its neighbours.
    ridge = np.maximum(regularisation * trace / k, 1e-12)
    gram = gram + ridge[:, None, None] * np.eye(k)
    weights = np.linalg.solve(gram, np.ones((len(queries), k, 1)))[..., 0]
    return weights / weights.sum(axis=1, keepdims=True)


def drop_rows(ids: np.ndarray, distances: np.ndarray, exclude: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """From K+1 neighbours per query, drop bank row `exclude[b]` (or else the farthest)."""
    keep = ids != np.asarray(exclude)[:, None]
    keep[keep.sum(axis=1) > k, -1] = False  # the excluded row was not among them
    return ids[keep].reshape(len(ids), k), distances[keep].reshape(len(ids), k)


def project(queries: np.ndarray, bank: np.ndarray, k: int = DEFAULT_K,
            regularisation: float = DEFAULT_REGULARISATION,
            exclude: np.ndarray | None = None) -> Projection:
    """Project each query onto the manifold spanned locally by its K nearest bank rows.

    `exclude` [B] names one bank row per query that must not be a neighbour (leave-one-out:
    projecting a training sample without finding itself).
    """
    if exclude is None:
        ids, distances = nearest_neighbours(queries, bank, k)
    else:
        ids, distances = drop_rows(*nearest_neighbours(queries, bank, k + 1), exclude, k)
    neighbours = np.asarray(bank, np.float32)[ids]  # [B, K, D]
    weights = locally_linear_weights(queries, neighbours, regularisation)
    features = np.einsum("bk,bkd->bd", weights, neighbours).astype(np.float32)
    return Projection(features=features, ids=ids, weights=weights.astype(np.float32),
                      distances=distances.astype(np.float32))


def blend(inputs: np.ndarray, projected: np.ndarray, t: np.ndarray) -> np.ndarray:
    """f = t * f_in + (1 - t) * f_proj; `t` broadcasts over the feature axis."""
    t = np.asarray(t, np.float32)[..., None]
    return (t * inputs + (1.0 - t) * projected).astype(np.float32)


def project_components(features: np.ndarray, banks: list[np.ndarray], t: np.ndarray,
                       k: int = DEFAULT_K,
                       regularisation: float = DEFAULT_REGULARISATION,
                       exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stage-1 projection of every component of a batch.

    features [B, C, D] (C components, in geometry.COMPONENTS order), one bank [M_c, D]
    per component, t [B, C] in [0, 1]. Returns (blended features [B, C, D] float32,
    neighbour ids [B, C, K] int64).
    """
    features = np.asarray(features, np.float32)
    t = np.asarray(t, np.float32)
    if features.ndim != 3 or len(banks) != features.shape[1]:
        raise ValueError(f"features {features.shape} must be [B, C, D] with one bank per "
                         f"component (got {len(banks)} banks)")
    if t.shape != features.shape[:2]:
        raise ValueError(f"t {t.shape} must be [B, C] = {features.shape[:2]}")
    if not np.all((t >= 0.0) & (t <= 1.0)):
        raise ValueError("t must lie in [0, 1] (1 keeps the drawing, 0 snaps to the manifold)")
    blended = np.empty_like(features)
    ids = np.empty(features.shape[:2] + (k,), np.int64)
    for component, bank in enumerate(banks):
        projection = project(features[:, component], bank, k, regularisation, exclude)
        blended[:, component] = blend(features[:, component], projection.features,
                                      t[:, component])
        ids[:, component] = projection.ids
    return blended, ids
