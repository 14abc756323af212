"""The options of `chainrule train`: one table gives each its parser, default and help sentence.

The same parsers check values from the command line and from a --config file (TOML or JSON), so
a bad value gets the same message wherever it was written. Precedence: defaults < config file <
flags on the command line.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

SYNTHETIC = ["spiral", "circles", "moons", "xor", "gaussian", "sine"]
IDX_SETS = ["mnist", "fashion-mnist"]
ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu", "softplus"]
TEXT_MODELS = ["lstm", "gru", "transformer"]  # cli/text_models.py
MODELS = ["mlp", "cnn", "resnet"] + TEXT_MODELS
SCHEDULES = ["constant", "step", "cosine", "exponential", "warmup", "onecycle", "plateau"]
LOSSES = ["cross_entropy", "mse", "l1", "huber"]
DEVICES = ["auto", "cpu", "cuda"]
# a learning rate that trains the default spiral well, per optimizer (used when --lr is absent)
DEFAULT_LR = {"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05, "nag": 0.05, "adagrad": 0.05,
              "rmsprop": 0.003, "adadelta": 1.0, "adam": 0.005, "amsgrad": 0.005, "adamw": 0.005,
              "adamax": 0.02, "nadam": 0.005, "radam": 0.005, "rprop": 0.01, "asgd": 0.3,
              "lbfgs": 1.0}

# methods that assume the same loss at every step: a line search (lbfgs), sign-based step
# sizes (rprop); on mini-batches their noise breaks them
FULL_BATCH = {"lbfgs", "rprop"}


class UsageError(ValueError):
    """A bad option value or combination: exit status 2."""


# upper bounds of sizes: far above any run this tool is for, low enough that a typo or a
# forged config cannot ask for terabytes (the memory a model needs is checked separately)
MAX_SAMPLES = 100_000_000
MAX_WIDTH = 1_000_000
MAX_LAYERS = 1_000
MAX_EPOCHS = 1_000_000
MAX_SEED = 2**64 - 1  # torch.manual_seed's range
MAX_CONFIG_BYTES = 1_000_000


# -- value parsers: each takes a string (command line) or a value (config file) ----------------
def _number(v: Any, what: str) -> float:
    if isinstance(v, bool):
        raise ValueError(f"expected {what}, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"expected {what}, got {v!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"expected {what}, got {v!r}")
    return x


def positive_float(v: Any) -> float:
    x = _number(v, "a number > 0")
    if x <= 0:
        raise ValueError(f"expected a number > 0, got {v!r}")
    return x


def nonneg_float(v: Any) -> float:
    x = _number(v, "a number >= 0")
    if x < 0:
        raise ValueError(f"expected a number >= 0, got {v!r}")
    return x


def fraction(v: Any) -> float:
    x = _number(v, "a number in [0, 1)")
    if not 0 <= x < 1:
        raise ValueError(f"expected a number in [0, 1), got {v!r}")
    return x


def _integer(v: Any, low: int, what: str, high: int | None = None) -> int:
    if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError(f"expected {what}, got {v!r}")
    try:
        n = int(v) if not isinstance(v, str) else int(v.strip())
    except (TypeError, ValueError):
        raise ValueError(f"expected {what}, got {v!r}") from None
    if n < low:
        raise ValueError(f"expected {what}, got {v!r}")
    if high is not None and n > high:
        raise ValueError(f"expected {what} up to {high:,}, got {v!r}")
    return n


def positive_int(v: Any) -> int:
    return _integer(v, 1, "a whole number >= 1")


def nonneg_int(v: Any) -> int:
    return _integer(v, 0, "a whole number >= 0")


def sample_count(v: Any) -> int:
    return _integer(v, 1, "a whole number >= 1", MAX_SAMPLES)


def epoch_count(v: Any) -> int:
    return _integer(v, 1, "a whole number >= 1", MAX_EPOCHS)


def seed(v: Any) -> int:
    return _integer(v, 0, "a whole number >= 0", MAX_SEED)


def batch_size(v: Any) -> int | str:
    if isinstance(v, str) and v.strip().lower() == "full":
        return "full"
    return _integer(v, 1, "'full' or a whole number >= 1", MAX_SAMPLES)


def widths(v: Any) -> list[int]:
    items = v if isinstance(v, list) else [s for s in str(v).split(",") if s.strip()]
    if not items:
        raise ValueError(f"expected comma-separated layer widths such as 64,64, got {v!r}")
    try:
        sizes = [positive_int(s) for s in items]
    except ValueError:
        raise ValueError(f"expected comma-separated whole numbers >= 1 such as 64,64, "
                         f"got {_short(v)}") from None
    if len(sizes) > MAX_LAYERS:
        raise ValueError(f"expected at most {MAX_LAYERS:,} layer widths, got {len(sizes):,}")
    if max(sizes) > MAX_WIDTH:
        raise ValueError(f"expected layer widths up to {MAX_WIDTH:,}, got {max(sizes):,}")
    return sizes


def _short(v: Any, limit: int = 60) -> str:
    """repr(v), cut to `limit` characters (a value can be a whole file's worth)."""
    r = repr(v)
    return r if len(r) <= limit else r[:limit - 5] + " ...'"


def did_you_mean(word: Any, options: list[str]) -> str:
    """'; did you mean X?' for the option closest to a misspelt word (difflib), else ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word.strip().lower(), options, 1)
    return f"; did you mean {close[0]}?" if close else ""


def choice(options: list[str]) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        s = v.strip().lower().replace("-", "_") if isinstance(v, str) else None
        table = {o.replace("-", "_"): o for o in options}
        if s not in table:
            raise ValueError(f"expected one of {', '.join(options)}; got {_short(v)}"
                             f"{did_you_mean(v, options)}")
        return table[s]
    return parse


def optimizer_name(v: Any) -> str:
    from chainrule.optim import available

    return choice(available())(v)


def dataset_name(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a data set name or a path to a .csv file, got {_short(v)}")
    s = v.strip()
    if s.lower().replace("_", "-") in SYNTHETIC + IDX_SETS:
        return s.lower().replace("_", "-")
    if s.lower().endswith((".csv", ".txt")):
        return s
    if s.lower() == "text":
        return "text"
    names = SYNTHETIC + IDX_SETS + ["text"]
    raise ValueError(f"expected one of {', '.join(names)}, or a path to a .csv file or a .txt "
                     f"file; got {_short(v)}{did_you_mean(s, names)}")


def text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"expected a non-empty string, got {v!r}")
    return v.strip()


def run_name(v: Any) -> str:
    s = text(v)
    if "/" in s or "\\" in s or s in (".", ".."):
        raise ValueError(f"expected a folder name without slashes, got {v!r}")
    return s


def flag(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false", "yes", "no", "1", "0"):
        return v.lower() in ("true", "yes", "1")
    raise ValueError(f"expected true or false, got {v!r}")


@dataclass(frozen=True)
class Option:
    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    metavar: str | None = None
    is_flag: bool = False


OPTIONS = [
    Option("dataset", dataset_name, "spiral",
           "The data: spiral, circles, moons, xor, gaussian (2-D classes), sine (1-D "
           "regression), mnist, fashion-mnist, or a CSV file with a label column (give it "
           "again to evaluate or --resume a CSV run: a path recorded in a checkpoint is never "
           "opened); text (public-domain poems shipped with chainrule) or a UTF-8 .txt file "
           "trains a character-level language model (--model lstm, gru or transformer).",
           "NAME"),
    Option("data_dir", text, None, "Folder holding the MNIST / Fashion-MNIST files (default "
           "~/.cache/chainrule/<dataset>, where missing files are downloaded). Only this flag "
           "decides it: the folder recorded in a checkpoint is never used.", "DIR"),
    Option("samples", sample_count, None, "How many points to generate for a synthetic data "
           "set (default: 1500 for spiral, 1000 for the other 2-D sets, 500 for sine); for "
           "mnist and fashion-mnist, the first N training images; for CSV, the first N rows; for "
           "text, the first N characters.",
           "N"),
    Option("label_column", text, None, "For a CSV data set: the label column's name or 0-based "
           "index (default: a column named label/target/class/y, else the last).", "COL"),
    Option("skip_nonfinite", flag, False, "For a CSV data set: leave out the rows with an "
           "empty, NaN or infinite value (and say how many) instead of refusing the file "
           "(the default names the first such cell); predict leaves their prediction empty.",
           is_flag=True),
    Option("val_split", fraction, 0.2, "Fraction of the examples held out for validation "
           "(data sets without their own test split).", "F"),
    Option("model", choice(MODELS), "mlp", "Architecture: mlp, cnn (images only), or resnet "
           "(an MLP or CNN of residual blocks with batch-norm); for text: gru (the default), "
           "lstm or transformer.", "KIND"),
    Option("hidden", widths, None, "Comma-separated hidden widths: units per layer for mlp "
           "and resnet on vectors (default 64,64), channels per conv block for images "
           "(default 16,32).", "W,W"),
    Option("seq_len", positive_int, None, "For text: characters per training window, the "
           "context the model learns from (default 64).", "T"),
    Option("embedding", positive_int, None, "For text: the width of each character's "
           "embedding (default 64; a transformer's is its --hidden width).", "E"),
    Option("activation", choice(ACTIVATIONS), "relu",
           f"Hidden-layer non-linearity: {', '.join(ACTIVATIONS)}.", "NAME"),
    Option("dropout", fraction, 0.0, "Dropout probability after each hidden layer of an MLP, "
           "0 for none.", "P"),
    Option("optimizer", optimizer_name, "adam", "Optimizer, by its textbook name: sgd, "
           "momentum, nesterov, adagrad, rmsprop, adadelta, adam, amsgrad, adamw, adamax, "
           "nadam, radam, rprop, asgd, lbfgs.", "NAME"),
    Option("lr", positive_float, None, "Learning rate (default: one that suits the optimizer, "
           "0.005 for adam).", "LR"),
    Option("momentum", fraction, None, "Momentum coefficient for sgd, momentum, nesterov and "
           "rmsprop (default: the optimizer's own).", "M"),
    Option("weight_decay", nonneg_float, None, "L2 penalty coefficient added to the gradient, "
           "decoupled for adamw (default: the optimizer's own, 0, or 0.01 for adamw).", "WD"),
    Option("schedule", choice(SCHEDULES), "constant", "Learning-rate schedule: "
           f"{', '.join(SCHEDULES)}.", "NAME"),
    Option("batch_size", batch_size, None, "Examples per step: 1 = stochastic gradient "
           "descent, 'full' = batch gradient descent, N = mini-batch (default: 32, or full for "
           "the full-batch methods lbfgs and rprop).", "N|full"),
    Option("epochs", epoch_count, 60, "Passes over the training set (default 60; 20 for "
           "text).", "N"),
    Option("seed", seed, 0, "Seed of the weight initialisation, dropout and shuffling; "
           "the data and its split stay fixed, so seeds compare fairly.", "N"),
    Option("device", choice(DEVICES), "auto", "Where to train: auto (an NVIDIA GPU when CuPy "
           "sees one, else the CPU), cpu or cuda; `chainrule info --devices` says what is "
           "found.", "NAME"),
    Option("loss", choice(LOSSES), None, "Loss: cross_entropy (default for classes), mse "
           "(default for regression), l1 or huber.", "NAME"),
    Option("out", text, "runs", "Folder in which the run folder is created.", "DIR"),
    Option("name", run_name, None, "Name of the run folder (default: the date and time).",
           "NAME"),
    Option("quiet", flag, False, "Print no progress, only the final summary.", is_flag=True),
    Option("tensorboard", flag, False, "Also write TensorBoard event files into the run "
           "folder's tensorboard/ (with --monitor-gradients, the per-layer gradient norms "
           "too); needs pip install \"chainrule[tensorboard]\" (tensorboardX).", is_flag=True),
    Option("monitor_gradients", flag, False, "Record per-layer gradient norms and "
           "update/weight ratios each step, warn when gradients vanish or explode, and draw "
           "gradients.png.", is_flag=True),
]
BY_NAME = {o.name: o for o in OPTIONS}
# what a resumed run may change: how long it goes on, and how it talks
RESUME_MAY_CHANGE = {"epochs", "quiet", "tensorboard", "monitor_gradients", "data_dir",
                     "device"}  # a checkpoint loads on either device


def parse_value(name: str, value: Any, source: str) -> Any:
    """value checked and converted by option `name`'s parser; UsageError names the source."""
    try:
        return BY_NAME[name].parse(value)
    except ValueError as e:
        raise UsageError(f"{source}: {e}") from None


def read_config(path: str) -> dict[str, Any]:
    """The options in a TOML or JSON file (keys as on the command line, with - or _);
    UsageError for an unreadable file, a syntax error or an unknown key."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--config: no such file: {path}")
    if p.stat().st_size > MAX_CONFIG_BYTES:
        raise UsageError(f"--config {path}: {p.stat().st_size:,} bytes; a table of options "
                         f"is a few lines (the limit is {MAX_CONFIG_BYTES:,} bytes)")
    raw = p.read_bytes()
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = _toml_loads(raw.decode("utf-8"))
    except RecursionError:
        raise UsageError(f"--config {path}: nested too deeply to be a table of options") \
            from None
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"--config {path}: cannot parse it as "
                         f"{'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("train"), dict) and len(data) == 1:
        data = data["train"]  # a [train] table is allowed
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a table of options at the top level")
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in BY_NAME:
            raise UsageError(f"--config {path}: unknown option {_short(key)}; known options: "
                             f"{', '.join(o.name.replace('_', '-') for o in OPTIONS)}"
                             f"{did_you_mean(name, list(BY_NAME))}")
        if value is None:  # null: the default (config.json of older runs recorded them)
            continue
        out[name] = parse_value(name, value, f"--config {path}: {key}")
    return out


def _toml_loads(s: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise UsageError("TOML config files need Python 3.11 or `pip install tomli`; "
                             "a JSON config file works everywhere") from None
    return tomllib.loads(s)


def resolve(given: dict[str, Any], config_file: dict[str, Any]) -> dict[str, Any]:
    """Every option's value: defaults, overridden by the config file, overridden by flags."""
    cfg = {o.name: o.default for o in OPTIONS}
    cfg.update(config_file)
    cfg.update(given)
    if cfg["lr"] is None:
        cfg["lr"] = DEFAULT_LR.get(cfg["optimizer"], 0.01)
    if cfg["batch_size"] is None:
        cfg["batch_size"] = "full" if cfg["optimizer"] in FULL_BATCH else 32
    # paths made absolute, so evaluate / resume work from any folder later
    if cfg["data_dir"] is not None:
        cfg["data_dir"] = str(Path(cfg["data_dir"]).expanduser().resolve())
    if cfg["dataset"].lower().endswith((".csv", ".txt")):
        cfg["dataset"] = str(Path(cfg["dataset"]).expanduser().resolve())
    _text_options(cfg, {**config_file, **given})
    if cfg["momentum"] is not None and cfg["optimizer"] not in (
            "sgd", "momentum", "nesterov", "nag", "rmsprop"):
        raise UsageError(f"--momentum applies to sgd, momentum, nesterov and rmsprop, not to "
                         f"{cfg['optimizer']}")
    if cfg["optimizer"] in ("nesterov", "nag") and cfg["momentum"] == 0:
        raise UsageError("--momentum 0 with nesterov: Nesterov momentum needs momentum > 0")
    if cfg["dropout"] and cfg["model"] not in ["mlp"] + TEXT_MODELS:
        raise UsageError("--dropout applies to --model mlp only, and to the language models "
                         "lstm, gru and transformer")
    return cfg


# what a text run starts from when an option is not given: 260 steps of 32 windows, under a
# minute on two cores, ending below 2.0 nats per character on the shipped poems (measured
# 1.987); a GRU learns them faster than an LSTM, dropout and the cosine decay keep the
# validation loss falling once the training text is nearly learnt by heart
TEXT_DEFAULTS = {"model": "gru", "epochs": 20, "val_split": 0.1, "seq_len": 64,
                 "dropout": 0.3, "schedule": "cosine"}
TEXT_HIDDEN = {"lstm": [256], "gru": [256], "transformer": [64, 64]}


def recorded(cfg: dict[str, Any]) -> dict[str, Any]:
    """The resolved options as a run's config.json keeps them: without the unset ones that do
    not apply to the run (--seq-len and --embedding on other data than text, --label-column
    without a CSV file, --data-dir of a generated data set, --momentum of adam). Reading a file
    fills them back with their defaults (None)."""
    dataset = str(cfg["dataset"]).lower()
    applies = {"seq_len": dataset == "text" or dataset.endswith(".txt"),
               "embedding": dataset == "text" or dataset.endswith(".txt"),
               "label_column": dataset.endswith(".csv"),
               "data_dir": dataset in IDX_SETS,
               "momentum": cfg["optimizer"] in ("sgd", "momentum", "nesterov", "nag", "rmsprop")}
    return {k: v for k, v in cfg.items() if v is not None or applies.get(k, True)}


def _text_options(cfg: dict[str, Any], chosen: dict[str, Any]) -> None:
    """Text defaults for the options not chosen, and the rules of text models (in place)."""
    text = cfg["dataset"] == "text" or cfg["dataset"].lower().endswith(".txt")
    if not text:
        if cfg["model"] in TEXT_MODELS:
            raise UsageError(f"--model {cfg['model']} is a language model: it trains on text "
                             "(--dataset text or a .txt file)")
        for name in ("seq_len", "embedding"):
            if cfg[name] is not None:
                raise UsageError(f"--{name.replace('_', '-')} applies to text data only")
        return
    cfg.update({k: v for k, v in TEXT_DEFAULTS.items() if k not in chosen})
    model = cfg["model"]
    if model not in TEXT_MODELS:
        raise UsageError(f"--model {model} does not take text; use --model lstm, gru or "
                         "transformer with --dataset text")
    if cfg["loss"] not in (None, "cross_entropy"):
        raise UsageError(f"--loss {cfg['loss']}: a language model learns with cross_entropy")
    cfg["loss"] = "cross_entropy"
    cfg["hidden"] = cfg["hidden"] or list(TEXT_HIDDEN[model])
    if model == "transformer":
        if cfg["embedding"] not in (None, cfg["hidden"][0]):
            raise UsageError(f"--embedding {cfg['embedding']}: a transformer's embedding is its "
                             f"width, --hidden {cfg['hidden'][0]}")
        cfg["embedding"] = cfg["hidden"][0]
    cfg["embedding"] = cfg["embedding"] or 64
