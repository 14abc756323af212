"""keras.distribution.DataParallel under real `mpiexec`: a Keras script (fit with shuffling,
uneven slices, validation data, a CSVLogger and a ModelCheckpoint, then evaluate) gives the same
weights on every rank, equal to the one-process run on the global batch, the same History and
evaluation; only rank 0 prints and writes. Plus the API's checks in one process."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import distribution as kd

_JOBS = Path(__file__).resolve().parents[1] / "distributed" / "mpi_jobs.py"


def _mpi_jobs():
    spec = importlib.util.spec_from_file_location("_mpi_jobs_for_keras", _JOBS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _single(out: Path, *args: str) -> None:
    jobs = _mpi_jobs()
    program = jobs.PROGRAMS / "keras_fit.py"
    env = {**__import__("os").environ, "PYTHONPATH": str(jobs.ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(program), str(out), "single", *args], check=True,
                   env=env, cwd=str(jobs.ROOT), capture_output=True, timeout=120)


def _load(out: Path, tag: str) -> tuple[list[np.ndarray], dict]:
    with np.load(out / f"result_{tag}.npz") as z:
        weights = [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1]))]
    return weights, json.loads((out / f"history_{tag}.json").read_text())


@pytest.mark.parametrize("n, opt, skew", [(2, "adam", False), (4, "sgd", False),
                                          (2, "sgd", True)])
def test_fit_data_parallel_equals_one_process(tmp_path, n, opt, skew):
    jobs = _mpi_jobs()
    extra = [opt] + (["skew"] if skew else [])
    result = jobs.run_mpi(n, "keras_fit.py", str(tmp_path), "mpi", *extra, timeout=120)
    out = jobs.check(result)
    _single(tmp_path, *extra)
    single_w, single = _load(tmp_path, "single")
    first_w, _ = _load(tmp_path, "0")
    for r in range(n):
        weights, logs = _load(tmp_path, str(r))
        for a, b, c in zip(weights, first_w, single_w):
            np.testing.assert_array_equal(a, b)  # ranks stay bit-identical
            np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5)
        assert logs["history"].keys() == single["history"].keys()
        for k, v in single["history"].items():
            np.testing.assert_allclose(logs["history"][k], v, rtol=1e-5, atol=1e-6, err_msg=k)
        for k, v in single["evaluate"].items():
            np.testing.assert_allclose(logs["evaluate"][k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    # rank 0 alone prints the progress bar and writes the callbacks' files
    assert out.count("Epoch 1/3") == 1 and out.count("Epoch 3/3") == 1, out
    assert (tmp_path / "spy_0.txt").read_text().split() == ["0", "1", "2"]
    assert (tmp_path / "log_0.csv").exists() and (tmp_path / "ckpt_0.weights.h5").exists()
    for r in range(1, n):
        for name in (f"spy_{r}.txt", f"log_{r}.csv", f"ckpt_{r}.weights.h5"):
            assert not (tmp_path / name).exists(), name


# -- one process -------------------------------------------------------------------------------
@pytest.fixture
def no_distribution():
    yield
    kd.set_distribution(None)


def test_one_process_is_one_device(no_distribution):
    assert kd.list_devices() == ["cpu:0"] and kd.get_device_count() == 1
    assert keras.distribution is kd and kd.distribution() is None
    dp = kd.DataParallel()
    assert dp.num_model_replicas == 1 and dp.num_processes == 1 and dp.data_shard_id == 0
    assert dp.batch_dim_name == "batch" and dp.device_mesh.shape == (1,)
    assert dp.get_data_layout((32, 8)).axes == ("batch", None)
    with dp.scope():
        assert kd.distribution() is dp
    assert kd.distribution() is None
    kd.set_distribution(dp)
    assert kd.distribution() is dp and kd.data_parallel() is None  # alone: fit untouched


def test_errors_say_what_to_do(no_distribution):
    with pytest.raises(ValueError, match="mpiexec -n 2"):
        kd.DataParallel(devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="DeviceMesh"):
        kd.DataParallel(device_mesh="batch")
    with pytest.raises(TypeError, match="DataParallel"):
        kd.set_distribution("data_parallel")
    with pytest.raises(ValueError, match="device_type"):
        kd.list_devices("fpga")
    with pytest.raises(RuntimeError, match="tpu"):
        kd.list_devices("tpu")
    with pytest.raises(ValueError, match="process_id=1"):
        kd.initialize(process_id=1)


def test_fit_alone_with_a_distribution_is_the_plain_fit(no_distribution):
    x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = x.sum(1, keepdims=True)
    results = []
    for dist in (None, kd.DataParallel()):
        kd.set_distribution(dist)
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        h = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        results.append((model.get_weights(), h.history["loss"]))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_array_equal(a, b)
    assert results[0][1] == results[1][1]


def test_batch_normalization_ranks_stay_identical(tmp_path):
    # each rank normalizes with its own slice's statistics (no SyncBatchNorm in Keras' layer),
    # so the run is not the one-process one; but the moving statistics are rank 0's everywhere
    jobs = _mpi_jobs()
    jobs.check(jobs.run_mpi(2, "keras_fit.py", str(tmp_path), "mpi", "adam", "bn", timeout=120))
    w0, logs0 = _load(tmp_path, "0")
    w1, logs1 = _load(tmp_path, "1")
    assert len(w0) == 8  # the BatchNormalization layer's gamma, beta and moving statistics
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    assert logs0 == logs1


def test_backup_and_restore_resumes_on_every_rank(tmp_path):
    # rank 0 alone writes (and finally deletes) the backup; every rank restores from it, so
    # they all run the same epochs with the same weights and optimizer state
    jobs = _mpi_jobs()
    out = jobs.check(jobs.run_mpi(2, "keras_backup.py", str(tmp_path), timeout=120))
    found = dict(re.findall(r"rank (\d) files .* epochs \[2, 3\] digest ([0-9a-f]{16})", out))
    assert set(found) == {"0", "1"} and found["0"] == found["1"], out
    assert "rank 0 files ['latest.state']" in out, out
    assert not (tmp_path / "backup").exists()
