"""The safetensors header of a chainrule checkpoint, read before anything else and checked
field by field against the format and against the file's own size (chainrule.io reads the
tensors only once the header accounts for every byte of them)."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from chainrule.errors import CheckpointError
from chainrule.serialization import DTYPES

VERSION = 1
MAX_HEADER = 100_000_000  # bytes; the limit of the safetensors format itself
# JSON values in a header (counted as commas, brackets and braces, before parsing): 99 MB of
# `{},` would take 2.6 GB and 13 s to parse; a real header holds a few per tensor and per
# document entry, far below this (100 000 tensors and a large history stay under a million)
MAX_HEADER_ITEMS = 5_000_000


def fail(name: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{name}: {problem}")


def header_length(head: bytes, size: int, name: str) -> int:
    """The header's declared length n, checked against the limit and the file's size."""
    if size < 8:
        raise fail(name, f"truncated: {size} bytes, but a checkpoint starts with an "
                         "8-byte header length")
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER:
        raise fail(name, f"oversized header: it declares {n} bytes (the limit is "
                         f"{MAX_HEADER}); the file is damaged or not a checkpoint")
    if 8 + n > size:
        raise fail(name, f"truncated: the header declares {n} bytes but only "
                         f"{size - 8} follow")
    return n


def parse_header(raw: bytes, body: int, name: str) -> dict:
    """The safetensors JSON header, every field checked against the format and against the
    body's size (body: the bytes after the header)."""
    items = raw.count(b",") + raw.count(b"{") + raw.count(b"[")
    if items > MAX_HEADER_ITEMS:
        raise fail(name, f"oversized header: about {items} JSON values (the limit is "
                         f"{MAX_HEADER_ITEMS}); the file is damaged or not a checkpoint")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise fail(name, "damaged header: it is not valid JSON") from None
    if not isinstance(header, dict):
        raise fail(name, "damaged header: it is not a JSON object")
    meta = header.get("__metadata__")
    if meta is not None and not (isinstance(meta, dict)
                                 and all(isinstance(v, str) for v in meta.values())):
        raise fail(name, "damaged header: field '__metadata__' must map names to strings, "
                         f"got {short(meta)}")
    check_entries(header, body, name)
    return header


def short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def check_entries(header: dict, body: int, name: str) -> None:
    """Each tensor entry: a known dtype, a shape, and a byte range that fits its shape; the
    ranges tile the body exactly (no overlap, no gap, nothing after the last tensor)."""
    ranges = []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
            raise fail(name, f"damaged header: the entry of tensor {key!r} is malformed "
                             "(it needs 'dtype', 'shape' and 'data_offsets')")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise fail(name, f"tensor {key!r} has dtype {short(dtype)}, which chainrule "
                             f"cannot load (supported: {', '.join(DTYPES)})")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise fail(name, f"damaged header: tensor {key!r} has shape {short(shape)} "
                             "(a list of sizes >= 0)")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1]):
            raise fail(name, f"damaged header: tensor {key!r} has byte range "
                             f"{short(offsets)} (a pair [begin, end], 0 <= begin <= end)")
        need = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
        if offsets[1] - offsets[0] != need:
            raise fail(name, f"wrong dtype or shape: tensor {key!r} ({dtype}, shape {shape}) "
                             f"needs {need} bytes but its byte range {offsets} holds "
                             f"{offsets[1] - offsets[0]}")
        if offsets[1] > body:
            raise fail(name, f"truncated: tensor {key!r} ends at byte {offsets[1]} of the data "
                             f"section, which has only {body} bytes")
        ranges.append((offsets[0], offsets[1], key))
    end = 0
    for begin, stop, key in sorted(ranges):
        if begin != end:
            raise fail(name, f"damaged header: tensor {key!r} starts at byte {begin} of the "
                             f"data section, but the tensor before it ends at byte {end} "
                             "(byte ranges must not overlap or leave gaps)")
        end = stop
    if end != body:
        raise fail(name, f"damaged file: {body - end} bytes after the last tensor (the "
                         f"header accounts for {end} of the {body} data bytes)")


def check_meta(meta: dict, name: str) -> None:
    """The fields of a chainrule checkpoint's metadata."""
    if meta.get("version") != str(VERSION):
        raise fail(name, f"written by an unknown checkpoint format version "
                         f"{short(meta.get('version'))}; this chainrule reads version "
                         f"{VERSION}")
    if "document" not in meta:
        raise fail(name, "damaged header: field 'document' (the saved structure) is missing")
    for field in ("sha256", "hmac_sha256"):
        v = meta.get(field)
        if (v is not None or field == "sha256") and not (
                isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
            raise fail(name, f"damaged header: field {field!r} is {short(v)}, not 64 hex "
                             "digits")
