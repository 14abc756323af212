"""Option parsing of `chainrule train`: every option's accepted values and its one-line error
(exit status 2) for a bad one, --help sentences, combinations, and --config files (TOML and
JSON) overridden by flags."""

from __future__ import annotations

import json

import pytest

from chainrule.cli import build_parser
from chainrule.cli.options import OPTIONS

# option -> (good value, what it parses to, bad value, words of the error)
GOOD_BAD = {
    "dataset": ("Moons", "moons", "cifar", "expected one of spiral"),
    "data_dir": ("data/x", "data/x", " ", "non-empty string"),
    "samples": ("300", 300, "0", "whole number >= 1"),
    "label_column": ("target", "target", "", "non-empty string"),
    "val_split": ("0.25", 0.25, "1.5", "number in [0, 1)"),
    "model": ("resnet", "resnet", "vgg", "expected one of mlp, cnn, resnet, lstm"),
    "seq_len": ("32", 32, "0", "whole number >= 1"),
    "embedding": ("16", 16, "x", "whole number >= 1"),
    "hidden": ("32,16", [32, 16], "32,x", "comma-separated whole numbers"),
    "activation": ("leaky-relu", "leaky_relu", "swish", "expected one of relu"),
    "dropout": ("0.1", 0.1, "-0.1", "number in [0, 1)"),
    "optimizer": ("NAG", "nag", "adamx", "expected one of sgd, momentum"),
    "lr": ("3e-4", 3e-4, "nan", "number > 0"),
    "momentum": ("0.8", 0.8, "1", "number in [0, 1)"),
    "weight_decay": ("1e-4", 1e-4, "-1", "number >= 0"),
    "schedule": ("cosine", "cosine", "linear", "expected one of constant"),
    "batch_size": ("full", "full", "half", "'full' or a whole number >= 1"),
    "epochs": ("5", 5, "2.5", "whole number >= 1"),
    "seed": ("7", 7, "-1", "whole number >= 0"),
    "loss": ("huber", "huber", "hinge", "expected one of cross_entropy"),
    "device": ("CUDA", "cuda", "gpu", "expected one of auto, cpu, cuda"),
    "out": ("results", "results", "", "non-empty string"),
    "name": ("exp-1", "exp-1", "a/b", "without slashes"),
}


def test_every_value_option_is_covered():
    assert set(GOOD_BAD) == {o.name for o in OPTIONS if not o.is_flag}


@pytest.mark.parametrize("name", sorted(GOOD_BAD))
def test_each_option_parses_its_good_value(name):
    good, parsed, _, _ = GOOD_BAD[name]
    ns = build_parser().parse_args(["train", "--" + name.replace("_", "-"), good])
    assert getattr(ns, name) == parsed


@pytest.mark.parametrize("name", sorted(GOOD_BAD))
def test_each_option_refuses_a_bad_value_in_one_line(cli, name):
    _, _, bad, words = GOOD_BAD[name]
    flag = "--" + name.replace("_", "-")
    status, out, err = cli("train", flag, bad)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and flag in err and words in err
    assert "Traceback" not in err and "usage:" not in err


@pytest.mark.parametrize("value, parsed", [("1", 1), ("64", 64), ("full", "full"),
                                           ("FULL", "full")])
def test_batch_size_stochastic_full_or_minibatch(value, parsed):
    assert build_parser().parse_args(["train", "--batch-size", value]).batch_size == parsed


def test_flags_and_unknown_options(cli):
    ns = build_parser().parse_args(["train", "--quiet", "--tensorboard", "--debug"])
    assert ns.quiet is True and ns.tensorboard is True and ns.debug is True
    for argv, words in ((["train", "--quiet=yes"], "ignored explicit argument"),
                        (["train", "--bogus"], "unrecognized arguments: --bogus"),
                        (["train", "--resume"], "expected one argument"),
                        (["fly"], "invalid choice: 'fly'")):
        status, _, err = cli(*argv)
        assert status == 2 and words in err and err.count("\n") == 1


def test_no_command_prints_help_and_fails(cli):
    status, out, err = cli()
    assert status == 2 and "chainrule train" in err


def test_help_explains_every_option_in_a_sentence(cli):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["train", "--help"])
    assert e.value.code == 0
    for o in OPTIONS:
        assert o.help.endswith(".") and len(o.help) > 20, o.name
    status, out, _ = cli("train", "--help")
    assert status == 0
    text = " ".join(out.split())
    for flag in ["--resume PATH", "--config FILE", "--batch-size N|full", "--debug"] + [
            "--" + o.name.replace("_", "-") for o in OPTIONS]:
        assert flag in text, flag
    for sub in ("evaluate", "predict", "info"):
        status, out, _ = cli(sub, "--help")
        assert status == 0 and "--debug" in out


@pytest.mark.parametrize("argv, words", [
    (["--optimizer", "adam", "--momentum", "0.5"], "--momentum applies to sgd"),
    (["--optimizer", "nesterov", "--momentum", "0"], "Nesterov momentum needs momentum > 0"),
    (["--model", "resnet", "--dropout", "0.2"], "--dropout applies to --model mlp only"),
    (["--model", "cnn"], "--model cnn needs image data"),
    (["--dataset", "sine", "--loss", "cross_entropy"], "needs class labels"),
    (["--samples", "3", "--val-split", "0.1"], "too few to hold out"),
    (["--config", "missing.toml"], "--config: no such file"),
])
def test_bad_combinations_are_usage_errors_before_any_run_folder(cli, tmp_path, argv, words):
    status, out, err = cli("train", "--out", tmp_path / "runs", *argv)
    assert status == 2 and words in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _config(tmp_path, text: str, suffix: str):
    p = tmp_path / f"cfg{suffix}"
    p.write_text(text)
    return p


@pytest.mark.parametrize("suffix, text", [
    (".toml", 'hidden = [16, 8]\nbatch-size = "full"\nlr = 0.05\nepochs = 1\nsamples = 100\n'
              'optimizer = "momentum"\nquiet = true\n'),
    (".json", json.dumps({"hidden": "16,8", "batch_size": "full", "lr": 0.05, "epochs": 1,
                          "samples": 100, "optimizer": "momentum", "quiet": True})),
    (".toml", '[train]\nhidden = [16, 8]\nbatch_size = "full"\nlr = 0.05\nepochs = 1\n'
              'samples = 100\noptimizer = "momentum"\nquiet = true\n'),
])
def test_config_file_values_are_overridden_by_flags(cli, tmp_path, suffix, text):
    path = _config(tmp_path, text, suffix)
    status, out, err = cli("train", "--config", path, "--lr", "0.02", "--out", tmp_path,
                           "--name", "r")
    assert status == 0, err
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["lr"] == 0.02  # the flag wins
    assert cfg["hidden"] == [16, 8] and cfg["batch_size"] == "full" and cfg["quiet"] is True
    assert cfg["optimizer"] == "momentum" and cfg["momentum"] == 0.9  # the name's default
    assert cfg["loss"] == "cross_entropy" and cfg["weight_decay"] == 0


@pytest.mark.parametrize("suffix, text, words", [
    (".toml", "lr = -1\n", "lr: expected a number > 0"),
    (".toml", "learning_rate = 0.1\n", "unknown option 'learning_rate'; known options: dataset"),
    (".toml", "lr = = 1\n", "cannot parse it as TOML"),
    (".json", "[1, 2]", "expected a table of options"),
    (".json", "{bad json", "cannot parse it as JSON"),
    (".json", '{"hidden": [0]}', "hidden: expected comma-separated"),
])
def test_bad_config_files_are_usage_errors(cli, tmp_path, suffix, text, words):
    path = _config(tmp_path, text, suffix)
    status, _, err = cli("train", "--config", path, "--out", tmp_path / "runs")
    assert status == 2 and words in err and str(path) in err
