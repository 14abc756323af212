"""Character-level language models in the main job: `chainrule train --dataset text` (or a
UTF-8 .txt file) with --model lstm | gru | transformer, `chainrule sample RUN`, and the text
side of evaluate, info and --resume.

The text becomes character ids (the vocabulary, its sorted characters, is saved in every
checkpoint); its last --val-split fraction is held out; the rest is cut into windows of
--seq-len characters whose targets are the next characters. The loss is the mean
cross-entropy in nats per character; perplexity = exp(loss).
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any, Callable, TextIO

import numpy as np

import chainrule as cr
from chainrule.cli.data import Data
from chainrule.cli.options import MAX_EPOCHS, MAX_WIDTH, UsageError, fraction, widths
from chainrule.cli.text_models import TEXT_MODELS, describe, text_sizes
from chainrule.cli.trainer import Trainer, model_device
from chainrule.cli.trust import (
    SMALL_MODEL,
    Recorded,
    TooLarge,
    _config,
    _count,
    _gib,
    _row,
    memory_limit,
    safe,
)
from chainrule.data.datasets import DatasetError
from chainrule.data.datasets import text as texts
from chainrule.errors import CheckpointError

SHIPPED = "text"  # --dataset text: chainrule/data/texts/poems.txt
MAX_SAMPLE = 100_000  # characters `chainrule sample` generates at most
SAMPLE_LENGTH, TEMPERATURE = 300, 0.8  # the sample printed after training


def is_text(dataset: Any) -> bool:
    """Whether a --dataset value names text: the shipped poems or a .txt file."""
    return isinstance(dataset, str) and (dataset == SHIPPED or
                                         dataset.lower().endswith(".txt"))


# -- data -----------------------------------------------------------------------------------------
def load_text_data(cfg: dict[str, Any], preprocess: dict[str, Any] | None = None) -> Data:
    """Windows of the text for resolved options cfg (dataset, samples = the first N characters,
    seq_len, val_split); `preprocess` (a checkpoint's) gives the vocabulary to encode with."""
    name = cfg["dataset"]
    if isinstance(name, Recorded):
        raise UsageError(f"the model was trained on the text file {safe(name)!r}; a path "
                         "recorded in a checkpoint is never opened: pass --dataset FILE")
    text = texts.load_text(None if name == SHIPPED else name)
    if cfg.get("samples"):
        text = text[:cfg["samples"]]
    T = int(preprocess["input_shape"][0]) if preprocess else cfg["seq_len"]
    vocab = (texts.Vocabulary(tuple(preprocess["vocabulary"])) if preprocess
             else texts.Vocabulary.of(text))
    try:
        ids = vocab.encode(text)
    except DatasetError as e:
        raise DatasetError(f"{safe(name)}: {e}: the model knows only the {len(vocab)} "
                           "characters of the text it was trained on") from None
    n_val = int(round(len(ids) * cfg["val_split"]))
    train, val = ids[:len(ids) - n_val], ids[len(ids) - n_val:]
    X, Y = texts.windows(train, T)
    Xv, Yv = texts.windows(val, T)
    if len(X) == 0 or (n_val and len(Xv) == 0):
        raise UsageError(f"{safe(name)}: {len(train):,} characters to train on and {n_val:,} "
                         f"held out: too few for windows of {T} (--seq-len) characters; use "
                         "a longer text, a smaller --seq-len or another --val-split")
    prep = {"input_shape": [T], "vocabulary": "".join(vocab.chars),
            "sha256": texts.digest(text), "characters": len(text)}
    label = "the shipped poems" if name == SHIPPED else safe(name)
    note = (f"{label}: {len(text):,} characters, a vocabulary of {len(vocab)}; "
            f"{len(X):,} windows of {T} to train on, the last {n_val:,} characters held out")
    return Data(name, "text", X, Y, Xv, Yv, list(vocab.chars), [T], prep, [note])


def architecture(cfg: dict[str, Any], data: Data) -> dict[str, Any]:
    """The text model's description for resolved options cfg and the data's vocabulary."""
    if data.task != "text":
        raise UsageError(f"--model {cfg['model']} is a language model for text (--dataset "
                         f"text or a .txt file); {cfg['dataset']} is not text")
    hidden = list(cfg["hidden"])
    if len(set(hidden)) != 1:
        raise UsageError(f"--hidden {','.join(map(str, hidden))}: the layers of a "
                         f"{cfg['model']} all have one width; give it once per layer, e.g. "
                         f"{hidden[0]},{hidden[0]}")
    if cfg["model"] == "transformer" and hidden[0] % 4:
        raise UsageError(f"--hidden {hidden[0]}: the transformer's width must be a multiple "
                         "of its 4 attention heads")
    return {"model": cfg["model"], "vocab_size": len(data.classes),
            "embedding": cfg["embedding"], "hidden": hidden, "seq_len": data.input_shape[0],
            "dropout": cfg["dropout"]}


def check_text_fits(arch: dict[str, Any], batch: int, data_bytes: int) -> None:
    """TooLarge when training the text model would need more memory than this machine has."""
    values, acts = text_sizes(arch)
    need = 4 * (5 * values + 6 * acts * batch) + data_bytes
    if need > memory_limit():
        raise TooLarge(f"the model ({describe(arch)}) needs about {_gib(need)} to train with "
                       f"batches of {batch:,}; this machine has {_gib(memory_limit())}. Use "
                       "smaller --hidden, --seq-len or --batch-size")


class TextTrainer(Trainer):
    """Trainer for a language model: loss in nats per character, and validation perplexity.
    Each epoch cuts the training text into windows at a new random offset (from the loader's
    generator, so a resumed run draws the same), wrapping around its end: the model sees
    every character at every position of a window, not the same 64-character pieces."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        X, Y = self.data.X_train, self.data.y_train
        self._inputs, self._targets = X.ravel().copy(), Y.ravel().copy()

    def _shift_windows(self) -> None:
        n, T = self.data.X_train.shape
        k = int(self.loader_rng.integers(T))
        X = np.roll(self._inputs, -k).reshape(n, T)
        Y = np.roll(self._targets, -k).reshape(n, T)
        self.loader.dataset.arrays = (X, Y)  # same length: the sampler stays valid

    def columns(self) -> list[str]:
        val = ["val_loss", "val_perplexity"] if len(self.data.y_val) else []
        return ["epoch", "loss", *val, "lr", "time"]

    def train_epoch(self, on_step: Callable[[int, float, float | None], None]) -> dict:
        self._shift_windows()
        row = super().train_epoch(on_step)  # the row in self.history: updated in place
        row.pop("accuracy", None)
        row.pop("val_accuracy", None)
        if row.get("val_loss") is not None:
            row["val_perplexity"] = perplexity(row["val_loss"])
        return row


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 700.0))  # exp overflows past ~709


# -- checkpoints ----------------------------------------------------------------------------------
def usable_state(state: dict[str, Any], path: str) -> dict[str, Any]:
    """trust.usable_state for any run checkpoint: a text run's state checked here, field by
    field, the others by trust."""
    from chainrule.cli.trust import usable_state as usable

    arch = state.get("architecture")
    if isinstance(arch, dict) and arch.get("model") in TEXT_MODELS:
        return check_text_state(state, path)
    return usable(state, path)


def check_text_state(state: dict[str, Any], path: str) -> dict[str, Any]:
    """A text run's checkpoint state, checked (CheckpointError naming the file and field)."""
    def fail(name: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: {name}: {safe(problem)}")

    for key, kind in (("config", dict), ("architecture", dict), ("data", dict),
                      ("history", list)):
        if not isinstance(state.get(key), kind):
            raise fail(key, f"expected a {'table' if kind is dict else 'list'}")
    arch = _text_architecture(state["architecture"], fail)
    cfg = _config(state["config"], fail)
    if not is_text(cfg["dataset"]) or cfg["model"] != arch["model"]:
        raise fail("config", "expected a text data set and the architecture's model")
    if cfg["dataset"] != SHIPPED:
        cfg["dataset"] = Recorded(cfg["dataset"])  # a record: never opened
    checked = {**state, "config": cfg, "architecture": arch,
               "data": _text_data(state["data"], arch, fail)}
    for key in ("epoch", "step"):
        checked[key] = _count(state.get(key), key, fail)
    if checked["epoch"] > MAX_EPOCHS:
        raise fail("epoch", f"{checked['epoch']} is above {MAX_EPOCHS:,}")
    checked["history"] = [_text_row(r, f"history[{i}]", fail)
                          for i, r in enumerate(state["history"])]
    best = state.get("best")
    checked["best"] = None if best is None else _text_row(best, "best", fail)
    _check_weights_held(arch, state.get("model"), fail)
    return checked


def _check_weights_held(arch: dict[str, Any], weights: Any, fail: Any) -> None:
    """trust.check_weights_held for a text model: an architecture describing far more values
    than the file holds is refused before anything is built."""
    if not isinstance(weights, dict) or not all(
            isinstance(k, str) and isinstance(v, np.ndarray) for k, v in weights.items()):
        raise fail("model", "expected a table of named arrays (the weights)")
    held, need = sum(int(v.size) for v in weights.values()), text_sizes(arch)[0]
    if need > max(held, SMALL_MODEL):
        raise fail("architecture", f"it describes a model of {need:,} values ({describe(arch)})"
                                   f" but the file holds {held:,}; refusing to build it")


def _whole(raw: dict[str, Any], key: str, high: int, fail: Any) -> int:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= high:
        raise fail(f"architecture.{key}", f"expected a whole number from 1 to {high:,}, "
                                          f"got {v!r:.60}")
    return v


def _text_architecture(raw: dict[str, Any], fail: Any) -> dict[str, Any]:
    arch = {"model": raw["model"]}
    arch["vocab_size"] = _whole(raw, "vocab_size", texts.MAX_VOCABULARY, fail)
    for key in ("embedding", "seq_len"):
        arch[key] = _whole(raw, key, MAX_WIDTH, fail)
    try:
        arch["hidden"], arch["dropout"] = widths(raw.get("hidden")), fraction(raw.get("dropout"))
    except ValueError as e:
        raise fail("architecture.hidden or dropout", str(e)) from None
    if len(set(arch["hidden"])) != 1 or (arch["model"] == "transformer" and (
            arch["hidden"][0] % 4 or arch["embedding"] != arch["hidden"][0])):
        raise fail("architecture.hidden", "expected one width per layer, all equal (for a "
                                          "transformer: a multiple of 4, the embedding's)")
    return arch


def _text_data(raw: dict[str, Any], arch: dict[str, Any], fail: Any) -> dict[str, Any]:
    prep, classes = raw.get("preprocess"), raw.get("classes")
    if raw.get("task") != "text" or not isinstance(raw.get("name"), str) \
            or raw.get("input_shape") != [arch["seq_len"]]:
        raise fail("data", "expected a text data set with the architecture's window length")
    if not (isinstance(classes, list) and len(classes) == arch["vocab_size"]
            and all(isinstance(c, str) and len(c) == 1 for c in classes)
            and len(set(classes)) == len(classes)):
        raise fail("data.classes", f"expected the vocabulary: {arch['vocab_size']} distinct "
                                   "characters")
    if not (isinstance(prep, dict) and prep.get("vocabulary") == "".join(classes)
            and prep.get("input_shape") == [arch["seq_len"]]
            and isinstance(prep.get("sha256"), str)
            and re.fullmatch("[0-9a-f]{64}", prep["sha256"])):
        raise fail("data.preprocess", "expected the vocabulary, window length and digest")
    characters = _count(prep.get("characters"), "data.preprocess.characters", fail)
    return {"name": raw["name"], "task": "text", "classes": list(classes),
            "input_shape": [arch["seq_len"]],
            "preprocess": {"input_shape": [arch["seq_len"]], "vocabulary": prep["vocabulary"],
                           "sha256": prep["sha256"], "characters": characters}}


def _text_row(raw: Any, name: str, fail: Any) -> dict[str, Any]:
    row = _row(raw, name, fail)
    v = raw.get("val_perplexity")
    if v is not None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise fail(f"{name}.val_perplexity", f"expected a number, got {v!r:.60}")
        row["val_perplexity"] = v
    return row


# -- generating -----------------------------------------------------------------------------------
@cr.no_grad()
def generate(model: cr.nn.Module, vocab: texts.Vocabulary, prompt: str, length: int,
             seq_len: int, rng: np.random.Generator, temperature: float = TEMPERATURE) -> str:
    """prompt followed by `length` characters drawn one at a time from the model's
    next-character distribution at `temperature`, each given the last seq_len characters."""
    model.eval()
    ids = list(vocab.encode(prompt))
    for _ in range(length):
        context = np.array(ids[-seq_len:], dtype=np.int64)[None]
        context_t = cr.from_numpy(context).to(model_device(model))
        logits = model(context_t)[0, -1].cpu().numpy().astype(np.float64) / temperature
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return vocab.decode(np.array(ids))


def default_prompt(vocab: texts.Vocabulary) -> str:
    """'The ' when the vocabulary has its letters, else its first character."""
    return "The " if not vocab.unknown("The ") else vocab.chars[0]


def report(trainer: Trainer, run: Any, out: TextIO, plots: list[str]) -> int:
    """The end of a text run: final losses, perplexity, a sample, and what to do next."""
    from chainrule.cli import runs

    d = trainer.data
    train_loss = trainer.evaluate(d.X_train, d.y_train)[0]
    val_loss = trainer.evaluate(d.X_val, d.y_val)[0] if len(d.y_val) else None
    vocab = texts.Vocabulary(tuple(d.classes))
    cr.manual_seed(trainer.cfg["seed"])
    sample = generate(trainer.model, vocab, default_prompt(vocab), SAMPLE_LENGTH,
                      d.input_shape[0], np.random.default_rng(trainer.cfg["seed"]))
    run.event("end", epoch=trainer.epoch, train_loss=train_loss, val_loss=val_loss,
              best_epoch=trainer.best["epoch"], sample=sample)
    line = f"train loss {train_loss:.4f} nats/char"
    if val_loss is not None:
        line += (f", validation loss {val_loss:.4f} nats/char (perplexity "
                 f"{perplexity(val_loss):.2f})")
    print(f"sample (temperature {TEMPERATURE}, seed {trainer.cfg['seed']}):\n"
          f"{safe(sample, newlines=True)}\n", file=out)
    print(f"done: {line} (best epoch {trainer.best['epoch']})", file=out)
    print(f"run folder: {run.folder}  (config.json, metrics.csv, events.jsonl, {runs.LAST}, "
          f"{runs.BEST}{''.join(', ' + p for p in plots)})", file=out)
    if not trainer.cfg["quiet"]:
        print("next:\n"
              f"  chainrule sample {run.folder} --prompt \"{default_prompt(vocab)}\" "
              "--length 200\n"
              f"  chainrule evaluate {run.folder}\n"
              f"  chainrule info {run.folder}", file=out)
    return 0


def run_sample(path: str, prompt: str | None, length: int, temperature: float, seed: int,
               out: TextIO) -> int:
    """`chainrule sample`: text generated by a text run's best checkpoint."""
    from chainrule.cli.commands import _warn, open_checkpoint

    ckpt, state, model = open_checkpoint(path, _warn)
    if state["data"]["task"] != "text":
        raise UsageError(f"{safe(ckpt)} is a {state['data']['task']} model, not a language "
                         "model; sample needs a run of chainrule train --dataset text")
    vocab = texts.Vocabulary(tuple(state["data"]["classes"]))
    prompt = default_prompt(vocab) if prompt is None else prompt
    missing = vocab.unknown(prompt)
    if missing or not prompt:
        shown = ", ".join(safe(repr(c)) for c in missing[:20])
        raise UsageError(f"--prompt: the characters {shown} are not in the model's vocabulary "
                         f"of {len(vocab)}: {safe(repr(''.join(vocab.chars)))}" if missing
                         else "--prompt: give at least one character")
    for name, value, low, high in (("--length", length, 1, MAX_SAMPLE),
                                   ("--temperature", temperature, 1e-3, 100.0)):
        if not (low <= value <= high):
            raise UsageError(f"{name}: expected a number from {low:g} to {high:g}, got "
                             f"{value:g}")
    cr.manual_seed(seed)
    text = generate(model, vocab, prompt, length, state["architecture"]["seq_len"],
                    np.random.default_rng(seed), temperature)
    out.write(safe(text, newlines=True) + "\n")
    return 0


def run_text_evaluate(ckpt: Any, state: dict[str, Any], model: cr.nn.Module,
                      given: dict[str, Any], split: str, out: TextIO) -> int:
    """`chainrule evaluate` on a text run: loss in nats per character and perplexity."""
    from chainrule.cli.trainer import evaluate, make_loss

    cfg = {**state["config"], **given}
    if "dataset" in given and not is_text(given["dataset"]):
        raise UsageError(f"--dataset {safe(given['dataset'])}: {safe(ckpt)} is a language "
                         "model; evaluate it on text (text, or a .txt file)")
    data = load_text_data(cfg, state["data"]["preprocess"])
    if data.name == state["data"]["name"] and data.preprocess["sha256"] != \
            state["data"]["preprocess"]["sha256"] and not cfg.get("samples"):
        print(f"warning: {safe(data.name)} is not the text the model was trained on (its "
              "digest differs): its validation split is other text", file=sys.stderr)
    parts = {"val": (data.X_val, data.y_val), "train": (data.X_train, data.y_train)}
    parts["all"] = tuple(np.concatenate([a, b]) for a, b in zip(parts["train"], parts["val"]))
    X, y = parts[split]
    if len(y) == 0:
        raise UsageError(f"the {split} split of {safe(data.name)} is empty; try --split all")
    loss = evaluate(model, make_loss("cross_entropy", "text", len(data.classes)), X, y, False)[0]
    print(f"{safe(ckpt)} (epoch {state['epoch']}) on {safe(data.name)}, {split} split, "
          f"{y.size:,} characters:", file=out)
    print(f"  loss {loss:.4f} nats/char ({loss / math.log(2):.4f} bits/char)  perplexity "
          f"{perplexity(loss):.2f}", file=out)
    return 0

