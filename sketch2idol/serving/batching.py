"""The one batching adapter of the Python-backend models: Triton's dynamic batcher hands
`execute` several requests; each request is checked on its own (a bad one gets its own
INVALID_ARG error and the others still run), the good ones' inputs are concatenated and run
ONCE, and every output is split back into the requests' row counts. A failure of the batched
run answers each of its requests with an INTERNAL error instead of crashing the model.

`pb_utils` is `triton_python_backend_utils` (only the Triton stub has it), passed in so the
adapter is testable with a stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Arrays = dict[str, np.ndarray]


def error_response(pb_utils, message: str, invalid_input: bool = False):
    """An error response: INVALID_ARG (HTTP 400) for bad input, else INTERNAL (500)."""
    error_class = pb_utils.TritonError
    code = getattr(error_class, "INVALID_ARG" if invalid_input else "INTERNAL", None)
    arguments = (message,) if code is None else (message, code)
    return pb_utils.InferenceResponse(output_tensors=[], error=error_class(*arguments))


def split_rows(output: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """Cut a concatenated batch back into the requests' row counts."""
    return np.split(output, np.cumsum(sizes)[:-1])


def execute_batched(pb_utils, requests: list, input_names: Sequence[str],
                    check: Callable[[Arrays], str | None], run: Callable[[Arrays], Arrays],
                    failure: Callable[[Exception], str]) -> list:
    """One response per request, in order.

    check(arrays)  why one request's inputs cannot be run (INVALID_ARG), or None
    run(batch)     the concatenated inputs -> {output name: rows}, the outputs in answer order
    failure(error) the message of the INTERNAL error when `run` raises
    """
    responses: list = [None] * len(requests)
    good, inputs = [], []
    for position, request in enumerate(requests):
        tensors = {name: pb_utils.get_input_tensor_by_name(request, name)
                   for name in input_names}
        missing = [name for name, tensor in tensors.items() if tensor is None]
        if missing:  # Triton refuses these first; never index a None
            responses[position] = error_response(
                pb_utils, f"missing input(s) {', '.join(missing)}", invalid_input=True)
            continue
        arrays = {name: tensor.as_numpy() for name, tensor in tensors.items()}
        if message := check(arrays):
            responses[position] = error_response(pb_utils, message, invalid_input=True)
        else:
            good.append(position)
            inputs.append(arrays)
    if not good:
        return responses
    batch = {name: np.concatenate([arrays[name] for arrays in inputs])
             if len(inputs) > 1 else inputs[0][name] for name in input_names}
    try:
        outputs = run(batch)
    except Exception as error:  # noqa: BLE001 - every request gets the reason, no crash
        for position in good:
            responses[position] = error_response(pb_utils, failure(error))
        return responses
    sizes = [len(arrays[input_names[0]]) for arrays in inputs]
    pieces = {name: split_rows(rows, sizes) for name, rows in outputs.items()}
    for index, position in enumerate(good):
        responses[position] = pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor(name, pieces[name][index]) for name in outputs])
    return responses
