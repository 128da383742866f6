import numpy as np
import pytest

from sketch2idol.core import manifold


@pytest.fixture
def bank():
    return np.random.default_rng(0).normal(size=(500, 64)).astype(np.float32)


def test_nearest_neighbours_match_a_plain_sort(bank):
    queries = np.random.default_rng(1).normal(size=(7, 64)).astype(np.float32)
    ids, distances = manifold.nearest_neighbours(queries, bank, 10)
    for q, row_ids, row_d in zip(queries, ids, distances):
        exact = ((bank.astype(np.float64) - q) ** 2).sum(1)
        assert list(row_ids) == list(np.argsort(exact, kind="stable")[:10])
        np.testing.assert_allclose(row_d, exact[row_ids], rtol=1e-7, atol=0)
    assert ids.dtype == np.int64


def test_weights_sum_to_one(bank):
    projection = manifold.project(bank[:20] + 0.1, bank, k=10)
    np.testing.assert_allclose(projection.weights.sum(1), 1.0, atol=1e-5)


def test_a_convex_combination_of_its_neighbours_is_reproduced():
    rng = np.random.default_rng(2)
    far = rng.normal(size=(300, 32)) * 0.2 + 50.0  # a distant cluster
    cluster = rng.normal(size=(5, 32))  # the query's neighbourhood
    bank = np.vstack([far, cluster]).astype(np.float32)
    true_weights = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
    query = (true_weights @ cluster)[None].astype(np.float32)
    projection = manifold.project(query, bank, k=5, regularisation=1e-9)
    np.testing.assert_allclose(projection.features, query, atol=1e-4)
    by_id = dict(zip(projection.ids[0], projection.weights[0]))
    recovered = [by_id[300 + i] for i in range(5)]
    np.testing.assert_allclose(recovered, true_weights, atol=1e-3)


def test_t_one_keeps_the_input_and_t_zero_gives_the_projection(bank):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(4, 5, 64)).astype(np.float32)
    banks = [bank] * 5
    kept, _ = manifold.project_components(features, banks, np.ones((4, 5)), k=10)
    np.testing.assert_array_equal(kept, features)
    snapped, ids = manifold.project_components(features, banks, np.zeros((4, 5)), k=10)
    for c in range(5):
        np.testing.assert_allclose(snapped[:, c], manifold.project(features[:, c], bank).features,
                                   atol=1e-6)
    assert ids.shape == (4, 5, 10)
    half, _ = manifold.project_components(features, banks, np.full((4, 5), 0.5), k=10)
    np.testing.assert_allclose(half, (kept + snapped) / 2, atol=1e-5)


def test_batched_equals_per_sample(bank):
    queries = np.random.default_rng(4).normal(size=(9, 64)).astype(np.float32)
    batched = manifold.project(queries, bank, k=10)
    for i in range(len(queries)):
        single = manifold.project(queries[i:i + 1], bank, k=10)
        np.testing.assert_array_equal(single.ids[0], batched.ids[i])
        np.testing.assert_allclose(single.features[0], batched.features[i], atol=1e-5)


def test_query_equal_to_a_bank_row_is_stable(bank):
    projection = manifold.project(bank[:3], bank, k=10)
    assert np.isfinite(projection.features).all()
    assert list(projection.ids[:, 0]) == [0, 1, 2]


@pytest.mark.parametrize("t", [np.full((2, 5), 1.5), np.full((2, 5), np.nan), np.ones((2, 4))])
def test_bad_t_is_refused(bank, t):
    with pytest.raises(ValueError, match="t"):
        manifold.project_components(np.zeros((2, 5, 64)), [bank] * 5, t)


def test_bad_k_is_refused(bank):
    with pytest.raises(ValueError, match="k=0"):
        manifold.nearest_neighbours(bank[:1], bank, 0)


def test_leave_one_out_never_returns_the_excluded_row(bank):
    projection = manifold.project(bank[:6], bank, k=10, exclude=np.arange(6))
    for row in range(6):
        assert row not in projection.ids[row]
    plain = manifold.project(bank[:6], bank, k=11)
    np.testing.assert_array_equal(projection.ids, plain.ids[:, 1:])  # itself was nearest
    other = manifold.project(bank[:2] + 100.0, bank, k=10, exclude=np.array([0, 1]))
    assert other.ids.shape == (2, 10)


def test_duplicate_bank_rows_tie_and_the_lower_row_comes_first():
    rng = np.random.default_rng(3)
    base = (rng.normal(size=(40, 512)) * 30).astype(np.float32)
    bank = np.concatenate([base] * 6)  # every row six times: rows r, r+40, ..., r+200
    queries = base[:20] + rng.normal(0, 1.0, (20, 512)).astype(np.float32)
    for k in (2, 4):  # the tie group straddles the K-th place
        ids, distances = manifold.nearest_neighbours(queries, bank, k)
        for row, (found, found_distances) in enumerate(zip(ids, distances)):
            assert list(found) == [row + 40 * copy for copy in range(k)]
            assert np.all(found_distances == found_distances[0])


def test_more_copies_than_the_shortlist_holds_go_to_the_lowest_rows():
    rng = np.random.default_rng(5)
    bank = rng.normal(size=(200, 16)).astype(np.float32)
    copies = np.sort(rng.choice(np.arange(1, 200), manifold.TIE_MARGIN + 20, replace=False))
    bank[copies] = bank[0]
    queries = (bank[:1] + rng.normal(0, 0.01, (3, 16))).astype(np.float32)
    ids, distances = manifold.nearest_neighbours(queries, bank, 10)
    assert (ids == [0, *copies[:9]]).all()
    assert (distances == distances[:, :1]).all()


@pytest.mark.parametrize("seed", range(4))
def test_a_shortlist_rounded_another_way_gives_the_same_neighbours(seed):
    # Another CPU's fast distances (other SIMD width, other BLAS blocking) may be off by up
    # to the expansion's rounding bound: the shortlist changes, the neighbours must not.
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(60, 32)).astype(np.float32)
    bank = np.concatenate([base] * 3 + [np.repeat(base[:1], 30, axis=0)])  # ties everywhere
    queries = np.concatenate([base[:6], base[:6] + rng.normal(0, 0.05, (6, 32))]
                             ).astype(np.float32)
    expected_ids, expected_distances = manifold.nearest_neighbours(queries, bank, 10)
    every_row = np.broadcast_to(np.arange(len(bank)), (len(queries), len(bank)))
    exact = manifold.exact_distances(queries, bank, every_row)
    norms = np.einsum("md,md->m", bank, bank, dtype=np.float64)
    bound = manifold.expansion_error_bound(np.einsum("bd,bd->b", queries, queries), norms.max(),
                                           bank.shape[1])
    fast = exact + rng.uniform(-1, 1, exact.shape) * bound[:, None]
    candidates = np.argsort(fast, axis=1)[:, :10 + manifold.TIE_MARGIN]
    ids, distances = manifold.rank_shortlist(queries, bank, candidates, 10,
                                             np.take_along_axis(fast, candidates, axis=1),
                                             norms.max())
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(distances.astype(np.float32), expected_distances)


def test_ordinary_queries_are_ranked_from_the_shortlist_alone(bank, monkeypatch):
    # The whole-bank ranking is for ties at the shortlist's edge, not the common case.
    ranked = []
    rank_whole_bank = manifold._rank_whole_bank
    monkeypatch.setattr(manifold, "_rank_whole_bank",
                        lambda *args: ranked.append(1) or rank_whole_bank(*args))
    queries = np.random.default_rng(6).normal(size=(50, 64)).astype(np.float32)
    manifold.nearest_neighbours(np.concatenate([queries, bank[:50]]), bank, 10)
    assert not ranked
