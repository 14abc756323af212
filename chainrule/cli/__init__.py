"""The `chainrule` command (also `python -m chainrule`): train, evaluate, predict, info.

Exit status: 0 on success, 2 for a usage error (a bad option or value), 1 when the work itself
fails (a missing or damaged file, a shape mismatch). Errors are one message; --debug shows the
traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from typing import Any, Sequence

from chainrule.cli.options import OPTIONS, UsageError
from chainrule.cli.trust import safe

DESCRIPTION = """Train and inspect small neural networks with chainrule.

  chainrule train                         an MLP on the built-in spiral, in seconds
  chainrule train --dataset mnist --model cnn --epochs 3
  chainrule evaluate runs/NAME            loss and accuracy of a run's best checkpoint
  chainrule predict CHECKPOINT data.csv   predictions for new rows
  chainrule info CHECKPOINT               architecture, parameters, history
  chainrule export RUN model.onnx         the model as an ONNX file (onnxruntime runs it)"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the message, a "did you mean" for a misspelt option or
    choice (argparse has none before Python 3.14), and where to read more, not the usage."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # a sub-command's own parser reports its unknown options, so that they are compared
        # with its options (the top-level parser knows only --help and --version)
        ns, extras = super().parse_known_args(args, namespace)
        if extras and any(a.startswith("-") for a in extras):
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggest(extras)}")
        return ns, extras

    def _suggest(self, extras: list[str]) -> str:
        known = [s for s in self._option_string_actions if s.startswith("--")]
        hints = []
        for arg in extras:
            if arg.startswith("--"):
                flag = arg.split("=", 1)[0]
                hints += [(m, flag) for m in difflib.get_close_matches(flag, known, 1)]
        if len(hints) == 1:
            return f"; did you mean {hints[0][0]}?"
        return f"; did you mean {', '.join(f'{m} (for {f})' for m, f in hints)}?" if hints \
            else ""

    def error(self, message: str) -> None:  # type: ignore[override]
        bad = re.match(r"argument .*: invalid choice: '(.*)' \(choose from (.*)\)$", message)
        if bad:
            choices = [c.strip().strip("'") for c in bad.group(2).split(",")]
            close = difflib.get_close_matches(bad.group(1), choices, 1)
            message += f"; did you mean {close[0]!r}?" if close else ""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="Show the full traceback when something fails.")
    parser = Parser(prog="chainrule", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    from chainrule import __version__

    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _train_parser(sub, common)
    ev = sub.add_parser("evaluate", parents=[common], help="Loss and accuracy of a checkpoint.",
                        description="Evaluate a run's best checkpoint (or a checkpoint file) "
                        "on the validation split of its data set, or of another one.")
    ev.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT",
                    help="A run folder (its best checkpoint is used) or a checkpoint file.")
    for name in ("dataset", "data_dir", "label_column", "samples", "skip_nonfinite"):
        _add_option(ev, name, EVALUATE_HELP.get(name))
    ev.add_argument("--split", choices=["val", "train", "all"], default="val",
                    help="Which examples to evaluate on: the validation split (default), the "
                    "training split, or all.")
    pr = sub.add_parser("predict", parents=[common], help="Predict the rows of a CSV file.",
                        description="Print (or write) the model's prediction for each row of "
                        "a CSV file of raw features, as CSV.")
    pr.add_argument("checkpoint", metavar="CHECKPOINT", help="A checkpoint file or run folder.")
    pr.add_argument("input", metavar="INPUT.csv", help="Rows of features, one example a row "
                    "(a header row is allowed).")
    _add_option(pr, "skip_nonfinite")
    pr.add_argument("--output", "-o", metavar="FILE", help="Write the predictions to FILE "
                    "instead of printing them.")
    info = sub.add_parser("info", parents=[common], help="Describe a checkpoint.",
                          description="Architecture, parameter count and training history of "
                          "a checkpoint.")
    info.add_argument("checkpoint", metavar="CHECKPOINT", help="A checkpoint file or run folder.")
    _export_parser(sub, common)
    try:  # `chainrule viz ...` lives with the pictures (chainrule/viz/cli.py)
        from chainrule.viz.cli import add_viz_subparser
    except ImportError:
        return parser
    add_viz_subparser(sub, parents=[common])
    return parser


def _export_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    ex = sub.add_parser("export", parents=[common], help="Write the model as an ONNX file.",
                        description="Write a run's best checkpoint (or a checkpoint file) as an "
                        "ONNX model for onnxruntime and other runtimes: input 'input' (any "
                        "batch size), output 'output'. Needs pip install \"chainrule[onnx]\".")
    ex.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT",
                    help="A run folder (its best checkpoint is used) or a checkpoint file.")
    ex.add_argument("onnx_file", metavar="OUTPUT.onnx", help="The file to write.")
    ex.add_argument("--opset", type=int, default=None, metavar="N",
                    help="The ONNX opset version (default 20).")
    ex.add_argument("--raw-inputs", action="store_true",
                    help="Put the data's preprocessing (scaling, standardising) in the graph, "
                    "so the file takes the raw feature rows that `chainrule predict` reads.")
    ex.add_argument("--verify", action="store_true",
                    help="Run the file in onnxruntime and compare it with the model.")


# evaluate's defaults are the run's own options, not train's: its help says so
EVALUATE_HELP = {
    "dataset": "The data to evaluate on (default: the run's own): spiral, circles, moons, xor, "
               "gaussian, sine, mnist, fashion-mnist, or a CSV file (a CSV run needs it again: "
               "a path recorded in a checkpoint is never opened). Another built-in set is "
               "refused when its classes differ from the model's.",
    "samples": "How many examples to generate or read (default: the run's own, so that its "
               "validation split is the one it was trained beside).",
    "label_column": "For a CSV data set: the label column's name or 0-based index (default: "
                    "the run's own, else a column named label/target/class/y, else the last).",
    "skip_nonfinite": "For a CSV data set: leave out the rows with an empty, NaN or infinite "
                      "value (and say how many) instead of refusing the file (default: as "
                      "the run was trained).",
}


def _add_option(p: argparse.ArgumentParser, name: str, help: str | None = None) -> None:
    opt = next(o for o in OPTIONS if o.name == name)
    flag = "--" + name.replace("_", "-")
    if opt.is_flag:
        p.add_argument(flag, dest=name, action="store_true", default=argparse.SUPPRESS,
                       help=help or opt.help)
    else:
        shown = help or opt.help
        if help is None and opt.default is not None and "default" not in shown:
            shown = f"{shown[:-1]} (default {opt.default})."
        p.add_argument(flag, dest=name, type=_typed(opt.parse), metavar=opt.metavar,
                       default=argparse.SUPPRESS, help=shown)


def _typed(parse: Any) -> Any:
    def convert(s: str) -> Any:
        try:
            return parse(s)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def _train_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    tr = sub.add_parser("train", parents=[common], help="Train a model (try it bare first).",
                        description="Train a network and write a run folder: config.json, "
                        "metrics.csv, events.jsonl, last/best checkpoints and plots. With no "
                        "options: an MLP on the built-in spiral, in well under a minute.")
    for opt in OPTIONS:
        _add_option(tr, opt.name)
    tr.add_argument("--resume", metavar="PATH", default=None,
                    help="Continue a run (its folder or a checkpoint) exactly where it "
                    "stopped; only --epochs, --quiet, --tensorboard, --monitor-gradients and "
                    "--data-dir may change (and --dataset: where a CSV run's file lives now).")
    tr.add_argument("--config", metavar="FILE", default=None,
                    help="Read options from a TOML or JSON file (keys as the long options); "
                    "flags on the command line override it.")


def _dispatch(args: argparse.Namespace) -> int:
    given = {k: v for k, v in vars(args).items()
             if k not in ("command", "debug", "resume", "config", "checkpoint", "input",
                          "output", "split", "onnx_file", "opset", "raw_inputs", "verify")}
    if args.command == "train":
        from chainrule.cli.train_cmd import run_train

        return run_train(given, args.config, args.resume)
    if args.command == "viz":
        from chainrule.viz.cli import run_viz

        return run_viz(args)
    from chainrule.cli import commands

    if args.command == "evaluate":
        return commands.run_evaluate(args.checkpoint, given, args.split, sys.stdout)
    if args.command == "export":
        from chainrule.cli.export_cmd import run_export

        return run_export(args.checkpoint, args.onnx_file, args.opset, args.raw_inputs,
                          args.verify, sys.stdout)
    if args.command == "predict":
        return commands.run_predict(args.checkpoint, args.input, args.output, sys.stdout,
                                    getattr(args, "skip_nonfinite", False))
    return commands.run_info(args.checkpoint, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed
        return e.code if isinstance(e.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    prog = f"chainrule {args.command}"
    try:
        return _dispatch(args)
    except UsageError as e:
        if debug:
            raise
        print(f"{prog}: error: {safe(e, newlines=True)} (see {prog} --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Python advises
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError as e:  # trust.TooLarge says which sizes; a bare one says where
        if debug:
            raise
        detail = str(e) or "out of memory; use smaller --samples, --hidden or --batch-size"
        print(f"{prog}: error: {safe(detail)}", file=sys.stderr)
        return 1
    except RecursionError:
        if debug:
            raise
        print(f"{prog}: error: an input is nested too deeply to read", file=sys.stderr)
        return 1
    except (ValueError, OSError, RuntimeError, KeyError, TypeError, OverflowError) as e:
        if debug:
            raise
        detail = str(e) if not isinstance(e, KeyError) else f"missing entry {e}"
        print(f"{prog}: error: {safe(detail, newlines=True)}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: still one line, and how to see more
        if debug:
            raise
        print(f"{prog}: internal error: {type(e).__name__}: {safe(e)} (run again with --debug for "
              "the traceback)", file=sys.stderr)
        return 1
