"""Export: trained weights -> ONNX graphs, FAISS indexes and a Triton model repository.

The vocabulary below is shared by the CLI (which must not import onnxruntime just to
parse its arguments), the config writer and the precision converters.
"""

RUNTIMES = ("python-ort", "onnxruntime", "tensorrt")
DEVICES = ("cpu", "gpu")
PRECISIONS = ("fp32", "fp16", "int8")
