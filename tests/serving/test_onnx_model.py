"""The python-ort Triton model's execute (sketch2idol/serving/onnx_model.py) with stand-ins
for the stub-only triton_python_backend_utils and for onnxruntime: one batched run for the
good requests, a per-request INVALID_ARG error for a non-finite input or an APPEARANCE row
that is not a look, and an error (not a crash) for every request when onnxruntime fails;
the real runner on an exported two-input generator graph."""

from __future__ import annotations

import numpy as np
import pytest
from triton_stand_in import FAKE_PB_UTILS

from sketch2idol.core import contract
from sketch2idol.core.looks import check_appearance, look_vector, named_look
from sketch2idol.serving.onnx_model import OnnxBatchRunner, TritonPythonModel


class DoublingRunner:
    input_names, output_name = ("PROJECTED",), "REFINED_SKETCH"

    def __init__(self, fail: bool = False):
        self.batches, self.fail = [], fail

    def run(self, feeds):
        (batch,) = feeds.values()
        self.batches.append(len(batch))
        if self.fail:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION")
        return batch * 2


class PaintingRunner:
    """The generator's interface: each face row is its sketch row's mean plus its look's
    first value, so a test can tell which rows went where."""

    input_names, output_name = (contract.REFINED_SKETCH, contract.APPEARANCE), contract.FACE

    def __init__(self):
        self.feeds = []

    def run(self, feeds):
        self.feeds.append(feeds)
        sketch, look = feeds[contract.REFINED_SKETCH], feeds[contract.APPEARANCE]
        assert len(sketch) == len(look)
        return sketch.mean(axis=(1, 2)) + look[:, 0]


def generator_request(value: int, look: np.ndarray, rows: int = 1) -> dict:
    return {contract.REFINED_SKETCH: np.full((rows, 4, 4), value, np.uint8),
            contract.APPEARANCE: np.tile(np.asarray(look, np.float32), (rows, 1))}


IDOL = look_vector(named_look("idol"))


def model_with(runner) -> TritonPythonModel:
    model = TritonPythonModel()
    model.pb_utils, model.runner = FAKE_PB_UTILS, runner
    return model


def test_good_requests_run_as_one_batch_and_a_non_finite_one_gets_its_own_error():
    runner = DoublingRunner()
    good_a, good_b = np.ones((2, 5, 4), np.float32), np.full((1, 5, 4), 3, np.float32)
    bad = np.ones((1, 5, 4), np.float32)
    bad[0, 1, 2] = np.inf
    responses = model_with(runner).execute([{"PROJECTED": good_a}, {"PROJECTED": bad},
                                            {"PROJECTED": good_b}])
    assert runner.batches == [3]  # the two good requests' rows, once
    np.testing.assert_array_equal(responses[0].outputs["REFINED_SKETCH"], good_a * 2)
    np.testing.assert_array_equal(responses[2].outputs["REFINED_SKETCH"], good_b * 2)
    error = responses[1].error
    assert error.code == "INVALID_ARG" and "PROJECTED has 1 NaN or infinite" in error.message
    assert responses[0].error is None and responses[2].error is None


def test_an_onnxruntime_failure_is_an_internal_error_for_each_request():
    responses = model_with(DoublingRunner(fail=True)).execute(
        [{"PROJECTED": np.ones((1, 5, 4), np.float32)} for _ in range(2)])
    assert [r.error.code for r in responses] == ["INTERNAL", "INTERNAL"]
    assert all("onnxruntime failed" in r.error.message for r in responses)


def test_integer_inputs_are_not_checked_for_finiteness():
    runner = DoublingRunner()
    sketch = np.full((1, 8, 8), 255, np.uint8)
    (response,) = model_with(runner).execute([{"PROJECTED": sketch}])
    assert response.error is None and runner.batches == [1]


def not_a_look(kind: str) -> np.ndarray:
    look = IDOL.copy()
    if kind == "NaN":
        look[3] = np.nan
    elif kind == "infinity":
        look[20] = -np.inf
    elif kind == "above 1":
        look[0] = 1.5
    elif kind == "below 0":
        look[7] = -0.01
    return look


@pytest.mark.parametrize("kind", ["NaN", "infinity", "above 1", "below 0"])
def test_an_appearance_that_is_not_a_look_fails_only_its_own_request(kind):
    runner = PaintingRunner()
    bad = not_a_look(kind)
    responses = model_with(runner).execute([
        generator_request(10, IDOL), generator_request(20, bad), generator_request(30, IDOL, 2)])
    assert len(runner.feeds) == 1  # the two good requests, one run
    np.testing.assert_array_equal(runner.feeds[0][contract.REFINED_SKETCH][:, 0, 0],
                                  [10, 30, 30])
    np.testing.assert_allclose(responses[0].outputs[contract.FACE], [10 + IDOL[0]])
    np.testing.assert_allclose(responses[2].outputs[contract.FACE], [30 + IDOL[0]] * 2)
    error = responses[1].error
    assert error.code == "INVALID_ARG"
    assert error.message == check_appearance(bad)  # the reason sketch2idol.core.looks gives
    assert responses[0].error is None and responses[2].error is None


def test_a_bad_row_in_a_multi_row_request_is_named():
    looks = np.stack([IDOL, not_a_look("above 1"), IDOL])
    request = {contract.REFINED_SKETCH: np.zeros((3, 4, 4), np.uint8),
               contract.APPEARANCE: looks}
    (response,) = model_with(PaintingRunner()).execute([request])
    assert response.error.code == "INVALID_ARG"
    assert response.error.message.startswith("row 1: APPEARANCE values must lie in [0.0, 1.0]")


@pytest.mark.parametrize("shape", [(1, contract.LOOK_DIM - 1), (1, contract.LOOK_DIM + 3),
                                   (contract.LOOK_DIM,)])
def test_an_appearance_of_the_wrong_length_or_rank_is_refused(shape):
    runner = PaintingRunner()
    request = {contract.REFINED_SKETCH: np.zeros((1, 4, 4), np.uint8),
               contract.APPEARANCE: np.full(shape, 0.5, np.float32)}
    (response,) = model_with(runner).execute([request])
    assert response.error.code == "INVALID_ARG" and "APPEARANCE" in response.error.message
    if len(shape) == 2:
        assert str(contract.LOOK_DIM) in response.error.message
    assert not runner.feeds


def test_inputs_that_disagree_on_the_batch_or_a_missing_input_are_refused():
    runner = PaintingRunner()
    mismatched = {contract.REFINED_SKETCH: np.zeros((2, 4, 4), np.uint8),
                  contract.APPEARANCE: IDOL[None]}
    missing = {contract.REFINED_SKETCH: np.zeros((1, 4, 4), np.uint8)}
    responses = model_with(runner).execute([mismatched, missing, generator_request(5, IDOL)])
    assert "REFINED_SKETCH has 2 row(s), APPEARANCE has 1 row(s)" in responses[0].error.message
    assert "missing input(s) APPEARANCE" in responses[1].error.message
    assert {r.error.code for r in responses[:2]} == {"INVALID_ARG"}
    assert responses[2].error is None and len(runner.feeds) == 1


def test_the_runner_feeds_every_graph_input_by_name(exported_repository):
    repository, _ = exported_repository
    runner = OnnxBatchRunner(repository / contract.GENERATOR / "1" / "model.onnx", threads=1)
    assert runner.input_names == (contract.REFINED_SKETCH, contract.APPEARANCE)
    sketches = np.full((2, 256, 256), 255, np.uint8)
    sketches[:, 100:110, 60:200] = 0
    looks = np.stack([IDOL, look_vector(named_look("ocean"))])
    faces = runner.run({contract.REFINED_SKETCH: sketches, contract.APPEARANCE: looks})
    assert faces.shape == (2, 256, 256, 3) and faces.dtype == np.uint8
    alone = runner.run({contract.REFINED_SKETCH: sketches[1:], contract.APPEARANCE: looks[1:]})
    assert np.abs(alone[0].astype(int) - faces[1]).max() <= 1
