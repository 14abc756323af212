"""`chainrule evaluate`, `predict` and `info` on run folders and checkpoint files, and their
one-line errors for damaged, mismatched or foreign inputs."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import runs


@pytest.fixture
def spiral_run(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    status, _, err = cli("train", "--samples", "300", "--epochs", "8", "--hidden", "16",
                         "--quiet", "--out", out, "--name", "s")
    assert status == 0, err
    return out / "s"


def test_end_to_end_evaluate_predict_info(run_cli, spiral_run, tmp_path):
    r = run_cli("evaluate", spiral_run, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    best = io.load_raw(spiral_run / runs.BEST)
    acc = best["best"]["val_accuracy"]
    assert f"{spiral_run / runs.BEST} (epoch {best['epoch']}) on spiral, val split, 60 " \
           "examples:" in r.stdout
    assert f"accuracy {acc:.2%}" in r.stdout and r.stdout.count("  class ") == 3
    (tmp_path / "in.csv").write_text("x0,x1\n0.5,0.2\n-0.3,0.1\n0,0\n")
    r = run_cli("predict", spiral_run / runs.BEST, "in.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "prediction,p_0,p_1,p_2" and len(lines) == 4
    for line in lines[1:]:
        label, *p = line.split(",")
        p = np.array(p, float)
        assert abs(p.sum() - 1) < 1e-5 and int(label) == p.argmax()
    r = run_cli("info", spiral_run, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "model       mlp, 99 parameters" in r.stdout  # 2*16+16 + 16*3+3
    assert "Linear(in_features=2, out_features=16, bias=True)" in r.stdout
    assert f"progress    epoch {best['epoch']} of 8" in r.stdout and "  best  epoch" in r.stdout


def test_evaluate_splits_and_another_sample_count(cli, spiral_run):
    status, out, err = cli("evaluate", spiral_run / runs.LAST, "--split", "train")
    assert status == 0 and "(epoch 8) on spiral, train split, 240 examples" in out
    status, out, _ = cli("evaluate", spiral_run, "--split", "all", "--samples", "600")
    assert status == 0 and "all split, 600 examples" in out


def test_predict_to_a_file_and_bad_rows(cli, spiral_run, tmp_path):
    (tmp_path / "in.csv").write_text("0.1,0.2\n0.3,0.4\n")
    status, out, _ = cli("predict", spiral_run, tmp_path / "in.csv", "-o", tmp_path / "p.csv")
    assert status == 0 and "wrote 2 predictions" in out
    assert (tmp_path / "p.csv").read_text().count("\n") == 3
    for text, words in (("0.1,0.2,0.3\n", "row 1: 3 values, but the model takes 2 features"),
                        ("a,b\n1,x\n", "row 2: a value is not a number"), ("", "no rows")):
        (tmp_path / "bad.csv").write_text(text)
        status, _, err = cli("predict", spiral_run, tmp_path / "bad.csv")
        assert status == 1 and words in err and err.count("\n") == 1


def test_csv_trained_model_predicts_and_evaluates_with_its_own_scaling(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(100, 10, size=(200, 2))  # far from zero: standardisation matters
    y = np.where(X[:, 0] > 100, "hi", "lo")
    rows = "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y))
    (tmp_path / "d.csv").write_text("u,v,label\n" + rows)
    status, _, err = cli("train", "--dataset", tmp_path / "d.csv", "--epochs", "20", "--quiet",
                         "--hidden", "8", "--out", tmp_path, "--name", "c")
    assert status == 0, err
    (tmp_path / "q.csv").write_text("u,label,v\n130,?,100\n70,?,100\n")  # label column dropped
    status, out, err = cli("predict", tmp_path / "c", tmp_path / "q.csv")
    assert status == 0, err
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == ["hi", "lo"]
    (tmp_path / "only_hi.csv").write_text("u,v,label\n" + "".join(
        f"{a},{b},hi\n" for a, b in X[X[:, 0] > 105]))
    status, out, err = cli("evaluate", tmp_path / "c", "--dataset", tmp_path / "only_hi.csv",
                           "--split", "all")
    assert status == 0, err
    assert "class           hi" in out and "class           lo" not in out


def test_regression_predictions(cli, tmp_path):
    status, _, err = cli("train", "--dataset", "sine", "--epochs", "30", "--quiet",
                         "--out", tmp_path, "--name", "s")
    assert status == 0, err
    (tmp_path / "x.csv").write_text("x\n1.5708\n-1.5708\n")
    status, out, _ = cli("predict", tmp_path / "s", tmp_path / "x.csv")
    lines = out.splitlines()
    assert status == 0 and lines[0] == "prediction"
    assert float(lines[1]) > 0.5 and float(lines[2]) < -0.5


def test_info_on_a_plain_saved_file_lists_its_tensors(cli, tmp_path):
    io.save({"encoder": {"w": np.zeros((3, 4), np.float32)}, "steps": 5}, tmp_path / "p.st")
    status, out, _ = cli("info", tmp_path / "p.st")
    assert status == 0 and "not a training checkpoint" in out
    assert "encoder.w" in out and "float32" in out and "1 tensors, 12 values" in out


def test_damaged_or_mismatched_checkpoints_are_one_line_errors(cli, spiral_run, tmp_path):
    data = bytearray((spiral_run / runs.BEST).read_bytes())
    data[-3] ^= 0x40
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    for cmd in (["info"], ["evaluate"], ["predict"]):
        args = [tmp_path / "bad.safetensors"] + ([tmp_path / "in.csv"] if cmd == ["predict"]
                                                 else [])
        status, _, err = cli(*cmd, *args)
        assert status == 1 and "tampered or corrupted" in err and err.count("\n") == 1
    state = io.load_raw(spiral_run / runs.BEST)
    state["architecture"]["hidden"] = [12, 12]
    io.save(state, tmp_path / "mismatch.safetensors")
    status, _, err = cli("info", tmp_path / "mismatch.safetensors")
    assert status == 1 and "shape mismatches: 0.weight: checkpoint (16, 2) vs model (12, 2)" \
        in err and "missing keys: 4.weight, 4.bias" in err
    status, _, err = cli("evaluate", tmp_path / "nothing-here")
    assert status == 1 and "no such run folder or checkpoint" in err
    status, _, err = cli("evaluate", spiral_run, "--dataset", "sine")
    assert status == 1 and "sine has inputs of shape [1], the model takes [2]" in err
