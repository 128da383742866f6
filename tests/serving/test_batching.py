"""The batching adapter shared by the Python-backend models (sketch2idol/serving/batching.py),
with a stand-in for triton_python_backend_utils: several outputs split back per request,
refusals per request, a failed run answered (not raised) for every request of the batch."""

from __future__ import annotations

import numpy as np
from triton_stand_in import FAKE_PB_UTILS

from sketch2idol.serving.batching import execute_batched


def request(rows: int, start: float) -> dict:
    values = start + np.arange(rows, dtype=np.float32)
    return {"A": values[:, None], "B": 10 * values[:, None]}


def negative_a(arrays):
    return "A must not be negative" if (arrays["A"] < 0).any() else None


def test_good_requests_run_once_and_every_output_is_split_back():
    batches = []

    def run(batch):
        batches.append({name: array.copy() for name, array in batch.items()})
        return {"SUM": batch["A"] + batch["B"], "ROW": np.arange(len(batch["A"]))[:, None]}

    requests = [request(2, 1), request(1, -5), {"A": np.ones((1, 1), np.float32)},
                request(3, 7)]
    responses = execute_batched(FAKE_PB_UTILS, requests, ("A", "B"), negative_a, run,
                                lambda error: f"failed: {error}")
    assert len(batches) == 1 and len(batches[0]["A"]) == 5  # rows of requests 0 and 3
    first, refused, missing, last = responses
    np.testing.assert_array_equal(first.outputs["SUM"][:, 0], [11, 22])
    np.testing.assert_array_equal(last.outputs["SUM"][:, 0], [77, 88, 99])
    np.testing.assert_array_equal(last.outputs["ROW"][:, 0], [2, 3, 4])
    assert list(first.outputs) == ["SUM", "ROW"] and first.error is None
    assert (refused.error.code, refused.error.message) == ("INVALID_ARG",
                                                          "A must not be negative")
    assert (missing.error.code, missing.error.message) == ("INVALID_ARG",
                                                          "missing input(s) B")


def test_a_failed_run_answers_each_request_of_the_batch_with_the_reason():
    def run(batch):
        raise RuntimeError("out of memory")

    responses = execute_batched(FAKE_PB_UTILS, [request(1, 1), request(1, -1), request(2, 3)],
                                ("A", "B"), negative_a, run, lambda error: f"failed: {error}")
    assert [(r.error.code, r.error.message) for r in responses] == [
        ("INTERNAL", "failed: out of memory"), ("INVALID_ARG", "A must not be negative"),
        ("INTERNAL", "failed: out of memory")]


def test_no_good_request_means_no_run():
    def run(batch):
        raise AssertionError("ran")

    (response,) = execute_batched(FAKE_PB_UTILS, [request(1, -1)], ("A", "B"), negative_a, run,
                                  str)
    assert response.error.code == "INVALID_ARG"
