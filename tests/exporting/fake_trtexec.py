"""A stand-in for TensorRT's trtexec, for testing sketch2idol/export/tensorrt.py where TensorRT
cannot
be installed: "building" copies the ONNX file to the plan path, "running" executes it with
onnxruntime and writes trtexec's --exportOutput JSON. With FAKE_TRT_SPOIL=<model dir name>,
plans of that model built without --layerPrecisions return outputs off by 40 grey levels
(as an FP16 instance norm gone wrong would)."""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

args = dict(arg[2:].split("=", 1) for arg in sys.argv[1:] if "=" in arg)
flags = {arg for arg in sys.argv[1:] if "=" not in arg}
if "saveEngine" in args:
    plan = Path(args["saveEngine"])
    shutil.copy(args["onnx"], plan)
    plan.with_suffix(".fp32layers").write_text(args.get("layerPrecisions", ""))
    sys.exit(0)
plan = Path(args["loadEngine"])
session = ort.InferenceSession(str(plan), providers=["CPUExecutionProvider"])
# trtexec's lists: --loadInputs=NAME:file,NAME:file  --shapes=NAME:BxD,NAME:BxDxD
files = dict(entry.split(":", 1) for entry in args["loadInputs"].split(","))
shapes = {name: [int(d) for d in dims.split("x")]
          for name, dims in (entry.split(":", 1) for entry in args["shapes"].split(","))}
graph_inputs = {graph_input.name: graph_input for graph_input in session.get_inputs()}
if set(files) != set(graph_inputs) or set(shapes) != set(graph_inputs):
    sys.exit(f"inputs {sorted(files)} / shapes {sorted(shapes)} are not the plan's "
             f"{sorted(graph_inputs)}")
feeds = {name: np.fromfile(raw, np.uint8 if graph_inputs[name].type == "tensor(uint8)"
                           else np.float32).reshape(shapes[name])
         for name, raw in files.items()}
output = session.run(None, feeds)[0]
spoiled = os.environ.get("FAKE_TRT_SPOIL") == plan.parent.parent.name
if spoiled and not plan.with_suffix(".fp32layers").read_text():
    output = np.clip(output.astype(np.int16) + 40, 0, 255).astype(output.dtype)
Path(args["exportOutput"]).write_text(json.dumps([{
    "name": session.get_outputs()[0].name, "dimensions": "x".join(map(str, output.shape)),
    "values": output.ravel().tolist()}]))
