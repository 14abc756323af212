"""Checkpoints you can trust (issue 17, items 1, 4 and 6): the SHA-256 detects corruption and
says no more; a key (key= or CHAINRULE_CHECKPOINT_KEY) adds an HMAC-SHA256 that detects edits;
only regular files are read, and only as much as the header accounts for; every field of the
file is validated, each failure a CheckpointError naming the file and the field. Item 7 (the
optimizer, scheduler and Keras state): test_checkpoint_state.py; item 11 (crash-safe saves):
test_checkpoint_crash.py; the fuzz test: test_checkpoint_fuzz.py."""

from __future__ import annotations

import io as _io
import json
import os
import struct
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule import io, io_files, io_header, nn
from chainrule.cli import commands, runs
from chainrule.io import CheckpointError

KEY = b"correct horse battery staple"


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv(io.KEY_ENV, raising=False)


def split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header: dict, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def state() -> dict:
    return {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "epoch": 3}


def forge(data: bytes, edit) -> bytes:
    """What an attacker does: edit the weights, then recompute the SHA-256 (no secret needed)."""
    header, body = split(data)
    body = bytearray(body)
    edit(header, body)
    meta = header["__metadata__"]
    arrays = io._arrays(join(header, bytes(body)), "forged")
    meta["sha256"] = io._digest(meta["document"], arrays)
    return join(header, bytes(body))


def zero_first_weight(header: dict, body: bytearray) -> None:
    begin = header["w"]["data_offsets"][0]
    body[begin:begin + 4] = np.float32(1e6).tobytes()


# -- item 1: integrity is not authenticity; a key adds authenticity -----------------------------
def test_sha256_alone_cannot_see_a_forged_edit_and_is_described_as_corruption_detection(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save(state(), path)
    path.write_bytes(forge(path.read_bytes(), zero_first_weight))
    assert cr.load(path)["w"][0, 0].item() == 1e6  # loads: a digest is no signature
    assert io.integrity(path) == "SHA-256 checked: not corrupted; unsigned, so edits are " \
                                 "not detected"
    out = _io.StringIO()
    commands.run_info(str(path), out)
    assert "SHA-256 checked: not corrupted; unsigned" in out.getvalue()
    assert "verified by SHA-256" not in out.getvalue()


@pytest.mark.parametrize("key", [KEY, KEY.decode()], ids=["bytes", "str"])
def test_a_signed_file_loads_with_its_key_and_a_forged_one_is_refused(tmp_path, key):
    path = tmp_path / "m.safetensors"
    cr.save(state(), path, key=key)
    loaded = cr.load(path, key=key)
    np.testing.assert_array_equal(loaded["w"], state()["w"])
    assert io.integrity(path, key=key) == "signature verified with the key: HMAC-SHA256"
    with pytest.raises(CheckpointError, match="signature mismatch") as e:
        cr.load(path, key=b"another key")
    assert str(e.value).startswith(f"{path}: ")
    path.write_bytes(forge(path.read_bytes(), zero_first_weight))
    with pytest.raises(CheckpointError, match=r"signature mismatch \(HMAC-SHA256\): the file "
                                              "was changed after it was signed"):
        cr.load(path, key=key)
    with pytest.raises(CheckpointError, match="signature mismatch"):
        io.load_raw(path, key=key)


def test_a_signed_file_without_a_key_loads_checked_by_sha256_only(tmp_path):
    """The documented choice: no key, no verification; the SHA-256 is still checked, and
    `chainrule info` says the signature was not verified."""
    path = tmp_path / "m.safetensors"
    cr.save(state(), path, key=KEY)
    assert cr.load(path)["epoch"] == 3
    assert "signed, but the signature was not verified" in io.integrity(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tampered or corrupted"):
        cr.load(path)


def test_a_required_key_refuses_unsigned_and_stripped_files(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    cr.save(state(), path)
    with pytest.raises(CheckpointError, match="not signed, and a key is required"):
        cr.load(path, key=KEY)
    monkeypatch.setenv(io.KEY_ENV, KEY.decode())
    with pytest.raises(CheckpointError, match="not signed, and a key is required"):
        cr.load(path)
    assert cr.load(path, key=False)["epoch"] == 3  # explicitly unverified
    # an attacker strips the signature from a signed file: refused the same way
    cr.save(state(), path)  # signed with the variable's key
    assert "hmac_sha256" in split(path.read_bytes())[0]["__metadata__"]
    header, body = split(path.read_bytes())
    del header["__metadata__"]["hmac_sha256"]
    path.write_bytes(join(header, body))
    with pytest.raises(CheckpointError, match="not signed"):
        cr.load(path)
    # a plain safetensors file carries no signature at all
    header.pop("__metadata__")
    path.write_bytes(join(header, body))
    with pytest.raises(CheckpointError, match="not signed .*plain safetensors"):
        cr.load(path)
    assert list(cr.load(path, key=False)) == ["w"]


def test_the_environment_key_signs_every_save_and_the_cli_info_says_verified(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv(io.KEY_ENV, "s3cret")
    path = tmp_path / "m.safetensors"
    buf = _io.BytesIO()
    cr.save(state(), buf)
    cr.save(state(), path)
    assert cr.load(_io.BytesIO(buf.getvalue()), key="s3cret")["epoch"] == 3
    assert cr.load(path, key=b"s3cret")["epoch"] == 3
    out = _io.StringIO()
    commands.run_info(str(path), out)
    assert "signature verified with the key: HMAC-SHA256" in out.getvalue()


def test_bad_keys_are_refused_with_the_fix(tmp_path):
    with pytest.raises(TypeError, match="key must be bytes or a str"):
        cr.save(state(), tmp_path / "a", key=123)
    with pytest.raises(ValueError, match="key is empty"):
        cr.save(state(), tmp_path / "a", key="")


def test_keras_models_are_signed_and_forgeries_refused(tmp_path, monkeypatch):
    from chainrule.keras import Input, Sequential, layers
    from chainrule.keras.models import load_model

    monkeypatch.setenv(io.KEY_ENV, "k")
    model = Sequential([Input((4,)), layers.Dense(3)])
    path = tmp_path / "m.keras"
    model.save(path)
    assert load_model(path).count_params() == 15

    def edit(header, body):
        name = next(k for k in header if k != "__metadata__")
        begin = header[name]["data_offsets"][0]
        body[begin:begin + 4] = np.float32(9.0).tobytes()
    path.write_bytes(forge(path.read_bytes(), edit))
    with pytest.raises(CheckpointError, match="signature mismatch"):
        load_model(path)


# -- item 4: only regular files; the header's lengths decide what is read ------------------------
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_symlink_to_a_device_is_refused_before_reading(tmp_path):
    link = tmp_path / "m.safetensors"
    link.symlink_to("/dev/zero")
    for load in (cr.load, io.load_raw, io.integrity):
        with pytest.raises(CheckpointError, match="a character device, not a checkpoint file"):
            load(link)
    good = tmp_path / "real.safetensors"
    cr.save(state(), good)
    (tmp_path / "latest").symlink_to(good)  # a symlink to a regular file is fine
    assert cr.load(tmp_path / "latest")["epoch"] == 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "m.safetensors"
    os.mkfifo(fifo)
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            cr.load(fifo)
        except BaseException as e:  # noqa: BLE001 (handed to the test thread)
            errors.append(e)
    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the reader so the test process can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("cr.load blocked on a FIFO")
    assert len(errors) == 1 and isinstance(errors[0], CheckpointError)
    assert "FIFO (named pipe), not a checkpoint file" in str(errors[0])


def test_folders_and_missing_files_keep_their_os_errors(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a checkpoint file"):
        cr.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        cr.load(tmp_path / "nothing.safetensors")


def test_a_huge_header_of_empty_objects_is_refused_before_json_parses_it(tmp_path, monkeypatch):
    body = b"[" + b"{}," * 33_000_000 + b"{}]"  # the 99 MB header
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", len(body)) + body)

    def no_parse(*a, **k):
        raise AssertionError("the header was parsed")
    monkeypatch.setattr(io_header.json, "loads", no_parse)
    with pytest.raises(CheckpointError, match=r"oversized header: about 660000\d\d JSON values"):
        cr.load(path)


def test_a_file_longer_than_its_header_accounts_for_is_refused_unread(tmp_path, monkeypatch):
    good = io.to_bytes({"w": np.zeros(10_000, np.float32)})
    path = tmp_path / "m.safetensors"
    path.write_bytes(good + b"\0" * 1000)
    reads: list[int] = []
    real_open = io_files.open_regular

    def spy(p, who="cr.load"):
        f, size = real_open(p, who)

        class Reader:
            def __getattr__(self, name):
                return getattr(f, name)

            def read(self, n=-1):
                reads.append(n)
                return f.read(n)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()
        return Reader(), size
    monkeypatch.setattr(io, "open_regular", spy)
    with pytest.raises(CheckpointError, match="damaged file: 1000 bytes after the last tensor"):
        cr.load(path)
    assert sum(reads) < 1000  # the header only, not the tensors

    (n,) = struct.unpack("<Q", good[:8])
    header, body = split(good)
    header["w"]["shape"], header["w"]["data_offsets"] = [2**40], [0, 2**42]  # 4 TiB
    path.write_bytes(join(header, body))
    with pytest.raises(CheckpointError, match=r"truncated: tensor 'w' ends at byte 4398046511104"):
        cr.load(path)


# -- item 6: every field of the header validated, each failure a CheckpointError ----------------
def _edit(fn):
    header, body = split(io.to_bytes(state()))
    fn(header)
    return join(header, body)


FIELDS = {
    "dtype a list": (lambda h: h["w"].update(dtype=["F32"]),
                     r"tensor 'w' has dtype \['F32'\], which chainrule cannot load"),
    "dtype a dict": (lambda h: h["w"].update(dtype={}), "tensor 'w' has dtype {}"),
    "shape of strings": (lambda h: h["w"].update(shape=["2", "3"]),
                         r"tensor 'w' has shape \['2', '3'\]"),
    "negative offset": (lambda h: h["w"].update(data_offsets=[-24, 0]),
                        r"tensor 'w' has byte range \[-24, 0\]"),
    "entry a list": (lambda h: h.update(w=[1]), "the entry of tensor 'w' is malformed"),
    "metadata a list": (lambda h: h.update(__metadata__=["x"]),
                        "field '__metadata__' must map names to strings"),
    "metadata value a number": (lambda h: h["__metadata__"].update(version=1),
                                "field '__metadata__' must map names to strings"),
    "no document": (lambda h: h["__metadata__"].pop("document"), "field 'document'"),
    "sha256 not hex": (lambda h: h["__metadata__"].update(sha256="z" * 64),
                       "field 'sha256' is 'zzz"),
    "hmac not hex": (lambda h: h["__metadata__"].update(hmac_sha256="1"),
                     "field 'hmac_sha256' is '1', not 64 hex digits"),
    "overlapping tensors": (lambda h: h.update(v=dict(h["w"])),
                            "must not overlap or leave gaps"),
}


@pytest.mark.parametrize("case", sorted(FIELDS))
def test_every_header_field_is_validated(tmp_path, case):
    edit, match = FIELDS[case]
    path = tmp_path / "f.safetensors"
    path.write_bytes(_edit(edit))
    for load in (cr.load, io.load_raw):
        with pytest.raises(CheckpointError, match=match) as e:
            load(path)
        assert str(e.value).startswith(f"{path}: ")


def _consistent(document: object) -> bytes:
    """A file whose digest fits a document written by hand (what a forger can make)."""
    header, body = split(io.to_bytes(state()))
    meta = header["__metadata__"]
    meta["document"] = json.dumps(document)
    meta["sha256"] = io._digest(meta["document"], io._arrays(join(header, body), "x"))
    return join(header, body)


@pytest.mark.parametrize("document, match", [
    ({"a": {"__tensor__": "missing"}}, r"damaged document at a \(KeyError: .*'missing'"),
    ({"a": [1, {"__tuple__": 5}]}, r"damaged document at a/1 \(TypeError"),
    ({"a": {"__float__": "nope"}}, r"damaged document at a \(ValueError"),
    ({"a": {"__dict__": [[[1], 2]]}}, r"damaged document at a \(TypeError: a dict key"),
    ({"m": {"__module__": [0, [nn.Linear.__module__, "Linear"], {"_parameters": 3}]}},
     "damaged document at m"),
])
def test_a_consistent_but_malformed_document_names_its_path(tmp_path, document, match):
    path = tmp_path / "d.safetensors"
    path.write_bytes(_consistent(document))
    with pytest.raises(CheckpointError, match=match):
        cr.load(path)


def test_a_map_location_error_is_the_callers_own(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(2)}, path)

    def broken(t, where):
        raise KeyError("my bug")
    with pytest.raises(KeyError, match="my bug"):
        cr.load(path, map_location=broken)


def test_evaluate_falls_back_when_last_has_a_list_dtype(tmp_path):
    """Item 6's second half: TypeError used to escape and break the fallback to previous."""
    folder = tmp_path / "run"
    folder.mkdir()
    run = runs.Run(folder)
    run.save({"epoch": 1}, best=False)
    run.save({"epoch": 2}, best=False)
    header, body = split((folder / runs.LAST).read_bytes())
    name = next(k for k in header if k != "__metadata__") if len(header) > 1 else None
    if name is None:  # no tensor in this tiny state: damage the metadata's type instead
        header["__metadata__"] = ["not a dict"]
    else:
        header[name]["dtype"] = ["F32"]
    (folder / runs.LAST).write_bytes(join(header, body))
    warnings: list[str] = []
    path, got = runs.find_checkpoint(folder, (runs.LAST, runs.PREVIOUS), warnings.append)
    assert path.name == runs.PREVIOUS and got["epoch"] == 1
    assert len(warnings) == 2 and "cannot be used" in warnings[0]
