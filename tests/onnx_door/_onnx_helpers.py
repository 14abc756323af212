"""Shared helpers of the ONNX tests: export to bytes (checked by onnx.checker) and run the
file in onnxruntime, the oracle."""

from __future__ import annotations

import io

import numpy as np
import pytest

import chainrule as cr

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def export_bytes(model, sample, **kwargs) -> bytes:
    buf = io.BytesIO()
    cr.onnx.export(model, sample, buf, **kwargs)
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_model_from_string(data), full_check=True)
    return data


def run_ort(data: bytes, *arrays: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})


def chainrule_out(model, x: np.ndarray) -> np.ndarray:
    model.eval()
    with cr.no_grad():
        return model(cr.from_numpy(x)).numpy()
