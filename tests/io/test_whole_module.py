"""torch.save(model, f) / torch.load(f): a whole Module saved and rebuilt without pickle.

Written the way the PyTorch tutorials and pytorch/examples write it ("save the entire model",
`with torch.serialization.safe_globals([...]): model = torch.load(f)`), and attacked the way a
forged file would: a class or function that is not chainrule's own and not allowed is refused
before anything is built, and no module is ever imported for a file.
"""

from __future__ import annotations

import io as pyio
import json
import pickle
import sys

import numpy as np
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import io
from chainrule.serialization import UnsafeGlobal


class Net(nn.Module):
    """A user's model, defined in the user's own module (here, this test file)."""

    def __init__(self, tied: bool = True) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.body = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Tanh())
        self.head = nn.Linear(4, 10, bias=False)
        if tied:
            self.head.weight = self.embed.weight  # weight tying: one Parameter, two places
        self.scale, self.act, self.dtype_seen = 0.5, F.gelu, cr.float64
        self.register_buffer("steps", cr.zeros((), dtype=cr.long), persistent=False)

    def forward(self, x):
        return self.head(self.act(self.body(self.embed(x))) * self.scale)


class RNNModel(nn.Module):
    """pytorch/examples' word_language_model, in short."""

    def __init__(self, ntoken: int = 12, ninp: int = 6, nhid: int = 5) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, 2, dropout=0.5)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return F.log_softmax(self.decoder(self.drop(out)), dim=-1), hidden


def round_trip(obj, **load_kwargs):
    buf = pyio.BytesIO()
    cr.save(obj, buf)
    buf.seek(0)
    return cr.load(buf, **load_kwargs)


@pytest.fixture(autouse=True)
def no_leftover_allowlist():
    yield
    cr.serialization.clear_safe_globals()


def test_the_tutorials_save_the_entire_model(tmp_path):
    # "Save/Load Entire Model" of PyTorch's saving-and-loading tutorial
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))
    PATH = tmp_path / "model.pt"
    cr.save(model, PATH)
    loaded = cr.load(PATH, weights_only=False)
    loaded.eval()
    model.eval()
    x = cr.randn(5, 3)
    assert type(loaded) is nn.Sequential and repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())
    assert all(type(p) is nn.Parameter and p.requires_grad for p in loaded.parameters())
    # chainrule's own classes need no allowlist, as torch's own need none under weights_only
    assert type(cr.load(PATH)) is nn.Sequential
    opt = cr.optim.SGD(loaded.parameters(), lr=0.1)  # it trains like any model
    loaded.train()
    F.mse_loss(loaded(x), cr.zeros(5, 2)).backward()
    opt.step()


def test_a_users_class_needs_to_be_allowed_as_in_torch():
    net = Net()
    buf = pyio.BytesIO()
    cr.save(net, buf)
    data = buf.getvalue()
    with pytest.raises(UnsafeGlobal, match=r"names tests?.*Net.*add_safe_globals\(\[Net\]\)"):
        cr.load(pyio.BytesIO(data))
    err = pytest.raises(pickle.UnpicklingError, cr.load, pyio.BytesIO(data)).value
    assert isinstance(err, cr.CheckpointError)  # torch's error type, and chainrule's
    with cr.serialization.safe_globals([Net]):  # pytorch/examples' word_language_model
        inside = cr.load(pyio.BytesIO(data))
    with pytest.raises(UnsafeGlobal):  # the block's allowance ends with it
        cr.load(pyio.BytesIO(data))
    cr.serialization.add_safe_globals([Net])
    assert Net in cr.serialization.get_safe_globals()
    allowed = cr.load(pyio.BytesIO(data))
    cr.serialization.clear_safe_globals()
    anyway = cr.load(pyio.BytesIO(data), weights_only=False)  # the caller trusts the file
    for m in (inside, allowed, anyway):
        assert type(m) is Net


def test_what_comes_back_is_the_same_model():
    net = Net()
    net.body[1].running_mean.add_(0.25)  # buffers come back too
    net.body[0].bias.requires_grad_(False)
    net.eval()
    back = round_trip(net, weights_only=False)
    assert back.head.weight is back.embed.weight  # still tied
    assert not back.training and not back.body[0].training
    assert back.body[0].bias.requires_grad is False and back.body[0].weight.requires_grad
    assert back.act is F.gelu and back.scale == 0.5 and back.dtype_seen == cr.float64
    assert "steps" in dict(back.named_buffers()) and "steps" not in back.state_dict()
    assert list(back.state_dict()) == list(net.state_dict())
    x = cr.tensor([1, 2, 3, 4, 5])
    np.testing.assert_array_equal(back(x).detach().numpy(), net(x).detach().numpy())
    # changing the copy leaves the original alone: nothing is shared with the saved model
    with cr.no_grad():
        back.embed.weight.zero_()
    assert net.embed.weight.abs().sum().item() > 0


def test_a_transformer_layer_and_an_lstm_round_trip():
    for model in (nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation="gelu",
                                             batch_first=True),
                  nn.LSTM(3, 5, num_layers=2, bidirectional=True)):
        model.eval()
        back = round_trip(model)
        x = cr.randn(2, 4, 8) if isinstance(model, nn.TransformerEncoderLayer) else \
            cr.randn(4, 2, 3)
        out, ref = back(x), model(x)
        out, ref = (out[0], ref[0]) if isinstance(out, tuple) else (out, ref)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)


def test_modules_that_cannot_be_named_are_refused_before_writing(tmp_path):
    def make():
        class Local(nn.Module):
            def forward(self, x):
                return x
        return Local()

    with pytest.raises(TypeError, match="defined inside a function"):
        cr.save(make(), tmp_path / "a.pt")
    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda m, i, o: o)
    with pytest.raises(TypeError, match="cannot store an object of type function"):
        cr.save(hooked, tmp_path / "a.pt")
    assert not any(tmp_path.iterdir())


def forge(buf_data: bytes, edit) -> bytes:
    """The file with its document edited by edit(doc) and its digest recomputed: what anyone
    can do to a file (the digest only detects accidents)."""
    arrays = st_load(buf_data)
    header_len = int.from_bytes(buf_data[:8], "little")
    meta = json.loads(buf_data[8:8 + header_len])["__metadata__"]
    doc = json.loads(meta["document"])
    edit(doc)
    document = json.dumps(doc)
    meta.update(document=document, sha256=io._digest(document, arrays))
    return st_save(arrays, metadata=meta)


@pytest.mark.parametrize("path", [
    ["os", "system"], ["subprocess", "Popen"], ["builtins", "eval"],
    ["this", "Anything"],  # a module not imported: it must stay not imported
    ["chainrule.optim.sgd", "SGD"],  # chainrule's, but not a model's
    ["chainrule.nn.module", "Parameter"],  # a model's, but as a module class not a Module
    ["chainrule.io", "save"],  # chainrule's, but not among the classes and math a model uses
])
def test_a_forged_class_or_function_is_refused_and_nothing_is_imported(path):
    buf = pyio.BytesIO()
    cr.save(nn.Sequential(nn.Linear(2, 2)), buf)

    def as_class(doc):
        doc["__module__"][1] = path

    def as_function(doc):
        doc["__module__"][2]["training"] = {"__global__": path}

    own_class = path[0] == "chainrule.nn.module"  # as a plain value, a harmless class
    for edit in (as_class,) if own_class else (as_class, as_function):
        forged = forge(buf.getvalue(), edit)
        with pytest.raises(UnsafeGlobal):
            cr.load(pyio.BytesIO(forged), weights_only=path[0] != "this")
    assert "this" not in sys.modules


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["__module__"][2].update(_parameters={"w": 3}), "not Parameters"),
    (lambda d: d["__module__"][2].update(_modules=[]), "not Modules"),
    (lambda d: d["__module__"].__setitem__(0, "x"), "bad or repeated number"),
    (lambda d: d["__module__"][2].update(training={"__ref__": 99}), "does not define"),
    (lambda d: d["__module__"][2].update(training={"__dtype__": "os"}), "unknown dtype"),
])
def test_a_damaged_module_document_is_a_checkpoint_error(edit, match):
    buf = pyio.BytesIO()
    cr.save(nn.Sequential(nn.Linear(2, 2)), buf)
    with pytest.raises(cr.CheckpointError, match=match):
        cr.load(pyio.BytesIO(forge(buf.getvalue(), edit)))


def test_the_librarys_own_readers_refuse_whole_modules(tmp_path):
    cr.save({"model": nn.Linear(2, 2)}, tmp_path / "m.pt")
    with pytest.raises(cr.CheckpointError, match="holds a whole module; cr.load rebuilds it"):
        io.load_raw(tmp_path / "m.pt")
    assert type(cr.load(tmp_path / "m.pt")["model"]) is nn.Linear


def test_the_word_language_model_way(tmp_path):
    import chainrule as torch  # the example's code below, as it is written for PyTorch

    model = RNNModel()
    save = tmp_path / "model.pt"
    with open(save, "wb") as f:
        torch.save(model, f)
    with open(save, "rb") as f:
        safe_globals = [
            RNNModel,
            torch.nn.modules.dropout.Dropout,
            torch.nn.modules.linear.Linear,
            torch.nn.modules.rnn.GRU,
            torch.nn.modules.rnn.LSTM,
            torch.nn.modules.rnn.RNN,
            torch.nn.modules.sparse.Embedding,
        ]
        with torch.serialization.safe_globals(safe_globals):
            loaded = torch.load(f)
        loaded.rnn.flatten_parameters()
    model.eval()
    loaded.eval()
    x, h = torch.tensor([[1], [2], [3]]), (torch.zeros(2, 1, 5), torch.zeros(2, 1, 5))
    np.testing.assert_array_equal(loaded(x, h)[0].detach().numpy(),
                                  model(x, h)[0].detach().numpy())
    from chainrule.nn.modules.loss import _Loss  # torch.nn.modules.loss._Loss
    assert issubclass(torch.nn.MSELoss, _Loss) and torch.nn.modules.Linear is torch.nn.Linear
