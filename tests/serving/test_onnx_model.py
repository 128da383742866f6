"""The python-ort Triton model's execute (sketch2idol/serving/onnx_model.py) with stand-ins
for the stub-only triton_python_backend_utils and for onnxruntime: one batched run for the
good requests, a per-request INVALID_ARG error for a non-finite input, and an error (not a
crash) for every request when onnxruntime fails."""

from __future__ import annotations

import types

import numpy as np
from triton_stand_in import FakeTensor

from sketch2idol.serving.onnx_model import TritonPythonModel


class FakeError:
    INVALID_ARG, INTERNAL = "INVALID_ARG", "INTERNAL"

    def __init__(self, message, code=None):
        self.message, self.code = message, code


FAKE_PB_UTILS = types.SimpleNamespace(
    Tensor=FakeTensor, TritonError=FakeError,
    InferenceResponse=lambda output_tensors, error=None: types.SimpleNamespace(
        outputs={t.name(): t.as_numpy() for t in output_tensors}, error=error),
    get_input_tensor_by_name=lambda request, name: FakeTensor(name, request[name]))


class DoublingRunner:
    input_name, output_name = "PROJECTED", "REFINED_SKETCH"

    def __init__(self, fail: bool = False):
        self.batches, self.fail = [], fail

    def run(self, batch):
        self.batches.append(len(batch))
        if self.fail:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION")
        return batch * 2


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
