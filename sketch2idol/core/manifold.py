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

from sketch2idol.core import contract

DEFAULT_K = 10
DEFAULT_REGULARISATION = 1e-3
#: Extra candidates ranked exactly in nearest_neighbours (and in the FAISS exact index), so
#: ties at the K-th place and rounding in the fast distance expansion cannot change which
#: rows are returned.
TIE_MARGIN = 16
#: exact_distances works through this many float64 differences at a time (in cache).
_CHUNK_ELEMENTS = 2**15


@dataclass(frozen=True)
class Projection:
    features: np.ndarray  # [B, D] the projected features, sum_k weights * neighbours
    ids: np.ndarray  # [B, K] int64 bank rows of the neighbours, nearest first
    weights: np.ndarray  # [B, K] locally-linear weights, each row sums to one
    distances: np.ndarray  # [B, K] squared L2 distances to the neighbours


# The neighbour order, the same on every CPU. Fast distances (|q|^2 - 2 q.b + |b|^2 in
# float32: NumPy's matrix product here, FAISS's SIMD loops or BLAS in serving) round
# differently with the SIMD width, BLAS kernels and blocking, even for identical bank rows,
# so they only shortlist. The order is decided by `exact_distances`: float64 sums of squared
# differences, computed row by row the same way on every machine, so identical rows get
# identical distances. Nearest first; rows at equal distance go to the lower row.

def exact_distances(queries: np.ndarray, bank: np.ndarray,
                    candidates: np.ndarray) -> np.ndarray:
    """Squared L2 distances [B, S] float64 from each query [B, D] to its candidate bank rows
    (candidates [B, S] row numbers of bank [M, D]), computed directly: sum over D of
    (bank row - query)^2 in float64, a fixed summation order for every row."""
    queries = np.asarray(queries, np.float64)
    candidates = np.asarray(candidates)
    distances = np.empty(candidates.shape, np.float64)
    step = max(1, _CHUNK_ELEMENTS // max(1, candidates.shape[1] * queries.shape[1]))
    for start in range(0, len(candidates), step):
        rows = slice(start, start + step)
        differences = np.asarray(bank[candidates[rows]], np.float64)
        differences -= queries[rows, None, :]
        np.square(differences, out=differences)
        differences.sum(axis=2, out=distances[rows])
    return distances


def expansion_error_bound(query_norms: np.ndarray, max_bank_norm: float,
                          dim: int) -> np.ndarray:
    """An upper bound [B] on how far a float32 |q|^2 - 2 q.b + |b|^2 can be from the true
    squared distance, for any bank row and any summation order or FMA use (a D-term float32
    dot product errs by at most gamma_D = D u / (1 - D u) of its terms' magnitudes, u = 2^-24;
    the two additions by u each): (2 gamma_D + 4 u) (|q|^2 + |b|^2), doubled for slack."""
    unit = 2.0**-24
    gamma = dim * unit / (1.0 - dim * unit)
    return 2.0 * (2.0 * gamma + 4.0 * unit) * (np.asarray(query_norms, np.float64)
                                               + max_bank_norm)


def rank_shortlist(queries: np.ndarray, bank: np.ndarray, candidates: np.ndarray, k: int,
                   shortlist_distances: np.ndarray | None = None,
                   max_bank_norm: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The K nearest bank rows of each query among its candidates, by `exact_distances`,
    ties by the lower row: (ids [B, K] int64, squared distances [B, K] float64).

    shortlist_distances [B, S]: the fast (float32 expansion) distances the candidates were
    selected by, when they are the S nearest of a bigger bank; max_bank_norm: the largest
    squared norm of a bank row. A query whose K-th exact distance comes within the
    expansion's rounding bound of its farthest candidate might have a row outside the
    shortlist as near as its K-th; it is ranked over the whole bank instead.
    """
    queries = np.asarray(queries, np.float32)
    candidates = np.asarray(candidates, np.int64)
    distances = exact_distances(queries, bank, candidates)
    order = np.lexsort((candidates, distances), axis=1)[:, :k]
    ids = np.take_along_axis(candidates, order, axis=1)
    distances = np.take_along_axis(distances, order, axis=1)
    if shortlist_distances is not None and candidates.shape[1] < len(bank):
        if max_bank_norm is None:
            max_bank_norm = float(np.einsum("md,md->m", bank, bank, dtype=np.float64).max())
        query_norms = np.einsum("bd,bd->b", queries, queries, dtype=np.float64)
        bound = expansion_error_bound(query_norms, max_bank_norm, queries.shape[1])
        farthest = np.asarray(shortlist_distances, np.float64).max(axis=1)
        for row in np.flatnonzero(distances[:, -1] >= farthest - bound):
            ids[row], distances[row] = _rank_whole_bank(queries[row], bank, k)
    return ids, distances


def _rank_whole_bank(query: np.ndarray, bank: np.ndarray,
                     k: int) -> tuple[np.ndarray, np.ndarray]:
    """rank_shortlist's fallback for one query [D]: exact distances to every bank row (in
    chunks), then the K nearest with all rows tied at the K-th place ranked by row."""
    chunk = max(1, 4 * _CHUNK_ELEMENTS // max(1, bank.shape[1]))
    distances = np.concatenate([
        exact_distances(query[None], bank, np.arange(start, min(start + chunk, len(bank)))[None])[0]
        for start in range(0, len(bank), chunk)])
    kth = np.partition(distances, k - 1)[k - 1]
    candidates = np.flatnonzero(distances <= kth)  # the K nearest and everything tied with them
    order = np.lexsort((candidates, distances[candidates]))[:k]
    return candidates[order], distances[candidates[order]]


def nearest_neighbours(queries: np.ndarray, bank: np.ndarray,
                       k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact K nearest bank rows of each query: (ids [B, K] int64, squared distances [B, K]
    float32), nearest first.

    Distances are ranked as `exact_distances` computes them (float64, the same on every
    CPU); rows at equal distance (identical bank rows, for one) go to the lower row, so the
    result is deterministic and machine-independent.
    """
    queries = np.asarray(queries, np.float32)
    bank = np.asarray(bank, np.float32)
    if queries.ndim != 2 or bank.ndim != 2 or queries.shape[1] != bank.shape[1]:
        raise ValueError(f"queries {queries.shape} and bank {bank.shape} must be [B, D] and "
                         "[M, D] with the same D")
    if not 1 <= k <= len(bank):
        raise ValueError(f"k={k} must be between 1 and the bank size {len(bank)}")
    shortlist = min(len(bank), k + TIE_MARGIN)
    if shortlist == len(bank):  # every row is a candidate
        candidates = np.broadcast_to(np.arange(len(bank)), (len(queries), len(bank)))
        ids, distances = rank_shortlist(queries, bank, candidates, k)
        return ids, distances.astype(np.float32)
    # The expansion is fast but rounds (duplicate bank rows can get different values): it
    # shortlists generously, and rank_shortlist orders the shortlist exactly.
    bank_norms = np.einsum("md,md->m", bank, bank)
    fast = (np.einsum("bd,bd->b", queries, queries)[:, None] - 2.0 * queries @ bank.T
            + bank_norms[None, :])
    candidates = np.argpartition(fast, shortlist - 1, axis=1)[:, :shortlist]
    ids, distances = rank_shortlist(queries, bank, candidates, k,
                                    np.take_along_axis(fast, candidates, axis=1),
                                    float(bank_norms.max()))
    return ids, distances.astype(np.float32)


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
    if contract.t_outside_range(t).any():
        raise ValueError(f"t must lie in {contract.T_RANGE_TEXT} ({contract.T_MEANING})")
    blended = np.empty_like(features)
    ids = np.empty(features.shape[:2] + (k,), np.int64)
    for component, bank in enumerate(banks):
        projection = project(features[:, component], bank, k, regularisation, exclude)
        blended[:, component] = blend(features[:, component], projection.features,
                                      t[:, component])
        ids[:, component] = projection.ids
    return blended, ids
