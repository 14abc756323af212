"""The command line under bad input and attack (issue 17, items 2, 3, 5, 8, 9): a forged
checkpoint's sizes and paths are refused before use, --resume never writes through links or into
a folder that is not a run folder, text from files is printed escaped, bad input is a usage error
(2) or a clear failure (1) but never an internal error, and CSV input is read exactly (a BOM,
bad cells by line and column, NaN and infinity refused unless asked) in a stream."""

from __future__ import annotations

import contextlib
import copy
import io as _io
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import main, runs, trust
from chainrule.cli.models import build_model
from chainrule.data import datasets
from chainrule.data.datasets import DatasetError, tabular

TINY = ["--samples", "150", "--hidden", "8", "--quiet", "--epochs", "2"]


def call(*argv) -> tuple[int, str, str]:
    """(status, stdout, stderr) of `chainrule argv` run in this process."""
    out, err = _io.StringIO(), _io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def clean(status: int, err: str, code: int, *words: str) -> None:
    """The failure is `code`, one line of error naming words, never an internal error."""
    assert status == code, err
    assert "internal error" not in err and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    status, _, err = call("train", *TINY, "--out", out, "--name", "r")
    assert status == 0, err
    return out / "r"


def forge(run: Path, where: Path, change) -> Path:
    """A copy of the run's best checkpoint with change(state) applied (a valid digest: anyone
    can write one with chainrule itself)."""
    state = copy.deepcopy(io.load_raw(run / runs.BEST))
    change(state)
    io.save(state, where)
    return where


# -- item 2: what a checkpoint says is checked, and its paths are never followed ---------------
def test_a_forged_architecture_is_refused_before_anything_is_allocated(run, tmp_path):
    def huge(s):
        s["architecture"]["hidden"] = s["config"]["hidden"] = [1_000_000, 1_000_000]
    path = forge(run, tmp_path / "f.safetensors", huge)
    for argv in (["info", path], ["evaluate", path], ["predict", path, tmp_path / "x.csv"]):
        tracemalloc.start()
        status, _, err = call(*argv)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        clean(status, err, 1, "1,000,007,000,003 values", "holds 51", "refusing to build it")
        assert peak < 200 * 2**20  # megabytes, not the terabytes the file asks for


def test_a_forged_best_checkpoint_falls_back_to_the_last_one(run, tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    for name in ("config.json", runs.LAST):
        (folder / name).write_bytes((run / name).read_bytes())

    def huge(s):
        s["architecture"]["hidden"] = s["config"]["hidden"] = [1_000_000, 1_000_000]
    forge(run, folder / runs.BEST, huge)
    status, out, err = call("evaluate", folder)
    assert status == 0 and f"{folder / runs.LAST} (epoch 2)" in out, err
    assert "refusing to build it" in err and "trying the next checkpoint" in err


@pytest.mark.parametrize("field, value, words", [
    ("config.samples", 10**12, "config.samples: expected a whole number >= 1 up to"),
    ("config.hidden", [8, 10**9], "config.hidden: expected layer widths up to"),
    ("config.lr", "fast", "config.lr: expected a number > 0"),
    ("config.epochs", None, "config.epochs: missing"),
    ("config.model", {"a": 1}, "config.model: expected one of"),
    ("architecture.input_shape", [2, 10**9], "architecture.input_shape"),
    ("architecture.activation", "swish", "architecture.activation"),
    ("data.classes", ["a"], "data.classes: expected 3 class names"),
    ("data.preprocess", [], "data.preprocess"),
    ("history", "lots", "history: expected a list"),
    ("epoch", "2", "epoch: expected a whole number"),
    ("best", {"epoch": 1, "loss": "low"}, "best.loss: expected a number"),
])
def test_each_forged_field_is_a_checkpoint_error_naming_it(run, tmp_path, field, value, words):
    def change(s):
        *parents, key = field.split(".")
        target = s
        for p in parents:
            target = target[p]
        target[key] = value
    path = forge(run, tmp_path / "f.safetensors", change)
    for cmd in ("info", "evaluate"):
        status, _, err = call(cmd, path)
        clean(status, err, 1, str(path), words)


def test_the_data_dir_in_a_checkpoint_is_never_created_or_read(run, tmp_path, monkeypatch):
    from chainrule.data.datasets import images

    evil = tmp_path / "anywhere" / "it" / "says"
    dead = (tmp_path / "no-mirror").as_uri() + "/"
    monkeypatch.setitem(images.SOURCES, "mnist", ([dead], images.SOURCES["mnist"][1]))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default cache: ~/.cache/chainrule

    def to_mnist(s):
        s["config"].update(dataset="mnist", data_dir=str(evil))
    path = forge(run, tmp_path / "f.safetensors", to_mnist)
    status, _, err = call("evaluate", path)
    clean(status, err, 1, str(tmp_path / "home" / ".cache" / "chainrule" / "mnist"))
    assert str(evil) not in err and not (tmp_path / "anywhere").exists()
    status, _, err = call("evaluate", path, "--data-dir", tmp_path / "mine")
    clean(status, err, 1, str(tmp_path / "mine"))  # the user's flag decides
    assert not (tmp_path / "anywhere").exists()


def csv_file(path: Path, n: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    rows = "".join(f"{a:.5f},{b:.5f},{'hi' if a + b > 0 else 'lo'}\n" for a, b in X)
    path.write_text("u,v,label\n" + rows)
    return path


def test_a_csv_path_in_a_checkpoint_is_never_opened(tmp_path):
    data = csv_file(tmp_path / "d.csv")
    status, _, err = call("train", "--dataset", data, *TINY, "--out", tmp_path, "--name", "c")
    assert status == 0, err
    run = tmp_path / "c"
    status, _, err = call("evaluate", run)  # the recorded path exists, and is still not read
    clean(status, err, 2, "never opened", "pass --dataset FILE", str(data))
    status, out, err = call("evaluate", run, "--dataset", data)
    assert status == 0 and "on " + str(data) in out, err
    status, _, err = call("train", "--resume", run, "--epochs", "3")
    clean(status, err, 2, "never opened", "--dataset FILE")
    moved = data.rename(tmp_path / "moved.csv")  # where the file lives may change on resume
    status, _, err = call("train", "--resume", run, "--epochs", "3", "--dataset", moved)
    assert status == 0, err
    assert json.loads((run / "config.json").read_text())["dataset"] == str(moved)
    other = csv_file(tmp_path / "other.csv", seed=1)  # ... what it holds may not
    status, _, err = call("train", "--resume", run, "--epochs", "4", "--dataset", other)
    clean(status, err, 1, "not the data this run was trained on")


def test_a_model_too_big_for_memory_is_refused_naming_its_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(trust, "memory_limit", lambda: 8 * 2**30)
    tracemalloc.start()
    status, _, err = call("train", "--hidden", "50000,50000", "--out", tmp_path / "runs")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    clean(status, err, 1, "--hidden 50000,50000", "2,500,350,003 parameters", "46.7 GiB",
          "this machine has 8.0 GiB")
    assert peak < 200 * 2**20 and not (tmp_path / "runs").exists()
    status, _, err = call("train", "--samples", "50000000", "--out", tmp_path / "runs")
    clean(status, err, 1, "--samples 50,000,000 of spiral needs about 11.9 GiB")


@pytest.mark.parametrize("arch", [
    {"model": "mlp", "input_shape": [5], "hidden": [7, 3], "dropout": 0.1},
    {"model": "mlp", "input_shape": [1, 28, 28], "hidden": [4], "dropout": 0.0},
    {"model": "resnet", "input_shape": [3], "hidden": [4, 4, 6], "dropout": 0.0},
    {"model": "cnn", "input_shape": [1, 28, 28], "hidden": [2, 3], "dropout": 0.0},
    {"model": "resnet", "input_shape": [1, 28, 28], "hidden": [2, 2, 4], "dropout": 0.0},
])
def test_parameter_count_is_the_size_of_the_built_models_state(arch):
    arch = {**arch, "activation": "relu", "outputs": 4}
    model = build_model(arch)
    assert trust.parameter_count(arch) == sum(v.numel() for v in model.state_dict().values())


# -- item 3: --resume writes only into run folders, and never through links ---------------------
@pytest.fixture
def fresh(tmp_path) -> Path:
    status, _, err = call("train", *TINY, "--out", tmp_path, "--name", "r")
    assert status == 0, err
    return tmp_path / "r"


@pytest.mark.parametrize("name", runs.FILES + ("tensorboard",))
def test_resume_refuses_a_link_planted_for_any_file_it_writes(fresh, tmp_path, name):
    target = tmp_path / "victim"
    target.write_text("precious\n")
    (fresh / name).unlink(missing_ok=True)
    (fresh / name).symlink_to(target)
    status, _, err = call("train", "--resume", fresh, "--epochs", "3")
    clean(status, err, 1, str(fresh / name), "symbolic link" if name != "tensorboard"
          else "a link")
    assert target.read_text() == "precious\n"


def test_resume_refuses_a_fifo_in_the_run_folder(fresh):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    (fresh / "events.jsonl").unlink()
    os.mkfifo(fresh / "events.jsonl")
    status, _, err = call("train", "--resume", fresh, "--epochs", "3")  # would block: no reader
    clean(status, err, 1, "events.jsonl is not a plain file")


def test_a_link_planted_during_the_run_is_not_written_through(fresh, tmp_path, monkeypatch):
    target = tmp_path / "victim"
    target.write_text("precious\n")
    save = runs.Run.save

    def save_then_plant(self, state, best):
        save(self, state, best)
        (self.folder / "events.jsonl").unlink()
        (self.folder / "events.jsonl").symlink_to(target)
    monkeypatch.setattr(runs.Run, "save", save_then_plant)
    status, _, err = call("train", "--resume", fresh, "--epochs", "3")
    clean(status, err, 1, "events.jsonl is a symbolic link")
    assert target.read_text() == "precious\n"


def test_pictures_replace_a_planted_link_instead_of_writing_through(fresh, tmp_path,
                                                                    monkeypatch):
    pytest.importorskip("matplotlib")
    target = tmp_path / "victim.png"
    target.write_text("precious\n")
    save = runs.Run.save

    def save_then_plant(self, state, best):
        save(self, state, best)
        (self.folder / "curves.png").unlink(missing_ok=True)
        (self.folder / "curves.png").symlink_to(target)
    monkeypatch.setattr(runs.Run, "save", save_then_plant)
    status, _, err = call("train", "--resume", fresh, "--epochs", "3")
    assert status == 0, err
    assert target.read_text() == "precious\n"
    assert not (fresh / "curves.png").is_symlink() and (fresh / "curves.png").stat().st_size
    assert oct((fresh / "curves.png").stat().st_mode & 0o777) == oct(0o644)
    assert not list(fresh.glob(".*tmp*"))


def test_resume_refuses_a_folder_that_is_not_a_run_folder(fresh, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "model.safetensors").write_bytes((fresh / runs.LAST).read_bytes())
    (mine / runs.LAST).write_bytes((fresh / runs.BEST).read_bytes())
    (mine / "config.json").write_text('{"mine": 1}\n')
    (mine / "metrics.csv").write_text("a,b\n")
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    for target in (mine / "model.safetensors", mine):
        status, _, err = call("train", "--resume", target, "--epochs", "5")
        clean(status, err, 1, f"{mine} is not a run folder", "config.json is not the options")
    (mine / "config.json").unlink()
    status, _, err = call("train", "--resume", mine / "model.safetensors", "--epochs", "5")
    clean(status, err, 1, "it has no config.json")
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == \
        {k: v for k, v in before.items() if k != "config.json"}
    for name in (runs.LAST, runs.PREVIOUS, runs.BEST):
        (fresh / name).unlink()
    status, _, err = call("train", "--resume", fresh, "--epochs", "5")
    clean(status, err, 1, "it has no checkpoint")


# -- item 5: text from files is printed escaped ------------------------------------------------
def test_strings_from_a_checkpoint_are_printed_escaped(run, tmp_path):
    def paint(s):
        s["data"]["name"] = "\x1b]0;owned\x07spiral\u202e"
        s["data"]["classes"] = ["\x1b[2J", "a,b", "\x9b31m"]
    path = forge(run, tmp_path / "f.safetensors", paint)
    status, out, _ = call("info", path)
    assert status == 0 and "\\x1b]0;owned\\x07spiral\\u202e" in out
    (tmp_path / "x.csv").write_text("x0,x1\n0.1,0.2\n")
    status, pred, _ = call("predict", path, tmp_path / "x.csv")
    assert status == 0 and 'p_\\x1b[2J,"p_a,b",p_\\x9b31m' in pred
    status, ev, err = call("evaluate", path, "--split", "all")
    assert status == 1 and "\\x1b[2J" in err  # spiral's labels are not the forged classes
    io.save({"\x1b[31mred": np.zeros(2)}, tmp_path / "plain.safetensors")
    status, plain, _ = call("info", tmp_path / "plain.safetensors")
    assert status == 0 and "\\x1b[31mred" in plain
    for text in (out, pred, err, plain):
        assert not any(c in text for c in "\x1b\x07\x9b\u202e")


def test_safe_escapes_controls_and_keeps_printable_text():
    assert trust.safe("héllo wörld ✓") == "héllo wörld ✓"
    assert trust.safe("a\x1b[0mb\tc\r") == "a\\x1b[0mb\\tc\\r"
    assert trust.safe("one\ntwo\u2066") == "one\\ntwo\\u2066"
    assert trust.safe("one\ntwo", newlines=True) == "one\ntwo"


# -- item 8: bad input is a usage error or a clear failure, never an internal error -------------
def test_bad_inputs_exit_cleanly(tmp_path, monkeypatch):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    deep_toml = tmp_path / "deep.toml"
    deep_toml.write_text("a = " + "[" * 100_000 + "]" * 100_000)
    big = tmp_path / "big.json"
    big.write_text(" " * 2_000_000 + "{}")
    inf = tmp_path / "inf.csv"
    inf.write_text("a,b,label\n1,2,0\n3,4,inf\n5,6,1\n")
    cases = [
        (["--config", deep], 2, "nested too deeply"),
        (["--config", deep_toml], 2, "nested too deeply"),
        (["--config", big], 2, "a table of options is a few lines"),
        (["--samples", "1000000000"], 2, "up to 100,000,000"),
        (["--hidden", "8," * 1001], 2, "at most 1,000 layer widths"),
        (["--hidden", "2000000"], 2, "widths up to 1,000,000"),
        (["--epochs", "10000000"], 2, "up to 1,000,000"),
        (["--batch-size", "10" * 10], 2, "up to 100,000,000"),
        (["--seed", str(2**64)], 2, "up to 18,446,744,073,709,551,615"),
        (["--dataset", inf], 1, "line 3: the label 'inf' is missing, NaN or infinity"),
        (["--dataset", tmp_path], 2, "a path to a .csv file"),
    ]
    for argv, code, words in cases:
        status, _, err = call("train", *argv, "--out", tmp_path / "runs")
        clean(status, err, code, words)
        assert err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_running_out_of_memory_anyway_is_a_clear_failure(tmp_path, monkeypatch):
    def no_memory(**kwargs):
        raise MemoryError()

    def too_deep(**kwargs):
        raise RecursionError("maximum recursion depth exceeded")
    for fn, words in ((no_memory, "out of memory; use smaller --samples"),
                      (too_deep, "nested too deeply")):
        monkeypatch.setitem(datasets.CLASSIFICATION, "spiral", fn)
        status, _, err = call("train", "--out", tmp_path)
        clean(status, err, 1, words)


# -- item 9: CSV files are read exactly, in a stream --------------------------------------------
def test_a_byte_order_mark_does_not_hide_the_label_header(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbflabel,a,b\n1,2,0\n0,4,1\n1,6,1\n")
    t = datasets.load_csv(p)
    assert t.label_name == "label" and t.feature_names == ["a", "b"]
    assert t.y.tolist() == [1, 0, 1] and t.X.tolist() == [[2, 0], [4, 1], [6, 1]]


@pytest.mark.parametrize("text, words", [
    ("a,b,label\n1,2,0\n1,x,1\n", "line 3: feature value 'x' is not a number (column 2, 'b')"),
    ("a,b,label\n1,2,0\n1,,1\n", "line 3: a feature value is missing, NaN or infinity"),
    ("a,b,label\n1,2,0\n\n1,nan,1\n", "line 4: a feature value is missing, NaN or infinity "
                                      "(or too large for float32) in column 2, 'b'"),
    ("a,b,label\n1,-inf,0\n", "line 2: a feature value"),
    ("a,b,label\n1,1e39,0\n", "too large for float32"),
    ("a,b,label\n1,2,nan\n", "line 2: the label 'nan' is missing, NaN or infinity (column 3"),
    ("a,b,label\n1,2,\n", "line 2: the label '' is missing"),
    pytest.param("label,a\n" + "1," + "9" * 200_000 + "\n", "line 2: not readable as CSV",
                 id="a-field-over-csv's-limit"),
])
def test_bad_cells_are_named_by_line_and_column(tmp_path, text, words):
    p = tmp_path / "d.csv"
    p.write_text(text)
    with pytest.raises(DatasetError) as e:
        datasets.load_csv(p)
    assert words in str(e.value) and str(p) in str(e.value)


def test_skip_nonfinite_leaves_those_rows_out_and_says_so(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,label\n" + "1,2,0\n1,nan,1\n,3,1\n4,5,inf\n6,7,1\n8,9,0\n" * 20)
    t = datasets.load_csv(p, skip_nonfinite=True)
    assert t.skipped == 60 and t.X.tolist()[:3] == [[1, 2], [6, 7], [8, 9]]
    assert t.y.tolist()[:3] == [0, 1, 0]
    status, out, err = call("train", "--dataset", p, "--skip-nonfinite", "--epochs", "1",
                            "--out", tmp_path, "--name", "r")
    assert status == 0 and "left out 60 rows" in out, err
    status, _, err = call("train", "--dataset", p, "--epochs", "1", "--out", tmp_path)
    clean(status, err, 1, "line 3", "--skip-nonfinite")


def test_predict_refuses_or_skips_rows_that_are_not_numbers(run, tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("x0,x1\n0.5,0.5\nnan,1\n,1\n0.1,0.2\n")
    status, _, err = call("predict", run, p)
    clean(status, err, 1, "row 3", "column 1, 'x0'", "--skip-nonfinite")
    status, out, err = call("predict", run, p, "--skip-nonfinite")
    lines = out.splitlines()
    assert status == 0 and len(lines) == 5 and lines[2] == lines[3] == ",,,"
    assert lines[1].split(",")[0] in ("0", "1", "2") and lines[4].split(",")[0] != ""
    p.write_text("1,abc\n1,1\n")  # a first row with a word is data, not a header to skip
    status, out, err = call("predict", run, p)
    clean(status, err, 1, "row 1: a value is not a number ('abc' in column 2)")
    assert out == ""


def test_distinct_labels_past_the_limit_are_a_regression_or_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_LABEL_STRINGS", 3)
    p = tmp_path / "d.csv"
    p.write_text("a,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(10)))
    t = datasets.load_csv(p)
    assert t.task == "regression" and t.y[:, 0].tolist() == [i * 0.5 for i in range(10)]
    p.write_text("a,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(10)) + "1,cat\n")
    with pytest.raises(DatasetError, match="line 12: the label 'cat' is a word among more"):
        datasets.load_csv(p)
    t = datasets.load_csv(p, max_rows=4)
    assert len(t.y) == 4 and t.task == "regression"


def test_a_device_is_not_read_as_a_csv_file(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    with pytest.raises(DatasetError, match="not a regular file"):
        datasets.load_csv(tmp_path / "zero.csv")


def test_loading_a_csv_takes_about_the_memory_of_its_arrays(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40_000, 10)), rng.integers(0, 3, 40_000)
    p = tmp_path / "big.csv"
    with p.open("w") as f:
        f.write(",".join(f"f{i}" for i in range(10)) + ",label\n")
        f.writelines(",".join(f"{v:.6f}" for v in r) + f",{k}\n" for r, k in zip(X, y))
    tracemalloc.start()
    t = datasets.load_csv(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result = t.X.nbytes + t.y.nbytes  # 1.9 MB of arrays from 3.9 MB of text
    np.testing.assert_allclose(t.X, X, atol=1e-6)
    assert t.y.tolist() == y.tolist()
    assert peak < 2 * result and peak < Path(p).stat().st_size  # it was ~18x and ~9x
