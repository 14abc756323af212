"""`chainrule train`: resolve the options, make or reopen the run folder, train, report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from chainrule.cli import runs, text
from chainrule.cli.data import Data, load_data
from chainrule.cli.models import architecture
from chainrule.cli.options import RESUME_MAY_CHANGE, UsageError, read_config, recorded, resolve
from chainrule.cli.parallel import World
from chainrule.cli.progress import Progress
from chainrule.cli.trainer import EPOCH_SCHEDULES, Diverged, Trainer
from chainrule.cli.trust import check_training_fits, safe
from chainrule.data.datasets import DatasetError


def warn_to(stream: TextIO) -> Any:
    return lambda msg: print(f"warning: {safe(msg, newlines=True)}", file=stream, flush=True)


def _resumed_config(state: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    cfg, given = dict(state["config"]), dict(given)
    csv_file = [str(d).lower().endswith((".csv", ".txt"))
                for d in (cfg["dataset"], given.get("dataset"))]
    if all(csv_file):
        # the recorded path is never opened (load_data refuses it): the user's --dataset
        # says where the file lives now, and _same_data checks that it holds the same data
        cfg["dataset"] = given["dataset"] = str(Path(given["dataset"]).expanduser().resolve())
    changed = sorted(k for k in given if k not in RESUME_MAY_CHANGE and given[k] != cfg.get(k))
    if changed:
        flags = ", ".join("--" + k.replace("_", "-") for k in changed)
        raise UsageError(f"{flags} cannot change when resuming (the run continues exactly as "
                         "it started); start a new run instead. A resumed run may change "
                         "only --epochs, --quiet, --tensorboard, --monitor-gradients and "
                         "--data-dir (and --dataset: where its CSV file lives now)")
    if given.get("data_dir") is not None:
        given["data_dir"] = str(Path(given["data_dir"]).expanduser().resolve())
    if "epochs" in given and given["epochs"] != cfg["epochs"] \
            and cfg["schedule"] in EPOCH_SCHEDULES:
        raise UsageError(f"--epochs cannot change when resuming a run with --schedule "
                         f"{cfg['schedule']}: that schedule is laid out over the run's "
                         f"{cfg['epochs']} epochs (--schedule constant or plateau runs can "
                         "be extended)")
    cfg.update({k: v for k, v in given.items() if k in RESUME_MAY_CHANGE})
    if state["epoch"] >= cfg["epochs"]:
        raise UsageError(f"the run already trained {state['epoch']} of its {cfg['epochs']} "
                         "epochs; pass --epochs with a larger number to train longer")
    return cfg


def _setup(given: dict[str, Any], config_file: str | None, resume: str | None,
           warn: Any) -> tuple[dict[str, Any], Data, Path | None, dict[str, Any] | None]:
    """The resolved options, the data, and (resuming) the run folder and checkpoint state."""
    if resume is not None:
        if config_file is not None:
            raise UsageError("--config and --resume do not go together: a resumed run keeps "
                             "its own configuration")
        path = Path(resume)
        if not path.exists():
            raise FileNotFoundError(f"no such run folder or checkpoint: {path}")
        runs.check_run_folder(path if path.is_dir() else path.parent)
        ckpt, state = runs.find_checkpoint(path, (runs.LAST, runs.PREVIOUS), warn,
                                           text.usable_state)
        cfg = _resumed_config(state, given)
        data = load_data(cfg)
        _same_data(data, state["data"], cfg["dataset"])
        return cfg, data, ckpt.parent, state
    cfg = resolve(given, read_config(config_file) if config_file else {})
    data = load_data(cfg)
    cfg["loss"] = cfg["loss"] or ("cross_entropy" if data.task == "classification" else "mse")
    return cfg, data, None, None


def _same_data(data: Data, saved: dict[str, Any], path: str) -> None:
    """DatasetError unless the data read for a resumed run is the data it was trained on
    (same classes, inputs, and feature statistics of the training rows)."""
    keys = ("mean", "std", "scale", "sha256")  # sha256: a text's digest
    mine = {k: data.preprocess.get(k) for k in keys}
    theirs = {k: saved["preprocess"].get(k) for k in keys}
    if data.classes != saved["classes"] or data.input_shape != saved["input_shape"] \
            or data.task != saved["task"] or mine != theirs:
        raise DatasetError(f"{path} is not the data this run was trained on (its classes, "
                           "shape or feature statistics differ); resume with the same data, "
                           "or start a new run")


def run_train(given: dict[str, Any], config_file: str | None = None, resume: str | None = None,
              stream: TextIO | None = None) -> int:
    """Train as `chainrule train` does; `given` holds the options typed on the command line
    (already parsed). Returns the exit status."""
    world = World.join()  # under mpiexec: data-parallel, and only rank 0 writes or prints
    out = stream or sys.stdout
    warn = warn_to(sys.stderr) if world.writes else (lambda msg: None)
    cfg, data, folder, state = _setup(given, config_file, resume, warn)
    # everything that can refuse the options runs before a run folder is made
    is_text = data.task == "text"
    arch = text.architecture(cfg, data) if is_text else \
        architecture(cfg, data.input_shape, data.n_outputs)
    n = len(data.y_train)
    batch = n if cfg["batch_size"] == "full" else min(cfg["batch_size"], n)
    data_bytes = sum(a.nbytes for a in (data.X_train, data.y_train, data.X_val, data.y_val))
    (text.check_text_fits if is_text else check_training_fits)(arch, max(batch, 1),
                                                                2 * data_bytes)
    trainer = (text.TextTrainer if is_text else Trainer)(cfg, arch, data, world)
    _finish_config(cfg, trainer)
    writer = _summary_writer() if cfg["tensorboard"] and world.writes else None
    if not world.writes:
        run: Any = _NoRun()
        out = open(os.devnull, "w")  # noqa: SIM115  (closed with the process)
    elif folder:
        run = runs.Run(folder, warn)
    else:
        run = runs.Run.create(cfg["out"], cfg["name"], warn)
    tb = writer(str(run.folder / "tensorboard")) if writer else None
    progress = Progress(cfg["epochs"], len(trainer.loader), cfg["quiet"] or not world.writes,
                        out)
    if cfg["monitor_gradients"] and world.writes:
        from chainrule.viz import GradientMonitor

        def report(message: str) -> None:
            progress.message(f"warning: {message}")
            run.event("warning", message=message)

        trainer.monitor = GradientMonitor(trainer.model, warn=report)
    for note in data.notes:
        progress.message(f"note: {safe(note)}")
    _begin(trainer, run, state, progress)
    try:
        # a diverging run overflows before its loss is NaN: Diverged says so in words, at the
        # first non-finite loss, instead of NumPy's RuntimeWarnings from deep inside an op
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _loop(trainer, run, progress, tb)
    except Diverged as e:
        progress.abort()
        if not world.writes:  # every rank saw the same global loss and stops here too
            return 1
        run.event("diverged", epoch=e.epoch, step=e.step, loss=str(e.loss))
        done = len(trainer.history)
        kept = f"{runs.LAST} holds epoch {done}, the last finite one" if done else \
            "no epoch finished, so no checkpoint was written"
        print(f"chainrule train: error: {e}\nrun folder: {run.folder} ({kept})",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        run.event("interrupted", epoch=trainer.epoch)
        print(f"\ninterrupted after epoch {trainer.epoch}; continue with:\n"
              f"  chainrule train --resume {run.folder}", file=out)
        world.abort(130)
        return 130
    finally:
        if tb is not None:
            tb.close()
    return _report(trainer, run, out) if world.writes else 0


class _NoRun:
    """The run folder as the ranks other than 0 see it: rank 0 alone writes the files."""

    folder = None

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _begin(trainer: Trainer, run: runs.Run, state: dict[str, Any] | None,
           progress: Progress) -> None:
    """Write the run's first files, or restore the checkpoint and bring the files in line
    with it (metrics.csv is rewritten from the checkpoint's history)."""
    cfg = trainer.cfg
    run.write_config(recorded(cfg))  # resuming: --epochs may have grown
    if state is not None:
        trainer.restore(state)
        run.clean_temporaries()
        run.write_metrics(trainer.history, trainer.columns())
        run.event("resume", epoch=trainer.epoch, config=cfg, processes=trainer.world.size)
        progress.message(f"resuming {run.folder} after epoch {trainer.epoch}")
        return
    run.write_metrics([], trainer.columns())
    run.event("start", config=cfg, architecture=trainer.arch,
              parameters=trainer.model.num_parameters(), processes=trainer.world.size)
    progress.message(_headline(cfg, trainer.data, trainer, run))


def _finish_config(cfg: dict[str, Any], trainer: Trainer) -> None:
    """Record the values actually used for options left to their defaults: the hidden
    widths of the architecture, the optimizer's momentum and weight decay."""
    cfg["hidden"] = list(trainer.arch["hidden"])
    group = trainer.opt.param_groups[0]
    for key in ("momentum", "weight_decay"):
        if cfg[key] is None and key in group:
            cfg[key] = group[key]


def _headline(cfg: dict[str, Any], data: Data, trainer: Trainer, run: runs.Run) -> str:
    bs, w = trainer.loader.batch_size, trainer.world.size
    split = f" split over {w} processes" if w > 1 else ""
    return (f"training a {cfg['model']} ({trainer.model.num_parameters()} parameters) on "
            f"{data.name}: {len(data.y_train)} examples, {len(data.y_val)} held out; "
            f"{cfg['optimizer']} lr {cfg['lr']:g}, batch {bs}{split}, {cfg['epochs']} epochs "
            f"-> {run.folder}")


def _loop(trainer: Trainer, run: runs.Run, progress: Progress, tb: Any) -> None:
    columns = trainer.columns()
    shown = [c for c in columns if c not in ("epoch", "time")]
    logged = 0  # how many of the gradient monitor's steps are in TensorBoard
    while trainer.epoch < trainer.cfg["epochs"]:
        progress.start(trainer.epoch + 1)
        row = trainer.train_epoch(progress.step)
        best = trainer.is_best(row)
        run.append_metrics(row, columns)
        run.event("epoch", **{k: v for k, v in row.items() if k != "time"},
                  seconds=row["time"])
        run.save(trainer.state(), best)
        run.event("checkpoint", epoch=trainer.epoch, path=runs.LAST, best=best)
        if tb is not None:
            for k in shown:
                if row.get(k) is not None:
                    tb.add_scalar(k, row[k], trainer.epoch)
            if trainer.monitor is not None:
                logged = _log_gradients(tb, trainer.monitor, logged)
        progress.end(row, shown)


def _log_gradients(tb: Any, monitor: Any, start: int) -> int:
    """The gradient monitor's steps from `start` on, as TensorBoard scalars per layer
    (gradients/norm/LAYER and gradients/update_ratio/LAYER, by training step); returns how
    many steps are logged now."""
    import math

    for i in range(start, len(monitor.steps)):
        for layer in monitor.layers:
            for tag, values in (("norm", monitor.grad_norms), ("update_ratio",
                                                               monitor.update_ratios)):
                if math.isfinite(values[layer][i]):
                    tb.add_scalar(f"gradients/{tag}/{layer}", values[layer][i],
                                  monitor.steps[i])
    return len(monitor.steps)


def _report(trainer: Trainer, run: runs.Run, out: TextIO) -> int:
    if trainer.data.task == "text":  # losses in nats per character, and a sample
        return text.report(trainer, run, out, _plots(trainer, run))
    d, classify = trainer.data, trainer.classify
    train_loss, train_acc = trainer.evaluate(d.X_train, d.y_train)
    val = trainer.evaluate(d.X_val, d.y_val) if len(d.y_val) else (None, None)
    plots = _plots(trainer, run)
    run.event("end", epoch=trainer.epoch, train_loss=train_loss, train_accuracy=train_acc,
              val_loss=val[0], val_accuracy=val[1], best_epoch=trainer.best["epoch"])
    if classify:
        line = f"train accuracy {train_acc:.2%}"
        line += f", validation accuracy {val[1]:.2%}" if val[1] is not None else ""
    else:
        line = f"train loss {train_loss:.4f}"
        line += f", validation loss {val[0]:.4f}" if val[0] is not None else ""
    best = runs.BEST
    print(f"done: {line} (best epoch {trainer.best['epoch']})", file=out)
    print(f"run folder: {run.folder}  (config.json, metrics.csv, events.jsonl, "
          f"{runs.LAST}, {best}{''.join(', ' + p for p in plots)})", file=out)
    if not trainer.cfg["quiet"]:
        print("next:\n"
              f"  chainrule evaluate {run.folder}\n"
              f"  chainrule info {run.folder / best}\n"
              f"  chainrule train --resume {run.folder} --epochs {trainer.epoch * 2}\n"
              "  chainrule train --dataset moons --hidden 32 --optimizer sgd --lr 0.1", file=out)
    return 0


def _plots(trainer: Trainer, run: runs.Run) -> list[str]:
    """curves.png, and decision_boundary.png for 2-D classes; nothing without matplotlib."""
    try:
        from chainrule.viz import plots

        made = []  # each drawn beside its name, then renamed over it (runs.Run.writing)
        with run.writing("curves.png") as path:
            plots.plot_curves(trainer.history, path)
            made.append("curves.png")
        d = trainer.data
        if trainer.classify and d.input_shape == [2]:
            with run.writing("decision_boundary.png") as path:
                plots.plot_decision_boundary(trainer.model, d.X_train, d.y_train, path,
                                             X_val=d.X_val, y_val=d.y_val)
                made.append("decision_boundary.png")
        if trainer.monitor is not None:
            with run.writing("gradients.png") as path:
                trainer.monitor.plot(path)
                made.append("gradients.png")
        return made
    except ImportError as e:
        if not trainer.cfg["quiet"]:
            print(f"note: no plots ({e})", file=sys.stderr)
        return []


def _summary_writer() -> Any:
    """The SummaryWriter class of tensorboardX or torch.utils.tensorboard; a clear error
    when neither is installed (checked before the run starts)."""
    for module in ("tensorboardX", "torch.utils.tensorboard"):
        try:
            return __import__(module, fromlist=["SummaryWriter"]).SummaryWriter
        except ImportError:
            continue
    # the `tensorboard` package alone only views event files: writing them here needs
    # tensorboardX (the extra), or torch with tensorboard (torch.utils.tensorboard)
    raise RuntimeError('--tensorboard writes event files with tensorboardX: pip install '
                       '"chainrule[tensorboard]" (or pip install tensorboardX). The '
                       'tensorboard package alone can view them but not write them, unless '
                       'torch is installed too')
