"""Save and load models, optimizer state and whole training checkpoints, safely.

`cr.save(obj, path)` writes one safetensors file: every array (weights, optimizer moments) as a
tensor, and everything else (numbers, strings, lists, tuples, dicts: architecture, epoch, RNG
state, metrics; a whole Module as its class's name and attributes) as a JSON document in the
file's metadata (chainrule.serialization says what it holds). `cr.load(path)` gives back the
same structure. Nothing is pickled, nothing is imported and nothing from the file executes on
load.

Writes are atomic (chainrule.io_files: a temporary file in the same folder, fsync, one rename,
fsync of the folder), so a process killed mid-save leaves the previous file intact.

Two checks, for two different threats:
- Integrity (always): a SHA-256 of the document and of every tensor (name, dtype, shape, bytes)
  is stored, so a damaged or truncated file raises CheckpointError naming the file and the
  problem, never a wrong model. It detects accidents only: anyone who edits a file can
  recompute it.
- Authenticity (with a key): `cr.save(obj, f, key=...)`, or the environment variable
  CHAINRULE_CHECKPOINT_KEY, adds an HMAC-SHA256 (keyed by that secret) of the same contents.
  `cr.load(f, key=...)` (or the variable) then requires it: an unsigned file, a file signed
  with another key and a signed file edited afterwards are all refused. Without a key, a signed
  file loads like an unsigned one (its SHA-256 is checked, its signature cannot be); pass
  key=False to ignore the variable for one call.

Reading opens only regular files (a FIFO, /dev/zero or another device is refused before a byte
is read), checks the header's own lengths against the file's size before reading the tensors,
and validates every field, each failure a CheckpointError naming the file and the field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.errors import CheckpointError
from chainrule.io_files import atomic_write, clean_stale_temporaries, open_regular
from chainrule.io_header import (
    MAX_HEADER,
    MAX_HEADER_ITEMS,
    VERSION,
    check_meta,
    fail,
    header_length,
    parse_header,
    short,
)
from chainrule.serialization import Decoder, Encoder, UnsafeGlobal

__all__ = ["MAX_HEADER", "MAX_HEADER_ITEMS", "CheckpointError", "atomic_write",
           "clean_stale_temporaries", "from_bytes", "integrity", "load", "load_raw", "save",
           "to_bytes"]

FORMAT = "chainrule"
KEY_ENV = "CHAINRULE_CHECKPOINT_KEY"
_MAC_DOMAIN = b"chainrule checkpoint v1 hmac-sha256\0"


def _digest(document: str, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the document and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(document.encode())
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"\0{name}\0{a.dtype.str}\0{list(a.shape)}\0".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _mac(key: bytes, sha256: str) -> str:
    """HMAC-SHA256 of the contents, keyed: the MAC of their SHA-256 (hash-then-MAC, as a
    signature signs a digest), so a file is hashed once."""
    return hmac.new(key, _MAC_DOMAIN + sha256.encode(), hashlib.sha256).hexdigest()


def _key(key: Any, who: str) -> bytes | None:
    """The signing key as bytes: key itself, or CHAINRULE_CHECKPOINT_KEY when key is None
    (an empty variable counts as unset); None for no key (key=False: ignore the variable)."""
    if key is False:
        return None
    if key is None:
        key = os.environ.get(KEY_ENV) or None
        if key is None:
            return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"{who}: key must be bytes or a str (or False for none), got "
                        f"{type(key).__name__}")
    if len(key) == 0:
        raise ValueError(f"{who}: key is empty; pass a secret (bytes or str), or key=False "
                         "for an unsigned file")
    return bytes(key)


# -- bytes <-> structure ------------------------------------------------------------------------
def to_bytes(obj: Any, key: Any = None) -> bytes:
    """The checkpoint file's bytes for obj (what save() writes), signed with key (or
    CHAINRULE_CHECKPOINT_KEY) when there is one."""
    from safetensors.numpy import save as st_save

    secret = _key(key, "cr.save")
    enc = Encoder()
    document = json.dumps(enc.encode(obj, ""), allow_nan=False, separators=(",", ":"))
    sha = _digest(document, enc.arrays)
    meta = {"format": FORMAT, "version": str(VERSION), "document": document, "sha256": sha}
    if secret is not None:
        meta["hmac_sha256"] = _mac(secret, sha)
    return st_save(enc.arrays, metadata=meta)


def _pytorch_pickle(data: bytes) -> bool:
    """torch.save's formats: a zip archive (PyTorch >= 1.6), or the legacy pickle stream that
    starts with PyTorch's magic number."""
    return data[:4] == b"PK\x03\x04" or data[:3] == b"\x80\x02\x8a"


def _refuse_pickle(data: bytes, name: str) -> None:
    if _pytorch_pickle(data):
        raise fail(name, "this is a PyTorch pickle file (torch.save), which chainrule never "
                         "opens: unpickling can run any code. In PyTorch, save the weights "
                         "as safetensors instead: from safetensors.torch import save_file; "
                         "save_file(model.state_dict(), 'model.safetensors'); then "
                         "model.load_state_dict(cr.load('model.safetensors'))")


def _arrays(data: bytes, name: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load as st_load

    try:
        return st_load(data)
    except Exception as e:  # the safetensors parser's own verdict, whatever its type
        raise fail(name, f"damaged tensor data ({e})") from None


class _CallerError(Exception):
    """An exception of the caller's own code (map_location) while decoding: re-raised as it
    was, never reported as damage to the file."""


def _decode(data: bytes, header: dict, name: str, plain_ok: bool, key: Any,
            decoding: dict) -> tuple[Any, str]:
    """(the structure, how it was checked: 'hmac', 'sha256', 'sha256-signed' or 'none')."""
    secret = _key(key, "cr.load")
    meta = header.get("__metadata__")
    ours = isinstance(meta, dict) and (meta.get("format") == FORMAT or "document" in meta
                                       or "sha256" in meta)
    if ours and meta.get("format") != FORMAT:
        raise fail(name, f"damaged header: field 'format' is {short(meta.get('format'))} in "
                         f"a chainrule checkpoint (it says {FORMAT!r})")
    if not ours:
        if not plain_ok:
            raise fail(name, "not a chainrule checkpoint (its metadata has no 'format': "
                             f"'{FORMAT}'); cr.load reads plain safetensors files too")
        if secret is not None:
            raise fail(name, "not signed (a plain safetensors file), and a key is required "
                             f"(key=... or {KEY_ENV}); pass key=False to load it unverified")
        arrays = _arrays(data, name)
        order = sorted((k for k in header if k != "__metadata__"),
                       key=lambda k: header[k]["data_offsets"][0])
        tensor = decoding.get("tensor")
        return {k: arrays[k] if tensor is None else tensor(arrays[k]) for k in order}, "none"
    check_meta(meta, name)
    arrays = _arrays(data, name)
    sha, signature = _digest(meta["document"], arrays), meta.get("hmac_sha256")
    if not hmac.compare_digest(sha, meta["sha256"]):
        raise fail(name, "tampered or corrupted: the SHA-256 of its contents differs from "
                         "the one recorded when it was saved")
    if secret is not None:  # the SHA-256 fits; only the key tells a forgery from the original
        if signature is None:
            raise fail(name, f"not signed, and a key is required (key=... or {KEY_ENV}): its "
                             "origin cannot be verified; pass key=False to load it anyway")
        if not hmac.compare_digest(_mac(secret, sha), signature):
            raise fail(name, "signature mismatch (HMAC-SHA256): the file was changed after "
                             "it was signed, or it was signed with another key")
    how = "hmac" if secret is not None else "sha256-signed" if signature else "sha256"
    return _document(meta["document"], arrays, name, decoding), how


def _document(document: str, arrays: dict, name: str, decoding: dict) -> Any:
    """The structure a verified document describes (its shape still checked field by field:
    a file can be consistent and still malformed)."""
    decoding = dict(decoding)
    tensor = decoding.get("tensor")
    if tensor is not None:
        def guarded(a: np.ndarray) -> Any:
            try:
                return tensor(a)
            except Exception as e:
                raise _CallerError(e) from None
        decoding["tensor"] = guarded
    try:
        return Decoder(arrays, **decoding).decode(json.loads(document))
    except _CallerError as e:
        raise e.args[0] from None
    except UnsafeGlobal as e:
        raise UnsafeGlobal(f"{name}: {e}") from None
    except CheckpointError as e:
        raise fail(name, str(e)) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
            OverflowError) as e:
        where = "/".join(str(k) for k in reversed(getattr(e, "_cr_path", [])))
        at = f" at {where}" if where else ""
        raise fail(name, f"damaged document{at} ({type(e).__name__}: {e})") from None


def from_bytes(data: bytes, name: str = "<bytes>", plain_ok: bool = False, key: Any = None,
               **decoding: Any) -> Any:
    """The structure stored in checkpoint bytes; CheckpointError (naming `name`) when the bytes
    are damaged, edited, or not a chainrule checkpoint, or (with key, or
    CHAINRULE_CHECKPOINT_KEY) not signed with that key. With plain_ok, a plain safetensors file
    (safetensors.torch.save_file(model.state_dict(), path) in PyTorch) gives its dict of
    arrays, in the file's order. decoding: serialization.Decoder's options (tensor(array) turns
    what was saved as a Tensor, and every array of a plain safetensors file, back into one;
    modules rebuilds whole modules)."""
    return _from_bytes(bytes(data), name, plain_ok, key, decoding)[0]


def _from_bytes(data: bytes, name: str, plain_ok: bool, key: Any,
                decoding: dict) -> tuple[Any, str]:
    _refuse_pickle(data, name)
    n = header_length(data, len(data), name)
    header = parse_header(data[8:8 + n], len(data) - 8 - n, name)
    return _decode(data, header, name, plain_ok, key, decoding)


def _read(path: Any, plain_ok: bool, key: Any, decoding: dict) -> tuple[Any, str]:
    """Read and decode a path or a binary file object: (structure, how it was checked)."""
    if hasattr(path, "read"):
        data = path.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("cr.load: the file object must be opened in binary mode ('rb')")
        name = getattr(path, "name", "<file object>")
        return _from_bytes(bytes(data), str(name), plain_ok, key, decoding)
    name = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(name, (str, bytes)):
        raise TypeError(f"cr.load: expected a path or a binary file object, got "
                        f"{type(path).__name__}")
    name = os.fsdecode(name)
    f, size = open_regular(name)
    with f:
        head = f.read(8)
        _refuse_pickle(head, name)
        n = header_length(head, size, name)
        # the header's own lengths decide how much is read: nothing past them, ever
        header = parse_header(f.read(n), size - 8 - n, name)
        f.seek(0)
        data = f.read(size)
    if len(data) != size:
        raise fail(name, f"the file changed while it was read ({size} bytes, then "
                         f"{len(data)}); try again once the writer is done")
    return _decode(data, header, name, plain_ok, key, decoding)


def load_raw(path: Any, plain_ok: bool = False, key: Any = None, **decoding: Any) -> Any:
    """What save() stored, with arrays as NumPy arrays (what the library's own readers use;
    decoding: as from_bytes). Raises FileNotFoundError, or CheckpointError for a file that
    is not a regular file, or truncated, damaged, oversized, of an unsupported dtype,
    corrupted, or (with a key) unsigned or signed otherwise."""
    return _read(path, plain_ok, key, decoding)[0]


def integrity(path: Any, key: Any = None) -> str:
    """What loading path verified, in words (for `chainrule info`); raises as load_raw."""
    how = _read(path, True, key, {})[1]
    return {"hmac": "signature verified with the key: HMAC-SHA256",
            "sha256": "SHA-256 checked: not corrupted; unsigned, so edits are not detected",
            "sha256-signed": "SHA-256 checked: not corrupted; signed, but the signature was "
                             f"not verified (no key: set {KEY_ENV})",
            "none": "a plain safetensors file: no checksum, not verified"}[how]


# -- the PyTorch-style API ------------------------------------------------------------------------
def save(obj: Any, f: Any, *args: Any, key: Any = None, **kwargs: Any) -> Path | None:
    """Save obj (a state_dict, an optimizer's state_dict(), a whole Module, or any dict / list
    / tuple of Tensors, arrays, numbers, strings and None) to f: a path (written atomically) or
    a file object opened for binary writing, as torch.save. Nothing is pickled: a Module is
    stored as its class's name and its attributes (chainrule.serialization). key (bytes or
    str; default: the CHAINRULE_CHECKPOINT_KEY variable, if set) signs the file with an
    HMAC-SHA256 that load(f, key=...) verifies; key=False saves unsigned.

    cr.save(model.state_dict(), "model.pt"); model.load_state_dict(cr.load("model.pt"))
    """
    data = to_bytes(obj, key)
    if hasattr(f, "write"):
        f.write(data)
        return None
    return atomic_write(f, data)


def load(f: Any, map_location: Any = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: Any = None, key: Any = None,
         **kwargs: Any) -> Any:
    """What save() stored, read from a path or a binary file object, as torch.load: dicts,
    lists, tuples, numbers, strings and NumPy arrays as saved, every Tensor as a Tensor (on
    map_location: a device, a device name, a {saved: wanted} dict or a function of
    (tensor, 'cpu'); the CPU by default), and whole modules rebuilt when their classes are
    allowed: chainrule's own always, others through chainrule.serialization.safe_globals or
    add_safe_globals, or any class already imported with weights_only=False (nothing is ever
    imported or run for a file). A plain safetensors file (from safetensors.torch.save_file
    in PyTorch) loads as its dict of tensors; a PyTorch pickle file is refused with how to
    convert it. key (or CHAINRULE_CHECKPOINT_KEY): the file must carry a valid signature made
    with it; key=False ignores the variable."""
    from chainrule.tensor import Tensor

    def tensor(a: np.ndarray) -> Any:
        t = Tensor._make(a, None)
        return t if map_location is None else _mapped(t, map_location)

    return load_raw(f, plain_ok=True, key=key, tensor=tensor, modules=True,
                    weights_only=weights_only)


def _mapped(t: Any, map_location: Any) -> Any:
    if callable(map_location) and not isinstance(map_location, str):
        out = map_location(t, "cpu")
        return t if out is None else out
    if isinstance(map_location, dict):
        target = map_location.get("cpu", map_location.get(str(t.device)))
        return t if target is None else t.to(target)
    return t.to(map_location)
