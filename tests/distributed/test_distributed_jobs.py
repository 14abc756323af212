"""chainrule.distributed under real `mpiexec`: the collectives on 2 and 4 ranks, PyTorch's DDP
tutorial with the imports renamed, and the failure drill (one rank raises: the job ends in
seconds, non-zero, with the message, and leaves no process behind)."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest
from mpi_jobs import check, run_mpi


@pytest.mark.parametrize("n", [2, 4])
def test_collectives(n):
    out = check(run_mpi(n, "collectives.py"))
    for r in range(n):
        assert f"rank {r} of {n}: collectives ok" in out


@pytest.mark.parametrize("n", [2, 4])
def test_groups_and_the_other_collectives(n):
    out = check(run_mpi(n, "groups.py"))
    for r in range(n):
        assert f"rank {r} of {n}: groups ok" in out


def test_pytorch_ddp_tutorial_runs_with_imports_renamed(tmp_path):
    out = check(run_mpi(2, "tutorial.py", str(tmp_path)))
    for r in range(2):
        assert f"Finished running basic DDP example on rank {r}." in out
        assert f"Running DDP checkpoint example on rank {r}." in out
    # ranks' lines may interleave in mpiexec's output: match the digests, not whole lines
    digests = dict(re.findall(r"rank (\d) digest ([0-9a-f]{16} [0-9a-f]{16})", out))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], out
    assert not (tmp_path / "model.checkpoint").exists()  # rank 0 removed it


def _left_behind(token: str) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if token in line and "ps -eo" not in line]


@pytest.mark.parametrize("where", ["main", "thread", "exit", "exit3"])
def test_failure_drill_one_rank_raises_and_the_job_ends(where):
    token = f"drill-{uuid.uuid4().hex}"
    start = time.monotonic()
    result = run_mpi(2, "failure_drill.py", token, where, timeout=30)
    elapsed = time.monotonic() - start
    text = result.stdout + result.stderr
    assert elapsed < 10, f"the job took {elapsed:.1f} s to end\n{text}"
    assert result.returncode != 0, text
    # the rank, the traceback and the message, printed once (rank 0 may add a line of its own
    # if its pending Allreduce fails when rank 1 aborts)
    assert text.count(f"boom at step 3 ({token})") == 1, text
    if where.startswith("exit"):  # sys.exit(message) / sys.exit(3): the status is the job's
        assert result.returncode == (3 if where == "exit3" else 1), text
        assert f"rank 1 exited with status {result.returncode} (sys.exit)" in text, text
    else:
        assert "rank 1 raised" in text and "Traceback" in text, text
    assert "not reached" not in text, text
    deadline = time.monotonic() + 5
    while _left_behind(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _left_behind(token) == [], text
