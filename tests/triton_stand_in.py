"""Stand-ins for the stub-only `triton_python_backend_utils`, for unit tests of the Python
models outside Triton. Importable from any test: tests/conftest.py puts this directory on
sys.path."""

from __future__ import annotations


class FakeTensor:
    """pb_utils.Tensor: a name and a NumPy array."""

    def __init__(self, name, array):
        self._name, self._array = name, array

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array
