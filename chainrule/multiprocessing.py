"""torch.multiprocessing: the standard library's multiprocessing, where tensors cross processes.

Tensors never pickle to files (nothing read from a file may run code), but between the
processes of one program they travel through multiprocessing's own pickler: by value (a copy
of the array), or, once `t.share_memory_()` (or `model.share_memory()`) moved the array into
shared memory, by name, so every process works on the same numbers. That is what Hogwild
training needs: several processes updating one model's parameters in place.

    import chainrule.multiprocessing as mp          # torch.multiprocessing
    model.share_memory()
    ps = [mp.Process(target=train, args=(model,)) for _ in range(4)]

Shared memory is a POSIX shared-memory block per tensor, created by the process that shares the
tensor and removed when that tensor's array is freed or the process exits; the other processes
map it while they hold the tensor (a mapping outlives the removal of the name).
"""

from __future__ import annotations

import atexit
import multiprocessing as _mp
import weakref
from multiprocessing import *  # noqa: F403  (torch.multiprocessing re-exports these)
from multiprocessing import shared_memory
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable

import numpy as np

from chainrule.tensor import Tensor

_BLOCKS: dict[int, tuple[Any, weakref.ref]] = {}  # id(base array) -> (its block, a weakref)
_ATTACHED: dict[str, Any] = {}  # name -> a block another process shared with this one


def _block_of(a: np.ndarray) -> tuple[Any, np.ndarray] | None:
    """The shared-memory block behind array a (a, or an array it is a view of), with the
    array that fills the block; None if a is not in shared memory."""
    while a is not None:
        entry = _BLOCKS.get(id(a))
        if entry is not None and entry[1]() is a:
            return entry[0], a
        a = a.base if isinstance(a.base, np.ndarray) else None
    return None


def _forget(key: int, block: Any) -> None:
    _BLOCKS.pop(key, None)
    block.close()
    try:
        block.unlink()
    except FileNotFoundError:
        pass


def share_memory_(t: Tensor) -> Tensor:
    """Move t's array into shared memory, in place (a no-op if it is there already); returns t.
    Its gradient is not moved, as in PyTorch."""
    a = t.array
    if not isinstance(a, np.ndarray):
        raise RuntimeError(f"share_memory_: only CPU tensors can be shared, this one is on "
                           f"{t.device}")
    if _block_of(a) is None:
        block = shared_memory.SharedMemory(create=True, size=max(a.nbytes, 1))
        shared = np.ndarray(a.shape, a.dtype, buffer=block.buf)
        shared[...] = a
        _BLOCKS[id(shared)] = (block, weakref.ref(shared))
        weakref.finalize(shared, _forget, id(shared), block)
        t.array = shared
    return t


def is_shared(t: Tensor) -> bool:
    return isinstance(t.array, np.ndarray) and _block_of(t.array) is not None


def _reduce_tensor(t: Tensor) -> tuple:
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
            "does not support crossing process boundaries. If you just want to transfer the "
            "data, call detach() on the tensor before serializing (e.g., putting it on the "
            "queue).")
    a = t.array
    found = _block_of(a) if isinstance(a, np.ndarray) else None
    if found is None:  # by value
        return _rebuild, (type(t), np.asarray(a), t.requires_grad)
    block, base = found
    offset = a.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return _rebuild_shared, (type(t), block.name, a.shape, a.dtype.str, a.strides, offset,
                             t.requires_grad)


def _make(cls: type, a: np.ndarray, requires_grad: bool) -> Tensor:
    from chainrule.nn.module import Parameter

    if issubclass(cls, Parameter):
        return cls(Tensor._make(a, None), requires_grad=requires_grad)
    t = Tensor._make(a, None)
    t.requires_grad = requires_grad
    return t


def _rebuild(cls: type, a: np.ndarray, requires_grad: bool) -> Tensor:
    return _make(cls, a, requires_grad)


def _rebuild_shared(cls: type, name: str, shape: tuple, dtype: str, strides: tuple,
                    offset: int, requires_grad: bool) -> Tensor:
    block = _ATTACHED.get(name)
    if block is None:  # (the resource tracker is the creator's: its removal is tracked once)
        block = _ATTACHED[name] = shared_memory.SharedMemory(name=name)
    a = np.ndarray(shape, np.dtype(dtype), buffer=block.buf, offset=offset, strides=strides)
    return _make(cls, a, requires_grad)


def _register() -> None:
    from chainrule.nn.module import Buffer, Parameter

    for cls in (Tensor, Parameter, Buffer):  # the pickler's table is keyed by the exact type
        ForkingPickler.register(cls, _reduce_tensor)


_register()
atexit.register(lambda: [_forget(k, b) for k, (b, _) in list(_BLOCKS.items())])


class ProcessRaisedException(Exception):
    """A process started by spawn() raised: the message holds its traceback."""


def _run(fn: Callable, i: int, args: tuple, errors: Any) -> None:
    import traceback

    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        errors.put((i, traceback.format_exc()))
        raise SystemExit(1) from None


def spawn(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True,
          daemon: bool = False, start_method: str = "spawn") -> Any:
    """torch.multiprocessing.spawn: run fn(i, *args) for i in range(nprocs), each in its own
    process; with join, wait for all and raise ProcessRaisedException (with the child's
    traceback) if one failed. Without join, return the processes."""
    ctx = _mp.get_context(start_method)
    errors = ctx.SimpleQueue()
    procs = [ctx.Process(target=_run, args=(fn, i, args, errors), daemon=daemon)
             for i in range(nprocs)]
    for p in procs:
        p.start()
    if not join:
        return procs
    for p in procs:
        p.join()
    if not errors.empty():
        i, tb = errors.get()
        for p in procs:
            if p.is_alive():
                p.terminate()
        raise ProcessRaisedException(f"\n\n-- Process {i} terminated with the following "
                                     f"error:\n{tb}")
    return None
