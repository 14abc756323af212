"""`chainrule export RUN model.onnx`: a trained run's model in onnxruntime agrees with the model
and with `chainrule evaluate` / `chainrule predict`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.cli.commands import open_checkpoint
from chainrule.cli.data import load_data
from chainrule.cli.trainer import predict

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[2]


def _cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def spiral_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "--samples", "300", "--epochs", "4", "--hidden", "16,16", "--quiet",
                 "--out", str(out), "--name", "s"]) == 0
    return out / "s"


def test_cli_export_agrees_with_the_model_and_evaluate(spiral_run, tmp_path, capsys):
    status, out, err = _cli(capsys, "export", spiral_run, tmp_path / "m.onnx")
    assert status == 0, err
    assert "input  'input'  float32 (batch, 2)" in out and "(batch, 3), logits" in out
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["chainrule.classes"]) == ["0", "1", "2"]
    assert meta["chainrule.inputs"] == "prepared"

    _, state, model = open_checkpoint(str(spiral_run), print)
    data = load_data(state["config"], preprocess=state["data"]["preprocess"])
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (logits,) = sess.run(["output"], {"input": data.X_val})  # 60 rows; exported with 2
    np.testing.assert_allclose(logits, predict(model, data.X_val), rtol=1e-5, atol=1e-5)
    status, out, _ = _cli(capsys, "evaluate", spiral_run)
    acc = float(re.search(r"accuracy (\d+\.\d+)%", out).group(1))
    assert np.mean(logits.argmax(1) == data.y_val) * 100 == pytest.approx(acc, abs=0.01)


def test_cli_export_raw_inputs_agrees_with_predict(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal([5.0, -20.0, 300.0], [1.0, 4.0, 50.0], size=(150, 3))
    y = (X[:, 0] - 5 + (X[:, 1] + 20) / 4 > 0).astype(int)
    rows = "\n".join(",".join(f"{v:.4f}" for v in x) + f",{c}" for x, c in zip(X, y))
    (tmp_path / "d.csv").write_text("a,b,c,label\n" + rows + "\n")
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--epochs", "3", "--quiet",
                 "--hidden", "8", "--out", str(tmp_path), "--name", "t"]) == 0
    capsys.readouterr()
    status, out, err = _cli(capsys, "export", tmp_path / "t", tmp_path / "raw.onnx",
                            "--raw-inputs", "--verify", "--opset", "17")
    assert status == 0, err
    assert "raw features" in out
    new = X[:7] + 0.5
    (tmp_path / "new.csv").write_text("a,b,c\n" + "\n".join(",".join(map(str, r)) for r in new))
    status, out, err = _cli(capsys, "predict", tmp_path / "t", tmp_path / "new.csv")
    assert status == 0, err
    want = np.array([[float(v) for v in line.split(",")[1:]] for line in out.splitlines()[1:]])
    sess = ort.InferenceSession(str(tmp_path / "raw.onnx"))
    (logits,) = sess.run(None, {"input": new.astype(np.float32)})
    p = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(1, keepdims=True), want, atol=2e-6)
    assert sess.get_inputs()[0].shape == ["batch", 3]


def test_cli_export_errors_are_one_line(tmp_path, capsys):
    status, _, err = _cli(capsys, "export", tmp_path / "nope", tmp_path / "m.onnx")
    assert status == 1 and "no such run folder or checkpoint" in err
    assert err.count("\n") == 1
    status, _, err = _cli(capsys, "export")
    assert status == 2 and "RUN_OR_CHECKPOINT" in err


def test_cli_export_end_to_end_in_a_subprocess(spiral_run, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "chainrule", "export", str(spiral_run / "best"
                        ".safetensors"), "out.onnx", "--opset", "18"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "as ONNX opset 18" in r.stdout
    assert ort.InferenceSession(str(tmp_path / "out.onnx")).run(
        None, {"input": np.zeros((5, 2), np.float32)})[0].shape == (5, 3)
