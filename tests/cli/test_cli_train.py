"""`chainrule train` end to end: the bare default run meets its bar and leaves a complete run
folder; batch sizes, regression, CSV, models, MNIST (real files when present), TensorBoard,
progress output and exit statuses."""

from __future__ import annotations

import csv
import importlib.util
import io as _io
import json
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import io
from chainrule.cli.models import build_model
from chainrule.cli.progress import Progress
from chainrule.data.datasets import images

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
PNG = b"\x89PNG\r\n\x1a\n"


def test_bare_train_reaches_95_percent_and_leaves_a_full_run_folder(run_cli, tmp_path,
                                                                     read_events):
    r = run_cli("train", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    ev = read_events(folder)
    end = ev[-1]
    assert [e["event"] for e in ev[:2]] == ["start", "epoch"] and end["event"] == "end"
    assert end["val_accuracy"] >= 0.95 and end["train_accuracy"] >= 0.95
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["dataset"] == "spiral" and cfg["epochs"] == end["epoch"]
    lines = r.stdout.splitlines()
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    assert len(epochs) == cfg["epochs"]  # not a terminal: one plain line per epoch
    assert "val_accuracy" in epochs[-1] and "\r" not in r.stdout
    assert any(ln.startswith("done: train accuracy") for ln in lines)
    assert f"run folder: {folder.relative_to(tmp_path)}" in r.stdout
    assert f"chainrule evaluate {folder.relative_to(tmp_path)}" in r.stdout
    with open(folder / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == cfg["epochs"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                            "time"}
    assert float(rows[-1]["val_accuracy"]) == pytest.approx(end["val_accuracy"], abs=1e-5)
    for name in ("last", "previous", "best"):
        state = io.load_raw(folder / f"{name}.safetensors")
        assert state["kind"] == "chainrule.run" and state["architecture"]["hidden"] == [64, 64]
    if HAS_MPL:
        for png in ("curves.png", "decision_boundary.png"):
            assert (folder / png).read_bytes()[:8] == PNG


@pytest.mark.parametrize("batch, steps_per_epoch", [("1", 160), ("full", 1), ("50", 4)])
def test_batch_size_one_full_or_minibatch(cli, tmp_path, tiny, batch, steps_per_epoch):
    status, _, err = cli("train", *tiny, "--batch-size", batch, "--out", tmp_path,
                         "--name", "r")
    assert status == 0, err
    state = io.load_raw(tmp_path / "r" / "last.safetensors")
    assert state["step"] == 2 * steps_per_epoch  # 160 training examples, 2 epochs


def test_regression_on_sine(cli, tmp_path, tiny):
    status, out, err = cli("train", "--dataset", "sine", *tiny, "--epochs", "3",
                           "--out", tmp_path, "--name", "r")
    assert status == 0, err
    header = (tmp_path / "r" / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,val_loss,lr,time"
    assert "validation loss" in out
    assert json.loads((tmp_path / "r" / "config.json").read_text())["loss"] == "mse"
    assert not (tmp_path / "r" / "decision_boundary.png").exists()


@pytest.mark.parametrize("argv", [
    ["--model", "resnet", "--hidden", "8,16"],
    ["--optimizer", "sgd", "--schedule", "onecycle", "--momentum", "0.9"],
    ["--optimizer", "adagrad", "--schedule", "plateau", "--activation", "tanh"],
    ["--dataset", "xor", "--loss", "mse", "--schedule", "warmup", "--val-split", "0"],
])
def test_other_models_schedules_and_losses_train(cli, tmp_path, tiny, argv):
    status, out, err = cli("train", *tiny, *argv, "--out", tmp_path, "--name", "r")
    assert status == 0, err
    state = io.load_raw(tmp_path / "r" / "last.safetensors")
    assert state["epoch"] == 2 and np.isfinite(state["history"][-1]["loss"])


def test_lbfgs_trains_full_batch_with_a_line_search(cli, tmp_path):
    # LBFGS.step needs a closure, and is a full-batch method: the default batch becomes 'full'
    status, _, err = cli("train", "--dataset", "moons", "--samples", "200", "--hidden", "16",
                         "--epochs", "8", "--optimizer", "lbfgs", "--quiet",
                         "--out", tmp_path, "--name", "r")
    assert status == 0, err
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["batch_size"] == "full" and cfg["lr"] == 1.0
    state = io.load_raw(tmp_path / "r" / "last.safetensors")
    assert state["step"] == 8 and state["history"][-1]["accuracy"] >= 0.95
    assert state["optimizer"]["state"][0]["func_evals"] > 8  # the line search ran


@pytest.mark.parametrize("kind", ["mlp", "cnn", "resnet"])
def test_image_models_build_and_map_images_to_logits(kind):
    arch = {"model": kind, "input_shape": [1, 28, 28], "hidden": [4, 8], "activation": "relu",
            "dropout": 0.0, "outputs": 10}
    cr.manual_seed(0)
    out = build_model(arch)(cr.randn(3, 1, 28, 28))
    assert out.shape == (3, 10)


def test_csv_data_set_with_word_labels(cli, tmp_path, tiny):
    X, y = np.random.default_rng(0).normal(size=(120, 3)), None
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,answer\n" + "".join(f"{r[0]},{r[1]},{r[2]},{v}\n"
                                               for r, v in zip(X, y)))
    status, _, err = cli("train", "--dataset", path, "--label-column", "answer", *tiny,
                         "--epochs", "5", "--out", tmp_path, "--name", "r")
    assert status == 0, err
    state = io.load_raw(tmp_path / "r" / "best.safetensors")
    assert state["data"]["classes"] == ["no", "yes"]
    assert len(state["data"]["preprocess"]["mean"]) == 3


def test_mnist_on_the_real_test_files(cli, tmp_path, mnist_dir):
    status, out, err = cli("train", "--dataset", "mnist", "--data-dir", mnist_dir,
                           "--epochs", "1", "--hidden", "64", "--out", tmp_path, "--name", "m")
    assert status == 0, err
    assert "only the t10k files are in" in out and "first 8000 images" in out
    end = json.loads((tmp_path / "m" / "events.jsonl").read_text().splitlines()[-1])
    assert end["val_accuracy"] > 0.85


@pytest.mark.parametrize("model", ["cnn", "resnet"])
def test_convolutional_models_on_a_few_real_images(cli, tmp_path, mnist_dir, model):
    status, out, err = cli("train", "--dataset", "mnist", "--data-dir", mnist_dir,
                           "--model", model, "--hidden", "4", "--samples", "64",
                           "--epochs", "1", "--quiet", "--out", tmp_path, "--name", "m")
    assert status == 0, err
    state = io.load_raw(tmp_path / "m" / "last.safetensors")
    assert state["step"] == 2 and state["architecture"]["model"] == model


def test_missing_mnist_offline_says_where_to_put_the_files(cli, tmp_path, monkeypatch):
    dead = (tmp_path / "no-mirror").as_uri() + "/"
    monkeypatch.setitem(images.SOURCES, "mnist", ([dead], images.SOURCES["mnist"][1]))
    status, out, err = cli("train", "--dataset", "mnist", "--data-dir", tmp_path / "empty",
                           "--out", tmp_path / "runs")
    assert status == 1 and err.count("\n") > 1  # the mirrors tried, one per line
    assert "could not be downloaded" in err and str(tmp_path / "empty") in err
    assert not (tmp_path / "runs").exists()


def test_without_matplotlib_the_run_says_what_to_install(cli, tmp_path, tiny, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    status, out, err = cli("train", *[a for a in tiny if a != "--quiet"], "--out", tmp_path,
                           "--name", "r")
    assert status == 0
    assert 'note: no plots (matplotlib is not installed; pip install "chainrule[viz]"' in err
    assert (tmp_path / "r" / "best.safetensors").exists()
    assert not list((tmp_path / "r").glob("*.png"))


def test_tensorboard_needs_a_writer(cli, tmp_path, tiny):
    status, _, err = cli("train", *tiny, "--tensorboard", "--out", tmp_path, "--name", "r")
    spec = importlib.util.find_spec
    writer = spec("tensorboardX") or (spec("tensorboard") and spec("torch"))
    if writer:
        assert status == 0 and any((tmp_path / "r" / "tensorboard").iterdir())
    else:
        assert status == 1 and "pip install tensorboardX" in err
        assert not (tmp_path / "r").exists()


def test_existing_run_name_and_debug_traceback(cli, run_cli, tmp_path, tiny):
    assert cli("train", *tiny, "--out", tmp_path, "--name", "r")[0] == 0
    status, _, err = cli("train", *tiny, "--out", tmp_path, "--name", "r")
    assert status == 1 and "already exists" in err and "--resume" in err
    r = run_cli("train", "--dataset", "nope.csv", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = run_cli("train", "--dataset", "nope.csv", "--debug", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr


def test_progress_bar_on_a_terminal_and_lines_elsewhere():
    class Tty(_io.StringIO):
        def isatty(self) -> bool:
            return True

    row = {"loss": 0.5, "accuracy": 0.75}
    for stream, tty in ((Tty(), True), (_io.StringIO(), False)):
        p = Progress(epochs=2, steps=4, stream=stream)
        for epoch in (1, 2):
            p.start(epoch)
            for i in range(1, 5):
                p.step(i, 0.5, 0.75)
            p.end(row, ["loss", "accuracy"])
        text = stream.getvalue()
        assert text.count("\n") == 2 and "epoch 2/2  loss 0.5000  accuracy 75.00%" in text
        assert ("\r" in text and "[######" in text) == tty
    quiet = _io.StringIO()
    p = Progress(epochs=1, steps=1, quiet=True, stream=quiet)
    p.start(1)
    p.end(row, ["loss"])
    assert quiet.getvalue() == ""


def test_monitor_gradients_records_and_draws(cli, tmp_path, tiny):
    pytest.importorskip("matplotlib")
    status, out, err = cli("train", *tiny, "--out", tmp_path, "--name", "mon",
                           "--activation", "sigmoid", "--hidden", "8,8,8,8,8,8,8,8,8,8",
                           "--monitor-gradients")
    assert status == 0, err
    assert (tmp_path / "mon" / "gradients.png").stat().st_size > 0
