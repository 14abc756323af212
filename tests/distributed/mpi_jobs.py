"""Launch real `mpiexec` jobs for the distributed tests (skipped, with the reason, when mpi4py or
mpiexec is missing: `pip install "chainrule[mpi]"` installs both)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).resolve().parent / "programs"
ROOT = Path(__file__).resolve().parents[2]


def _mpiexec() -> str | None:
    """The mpiexec beside this Python first (the MPICH wheel's), else the one on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def run_mpi(n: int, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run tests/distributed/programs/<program> on n ranks; stdout and stderr in the result."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip('mpi4py is not installed (pip install "chainrule[mpi]")')
    exe = _mpiexec()
    if exe is None:
        pytest.skip('mpiexec is not on PATH (pip install "chainrule[mpi]" brings MPICH\'s)')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(PROGRAMS), os.environ.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [exe, "-n", str(n), sys.executable, str(PROGRAMS / program), *args]
    # a session of its own, so that a job past its timeout is ended whole (ranks included)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(ROOT), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec -n {n} {program} ran past {timeout} s\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def check(result: subprocess.CompletedProcess) -> str:
    """The job's stdout, after asserting it exited 0 (showing its output when not)."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout
