"""The IDX file format of MNIST and Fashion-MNIST, gzip-compressed or raw.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the array in C order, big-endian.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

# type code -> big-endian dtype
_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_MAX_BYTES = 1 << 32  # refuse a header that promises more than 4 GiB: it is not an IDX file


class DatasetError(ValueError):
    """A data file that is truncated, malformed or not the expected one; the message names the
    file and what was expected."""


class DatasetNotFoundError(FileNotFoundError):
    """Data files that are neither on disk nor downloadable; the message says where to put
    them."""


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: the gzip stream is damaged or truncated ({e}); "
                           "delete the file and download it again") from None


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """The array stored in the IDX bytes `data` (already decompressed); `name` is used in
    errors. Raises DatasetError for a bad magic number, type code or length."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{name}: not an IDX file (expected the magic bytes 00 00 <type> "
                           f"<ndim>, got {data[:4].hex(' ') or 'an empty file'})")
    code, ndim = data[2], data[3]
    if code not in _TYPES:
        raise DatasetError(f"{name}: unknown IDX type code 0x{code:02x} (expected one of "
                           f"{', '.join(f'0x{c:02x}' for c in _TYPES)})")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DatasetError(f"{name}: the header is truncated (expected {ndim} dimension sizes "
                           f"after the magic number, the file has {len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = _TYPES[code]
    expected = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if expected > _MAX_BYTES:
        raise DatasetError(f"{name}: the header promises an array of shape {shape}, "
                           f"{expected} bytes; not a valid IDX file")
    body = len(data) - 4 - 4 * ndim
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise DatasetError(f"{name}: the file is {what}: shape {shape} of {dtype.name} needs "
                           f"{expected} bytes of data, found {body}")
    arr = np.frombuffer(data, dtype, offset=4 + 4 * ndim).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw, recognised by its content) into a NumPy array
    of the stored shape and dtype (uint8 for MNIST images (n, 28, 28) and labels (n,))."""
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path))
