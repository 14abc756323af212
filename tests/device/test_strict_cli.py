"""`chainrule train --device`, `chainrule info --devices`, and the run it makes on the device."""

from __future__ import annotations

import csv
import json

import pytest

from chainrule.cli import main

TINY = ["--samples", "200", "--epochs", "2", "--hidden", "8", "--quiet"]


def _train(tmp_path, capsys, *argv: str) -> tuple[int, list[dict], str]:
    status = main(["train", *TINY, "--out", str(tmp_path), "--name", "run", *argv])
    out, err = capsys.readouterr()
    assert status == 0, err
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return status, rows, out


def test_info_devices(dev: str, capsys) -> None:
    assert main(["info", "--devices"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cpu: ") and ("stand-in" in out or "cuda:0:" in out)


def test_train_on_the_device_matches_the_cpu(dev: str, tmp_path, capsys) -> None:
    _, on_cpu, _ = _train(tmp_path / "cpu", capsys, "--device", "cpu")
    _, on_dev, out = _train(tmp_path / "dev", capsys, "--device", "cuda")
    _, auto, _ = _train(tmp_path / "auto", capsys)  # auto: the device, when there is one
    for rows in (on_dev, auto):
        for a, b in zip(rows, on_cpu):
            for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
                assert float(a[k]) == pytest.approx(float(b[k]), rel=1e-4), k
    _, dropped, _ = _train(tmp_path / "drop", capsys, "--device", "cuda", "--dropout", "0.2")
    assert all(0 < float(r["loss"]) < 5 for r in dropped)  # masks from the device generator
    config = json.loads((tmp_path / "dev" / "run" / "config.json").read_text())
    assert config["device"] == "cuda"
    # the checkpoint of the device run evaluates and predicts on a CPU-only setup
    from chainrule import backend

    backend.register_device_module(None)
    assert main(["evaluate", str(tmp_path / "dev" / "run")]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["train", "--resume", str(tmp_path / "dev" / "run"), "--epochs", "3",
                 "--device", "cpu", "--quiet"]) == 0


def test_train_device_cuda_without_a_gpu_is_one_clear_error(tmp_path, capsys) -> None:
    from chainrule import backend

    if backend.cuda_available():
        pytest.skip("a GPU is present")
    status = main(["train", *TINY, "--out", str(tmp_path), "--device", "cuda"])
    err = capsys.readouterr().err
    assert status != 0 and "CUDA is not available" in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # refused before a run folder was made
