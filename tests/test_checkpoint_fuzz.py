"""Fuzz the checkpoint loaders (issue 17, "what must hold"): damaged and forged files handed to
cr.load, load_raw, Optimizer.load_state_dict, the Keras load_model and `chainrule info /
evaluate / train --resume` load identical content or raise a library error, with no other
exception, no case over 5 s and no growth over 1 GiB. The engine is scripts/fuzz_checkpoints.py
(its longer run, 10 000 files, and its figures: scripts/fuzz_checkpoints.md); here a bounded,
seeded number of cases (about 15 s). CHAINRULE_FUZZ_SEED picks other cases."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from chainrule import io

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_checkpoints.py"
CASES = 2000

pytestmark = pytest.mark.skipif(not (sys.platform.startswith("linux") and SCRIPT.exists()),
                                reason="the fuzz guards read /proc and use SIGALRM (Linux)")


def _engine():
    spec = importlib.util.spec_from_file_location("fuzz_checkpoints", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_damaged_and_forged_checkpoints_load_identically_or_raise_a_library_error(
        tmp_path, monkeypatch):
    monkeypatch.delenv(io.KEY_ENV, raising=False)
    fuzz = _engine()
    seed = int(os.environ.get("CHAINRULE_FUZZ_SEED", "20261201"))
    counts, failures = fuzz.run_cases(CASES, seed, tmp_path, cli=True, log=lambda msg: None)
    assert sum(counts.values()) == CASES
    assert not failures, (f"{len(failures)} of {CASES} cases failed (replay one with "
                          f"python scripts/fuzz_checkpoints.py --seed {seed} --only N):\n"
                          + "\n".join(failures[:10]))
    # the mutators reach every layer of validation: some cases load, some are refused by
    # the header checks, and forged files get past the digest to the field checks
    outcomes = {(kind, how, outcome.split(" ")[0]) for kind, how, outcome in counts}
    assert {("state_dict", "raw", "CheckpointError"), ("keras", "forged", "ModelFormatError"),
            ("optimizer", "forged", "ValueError"), ("state_dict", "forged", "ok")} <= outcomes
    assert any(kind == "run" and outcome.startswith("info:0 evaluate:0")
               for kind, _, outcome in counts)


def test_the_guards_catch_what_they_are_for(tmp_path):
    """A case that allocates past the cap or hangs is a failure, not a pass."""
    import numpy as np

    fuzz = _engine()
    with fuzz.guarded(extra_bytes=256 << 20):
        with pytest.raises(MemoryError):
            np.ones(1 << 30)  # 8 GiB
    assert fuzz.LIMIT_S <= 5
