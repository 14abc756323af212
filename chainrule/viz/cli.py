"""`chainrule viz graph | descent | lr-sweep`: the pictures of chainrule.viz from the shell.

    chainrule viz graph --model mlp --out mlp.svg            # a built-in model on one batch
    chainrule viz graph --checkpoint runs/NAME --out g.png    # a trained run's model
    chainrule viz descent --function rosenbrock --optimizers sgd,momentum,adam --out a.png
    chainrule viz lr-sweep --function quadratic --optimizer sgd --out sweep.png

The host CLI calls add_viz_subparser(subparsers) while building its parser and run_viz(args)
when args.command == 'viz'. Bad option values exit with status 2 (argparse), failures raise.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence, TextIO

import numpy as np

GRAPH_MODELS = ("mlp", "resnet", "cnn")


def _floats(n: int | None, what: str) -> Any:
    def parse(s: str) -> tuple[float, ...]:
        try:
            v = tuple(float(p) for p in s.split(",") if p.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}: {s!r} is not a comma-separated list "
                                             "of numbers") from None
        if not v or (n is not None and len(v) != n):
            raise argparse.ArgumentTypeError(f"{what}: expected {n or 'some'} numbers, got "
                                             f"{s!r}")
        return v
    return parse


def _lr_option(s: str) -> Any:
    """'0.01' (all optimizers) or 'sgd=0.01,adam=0.1' (per optimizer)."""
    if "=" not in s:
        return _floats(1, "--lr")(s)[0]
    out = {}
    for part in s.split(","):
        name, _, value = part.partition("=")
        try:
            out[name.strip().lower()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--lr: {part!r} is not NAME=NUMBER") from None
    return out


def _surface_name(s: str) -> str:
    from chainrule.viz.surfaces import BUILTINS

    if s.lower() not in BUILTINS:
        raise argparse.ArgumentTypeError(f"unknown surface {s!r}; choose from "
                                         f"{', '.join(BUILTINS)}")
    return s.lower()


def _optimizer_names(s: str) -> list[str]:
    from chainrule import optim

    names = [p.strip().lower() for p in s.split(",") if p.strip()]
    bad = [n for n in names if n not in optim.available()]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown optimizer(s) {', '.join(bad) or s!r}; "
                                         f"choose from {', '.join(optim.available())}")
    return names


def _one_optimizer(s: str) -> str:
    names = _optimizer_names(s)
    if len(names) > 1:
        raise argparse.ArgumentTypeError(f"lr-sweep runs one optimizer, got {s!r}; compare "
                                         "several with `chainrule viz descent --optimizers`")
    return names[0]


def _surface_options(p: argparse.ArgumentParser, animate: bool = False) -> None:
    p.add_argument("--function", type=_surface_name, default="rosenbrock",
                   help="The cost surface: quadratic, rosenbrock, beale, himmelblau, saddle, "
                   "rastrigin (default rosenbrock).")
    p.add_argument("--condition", type=float, default=10.0,
                   help="Condition number of the quadratic bowl, for --function quadratic "
                   "(default 10).")
    p.add_argument("--steps", type=int, default=None, help="Steps per run (default: the "
                   "surface's own).")
    p.add_argument("--start", type=_floats(2, "--start"), default=None, metavar="X,Y",
                   help="Starting point (default: the surface's own).")
    p.add_argument("--out", "-o", default=None, metavar="FILE",
                   help="Write the picture (.png, .svg, .pdf" + ("; .gif with --animate"
                                                                 if animate else "")
                   + "); default: print the numbers only.")


def add_viz_subparser(subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> Any:
    """Add `viz` with its sub-commands graph, descent and lr-sweep to a subparsers object."""
    viz = subparsers.add_parser("viz", parents=list(parents), help="Pictures of backprop and "
                                "descent: graph, descent, lr-sweep.",
                                description="Draw the computational graph of a model, "
                                "optimizers descending a cost surface, or a learning-rate sweep.")
    sub = viz.add_subparsers(dest="viz_command", metavar="PICTURE", parser_class=type(viz))
    g = sub.add_parser("graph", help="The graph of a model on one batch, with values and "
                       "gradients.", description="Draw the computational graph of a built-in "
                       "model (or a checkpoint's) on one batch, with values and gradients.")
    g.add_argument("--model", choices=GRAPH_MODELS, default="mlp", help="A built-in model.")
    g.add_argument("--checkpoint", default=None, metavar="RUN_OR_CHECKPOINT",
                   help="Draw this trained run's model instead (on its own data when found).")
    g.add_argument("--hidden", type=_floats(None, "--hidden"), default=None, metavar="W1,W2",
                   help="Hidden widths of the built-in model (default 8,8; cnn 4,8).")
    g.add_argument("--activation", default="relu", help="Activation of the built-in model.")
    g.add_argument("--batch", type=int, default=4, help="Examples in the batch (default 4).")
    g.add_argument("--collapse", type=int, default=None, metavar="DEPTH",
                   help="Draw modules DEPTH levels deep as one box each (default: every leaf "
                   "module, e.g. a Linear, is one box; 0 draws every op).")
    g.add_argument("--show", default="values,grads", help="values,grads (default), values, "
                   "grads, or '' for shapes only.")
    g.add_argument("--seed", type=int, default=0, help="Seed of the weights and the batch.")
    g.add_argument("--out", "-o", default=None, metavar="FILE",
                   help="Write .dot/.gv text or render .svg/.png/.pdf (Graphviz); default: "
                   "print the DOT text.")
    d = sub.add_parser("descent", help="Optimizers on a 2-D cost surface.",
                       description="Run chainrule.optim optimizers on a cost surface; print "
                       "their numbers and draw their trajectories and losses.")
    _surface_options(d, animate=True)
    d.add_argument("--optimizers", type=_optimizer_names, default=["sgd", "momentum", "adam"],
                   help="Comma-separated optimizer names from the registry: sgd, momentum, "
                   "nesterov, adagrad, rmsprop, adadelta, adam, amsgrad, adamw, adamax, nadam, "
                   "radam, rprop, asgd, lbfgs (default sgd,momentum,adam).")
    d.add_argument("--lr", type=_lr_option, default=None, help="One learning rate, or "
                   "NAME=LR,... per optimizer (default: readable rates for the surface).")
    d.add_argument("--animate", action="store_true", help="Write an animated GIF to --out.")
    s = sub.add_parser("lr-sweep", help="One optimizer at many learning rates.",
                       description="Where does descent turn to divergence? Run one optimizer "
                       "at log-spaced learning rates on a cost surface.")
    _surface_options(s)
    s.add_argument("--optimizer", type=_one_optimizer, default="sgd", metavar="NAME",
                   help="One optimizer from the registry, as for descent (default sgd).")
    rates = s.add_mutually_exclusive_group()
    rates.add_argument("--lrs", type=_floats(None, "--lrs"), default=None, metavar="LR,LR,...",
                       help="The learning rates (default: 25 rates, log-spaced from 1/1000 "
                       "to 10 times the optimizer's readable rate on the surface).")
    rates.add_argument("--lr-range", type=_floats(3, "--lr-range"), default=None,
                       metavar="LOW,HIGH,COUNT",
                       help="COUNT log-spaced rates from LOW to HIGH, instead of --lrs.")
    return viz


def run_viz(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run a parsed `chainrule viz ...` command; returns the exit status."""
    out = out or sys.stdout
    cmd = getattr(args, "viz_command", None)
    if cmd == "graph":
        return _graph(args, out)
    if cmd == "descent":
        return _descent(args, out)
    if cmd == "lr-sweep":
        return _sweep(args, out)
    print("chainrule viz: choose a picture: graph, descent or lr-sweep (see chainrule viz "
          "--help)", file=sys.stderr)
    return 2


def _surface(args: argparse.Namespace) -> Any:
    from chainrule.viz.surfaces import surface

    opts = {"condition": args.condition} if args.function == "quadratic" else {}
    return surface(args.function, args.start, **opts)


def _descent(args: argparse.Namespace, out: TextIO) -> int:
    from chainrule.viz.descent import descent

    if args.animate and not (args.out or "").lower().endswith(".gif"):
        print("chainrule viz descent: error: --animate writes an animated GIF: give "
              "--out NAME.gif", file=sys.stderr)
        return 2
    r = descent(_surface(args), args.optimizers, lr=args.lr, steps=args.steps)
    print(r.summary(), file=out)
    if args.out:
        r.animate(args.out) if args.animate else r.plot(args.out)
        print(f"wrote {args.out}", file=out)
    return 0


def _sweep(args: argparse.Namespace, out: TextIO) -> int:
    from chainrule.viz.descent import lr_sweep

    lrs = args.lrs
    if lrs is None and args.lr_range is not None:
        lo, hi, n = args.lr_range
        if not 0 < lo < hi or n < 2:
            raise ValueError(f"--lr-range: need 0 < LOW < HIGH and COUNT >= 2, got "
                             f"{lo:g},{hi:g},{n:g}")
        lrs = np.logspace(np.log10(lo), np.log10(hi), int(n))
    r = lr_sweep(_surface(args), args.optimizer, lrs=lrs, steps=args.steps)
    print(r.summary(), file=out)
    if args.out:
        r.plot(args.out)
        print(f"wrote {args.out}", file=out)
    return 0


def _graph(args: argparse.Namespace, out: TextIO) -> int:
    import chainrule as cr
    from chainrule.viz.modules import model_graph

    cr.manual_seed(args.seed)
    if args.checkpoint:
        model, x, y, task = _checkpoint_batch(args)
    else:
        model, x, y, task = _builtin_batch(args)
    from chainrule.nn import functional as F

    loss_fn = F.cross_entropy if task == "classification" else F.mse_loss
    collapse: bool | int = True if args.collapse is None else (args.collapse or False)
    dot = model_graph(model, x, target=y, loss_fn=loss_fn, collapse=collapse, show=args.show,
                      path=args.out)
    if args.out:
        print(f"wrote {args.out}", file=out)
    else:
        out.write(dot)
    return 0


def _builtin_batch(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    import chainrule as cr
    from chainrule.cli.models import build_model

    image = args.model == "cnn"
    shape, outputs = ([1, 12, 12], 10) if image else ([2], 3)
    hidden = [int(h) for h in args.hidden] if args.hidden else ([4, 8] if image else [8, 8])
    model = build_model({"model": args.model, "input_shape": shape, "hidden": hidden,
                         "activation": args.activation, "dropout": 0.0, "outputs": outputs})
    rng = np.random.default_rng(args.seed)
    x = cr.tensor(rng.standard_normal((args.batch, *shape)).astype(np.float32))
    y = cr.tensor(rng.integers(0, outputs, args.batch))
    return model, x, y, "classification"


def _checkpoint_batch(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """The checkpoint's model, and the first examples of its validation data (random inputs
    of the right shape when the data cannot be loaded here)."""
    import chainrule as cr
    from chainrule.cli.commands import open_checkpoint
    from chainrule.cli.data import load_data

    warn = lambda msg: print(f"warning: {msg}", file=sys.stderr)  # noqa: E731
    _, state, model = open_checkpoint(args.checkpoint, warn)
    d = state["data"]
    try:
        data = load_data(state["config"], d["preprocess"])
        X, y = data.X_val[:args.batch], data.y_val[:args.batch]
        if len(X) == 0:
            X, y = data.X_train[:args.batch], data.y_train[:args.batch]
    except (OSError, ValueError) as e:
        from chainrule.cli.trust import safe  # the name comes from the file: escaped

        warn(f"cannot load {safe(d['name'])} ({safe(e)}); drawing the graph on random inputs")
        rng = np.random.default_rng(args.seed)
        X = rng.standard_normal((args.batch, *d["input_shape"])).astype(np.float32)
        n = max(len(d["classes"]), 1)
        y = rng.integers(0, n, args.batch) if d["task"] == "classification" else \
            rng.standard_normal((args.batch, 1)).astype(np.float32)
    return model, cr.tensor(X), cr.tensor(y), d["task"]
