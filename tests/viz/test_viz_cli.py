"""`chainrule viz ...` through add_viz_subparser / run_viz (as the chainrule CLI hooks them in)."""

from __future__ import annotations

import argparse
import io

import pytest
from dot_parse import ops

from chainrule.viz.cli import add_viz_subparser, run_viz


def viz(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="chainrule")
    add_viz_subparser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["viz", *argv])
    out = io.StringIO()
    return run_viz(args, out), out.getvalue()


def test_graph_of_a_builtin_model_prints_dot():
    code, dot = viz("graph", "--model", "mlp", "--batch", "3")
    labels = [o[0] for o in ops(dot)]
    assert code == 0 and dot.startswith("digraph")
    assert labels.count("0: Linear") == 1 and "SoftmaxCrossEntropy" in labels
    every = [o[0] for o in ops(viz("graph", "--model", "mlp", "--collapse", "0")[1])]
    assert every.count("LinearFunction") == 3


def test_graph_of_resnet_and_cnn_to_a_dot_file(tmp_path):
    code, text = viz("graph", "--model", "resnet", "--collapse", "1", "--out",
                     str(tmp_path / "r.dot"))
    assert code == 0 and "wrote" in text
    assert "1: BatchNorm1d" in (tmp_path / "r.dot").read_text()
    code, _ = viz("graph", "--model", "cnn", "--out", str(tmp_path / "c.gv"))
    assert code == 0 and "0: Conv2d" in (tmp_path / "c.gv").read_text()


def test_descent_prints_its_numbers_and_draws(tmp_path):
    pytest.importorskip("matplotlib")
    code, text = viz("descent", "--function", "quadratic", "--condition", "4", "--optimizers",
                     "sgd,nesterov,adam", "--lr", "sgd=0.1,adam=0.2", "--steps", "30",
                     "--start", "2,1", "--out", str(tmp_path / "d.png"))
    assert code == 0 and (tmp_path / "d.png").exists()
    assert "quadratic (condition 4)" in text and "start (2.0, 1.0)" in text
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines()
            if line.split() and line.split()[0] in ("sgd", "nesterov", "adam")}
    assert rows == {"sgd": "0.1", "nesterov": "0.3", "adam": "0.2"}  # nesterov: the default


def test_lr_sweep_reports_the_divergence_threshold():
    code, text = viz("lr-sweep", "--function", "quadratic", "--lr-range", "0.05,0.4,8",
                     "--steps", "40")
    assert code == 0 and "descent turns to divergence at lr" in text
    assert "lr < 2 / curvature = 0.2" in text


@pytest.mark.parametrize("argv, message", [
    (("descent", "--function", "nope"), "unknown surface"),
    (("descent", "--optimizers", "sgd,adamm"), "unknown optimizer"),
    (("descent", "--start", "1"), "expected 2 numbers"),
    (("graph", "--model", "vgg"), "invalid choice"),
])
def test_bad_values_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        viz(*argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_animate_needs_a_gif_path(capsys):
    assert viz("descent", "--animate", "--out", "a.png")[0] == 2
    assert "NAME.gif" in capsys.readouterr().err


def test_no_picture_named():
    parser = argparse.ArgumentParser(prog="chainrule")
    add_viz_subparser(parser.add_subparsers(dest="command"))
    assert run_viz(parser.parse_args(["viz"])) == 2
