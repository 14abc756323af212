"""The training loop of `chainrule train`: model, loss, optimizer, schedule, one epoch at a time.

Everything that decides the next weights (model and optimizer state, scheduler, the default
generator behind dropout, the data loader's shuffling generator, epoch and step counters) is in
state() and comes back with restore(), so a resumed run is bit-for-bit the uninterrupted one.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

import chainrule as cr
from chainrule import optim
from chainrule.backend import check_device, default_generator, to_host
from chainrule.cli.data import Data
from chainrule.cli.models import build_model
from chainrule.cli.options import UsageError
from chainrule.cli.parallel import World, global_loss
from chainrule.data import DataLoader, TensorDataset
from chainrule.nn import functional as F
from chainrule.optim import lr_scheduler as sched

EVAL_BATCH = 1024
EPOCH_SCHEDULES = {"step", "cosine", "exponential", "warmup", "onecycle"}


class Diverged(RuntimeError):
    """The loss became NaN or infinite: training stops at the first such step (exit status 1)."""

    def __init__(self, message: str, epoch: int, step: int, loss: float) -> None:
        super().__init__(message)
        self.epoch, self.step, self.loss = epoch, step, loss


def divergence_message(cfg: dict[str, Any], where: str, loss: float) -> str:
    """Why a run stopped on a non-finite loss, and the learning rate to try instead."""
    from chainrule.cli.options import DEFAULT_LR

    lr, name = cfg["lr"], cfg["optimizer"]
    default = DEFAULT_LR.get(name, 0.01)
    # a rate above the optimizer's default: back to the default; at or below it: 10x smaller
    suggest = default if lr > default else lr / 10
    return (f"training diverged: the loss became {loss} at {where}. The likely cause is a "
            f"learning rate too large for {name} (--lr {lr:g}): each step overshoots until the "
            "weights overflow. "
            f"Try --lr {suggest:g}" + (f" ({name}'s default)" if suggest == default else "")
            + "; a smaller --batch-size or input scale can also help")


def make_loss(name: str, task: str, n_classes: int) -> Callable[[Any, Any], Any]:
    """loss(outputs, targets): cross-entropy on logits, or mse / l1 / huber on the outputs
    (regression) or on softmax probabilities against one-hot targets (classification).
    Targets are Tensors or arrays (class indices, or regression values); for a language model
    (task "text"), logits (N, T, V) against next-character ids (N, T)."""
    if task == "text":
        if name != "cross_entropy":
            raise UsageError(f"--loss {name}: a language model learns with cross_entropy")
        return lambda out, y: F.cross_entropy(out.reshape(-1, out.shape[-1]),
                                              cr.as_tensor(y).reshape(-1))
    if task == "regression":
        if name == "cross_entropy":
            raise UsageError("--loss cross_entropy needs class labels; this data set is a "
                             "regression (use mse, l1 or huber)")
    elif name == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, cr.as_tensor(y))
    fn = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[name]
    if task == "regression":
        return lambda out, y: fn(out, cr.as_tensor(y))
    eye = cr.eye(n_classes)
    return lambda out, y: fn(out.softmax(-1), eye[cr.as_tensor(y)])


def make_optimizer(cfg: dict[str, Any], model: cr.nn.Module) -> optim.Optimizer:
    kwargs: dict[str, Any] = {"lr": cfg["lr"]}
    if cfg["optimizer"] == "lbfgs":  # a line search keeps L-BFGS stable at lr 1 on mini-batches
        kwargs["line_search_fn"] = "strong_wolfe"
    for key in ("momentum", "weight_decay"):
        if cfg[key] is not None:
            kwargs[key] = cfg[key]
    try:
        return optim.create(cfg["optimizer"], model.parameters(), **kwargs)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None


def make_scheduler(cfg: dict[str, Any], opt: optim.Optimizer, steps: int) -> Any:
    """The --schedule over cfg['epochs'] epochs of `steps` batches (None for constant)."""
    name, epochs = cfg["schedule"], cfg["epochs"]
    if name == "constant":
        return None
    if name == "step":
        return sched.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1)
    if name == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=epochs)
    if name == "exponential":  # down by 100x over the run
        return sched.ExponentialLR(opt, gamma=0.01 ** (1 / epochs))
    if name == "warmup":
        return sched.LinearLR(opt, start_factor=0.1, total_iters=max(1, epochs // 10))
    if name == "onecycle":
        cycle = "betas" in opt.defaults or bool(opt.defaults.get("momentum"))
        return sched.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=epochs * steps,
                                cycle_momentum=cycle)
    return sched.ReduceLROnPlateau(opt, factor=0.5, patience=5)


class Trainer:
    """Trains the model of `arch` on `data` with resolved options `cfg`; with a `world` of
    several processes, data-parallel (each rank on its slice of every global batch)."""

    def __init__(self, cfg: dict[str, Any], arch: dict[str, Any], data: Data,
                 world: World | None = None) -> None:
        self.cfg, self.arch, self.data = cfg, arch, data
        self.world = world or World()
        self.classify = data.task == "classification"
        cr.manual_seed(cfg["seed"])
        self.device = train_device(cfg.get("device", "auto"), self.world.distributed)
        self.model = build_model(arch).to(self.device)  # initialised on the host: same weights
        self.net = self.world.wrap(self.model)  # what forward calls: DDP around the model
        self.world.split_generators()
        self.loss_fn = make_loss(cfg["loss"], data.task, data.n_outputs)
        self.opt = make_optimizer(cfg, self.model)
        n = len(data.y_train)
        bs = n if cfg["batch_size"] == "full" else min(cfg["batch_size"], n)
        self.loader_rng = np.random.default_rng([cfg["seed"], 1])
        self.loader = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=bs,
                                 shuffle=True, generator=self.loader_rng)
        self.scheduler = make_scheduler(cfg, self.opt, len(self.loader))
        self.epoch, self.step, self.history = 0, 0, []
        self.best: dict[str, Any] | None = None
        self.monitor: Any = None  # a viz.GradientMonitor with --monitor-gradients

    @property
    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])

    def columns(self) -> list[str]:
        if self.classify:
            return ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
        return ["epoch", "loss", "val_loss", "lr", "time"]

    def train_epoch(self, on_step: Callable[[int, float, float | None], None]) -> dict:
        """One pass over the training set; the epoch's row of metrics (averaged over the
        batches as they were trained, the way Keras reports them)."""
        t0, lr = time.perf_counter(), self.lr
        self.model.train()
        total = correct = seen = 0.0
        onecycle = isinstance(self.scheduler, sched.OneCycleLR)
        for i, (xb, yb) in enumerate(self.loader, 1):
            n = len(yb)  # the global batch; each rank trains on its slice of it
            if self.world.distributed:
                lo, hi = self.world.bounds(n)
                xb, yb = xb[lo:hi], yb[lo:hi]
            xb, yb = xb.to(self.device), yb.to(self.device)  # one upload per batch
            out, loss = self._descend(xb, yb, n)
            if onecycle:
                self.scheduler.step()
            self.step += 1
            value = loss.item()
            hits = int((out.argmax(-1) == yb).sum()) if self.classify else 0
            if self.world.distributed:  # every rank sees the global numbers, so all stop alike
                value, hits = self._global_metrics(value, hits, len(yb), n)
            if not np.isfinite(value):
                self._diverged(f"epoch {self.epoch + 1}, step {i} of {len(self.loader)} "
                               f"(step {self.step} of the run)", value, self.epoch + 1)
            total, seen = total + value * n, seen + n
            correct += hits
            on_step(i, total / seen, correct / seen if self.classify else None)
        self.epoch += 1
        row = {"epoch": self.epoch, "loss": total / seen,
               "accuracy": correct / seen if self.classify else None}
        if len(self.data.y_val):
            row["val_loss"], row["val_accuracy"] = self.evaluate(self.data.X_val,
                                                                 self.data.y_val)
            if not np.isfinite(row["val_loss"]):
                self._diverged(f"epoch {self.epoch} (on the validation set, after step "
                               f"{self.step})", row["val_loss"], self.epoch)
        self._step_schedule(row)
        row.update(lr=lr, time=time.perf_counter() - t0)
        self.history.append(row)
        return row

    def _diverged(self, where: str, loss: float, epoch: int) -> None:
        raise Diverged(divergence_message(self.cfg, where, loss), epoch, self.step, loss)

    def _global_metrics(self, value: float, hits: int, n_local: int,
                        n: int) -> tuple[float, int]:
        """The mean loss and the correct count of the global batch of n from this rank's."""
        total, hits_all = self.world.sum([value * n_local, hits])
        return float(total / n), int(hits_all)

    def _descend(self, xb: Any, yb: Any, n: int | None = None) -> tuple[Any, Any]:
        """One optimizer step on the batch (this rank's slice of a global batch of n); the
        outputs and loss at the weights before it. LBFGS re-evaluates the loss itself, so it
        gets the forward-backward as a closure."""
        first: list[Any] = []
        n_local = len(yb)
        # DDP averages over ranks: a rank's mean weighs n_local / n of the global batch's
        scale = 1.0 if n is None else n_local * self.world.size / max(n, 1)
        line_search = self.world.distributed and isinstance(self.opt, optim.LBFGS)

        def closure() -> Any:
            out = self.net(xb)
            # a rank whose slice is empty (a last batch smaller than the world) still takes
            # part in the averaging, with zero gradients
            loss = self.loss_fn(out, yb) if n_local else out.sum() * 0.0
            self.opt.zero_grad()
            (loss if scale == 1.0 else loss * scale).backward()
            if not first:
                first.extend((out, loss))
                if self.monitor is not None:
                    self.monitor.record(self.step + 1)
            if line_search:  # every rank's line search must see the same (global) loss
                return cr.tensor(global_loss(loss.item(), n_local, n or n_local, self.world))
            return loss

        if isinstance(self.opt, optim.LBFGS):
            self.opt.step(closure)
        else:
            closure()
            self.opt.step()
        return first[0], first[1]

    def _step_schedule(self, row: dict[str, Any]) -> None:
        if isinstance(self.scheduler, sched.ReduceLROnPlateau):
            self.scheduler.step(row.get("val_loss", row["loss"]))
        elif self.scheduler is not None and not isinstance(self.scheduler, sched.OneCycleLR):
            self.scheduler.step()

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float | None]:
        """Mean loss and accuracy (None for regression) in eval mode, without gradients."""
        return evaluate(self.model, self.loss_fn, X, y, self.classify)

    def is_best(self, row: dict[str, Any]) -> bool:
        """Record row as the best epoch when its validation metric beats the best so far
        (accuracy, ties to the lower loss; the loss for regression; train loss without a
        validation set)."""
        def score(r: dict[str, Any]) -> tuple:
            if "val_loss" not in r:
                return (-r["loss"],)
            return (r["val_accuracy"], -r["val_loss"]) if self.classify else (-r["val_loss"],)
        if self.best is None or score(row) > score(self.best):
            self.best = dict(row)
            return True
        return False

    # -- checkpoint state ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        d = self.data
        return {
            "config": self.cfg, "architecture": self.arch,
            "data": {"name": d.name, "task": d.task, "classes": d.classes,
                     "input_shape": d.input_shape, "preprocess": d.preprocess},
            "epoch": self.epoch, "step": self.step,
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": {"default": default_generator().bit_generator.state,
                    "loader": self.loader_rng.bit_generator.state},
            "loader": {"epoch": self.epoch, "position": 0, "batch_size": self.loader.batch_size},
            "history": self.history, "best": self.best,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state (taken at the end of an epoch)."""
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        default_generator().bit_generator.state = state["rng"]["default"]
        self.world.split_generators()  # the checkpoint holds rank 0's stream
        self.loader_rng.bit_generator.state = state["rng"]["loader"]
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history, self.best = list(state["history"]), state["best"]


def train_device(name: str, distributed: bool = False) -> cr.device:
    """--device: auto is the GPU when CuPy sees one (the CPU under mpiexec: the collectives
    run on host arrays); cuda without a GPU is an error that says what is missing."""
    if name == "auto":
        return cr.device("cuda" if cr.cuda.is_available() and not distributed else "cpu")
    if name == "cuda" and distributed:
        raise UsageError("--device cuda: data-parallel training under mpiexec runs on the CPU; "
                         "use --device cpu (or auto)")
    return check_device(name, "chainrule train --device")


def model_device(model: cr.nn.Module) -> cr.device:
    p = next(iter(model.parameters()), None)
    return cr.device("cpu") if p is None else p.device


def evaluate(model: cr.nn.Module, loss_fn: Callable, X: np.ndarray, y: np.ndarray,
             classify: bool) -> tuple[float, float | None]:
    """Mean loss and accuracy of model on (X, y), in eval mode and batches of EVAL_BATCH."""
    was_training = model.training
    model.eval()
    total = correct = 0.0
    dev = model_device(model)
    with cr.no_grad():
        for s in range(0, len(y), EVAL_BATCH):
            out = model(cr.tensor(X[s:s + EVAL_BATCH], device=dev))
            yb = y[s:s + EVAL_BATCH]
            total += loss_fn(out, cr.tensor(yb, device=dev)).item() * len(yb)
            if classify:  # the outputs copied to the host, to count the hits there
                correct += int((to_host(out.array).argmax(-1) == yb).sum())
    model.train(was_training)
    n = max(len(y), 1)
    return total / n, (correct / n if classify else None)


def predict(model: cr.nn.Module, X: np.ndarray) -> np.ndarray:
    """The model's outputs for X (logits, or regression values), in eval mode."""
    model.eval()
    dev = model_device(model)
    with cr.no_grad():  # the outputs are copied to the host
        return np.concatenate([to_host(model(cr.tensor(X[s:s + EVAL_BATCH], device=dev)).array)
                               for s in range(0, len(X), EVAL_BATCH)]) if len(X) else \
            np.zeros((0, 1), np.float32)
