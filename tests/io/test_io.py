"""cr.save / cr.load (chainrule.io): round trips of every supported value, modules and optimizer
state, nothing pickled, and a clear CheckpointError for truncated, oversized-header,
wrong-dtype, tampered and foreign files, including a fuzz test of random damage."""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import io, nn, optim
from chainrule.io import CheckpointError


def sample() -> dict:
    rng = np.random.default_rng(0)
    return {
        "model": {"fc.weight": rng.normal(size=(4, 3)).astype(np.float32),
                  "fc.bias": cr.tensor([1.0, 2.0, 3.0, 4.0])},
        "dtypes": [(np.arange(3) % 2).astype(d) for d in
                   ("bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32",
                    "uint64", "float16", "float32", "float64")],
        "scalar": np.array(2.5), "empty": np.zeros((0, 3), np.float32),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
        "bigendian": np.arange(3, dtype=">f4"),
        "state": {0: {"step": 7, "exp_avg": np.ones(3)}, 1: {}},
        "groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "params": [0, 1]}],
        "floats": [float("nan"), float("inf"), -float("inf"), 1e-300, 0.1],
        "misc": (None, "héllo", True, 2**100, np.int64(3), np.float32(0.5)),
        "__dunder": {"__tensor__": "not a reference"},
        "__metadata__": np.ones(2),  # the safetensors header's own key, as a tensor name
        "rng": np.random.default_rng(1).bit_generator.state,
    }


def assert_same(a, b):
    if isinstance(a, cr.Tensor):  # a Tensor loads back as a Tensor, an array as an array
        assert isinstance(b, cr.Tensor), f"a Tensor loads back as a Tensor, got {type(b)}"
        a, b = a.numpy(), b.numpy()
    if isinstance(a, np.ndarray):
        assert type(b) is np.ndarray, f"a NumPy array loads back as one, got {type(b)}"
        assert b.dtype == a.dtype.newbyteorder("=")
        assert b.shape == a.shape
        np.testing.assert_array_equal(b, a)
    elif isinstance(a, dict):
        assert type(b) is dict and list(b) == list(a)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(b) is type(a) and len(b) == len(a)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert b == a and type(b) is type(a.item() if isinstance(a, np.generic) else a)


def test_round_trip_of_every_supported_value(tmp_path):
    obj = sample()
    path = io.save(obj, tmp_path / "c.safetensors")
    assert_same(obj, io.load(path))
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left


def test_a_module_saves_its_state_dict_and_loads_back(tmp_path):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    model(cr.randn(8, 3))  # move the running statistics
    io.save(model.state_dict(), tmp_path / "m.safetensors")
    cr.manual_seed(1)
    other = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    other.load_state_dict(io.load(tmp_path / "m.safetensors"))
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_optimizer_state_round_trip_continues_identically(tmp_path):
    def setup(seed):
        cr.manual_seed(seed)
        model = nn.Linear(3, 2)
        return model, optim.create("amsgrad", model.parameters(), lr=0.1)

    def step(model, opt):
        opt.zero_grad()
        (model(cr.tensor(np.ones((4, 3), np.float32))) ** 2).sum().backward()
        opt.step()

    m1, o1 = setup(0)
    for _ in range(3):
        step(m1, o1)
    io.save({"model": m1.state_dict(), "optimizer": o1.state_dict()}, tmp_path / "s.safetensors")
    m2, o2 = setup(5)
    state = io.load(tmp_path / "s.safetensors")
    m2.load_state_dict(state["model"])
    o2.load_state_dict(state["optimizer"])
    step(m1, o1)
    step(m2, o2)
    np.testing.assert_array_equal(m1.weight.numpy(), m2.weight.numpy())


def test_pytorch_habits_file_objects_and_map_location(tmp_path):
    import io as pyio

    model = nn.Linear(3, 2)
    buf = pyio.BytesIO()
    cr.save(model.state_dict(), buf)  # torch.save(obj, file_object)
    buf.seek(0)
    sd = cr.load(buf, map_location="cpu", weights_only=True)
    assert all(isinstance(v, cr.Tensor) for v in sd.values())
    assert model.load_state_dict(sd).missing_keys == []
    with open(tmp_path / "m.pth", "wb") as f:  # any file name, any open file
        cr.save({"epoch": 3, "state": model.state_dict()}, f)
    with open(tmp_path / "m.pth", "rb") as f:
        ck = cr.load(f, map_location=cr.device("cpu"))
    assert ck["epoch"] == 3 and ck["state"]["weight"].shape == (2, 3)
    moved = cr.load(tmp_path / "m.pth", map_location=lambda storage, loc: storage)
    np.testing.assert_array_equal(moved["state"]["bias"].numpy(), model.bias.numpy())
    assert cr.load(str(tmp_path / "m.pth"), map_location={"cuda:0": "cpu"})["epoch"] == 3


@pytest.mark.parametrize("bad, match", [
    (lambda: 1, "cannot store an object of type function"),
    ({1, 2j}, "type complex"),
    (np.array([object()]), "dtype object"),
    ({"a": [b"bytes"]}, "at a/0"),
    ({object(): 1}, "dict keys"),
])
def test_unsupported_values_are_refused_before_writing(tmp_path, bad, match):
    with pytest.raises(TypeError, match=match):
        io.save(bad, tmp_path / "x.safetensors")
    assert not any(tmp_path.iterdir())


def test_saving_into_a_missing_folder_or_loading_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.save({"a": 1}, tmp_path / "nope" / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        io.load(tmp_path / "missing.safetensors")
    with pytest.raises(IsADirectoryError):
        io.load(tmp_path)


# -- damaged files ------------------------------------------------------------------------------
def split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header: dict, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def saved_bytes() -> bytes:
    return io.to_bytes({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "epoch": 3})


def edit_header(fn) -> bytes:
    header, body = split(saved_bytes())
    fn(header)
    return join(header, body)


def _set_doc(h):
    h["__metadata__"]["document"] = h["__metadata__"]["document"].replace("3", "4")


CASES = {
    "truncated in the length": (lambda: saved_bytes()[:5], "truncated: 5 bytes"),
    "truncated in the header": (lambda: saved_bytes()[:40], "truncated: the header declares"),
    "truncated in the data": (lambda: saved_bytes()[:-4], "truncated: tensor 'w' ends at"),
    "oversized header": (lambda: struct.pack("<Q", 2**40) + saved_bytes()[8:],
                         "oversized header: it declares 1099511627776 bytes"),
    "unknown dtype": (lambda: edit_header(lambda h: h["w"].update(dtype="BF16")),
                      "tensor 'w' has dtype 'BF16', which chainrule cannot load"),
    "wrong dtype": (lambda: edit_header(lambda h: h["w"].update(dtype="F64")),
                    r"wrong dtype or shape: tensor 'w' \(F64, shape \[2, 3\]\) needs 48 bytes"),
    "wrong shape": (lambda: edit_header(lambda h: h["w"].update(shape=[3, 3])),
                    "wrong dtype or shape"),
    "tampered data": (lambda: saved_bytes()[:-1] + b"\x01", "tampered or corrupted"),
    "tampered document": (lambda: edit_header(_set_doc), "tampered or corrupted"),
    "swapped same-size dtype": (lambda: edit_header(lambda h: h["w"].update(dtype="I32")),
                                "tampered or corrupted"),
    "header not JSON": (lambda: struct.pack("<Q", 4) + b"{{{{", "not valid JSON"),
    "foreign safetensors": (lambda: edit_header(lambda h: h.pop("__metadata__")),
                            "not a chainrule checkpoint"),
    "future version": (lambda: edit_header(lambda h: h["__metadata__"].update(version="9")),
                       "unknown checkpoint format version '9'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_files_raise_a_clear_error_naming_the_file(tmp_path, case):
    make, match = CASES[case]
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(make())
    with pytest.raises(CheckpointError, match=match) as e:
        io.load_raw(path)  # the library's own strict reader (the CLI, chainrule.keras)
    assert str(e.value).startswith(str(path) + ": ")
    if case != "foreign safetensors":
        with pytest.raises(CheckpointError, match=match):
            io.load(path)


def test_cr_load_reads_plain_safetensors_and_refuses_pytorch_pickles(tmp_path):
    path = tmp_path / "plain.safetensors"
    path.write_bytes(edit_header(lambda h: h.pop("__metadata__")))
    state = cr.load(path)
    assert list(state) == ["w"] and isinstance(state["w"], cr.Tensor)
    assert state["w"].shape == (2, 3)
    for magic in (b"PK\x03\x04", b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"):
        (tmp_path / "model.pt").write_bytes(magic + b"rest of a torch.save file")
        with pytest.raises(CheckpointError, match="PyTorch pickle file .* save_file"):
            cr.load(tmp_path / "model.pt")


def test_fuzz_byte_flips_and_truncations_raise_only_checkpoint_error():
    """Random damage either raises CheckpointError or (a harmless flip in the header's
    padding) loads the very same contents; never any other exception."""
    original = {"model": {"w": np.linspace(-1, 1, 60, dtype=np.float32).reshape(20, 3),
                          "b": np.arange(5)}, "epoch": 3, "history": [{"loss": 0.5}],
                "t": (1, None)}
    data = io.to_bytes(original)
    rng = np.random.default_rng(1234)
    errors = 0
    for trial in range(1500):
        d = bytearray(data)
        if trial % 3 == 0:
            d = d[: rng.integers(0, len(d))]
        else:
            for _ in range(rng.integers(1, 4)):
                i = rng.integers(0, len(d))
                d[i] ^= 1 << int(rng.integers(0, 8))
        try:
            out = io.from_bytes(bytes(d), "fuzz")
        except CheckpointError as e:
            assert str(e).startswith("fuzz: ")
            errors += 1
            continue
        assert_same(original, out)
    assert errors > 1400
