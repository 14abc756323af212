"""keras.distribution over MPI: `DataParallel`, `set_distribution`, `distribution`, `list_devices`.

    keras.distribution.set_distribution(keras.distribution.DataParallel())
    model.fit(x, y, batch_size=64, epochs=3)      # launched with: mpiexec -n 4 python train.py

Each MPI process is one device ("cpu:0" ... "cpu:N-1" in list_devices()). Under a DataParallel
distribution of several processes, fit / evaluate take the same global batches on every rank
(batch_size stays the global batch; a shuffle is drawn from rank 0's generator), each rank runs
its contiguous slice of each batch, and the gradients are averaged (weighted by each slice's
share of the batch) by bucketed Allreduce before the optimizer step, so that every rank takes
the step one process takes on the whole batch. The weights are broadcast from rank 0 when fit
starts; the loss and the metrics are computed on the whole batch's outputs, so the logs (and
the History) are the one-process run's. Only rank 0 prints and writes files (the progress bar,
ModelCheckpoint, CSVLogger, TensorBoard, BackupAndRestore's backups). Alone (no mpiexec, or
no distribution set), fit is untouched. chainrule.distributed does the communication.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

DEFAULT_BATCH_DIM_NAME = "batch"
_current: Distribution | None = None


def _world() -> Any:
    from chainrule.cli.parallel import World

    return World.join()


def list_devices(device_type: str | None = None) -> list[str]:
    """The devices of the whole job, one per MPI process: ['cpu:0', ..., 'cpu:N-1'] under
    `mpiexec -n N` (['cpu:0'] alone; 'gpu:i' when device_type='gpu' and CUDA is there)."""
    from chainrule.backend import cuda_available

    kind = (device_type or "cpu").lower()
    if kind not in ("cpu", "gpu", "tpu"):
        raise ValueError(f"list_devices: device_type must be 'cpu', 'gpu' or 'tpu', got "
                         f"{device_type!r}")
    if kind == "tpu" or (kind == "gpu" and not cuda_available()):
        raise RuntimeError(f"list_devices: no {kind} devices here; chainrule runs one device "
                           "per MPI process: use device_type='cpu' (or leave it out)")
    return [f"{kind}:{i}" for i in range(_world().size)]


def get_device_count(device_type: str | None = None) -> int:
    """len(list_devices(device_type))."""
    return len(list_devices(device_type))


def initialize(job_addresses: Any = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Join the MPI job that launched this process (mpiexec gives the processes their ids; the
    arguments, when given, must agree with it)."""
    world = _world()
    for arg, value, actual in (("num_processes", num_processes, world.size),
                               ("process_id", process_id, world.rank)):
        if value is not None and value != actual:
            raise ValueError(f"initialize: {arg}={value} but the MPI launcher gives {actual}; "
                             f"leave {arg} out (mpiexec -n N sets it)")


class DeviceMesh:
    """Devices arranged in a grid of `shape` with named axes (Keras' DeviceMesh)."""

    def __init__(self, shape: Any, axis_names: Any, devices: Any = None) -> None:
        if not shape or not axis_names:
            raise ValueError(f"Shape and axis_names cannot be empty. Received: shape={shape}, "
                             f"axis_names={axis_names}")
        if len(shape) != len(axis_names):
            raise ValueError(f"Shape and axis_names should have same size. Received: "
                             f"shape={shape}, axis_names={axis_names}")
        devices = np.array(list_devices() if devices is None else devices)
        if int(np.prod(shape)) != devices.size:
            raise ValueError(f"Shape does not match the number of devices. Received: "
                             f"shape={shape}; devices.shape={devices.shape}")
        self._shape, self._axis_names = tuple(shape), list(axis_names)
        self._devices = devices.reshape(shape)

    shape = property(lambda self: self._shape)
    axis_names = property(lambda self: self._axis_names)
    devices = property(lambda self: self._devices)

    def __repr__(self) -> str:
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class TensorLayout:
    """How a tensor's axes map onto a mesh's axes (None: replicated along that axis)."""

    def __init__(self, axes: Any, device_mesh: DeviceMesh | None = None) -> None:
        self.axes, self.device_mesh = tuple(axes), device_mesh

    def __repr__(self) -> str:
        return f"<TensorLayout axes={self.axes}, device_mesh={self.device_mesh}>"


class Distribution:
    """The base of Keras' distributions: a mesh, the batch axis's name, and this process's
    place in the job (num_processes, data_shard_id)."""

    def __init__(self, device_mesh: DeviceMesh, batch_dim_name: str | None = None,
                 auto_shard_dataset: bool = True) -> None:
        world = _world()
        self._device_mesh, self._batch_dim_name = device_mesh, batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes, self._process_id = world.size, world.rank
        self._is_multi_process = world.size > 1
        self._world = world

    num_processes = property(lambda self: self._num_processes)
    device_mesh = property(lambda self: self._device_mesh)
    batch_dim_name = property(lambda self: self._batch_dim_name)

    @property
    def num_model_replicas(self) -> int:
        raise NotImplementedError

    @property
    def data_shard_id(self) -> int:
        return self._process_id

    @property
    def auto_shard_dataset(self) -> bool:
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, value: bool) -> None:
        self._auto_shard_dataset = value

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Make this the current distribution inside the `with` block."""
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def distribute_dataset(self, dataset: Any) -> Any:
        """The dataset as given: fit slices each global batch itself (see DataParallel)."""
        return dataset

    def __repr__(self) -> str:
        return f"<{type(self).__name__} device_mesh={self.device_mesh}>"


class DataParallel(Distribution):
    """Data parallelism over the MPI job: the model replicated on every process, each global
    batch split along its first axis (see the module's docstring). devices (or device_mesh, a
    1-D mesh) must be the job's devices, one per process: list_devices() by default."""

    def __init__(self, device_mesh: DeviceMesh | None = None, devices: Any = None,
                 auto_shard_dataset: bool = True) -> None:
        if device_mesh is not None and not isinstance(device_mesh, DeviceMesh):
            raise ValueError(f"Expect `mesh` to be an instance of `DeviceMesh`. Received: "
                             f"mesh={device_mesh} (of type {type(device_mesh)})")
        if device_mesh is None:
            devs = np.array(list_devices() if not devices else devices)
            device_mesh = DeviceMesh(devs.shape, [DEFAULT_BATCH_DIM_NAME], devs)
        super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)
        if device_mesh.devices.size != self._num_processes:
            raise ValueError(
                f"DataParallel: {device_mesh.devices.size} devices given but the job has "
                f"{self._num_processes} process(es); chainrule runs one device per MPI process: "
                f"launch with mpiexec -n {device_mesh.devices.size}, or leave devices= out")

    @property
    def num_model_replicas(self) -> int:
        return int(self.device_mesh.devices.size)

    def get_data_layout(self, data_shape: Any) -> TensorLayout:
        return TensorLayout([self.batch_dim_name] + [None] * (len(data_shape) - 1),
                            self.device_mesh)

    def get_variable_layout(self, variable: Any) -> TensorLayout:
        return TensorLayout([None] * len(variable.shape), self.device_mesh)

    def get_tensor_layout(self, path: str) -> None:
        return None


def distribution() -> Distribution | None:
    """The current distribution (None when none was set)."""
    return _current


def set_distribution(value: Distribution | None) -> None:
    """Make `value` the distribution that fit / evaluate use (None: back to one process)."""
    global _current
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(f"set_distribution: expected a keras.distribution.Distribution "
                        f"(DataParallel()), got {type(value).__name__}")
    _current = value


# -- what fit / evaluate call (nothing when alone) ---------------------------------------------
def data_parallel() -> Any:
    """The runner (keras/_data_parallel.py) of the current DataParallel distribution of several
    processes, else None: fit / evaluate and the built-in steps ask at each call."""
    d = _current
    if d is None or not d._is_multi_process or not isinstance(d, DataParallel):
        return None
    runner = d.__dict__.get("_runner")
    if runner is None:
        from chainrule.keras._data_parallel import Runner

        runner = d._runner = Runner(d)
    return runner
