"""Stand-ins for the stub-only `triton_python_backend_utils`, for unit tests of the Python
models outside Triton. Importable from any test: tests/conftest.py puts this directory on
sys.path."""

from __future__ import annotations

import types


class FakeTensor:
    """pb_utils.Tensor: a name and a NumPy array."""

    def __init__(self, name, array):
        self._name, self._array = name, array

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array


class FakeError:
    """pb_utils.TritonError: a message and a code."""

    INVALID_ARG, INTERNAL = "INVALID_ARG", "INTERNAL"

    def __init__(self, message, code=None):
        self.message, self.code = message, code


#: pb_utils for a model's execute: tensors, errors, responses ({name: array} outputs), and
#: requests as plain {input name: array} dicts.
FAKE_PB_UTILS = types.SimpleNamespace(
    Tensor=FakeTensor, TritonError=FakeError,
    InferenceResponse=lambda output_tensors, error=None: types.SimpleNamespace(
        outputs={t.name(): t.as_numpy() for t in output_tensors}, error=error),
    get_input_tensor_by_name=lambda request, name: FakeTensor(name, request[name])
    if name in request else None)
