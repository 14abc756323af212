"""--resume continues a run exactly: interrupted (Ctrl-C, or SIGKILL at a random moment) and
resumed, a run ends with the same weights, bit for bit, as the uninterrupted one; a corrupt
`last` checkpoint falls back to `previous` with a warning; bad resumes are refused clearly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import runs

ROOT = Path(__file__).resolve().parents[2]


def assert_same_run(a: Path, b: Path) -> None:
    """Same weights, buffers, optimizer state and losses, bit for bit."""
    sa, sb = io.load_raw(a / runs.LAST), io.load_raw(b / runs.LAST)
    assert sa["epoch"] == sb["epoch"] and sa["step"] == sb["step"]
    for k, v in sa["model"].items():
        np.testing.assert_array_equal(v, sb["model"][k], err_msg=k)
    for i, st in sa["optimizer"]["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(v, sb["optimizer"]["state"][i][k], err_msg=k)
    assert sa["optimizer"]["param_groups"] == sb["optimizer"]["param_groups"]
    assert sa["rng"] == sb["rng"] and sa["scheduler"] == sb["scheduler"]
    assert [r["loss"] for r in sa["history"]] == [r["loss"] for r in sb["history"]]
    assert sa["best"]["epoch"] == sb["best"]["epoch"]


def interrupt_after(monkeypatch, epoch: int) -> None:
    """Ctrl-C right after the checkpoint of `epoch` is written."""
    save = runs.Run.save

    def save_then_interrupt(self, state, best):
        save(self, state, best)
        if state["epoch"] == epoch:
            raise KeyboardInterrupt
    monkeypatch.setattr(runs.Run, "save", save_then_interrupt)


CONFIGS = {
    "mlp+dropout+adam": ["--dropout", "0.2", "--batch-size", "16"],
    "resnet+sgd+onecycle": ["--model", "resnet", "--optimizer", "momentum",
                            "--schedule", "onecycle", "--batch-size", "32"],
    "nadam+cosine+decay": ["--optimizer", "nadam", "--schedule", "cosine",
                           "--weight-decay", "0.01"],
    "rmsprop+plateau": ["--optimizer", "rmsprop", "--schedule", "plateau", "--momentum", "0.5"],
    "lbfgs+full-batch": ["--optimizer", "lbfgs"],  # state: history lists, one flat vector
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_interrupted_and_resumed_equals_uninterrupted(cli, tmp_path, monkeypatch, name):
    base = ["--samples", "150", "--epochs", "4", "--hidden", "8,8", "--quiet",
            "--out", tmp_path, *CONFIGS[name]]
    assert cli("train", *base, "--name", "straight")[0] == 0
    with monkeypatch.context() as m:
        interrupt_after(m, 2)
        status, out, _ = cli("train", *base, "--name", "cut")
    assert status == 130 and f"chainrule train --resume {tmp_path / 'cut'}" in out
    assert io.load_raw(tmp_path / "cut" / runs.LAST)["epoch"] == 2
    status, out, err = cli("train", "--resume", tmp_path / "cut")
    assert status == 0, err
    assert_same_run(tmp_path / "straight", tmp_path / "cut")
    def metrics(run: str) -> list[list[str]]:  # every column but the epoch's duration
        lines = (tmp_path / run / "metrics.csv").read_text().splitlines()
        return [line.split(",")[:-1] for line in lines]
    assert metrics("cut") == metrics("straight") and len(metrics("cut")) == 5


def test_a_finished_run_extends_as_if_trained_longer(cli, tmp_path, read_events):
    base = ["--samples", "150", "--hidden", "8", "--quiet", "--out", tmp_path]
    assert cli("train", *base, "--epochs", "5", "--name", "long")[0] == 0
    assert cli("train", *base, "--epochs", "2", "--name", "short")[0] == 0
    status, _, err = cli("train", "--resume", tmp_path / "short", "--epochs", "5")
    assert status == 0, err
    assert_same_run(tmp_path / "long", tmp_path / "short")
    assert json.loads((tmp_path / "short" / "config.json").read_text())["epochs"] == 5
    kinds = [e["event"] for e in read_events(tmp_path / "short")]
    assert kinds.count("start") == 1 and kinds.count("resume") == 1 and kinds[-1] == "end"


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_killed_at_a_random_moment_and_resumed_equals_uninterrupted(cli, tmp_path):
    base = ["train", "--samples", "400", "--epochs", "30", "--hidden", "16", "--quiet",
            "--batch-size", "8", "--out", tmp_path]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "chainrule", *map(str, base), "--name",
                              "killed"], env=env, stdout=subprocess.DEVNULL)
    events = tmp_path / "killed" / "events.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if events.exists() and events.read_text().count('"checkpoint"') >= 2:
            break
        time.sleep(0.02)
    time.sleep(float(np.random.default_rng().uniform(0, 0.2)))  # anywhere in an epoch
    child.send_signal(signal.SIGKILL)
    child.wait()
    reached = io.load_raw(tmp_path / "killed" / runs.LAST)["epoch"]
    assert 2 <= reached < 30, "the run was not killed mid-way"
    status, _, err = cli("train", "--resume", tmp_path / "killed")
    assert status == 0, err
    assert cli(*base, "--name", "straight")[0] == 0
    assert_same_run(tmp_path / "straight", tmp_path / "killed")


def test_corrupt_last_falls_back_to_previous_with_a_warning(cli, tmp_path):
    base = ["--samples", "150", "--hidden", "8", "--quiet", "--out", tmp_path]
    assert cli("train", *base, "--epochs", "4", "--name", "straight")[0] == 0
    assert cli("train", *base, "--epochs", "3", "--name", "r")[0] == 0
    last = tmp_path / "r" / runs.LAST
    data = bytearray(last.read_bytes())
    data[-10] ^= 0xFF
    last.write_bytes(bytes(data))
    status, out, err = cli("train", "--resume", tmp_path / "r", "--epochs", "4")
    assert status == 0, err
    assert "warning:" in err and str(last) in err and "tampered or corrupted" in err
    assert "previous.safetensors (epoch 2)" in err
    assert_same_run(tmp_path / "straight", tmp_path / "r")  # epochs 3 and 4 trained again


def test_bad_resumes_are_refused(cli, tmp_path):
    base = ["--samples", "150", "--hidden", "8", "--quiet", "--out", tmp_path, "--epochs", "2"]
    assert cli("train", *base, "--name", "r")[0] == 0
    assert cli("train", *base, "--name", "c", "--schedule", "cosine")[0] == 0
    r = tmp_path / "r"
    cases = [
        (["--resume", r, "--lr", "0.1"], 2, "--lr cannot change when resuming"),
        (["--resume", r], 2, "already trained 2 of its 2 epochs"),
        (["--resume", r, "--config", "x.toml"], 2, "--config and --resume do not go together"),
        (["--resume", tmp_path / "c", "--epochs", "4"], 2, "--schedule cosine"),
        (["--resume", tmp_path / "nope"], 1, "no such run folder or checkpoint"),
        (["--resume", tmp_path / "r" / "config.json"], 1,
         "is not a checkpoint: it is a run folder's config.json"),
    ]
    for argv, code, words in cases:
        status, _, err = cli("train", *argv)
        assert status == code and words in err, (argv, err)
    for name in (runs.LAST, runs.PREVIOUS):
        (r / name).write_bytes(b"junk")
    status, _, err = cli("train", "--resume", r, "--epochs", "3")
    assert status == 1 and "no usable checkpoint" in err and err.count("warning:") == 2
