"""The defects a newcomer met on the learner's path (issue 16, items 4 and 5), each checked the
way the newcomer met it: a command typed in a shell, a result printed, a file looked at."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main, train_cmd

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--samples", "200", "--epochs", "2", "--hidden", "8", "--quiet"]


def cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def spiral_run(tmp_path, capsys) -> Path:
    status, _, err = cli(capsys, "train", *TINY, "--out", tmp_path, "--name", "sp")
    assert status == 0, err
    return tmp_path / "sp"


# -- 1. a diverging run stops, says why, exits 1 ----------------------------------------------
def test_a_diverging_run_stops_at_the_first_nonfinite_loss(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a raw NumPy RuntimeWarning fails the test
        status, out, err = cli(capsys, "train", "--lr", "1e30", "--epochs", "3", "--out",
                               tmp_path, "--name", "nan")
    assert status == 1
    assert "training diverged: the loss became nan at epoch 1, step 2 of 38" in err
    assert "learning rate too large for adam (--lr 1e+30)" in err
    assert "Try --lr 0.005 (adam's default)" in err
    assert "RuntimeWarning" not in err and "epoch 2/3" not in out and "done:" not in out
    events = [json.loads(s) for s in (tmp_path / "nan" / "events.jsonl").read_text().split("\n")
              if s]
    assert events[-1]["event"] == "diverged" and events[-1]["step"] == 2
    assert "no epoch finished" in err


def test_divergence_in_a_later_epoch_keeps_the_finite_checkpoint(tmp_path, capsys):
    """A regression with tanh and sgd above its default rate: finite for an epoch, then
    infinite; the message suggests the default rate, or lr / 10 below it."""
    from chainrule.cli.trainer import divergence_message

    msg = divergence_message({"lr": 0.01, "optimizer": "sgd"}, "epoch 3, step 1", float("inf"))
    assert "the loss became inf at epoch 3, step 1" in msg and "Try --lr 0.001;" in msg
    status, _, err = cli(capsys, "train", "--optimizer", "sgd", "--lr", "0.5", "--dataset",
                         "sine", "--activation", "tanh", "--epochs", "10", "--quiet", "--out",
                         tmp_path, "--name", "late")
    assert status == 1 and "at epoch 2, step 2 of 13" in err, err
    assert "Try --lr 0.3 (sgd's default)" in err and "last.safetensors holds epoch 1" in err
    status, out, _ = cli(capsys, "info", tmp_path / "late" / "last.safetensors")
    assert status == 0 and "progress    epoch 1 of 10" in out


def test_the_subprocess_shows_no_numpy_warnings(tmp_path):
    r = subprocess.run([sys.executable, "-m", "chainrule", "train", "--lr", "1e30", "--quiet",
                        "--epochs", "2", "--out", str(tmp_path)], capture_output=True, text=True,
                       cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                       timeout=120)
    assert r.returncode == 1 and "Warning" not in r.stderr and "diverged" in r.stderr


# -- 2. did you mean ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv, hint", [
    (["train", "--epcohs", "3"], "did you mean --epochs?"),
    (["train", "--dataset", "spirals"], "did you mean spiral?"),
    (["train", "--optimizer", "adamm"], "did you mean adam?"),
    (["trian"], "did you mean 'train'?"),
    (["evaluate", "x", "--split", "vall"], "did you mean 'val'?"),
    (["viz", "descnt"], "did you mean 'descent'?"),
    (["train", "--epcohs=3", "--lrr", "1"], "--epochs (for --epcohs), --lr (for --lrr)"),
])
def test_misspellings_get_a_suggestion(capsys, argv, hint):
    status, _, err = cli(capsys, *argv)
    assert status == 2 and hint in err and err.count("\n") == 1


def test_no_suggestion_for_nonsense_and_a_config_key_gets_one(tmp_path, capsys):
    status, _, err = cli(capsys, "train", "--zzzz")
    assert status == 2 and "did you mean" not in err
    (tmp_path / "c.json").write_text('{"epcohs": 3}')
    status, _, err = cli(capsys, "train", "--config", tmp_path / "c.json")
    assert status == 2 and "did you mean epochs?" in err


# -- 3. evaluate on data the model cannot score ------------------------------------------------
def test_evaluate_refuses_another_data_set_with_other_classes(spiral_run, capsys):
    status, out, err = cli(capsys, "evaluate", spiral_run, "--dataset", "moons")
    assert status == 1 and out == ""
    assert "moons has 2 classes (0, 1), but the model" in err
    assert "trained on spiral with 3 (0, 1, 2)" in err


def test_evaluate_warns_on_another_data_set_with_the_same_classes(tmp_path, capsys):
    status, _, err = cli(capsys, "train", *TINY, "--dataset", "moons", "--out", tmp_path,
                         "--name", "mo")
    assert status == 0, err
    status, out, err = cli(capsys, "evaluate", tmp_path / "mo", "--dataset", "circles")
    assert status == 0 and "trained on moons, not on circles" in err and "accuracy" in out
    status, _, err = cli(capsys, "evaluate", tmp_path / "mo")
    assert status == 0 and err == ""


# -- 4. info on a file that is not a checkpoint -------------------------------------------------
def test_info_says_what_a_file_is_when_it_is_not_a_checkpoint(spiral_run, tmp_path, capsys):
    (tmp_path / "points.csv").write_text("x,y,label\n0.1,0.2,0\n")
    (tmp_path / "opts.json").write_text('{"epochs": 3}')
    for path, kind in ((spiral_run / "config.json", "a run folder's config.json"),
                       (spiral_run / "metrics.csv", "a run folder's metrics.csv"),
                       (tmp_path / "points.csv", "a CSV file"),
                       (tmp_path / "opts.json", "a JSON file")):
        status, _, err = cli(capsys, "info", path)
        assert status == 1 and f"is not a checkpoint: it is {kind}" in err, err
        assert "oversized header" not in err
    status, _, err = cli(capsys, "evaluate", spiral_run / "config.json")
    assert status == 1 and "is not a checkpoint" in err
    data = (spiral_run / "best.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:100])  # a damaged one: io's own words
    status, _, err = cli(capsys, "info", tmp_path / "cut.safetensors")
    assert status == 1 and "truncated" in err and "not a checkpoint: it is" not in err


# -- 5. --tensorboard names the extra; gradient monitor data goes to TensorBoard -----------------
def test_tensorboard_without_a_writer_names_the_extra(tmp_path, capsys, monkeypatch):
    real_import = __import__

    def no_writers(name, *args, **kwargs):
        if name in ("tensorboardX", "torch.utils.tensorboard"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", no_writers)
    status, _, err = cli(capsys, "train", *TINY, "--tensorboard", "--out", tmp_path)
    assert status == 1 and 'pip install "chainrule[tensorboard]"' in err


def test_gradient_monitor_data_is_logged_to_tensorboard(tmp_path, capsys, monkeypatch):
    scalars: list[tuple[str, float, int]] = []

    class Writer:
        def __init__(self, logdir: str) -> None:
            self.logdir = logdir

        def add_scalar(self, tag: str, value: float, step: int) -> None:
            scalars.append((tag, value, step))

        def close(self) -> None:
            pass

    monkeypatch.setattr(train_cmd, "_summary_writer", lambda: Writer)
    status, _, err = cli(capsys, "train", *TINY, "--tensorboard", "--monitor-gradients",
                         "--out", tmp_path, "--name", "tb")
    assert status == 0, err
    tags = {t for t, _, _ in scalars}
    assert {"loss", "val_accuracy", "gradients/norm/0", "gradients/norm/2"} <= tags
    steps = [s for t, _, s in scalars if t == "gradients/norm/0"]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == 2 * 5  # 160 rows / 32
    assert any(t == "gradients/update_ratio/0" for t in tags)


# -- 6. help texts that describe what exists ---------------------------------------------------
def test_help_texts_describe_the_real_options_and_defaults(capsys):
    status, out, _ = cli(capsys, "viz", "lr-sweep", "--help")
    assert status == 0 and "--animate" not in out and "(default sgd)" in out
    status, _, err = cli(capsys, "viz", "lr-sweep", "--optimizer", "sgd,adam")
    assert status == 2 and "runs one optimizer" in err
    status, out, _ = cli(capsys, "viz", "descent", "--help")
    assert "--animate" in out
    status, out, _ = cli(capsys, "evaluate", "--help")
    text = " ".join(out.split())
    assert "(default spiral)" not in text and "(default: the run's own)" in text


# -- 7. config.json holds the resolved values ---------------------------------------------------
def test_config_json_records_the_hidden_widths_used(spiral_run):
    cfg = json.loads((spiral_run / "config.json").read_text())
    assert cfg["hidden"] == [8]


def test_config_json_leaves_out_the_options_that_do_not_apply(spiral_run, tmp_path, capsys):
    """No "seq_len": null, "embedding": null on a spiral run; a config.json of an older run,
    which recorded them as null, still reads (as --config too, where null is the default)."""
    cfg = json.loads((spiral_run / "config.json").read_text())
    assert not {"seq_len", "embedding", "label_column", "data_dir", "momentum"} & set(cfg)
    assert cfg["dataset"] == "spiral" and cfg["model"] == "mlp" and cfg["lr"] == 0.005
    old = {**cfg, "seq_len": None, "embedding": None, "data_dir": None, "momentum": None,
           "name": "again", "out": str(tmp_path)}
    (tmp_path / "old.json").write_text(json.dumps(old))
    status, _, err = cli(capsys, "train", "--config", tmp_path / "old.json")
    assert status == 0, err
    assert json.loads((tmp_path / "again" / "config.json").read_text()) == {
        **cfg, "name": "again", "out": str(tmp_path)}
    status, _, err = cli(capsys, "train", *TINY, "--optimizer", "sgd", "--out", tmp_path,
                         "--name", "sgd")
    assert status == 0, err
    assert "momentum" in json.loads((tmp_path / "sgd" / "config.json").read_text())


def test_config_json_records_the_default_widths(tmp_path, capsys):
    status, _, err = cli(capsys, "train", "--samples", "100", "--epochs", "1", "--quiet",
                         "--out", tmp_path, "--name", "d")
    assert status == 0, err
    assert json.loads((tmp_path / "d" / "config.json").read_text())["hidden"] == [64, 64]
    status, _, err = cli(capsys, "train", "--resume", tmp_path / "d", "--epochs", "2",
                         "--quiet")
    assert status == 0, err


# -- 8. the pictures example: --help only prints, --out decides where ---------------------------
def test_visualize_backprop_help_only_prints_help(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "visualize_backprop.py"),
                        "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "--out DIR" in r.stdout and "pictures in" not in r.stdout
    assert list(tmp_path.iterdir()) == []


# -- 9. explain's formulas do not say y for the result ------------------------------------------
def test_explain_names_the_sigmoid_derivative_without_y(capsys):
    w = cr.tensor(0.5, requires_grad=True)
    x, y = cr.tensor(2.0), cr.tensor(1.0)
    w.name, x.name, y.name = "w", "x", "y"
    loss = ((w * x).sigmoid() - y) ** 2
    text = str(cr.viz.explain(loss))
    assert "y (1 - y)" not in text and "sigmoid(t1) (1 - sigmoid(t1))" in text
    s = 1 / (1 + np.exp(-1.0))
    row = next(r for r in cr.viz.explain(loss).records if r.get("op") == "Sigmoid"
               and r["kind"] == "send")
    assert row["local_value"] == pytest.approx(s * (1 - s))


# -- 10. pictures and reprs ----------------------------------------------------------------------
def test_lr_finder_result_prints_a_summary_not_its_arrays():
    from chainrule.viz.lr_find import LRFinderResult

    lrs = np.logspace(-5, 1, 300)
    r = LRFinderResult(lrs, np.linspace(2, 1, 300), np.linspace(2, 1, 300), float(lrs[120]),
                       120)
    text = repr(r)
    assert len(text) < 200 and "300 learning rates from 1e-05 to 10" in text
    assert f"suggestion={float(lrs[120]):.3g}" in text


def test_curves_have_axis_labels_and_whole_epoch_ticks(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from chainrule.viz import plots

    drawn: list[Figure] = []
    real_save = Figure.savefig

    def keep(self, *args, **kwargs):
        drawn.append(self)
        return real_save(self, *args, **kwargs)

    Figure.savefig = keep
    try:
        plots.plot_curves([{"epoch": e, "loss": 1 / e, "accuracy": 0.5, "val_loss": 1.1 / e,
                            "val_accuracy": 0.4} for e in (1, 2, 3)], tmp_path / "c.png")
    finally:
        Figure.savefig = real_save
    loss_ax, acc_ax = drawn[0].axes
    assert loss_ax.get_ylabel() == "loss (log scale)" and acc_ax.get_ylabel().startswith("acc")
    for ax in (loss_ax, acc_ax):
        assert ax.get_xlabel() == "epoch"
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_decision_boundary_legend_colours_are_the_classes_colours(tmp_path, monkeypatch):
    """Each class's legend entry has the colour of that class's points (and region); the
    train / validation entries are grey markers, not one class's colour."""
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    from chainrule.viz import plots

    drawn: list[Figure] = []
    real_save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: (drawn.append(self), real_save(self, *a, **k))[1])
    X = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [2, 2], [2, 0]], np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    cr.manual_seed(0)
    plots.plot_decision_boundary(cr.nn.Linear(2, 3), X, y, tmp_path / "b.png", X_val=X[:3],
                                 y_val=y[:3], resolution=20)
    ax = drawn[0].axes[0]
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["class 0", "class 1", "class 2", "train", "validation"]
    points = ax.collections[-2]  # the training points, coloured by their true class
    point_rgb = {int(c): tuple(points.get_facecolors()[i][:3]) for i, c in enumerate(y)}
    handles = legend.legend_handles
    for c in range(3):
        assert to_rgb(handles[c].get_edgecolor()) == pytest.approx(point_rgb[c])
    assert len(set(point_rgb.values())) == 3
    for marker in handles[3:]:
        r, g, b = to_rgb(marker.get_color())
        assert r == g == b  # grey: the split, no class


# -- 11. the package's papers ---------------------------------------------------------------------
def test_license_changelog_typed_marker_and_version(capsys):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
    assert (ROOT / "chainrule" / "py.typed").is_file()
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in meta["tool"]["setuptools"]["package-data"]["chainrule"]
    assert "License :: OSI Approved :: MIT License" in meta["project"]["classifiers"]
    status, out, _ = cli(capsys, "--version")
    assert status == 0 and out.strip() == f"chainrule {cr.__version__}"
