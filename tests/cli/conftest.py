"""Fixtures for the command-line tests: `cli` runs main() in this process (fast), `run_cli`
runs `python -m chainrule` in a subprocess (end to end), `tiny` is a quick training setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from chainrule.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny() -> list[str]:
    """A tiny, quick training run: the options most tests start from."""
    return ["--samples", "200", "--epochs", "2", "--hidden", "8", "--quiet"]


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """cli(*argv) -> (status, stdout, stderr) of main(argv) in this process."""
    def call(*argv: str) -> tuple[int, str, str]:
        status = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err
    return call


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """run_cli(*args, cwd=...) runs `python -m chainrule args` with the checkout importable."""
    def call(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "chainrule", *map(str, args)], cwd=cwd,
                              env=env, capture_output=True, text=True, timeout=timeout)
    return call


@pytest.fixture
def read_events() -> Callable[[Path], list[dict]]:
    return lambda folder: [json.loads(line) for line in
                           (Path(folder) / "events.jsonl").read_text().splitlines()]
