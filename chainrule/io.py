"""Save and load models, optimizer state and whole training checkpoints, safely.

`cr.save(obj, path)` writes one safetensors file: every array (weights, optimizer moments) as a
tensor, and everything else (numbers, strings, lists, tuples, dicts: architecture, epoch, RNG
state, metrics; a whole Module as its class's name and attributes) as a JSON document in the
file's metadata (chainrule.serialization says what it holds). `cr.load(path)` gives back the
same structure. Nothing is pickled, nothing is imported and nothing from the file executes on
load.

Writes are atomic (a temporary file in the same folder, fsync, rename, fsync of the folder), so a
process killed mid-save leaves the previous file intact. A SHA-256 of the document and of every
tensor (name, dtype, shape, bytes) is stored too: a damaged or edited file raises
CheckpointError naming the file and the problem, never a wrong model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.errors import CheckpointError
from chainrule.serialization import DTYPES, Decoder, Encoder, UnsafeGlobal

FORMAT = "chainrule"
VERSION = 1
MAX_HEADER = 100_000_000  # bytes; the limit of the safetensors format itself


def _digest(document: str, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the document and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(document.encode())
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"\0{name}\0{a.dtype.str}\0{list(a.shape)}\0".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


# -- bytes <-> structure ------------------------------------------------------------------------
def to_bytes(obj: Any) -> bytes:
    """The checkpoint file's bytes for obj (what save() writes)."""
    from safetensors.numpy import save as st_save

    enc = Encoder()
    document = json.dumps(enc.encode(obj, ""), allow_nan=False, separators=(",", ":"))
    meta = {"format": FORMAT, "version": str(VERSION), "document": document,
            "sha256": _digest(document, enc.arrays)}
    return st_save(enc.arrays, metadata=meta)


def _fail(name: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{name}: {problem}")


def _header(data: bytes, name: str) -> dict:
    """The safetensors JSON header of data, validated enough for clear messages."""
    if len(data) < 8:
        raise _fail(name, f"truncated: {len(data)} bytes, but a checkpoint starts with an "
                          "8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        raise _fail(name, f"oversized header: it declares {n} bytes (the limit is "
                          f"{MAX_HEADER}); the file is damaged or not a checkpoint")
    if 8 + n > len(data):
        raise _fail(name, f"truncated: the header declares {n} bytes but only "
                          f"{len(data) - 8} follow")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _fail(name, "damaged header: it is not valid JSON") from None
    if not isinstance(header, dict):
        raise _fail(name, "damaged header: it is not a JSON object")
    _check_entries(header, len(data) - 8 - n, name)
    return header


def _check_entries(header: dict, body: int, name: str) -> None:
    """Each tensor entry: a known dtype, and a byte range that fits its shape and the file."""
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
            raise _fail(name, f"damaged header: the entry of tensor {key!r} is malformed")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise _fail(name, f"tensor {key!r} has dtype {dtype!r}, which chainrule cannot "
                              f"load (supported: {', '.join(DTYPES)})")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)
                and isinstance(offsets, list) and len(offsets) == 2
                and all(type(o) is int for o in offsets)):
            raise _fail(name, f"damaged header: tensor {key!r} has shape {shape!r} and byte "
                              f"range {offsets!r}")
        need = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
        if offsets[1] - offsets[0] != need or not 0 <= offsets[0] <= offsets[1]:
            raise _fail(name, f"wrong dtype or shape: tensor {key!r} ({dtype}, shape {shape}) "
                              f"needs {need} bytes but its byte range {offsets} holds "
                              f"{offsets[1] - offsets[0]}")
        if offsets[1] > body:
            raise _fail(name, f"truncated: tensor {key!r} ends at byte {offsets[1]} of the data "
                              f"section, which has only {body} bytes")


def _pytorch_pickle(data: bytes) -> bool:
    """torch.save's formats: a zip archive (PyTorch >= 1.6), or the legacy pickle stream that
    starts with PyTorch's magic number."""
    return data[:4] == b"PK\x03\x04" or data[:3] == b"\x80\x02\x8a"


def from_bytes(data: bytes, name: str = "<bytes>", plain_ok: bool = False,
               **decoding: Any) -> Any:
    """The structure stored in checkpoint bytes; CheckpointError (naming `name`) when the bytes
    are damaged, edited, or not a chainrule checkpoint. With plain_ok, a plain safetensors file
    (safetensors.torch.save_file(model.state_dict(), path) in PyTorch) gives its dict of arrays,
    in the file's order. decoding: serialization.Decoder's options (tensor(array) turns what
    was saved as a Tensor, and every array of a plain safetensors file, back into one; modules
    rebuilds whole modules)."""
    from safetensors.numpy import load as st_load

    if _pytorch_pickle(data):
        raise _fail(name, "this is a PyTorch pickle file (torch.save), which chainrule never "
                          "opens: unpickling can run any code. In PyTorch, save the weights "
                          "as safetensors instead: from safetensors.torch import save_file; "
                          "save_file(model.state_dict(), 'model.safetensors'); then "
                          "model.load_state_dict(cr.load('model.safetensors'))")
    header = _header(data, name)
    meta = header.get("__metadata__")
    if (not isinstance(meta, dict) or meta.get("format") != FORMAT) and plain_ok:
        try:
            arrays = st_load(bytes(data))
        except Exception as e:  # the safetensors parser's own verdict, whatever its type
            raise _fail(name, f"damaged tensor data ({e})") from None
        order = sorted((k for k in header if k != "__metadata__"),
                       key=lambda k: header[k]["data_offsets"][0])
        tensor = decoding.get("tensor")
        return {k: arrays[k] if tensor is None else tensor(arrays[k]) for k in order}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(name, "not a chainrule checkpoint (its metadata has no 'format': "
                          f"'{FORMAT}'); cr.load reads plain safetensors files too")
    if meta.get("version") != str(VERSION):
        raise _fail(name, f"written by an unknown checkpoint format version "
                          f"{meta.get('version')!r}; this chainrule reads version {VERSION}")
    try:
        arrays = st_load(bytes(data))
    except Exception as e:  # the safetensors parser's own verdict, whatever its type
        raise _fail(name, f"damaged tensor data ({e})") from None
    document = meta.get("document")
    if not isinstance(document, str) or _digest(document, arrays) != meta.get("sha256"):
        raise _fail(name, "tampered or corrupted: the SHA-256 of its contents differs from "
                          "the one recorded when it was saved")
    try:
        return Decoder(arrays, **decoding).decode(json.loads(document))
    except UnsafeGlobal as e:
        raise UnsafeGlobal(f"{name}: {e}") from None
    except (ValueError, TypeError, KeyError, RecursionError) as e:
        raise _fail(name, f"damaged document ({e})") from None


# -- files --------------------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows has no directory handles to sync."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: bytes, keep_previous: str | Path | None = None) -> Path:
    """Write data to path so that readers see the old file or the new one, never a part:
    a temporary file in the same folder, fsync, os.replace, fsync of the folder.

    With keep_previous, the old file also goes to that name (once the new one is safely on
    disk), so the last two versions survive; path itself exists at every moment (the old file
    is hard-linked, not moved, to keep_previous), so a kill between the two steps loses
    nothing."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save {path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    prev = f"{tmp}.prev"
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if keep_previous is not None and path.exists():
            try:
                os.link(path, prev)
            except OSError:  # a file system without hard links: a copy does the same
                shutil.copyfile(path, prev)
            os.replace(prev, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        Path(prev).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return path


def _is_file(f: Any) -> bool:
    return hasattr(f, "write") or hasattr(f, "read")


def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Path | None:
    """Save obj (a state_dict, an optimizer's state_dict(), a whole Module, or any dict / list
    / tuple of Tensors, arrays, numbers, strings and None) to f: a path (written atomically) or
    a file object opened for binary writing, as torch.save. Nothing is pickled: a Module is
    stored as its class's name and its attributes (chainrule.serialization).

    cr.save(model.state_dict(), "model.pt"); model.load_state_dict(cr.load("model.pt"))
    """
    data = to_bytes(obj)
    if _is_file(f):
        f.write(data)
        return None
    return atomic_write(f, data)


def load_raw(path: Any, plain_ok: bool = False, **decoding: Any) -> Any:
    """What save() stored, with arrays as NumPy arrays (what the library's own readers use;
    decoding: as from_bytes). Raises FileNotFoundError, or CheckpointError for a truncated,
    damaged, oversized-header, unsupported-dtype or tampered file."""
    if _is_file(path):
        data = path.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("cr.load: the file object must be opened in binary mode ('rb')")
        return from_bytes(bytes(data), getattr(path, "name", "<file object>"), plain_ok,
                          **decoding)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cr.load: {path} is a folder, not a checkpoint file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"cr.load: no such checkpoint file: {path}") from None
    return from_bytes(data, str(path), plain_ok, **decoding)


def load(f: Any, map_location: Any = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: Any = None, **kwargs: Any) -> Any:
    """What save() stored, read from a path or a binary file object, as torch.load: dicts,
    lists, tuples, numbers, strings and NumPy arrays as saved, every Tensor as a Tensor (on
    map_location: a device, a device name, a {saved: wanted} dict or a function of
    (tensor, 'cpu'); the CPU by default), and whole modules rebuilt when their classes are
    allowed: chainrule's own always, others through chainrule.serialization.safe_globals or
    add_safe_globals, or any class already imported with weights_only=False (nothing is ever
    imported or run for a file). A plain safetensors file (from safetensors.torch.save_file
    in PyTorch) loads as its dict of tensors; a PyTorch pickle file is refused with how to
    convert it."""
    from chainrule.tensor import Tensor

    def tensor(a: np.ndarray) -> Any:
        t = Tensor._make(a, None)
        return t if map_location is None else _mapped(t, map_location)

    return load_raw(f, plain_ok=True, tensor=tensor, modules=True, weights_only=weights_only)


def _mapped(t: Any, map_location: Any) -> Any:
    if callable(map_location) and not isinstance(map_location, str):
        out = map_location(t, "cpu")
        return t if out is None else out
    if isinstance(map_location, dict):
        target = map_location.get("cpu", map_location.get(str(t.device)))
        return t if target is None else t.to(target)
    return t.to(map_location)
