"""Runs an ONNX model the ML engine exported in onnxruntime (the reference
runtime), for plugins/ml/tests/onnx.rs: python3 check_onnx.py model.onnx
rows.json prints {"outputs": {name: values}} for float32 rows.
"""

import json
import sys

import numpy as np
import onnxruntime as ort


def main(model_path, rows_path):
    rows = np.array(json.load(open(rows_path)), dtype=np.float32)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {"X": rows})
    out = {}
    for name, value in zip(names, values):
        if isinstance(value, list):  # a sequence of maps (ZipMap)
            value = [[v[k] for k in sorted(v)] for v in value]
        out[name] = np.asarray(value).tolist()
    print(json.dumps({"outputs": out, "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
