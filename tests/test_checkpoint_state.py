"""Checkpoints you can trust (issue 17, item 7): malformed optimizer, scheduler and Keras state
(from an edited or forged file) raises ValueError naming the field at load, never KeyError,
TypeError or AttributeError, and never later at the first step or fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import io, nn, optim
from chainrule.optim import lr_scheduler


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv(io.KEY_ENV, raising=False)


# -- item 7: optimizer and scheduler state -------------------------------------------------------
def _adam_state() -> tuple[dict, list]:
    params = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones((2, 3)))]
    opt = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = cr.ones(*p.shape, dtype=cr.float64)
    opt.step()
    return opt.state_dict(), [p.shape for p in params]


def _mutated(fn) -> dict:
    saved, _ = _adam_state()
    fn(saved)
    return saved


OPT_CASES = {
    "not a dict": (lambda s: None, "expected the dict that state_dict"),
    "no param_groups": (lambda s: s.pop("param_groups"), "field 'param_groups' must be a list"),
    "state a list": (lambda s: s.update(state=[1]), "field 'state' must be a dict"),
    "group not a dict": (lambda s: s["param_groups"].__setitem__(0, [0, 1]),
                         r"param_groups\[0\] must be a dict with a 'params' list"),
    "index a string": (lambda s: s["param_groups"][0].update(params=["a", 1]),
                       r"param_groups\[0\]\['params'\] holds 'a'"),
    "index twice": (lambda s: s["param_groups"][0].update(params=[0, 0]),
                    "distinct integers"),
    "state of nobody": (lambda s: s["state"].update({7: s["state"][0]}),
                        r"state\[7\] belongs to no parameter"),
    "state not a dict": (lambda s: s["state"].update({0: 5}),
                         r"state\[0\] must be a parameter index mapping to a dict"),
    "moment missing": (lambda s: s["state"][1].pop("exp_avg"), r"state\[1\] has no 'exp_avg'"),
    "moment a number": (lambda s: s["state"][0].update(exp_avg=1.0),
                        r"state\[0\]\['exp_avg'\] is float, not an array"),
    "step a string": (lambda s: s["state"][0].update(step="7"),
                      r"state\[0\]\['step'\] is str, not a number"),
    "moment of strings": (lambda s: s["state"][0].update(exp_avg=np.array(["a", "b"])),
                          r"state\[0\]: state 'exp_avg' is an array of <U1"),
    "moment misshapen": (lambda s: s["state"][0].update(exp_avg=np.ones(5)),
                         r"state 'exp_avg' has shape \(5,\) but its parameter has shape"),
    "lr a string": (lambda s: s["param_groups"][0].update(lr="fast"),
                    r"param_groups\[0\]: Adam: lr must be a number"),
    "betas a number": (lambda s: s["param_groups"][0].update(betas=0.9),
                       r"param_groups\[0\]: Adam: betas must be a pair"),
}


@pytest.mark.parametrize("case", sorted(OPT_CASES))
def test_optimizer_load_state_dict_names_the_malformed_field(case):
    edit, match = OPT_CASES[case]
    saved = None if case == "not a dict" else _mutated(edit)
    params = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones((2, 3)))]
    opt = optim.Adam(params, lr=0.2)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == 0.2 and not opt.state  # nothing changed


def test_optimizer_group_mismatches_say_what_torch_says():
    torch = pytest.importorskip("torch")
    saved, _ = _adam_state()
    ours = optim.Adam([{"params": [nn.Parameter(np.ones(2))]},
                       {"params": [nn.Parameter(np.ones((2, 3)))]}])
    theirs = torch.optim.Adam([{"params": [torch.ones(2, requires_grad=True)]},
                               {"params": [torch.ones(2, 3, requires_grad=True)]}])
    torch_saved = torch.optim.Adam([torch.ones(2, requires_grad=True),
                                    torch.ones(2, 3, requires_grad=True)]).state_dict()
    for opt, sd in ((ours, saved), (theirs, torch_saved)):
        with pytest.raises(ValueError, match="loaded state dict has a different number of "
                                             "parameter groups"):
            opt.load_state_dict(sd)
    ours = optim.Adam([nn.Parameter(np.ones(2))])
    theirs = torch.optim.Adam([torch.ones(2, requires_grad=True)])
    for opt, sd in ((ours, saved), (theirs, torch_saved)):
        with pytest.raises(ValueError, match="loaded state dict contains a parameter group "
                                             "that doesn't match the size of optimizer's group"):
            opt.load_state_dict(sd)


def test_a_malformed_state_fails_at_load_not_at_the_first_update():
    """The array interface defers loading to the first update(); the layout is checked now."""
    opt = optim.Adam(lr=0.1)
    with pytest.raises(ValueError, match="field 'state' must be a dict"):
        opt.load_state_dict({"param_groups": [{"params": [0]}], "state": None})


def _scheduler():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    return opt, lr_scheduler.StepLR(opt, step_size=2)


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.update(last_epoch="3"), "field 'last_epoch' must be a number, got str"),
    (lambda s: s.update(base_lrs=[0.1, 0.2]), "field 'base_lrs' must be a list of 1 values"),
    (lambda s: s.update(base_lrs=0.1), "field 'base_lrs' must be a list"),
    (lambda s: s.update(gamma=None), "field 'gamma' must be a number"),
])
def test_scheduler_load_state_dict_names_the_malformed_field(edit, match):
    _, sched = _scheduler()
    saved = sched.state_dict()
    edit(saved)
    _, fresh = _scheduler()
    with pytest.raises(ValueError, match=match):
        fresh.load_state_dict(saved)
    assert fresh.last_epoch == 0
    with pytest.raises(ValueError, match="expected the dict"):
        fresh.load_state_dict([1, 2])


def test_composite_schedulers_check_their_parts():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    a, b = lr_scheduler.StepLR(opt, 2), lr_scheduler.ExponentialLR(opt, 0.9)
    chain = optim.lr_scheduler.ChainedScheduler([a, b])
    saved = chain.state_dict()
    saved["_schedulers"] = saved["_schedulers"][:1]
    with pytest.raises(ValueError, match="field '_schedulers' must be a list of 2"):
        chain.load_state_dict(saved)
    saved = chain.state_dict()
    saved["_schedulers"][1]["gamma"] = "x"
    with pytest.raises(ValueError, match="ExponentialLR.load_state_dict: field 'gamma'"):
        chain.load_state_dict(saved)


# -- item 7: the Keras door ---------------------------------------------------------------------
def _keras_file(tmp_path: Path) -> Path:
    from chainrule.keras import Input, Sequential, layers

    model = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    return path


def _first_state(doc):
    return doc["optimizer_state"]["state"][next(iter(doc["optimizer_state"]["state"]))]


KERAS_CASES = {
    "no model": (lambda d: d.pop("model"), "field 'model'"),
    "model a list": (lambda d: d.update(model=[1]), "field 'model'"),
    "no layers": (lambda d: d["model"]["config"].pop("layers"),
                  r"field 'model': the saved architecture is malformed \(KeyError\('layers'"),
    "layer entry a string": (lambda d: d["model"]["config"]["layers"].__setitem__(0, "Dense"),
                             "a layer entry must be"),
    "units a string": (lambda d: d["model"]["config"]["layers"][0]["config"].update(
        units="three"), "field 'model'"),
    "version 2": (lambda d: d.update(version=2), "field 'version' is 2"),
    "weights a list": (lambda d: d.update(weights=[1]), "field 'weights' must map"),
    "weight a string": (lambda d: d["weights"].update({min(d["weights"]): "a"}),
                        "is a str, not an array"),
    "compile a list": (lambda d: d.update(compile=[1]), "field 'compile' must be a dict"),
    "compile bogus argument": (lambda d: d["compile"].update(bogus=1),
                               "field 'compile' cannot be applied"),
    "iterations a string": (lambda d: d.update(optimizer_iterations="3"),
                            "field 'optimizer_iterations' must be a count"),
    "optimizer state a list": (lambda d: d.update(optimizer_state=[1]),
                               "field 'optimizer_state' does not fit the model"),
    "moment missing": (lambda d: _first_state(d).pop("exp_avg"),
                       "field 'optimizer_state' does not fit the model: .*no 'exp_avg'"),
    "moment misshapen": (lambda d: _first_state(d).update(exp_avg=np.ones(7)),
                         "field 'optimizer_state' does not fit the model: .*shape"),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_keras_load_model_names_the_malformed_field_at_load(tmp_path, case):
    from chainrule.keras.models import load_model
    from chainrule.keras.models.saving import ModelFormatError

    path = _keras_file(tmp_path)
    doc = io.load_raw(path)
    edit, match = KERAS_CASES[case]
    edit(doc)
    io.save(doc, path)  # a consistent file: the digest fits the edited document
    with pytest.raises(ValueError, match=match) as e:
        load_model(path)
    assert isinstance(e.value, ModelFormatError) and str(path) in str(e.value)


def test_a_forged_keras_architecture_cannot_allocate_more_than_the_file_holds(tmp_path):
    # a 2 KB file whose config asks for a 20000 x 20000 kernel (3.2 GB): refused before building
    from chainrule.keras.models import load_model
    from chainrule.keras.models.saving import ModelFormatError

    path = _keras_file(tmp_path)
    doc = io.load_raw(path)
    doc["model"]["config"]["layers"][0]["config"]["units"] = 20000
    io.save(doc, path)
    with pytest.raises(ModelFormatError, match="more than the file's weights hold"):
        load_model(path)


def test_a_loaded_keras_model_has_its_optimizer_state_before_the_first_fit(tmp_path):
    from chainrule.keras.models import load_model

    loaded = load_model(_keras_file(tmp_path))
    opt = loaded.optimizer
    assert opt.impl is not None and len(opt.impl.state) == 4 and opt.iterations == 1
