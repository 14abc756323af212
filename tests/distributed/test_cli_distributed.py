"""`mpiexec -n 2 chainrule train ...`: data-parallel training from the command line.

Two ranks on the same global batch train the model one process trains (to 1e-6 in float32,
with a global batch that does not split evenly, and a last batch smaller than the others); only
rank 0 writes the one run folder and prints; a checkpoint written by 2 ranks resumes under 1
process (and one written by 1 process under 2) as a 1-process run resumes; ResNet blocks train
with SyncBatchNorm, also when a rank's slice holds one example (or none); a failure on one
rank ends the job at once; a usage error is said once; and a plain `chainrule train` never
imports mpi4py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mpi_jobs import ROOT, _mpiexec

from chainrule import io
from chainrule.cli import main
from chainrule.distributed.launch import launched_by_mpi, launcher_rank, launcher_rank_size

# 1200 training examples in batches of 37: slices of 18 and 19, and a last batch of 16
ARGS = ["--dataset", "spiral", "--hidden", "32,32", "--batch-size", "37", "--seed", "5",
        "--quiet"]


def run_cli_mpi(n: int, args: list[str], cwd: Path, timeout: float = 60
                ) -> subprocess.CompletedProcess:
    """`mpiexec -n n python -m chainrule args` in cwd; skipped without mpi4py or mpiexec."""
    pytest.importorskip("mpi4py", reason='mpi4py is not installed (pip install '
                        '"chainrule[mpi]")')
    exe = _mpiexec()
    if exe is None:
        pytest.skip("mpiexec is not on PATH (pip install \"chainrule[mpi]\" brings MPICH's)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [exe, "-n", str(n), sys.executable, "-m", "chainrule", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(cwd), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec -n {n} chainrule {' '.join(args)} ran past {timeout} s\n"
                    f"{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def one_process(args: list[str], cwd: Path, capsys: pytest.CaptureFixture) -> str:
    """`chainrule train args` in this process (no MPI launcher here), from cwd."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        status = main(args)
    finally:
        os.chdir(old)
    out = capsys.readouterr()
    assert status == 0, out
    return out.out


def state(folder: Path, name: str = "last.safetensors") -> dict:
    return io.load_raw(folder / name)


def assert_close(got: dict, want: dict, tol: float) -> None:
    assert set(got) == set(want)
    for key, w in want.items():
        g = np.asarray(got[key].numpy() if hasattr(got[key], "numpy") else got[key])
        w = np.asarray(w.numpy() if hasattr(w, "numpy") else w)
        assert g.dtype == w.dtype == np.float32 or key.endswith("num_batches_tracked"), key
        err = np.max(np.abs(g - w) / (1 + np.abs(w)))
        assert err <= tol, (key, err)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    """A 2-epoch run of 2 ranks in its own working folder: (the folder, its stdout)."""
    cwd = tmp_path_factory.mktemp("two")
    out = ok(run_cli_mpi(2, ["train", *ARGS, "--epochs", "2", "--name", "r"], cwd))
    return cwd, out


@pytest.fixture(scope="module")
def one_process_runs(tmp_path_factory):
    """The same options in one process: 2 epochs (r2), and 2 then resumed to 4 (r4)."""
    cwd = tmp_path_factory.mktemp("one")
    for name in ("r2", "r4"):
        assert main(["train", *ARGS, "--epochs", "2", "--out", str(cwd), "--name", name]) == 0
    assert main(["train", "--resume", str(cwd / "r4"), "--epochs", "4", "--quiet"]) == 0
    return cwd


def test_two_ranks_train_the_model_one_process_trains(two_rank_run, one_process_runs):
    cwd, out = two_rank_run
    # rank 0 alone wrote: one run folder, and nothing beside it
    assert sorted(p.name for p in cwd.iterdir()) == ["runs"]
    assert sorted(p.name for p in (cwd / "runs").iterdir()) == ["r"]
    folder = cwd / "runs" / "r"
    assert out.count("done: train accuracy") == 1, out
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("start") == 1
    assert events[0]["processes"] == 2
    assert len((folder / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs
    got, want = state(folder), state(one_process_runs / "r2")
    assert_close(got["model"], want["model"], 1e-6)
    # the run moved the weights: not a comparison of two untrained models
    start = want["history"][0]
    assert start["loss"] > want["history"][1]["loss"]
    # the metrics are those of the global batches, as one process computes them
    for mine, theirs in zip(got["history"], want["history"]):
        for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert abs(mine[k] - theirs[k]) <= 1e-5, (k, mine, theirs)
    # everything but the weights' last bits is the 1-process run's: counters, generators
    assert got["step"] == want["step"] == 2 * 33 and got["epoch"] == 2
    assert got["rng"] == want["rng"]
    assert got["loader"] == want["loader"]


def test_a_two_rank_checkpoint_resumes_under_one_process(two_rank_run, one_process_runs,
                                                         tmp_path, capsys):
    folder = tmp_path / "r"
    shutil.copytree(two_rank_run[0] / "runs" / "r", folder)
    one_process(["train", "--resume", str(folder), "--epochs", "4", "--quiet"], tmp_path,
                capsys)
    got, want = state(folder), state(one_process_runs / "r4")
    assert got["epoch"] == want["epoch"] == 4 and got["step"] == want["step"]
    assert_close(got["model"], want["model"], 1e-6)
    assert got["rng"] == want["rng"]
    # the 1-process resume of the 2-rank checkpoint is itself exact: doing it again agrees
    # bit for bit
    again = tmp_path / "again"
    shutil.copytree(two_rank_run[0] / "runs" / "r", again)
    one_process(["train", "--resume", str(again), "--epochs", "4", "--quiet"], tmp_path,
                capsys)
    for key, w in state(again)["model"].items():
        assert np.array_equal(np.asarray(state(folder)["model"][key]), np.asarray(w)), key


def test_a_one_process_checkpoint_resumes_under_two_ranks(one_process_runs, tmp_path):
    folder = tmp_path / "r"
    shutil.copytree(one_process_runs / "r2", folder)
    out = ok(run_cli_mpi(2, ["train", "--resume", str(folder), "--epochs", "4", "--quiet"],
                         tmp_path))
    assert out.count("done:") == 1
    got, want = state(folder), state(one_process_runs / "r4")
    assert got["epoch"] == 4 and got["step"] == want["step"]
    assert_close(got["model"], want["model"], 1e-6)
    events = (folder / "events.jsonl").read_text()
    assert '"processes": 2' in events


@pytest.mark.parametrize("model, batch", [("resnet", "797"), ("mlp", "799")],
                         ids=["resnet-last-slices-1-and-2", "mlp-last-slices-0-and-1"])
def test_small_last_batches_and_sync_batchnorm(tmp_path, capsys, model, batch):
    # 800 training examples: the last global batch holds 3 (ResNet blocks: slices of 1 and 2,
    # batch norms made SyncBatchNorm) or 1 (rank 0's slice is empty)
    # momentum SGD: a Linear's bias before a batch norm gets a zero gradient plus rounding
    # noise, which Adam's normalised step would blow up to the size of a real step
    args = ["train", "--dataset", "moons", "--model", model, "--hidden", "8",
            "--optimizer", "momentum", "--batch-size", batch, "--epochs", "2", "--seed", "1",
            "--quiet", "--name", "r"]
    ok(run_cli_mpi(2, args + ["--out", "two"], tmp_path))
    one_process(args + ["--out", "one"], tmp_path, capsys)
    got, want = state(tmp_path / "two" / "r"), state(tmp_path / "one" / "r")
    assert got["step"] == want["step"] == 4
    if model == "resnet":  # batch statistics of the global batch, running statistics included
        assert any("running_var" in k for k in want["model"])
    assert_close(got["model"], want["model"], 1e-5 if model == "resnet" else 1e-6)


def test_a_failure_on_one_rank_ends_the_job(tmp_path):
    (tmp_path / "runs" / "taken").mkdir(parents=True)  # rank 0 cannot create its run folder
    start = time.monotonic()
    result = run_cli_mpi(2, ["train", *ARGS, "--epochs", "50", "--name", "taken"], tmp_path,
                         timeout=30)
    text = result.stdout + result.stderr
    assert time.monotonic() - start < 15, text
    assert result.returncode != 0, text
    assert text.count("the run folder runs/taken already exists") == 1, text
    assert "done:" not in text


def test_a_usage_error_is_said_once(tmp_path):
    result = run_cli_mpi(2, ["train", "--epochs", "0"], tmp_path)
    assert result.returncode == 2, result
    assert result.stderr.count("chainrule train: error:") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_plain_run_never_imports_mpi4py(tmp_path):
    code = ("import sys; from chainrule.cli import main; "
            "s = main(['train', '--epochs', '1', '--quiet', '--samples', '200']); "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'; sys.exit(s)")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "OMPI_", "MV2_", "PMIX_"))}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("env, want", [
    ({}, None),
    ({"PMI_RANK": "1", "PMI_SIZE": "4"}, (1, 4)),
    ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3"}, (2, 3)),
    ({"PMIX_RANK": "0"}, (0, None)),
    ({"PMI_RANK": "0", "PMI_SIZE": "1"}, (0, 1)),
])
def test_the_launcher_is_read_from_the_environment(monkeypatch, env, want):
    for k in list(os.environ):
        if k.startswith(("PMI_", "OMPI_", "MV2_", "PMIX_")):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert launcher_rank_size() == want
    assert launched_by_mpi() == (want is not None and want[1] != 1)
    assert launcher_rank() == (0 if want is None else want[0])
