"""Module features seen through the layers: registration by attribute, parameters and buffers,
children and modules, train/eval, zero_grad, state_dict / load_state_dict (strict errors list
missing, unexpected and mismatched keys), repr, num_parameters, to(dtype)."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(8, 2)
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.note = "not registered"

    def forward(self, x):
        return self.fc2(self.drop(self.bn(self.fc1(x)).relu())) * self.scale


def test_registration_by_attribute_and_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "drop", "fc2"]
    assert [type(m).__name__ for m in net.modules()] == [
        "Net", "Linear", "BatchNorm1d", "Dropout", "Linear"]
    assert list(net.children())[0] is net.fc1
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert net.note == "not registered"


def test_reassigning_and_deleting_attributes():
    net = Net()
    net.fc2 = nn.Linear(8, 3)
    assert net.fc2.out_features == 3 and net.num_parameters() == 4 * 8 + 8 + 16 + 8 * 3 + 3 + 1
    del net.drop
    assert "drop" not in dict(net.named_children())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'drop'"):
        _ = net.drop


def test_shared_parameters_are_counted_once():
    shared = nn.Linear(3, 3)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 12


def test_num_parameters_trainable_only():
    net = Net()
    assert net.num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 2 + 2 + 1
    net.fc1.weight.requires_grad = False
    assert net.num_parameters(trainable_only=True) == net.num_parameters() - 32


def test_train_eval_reach_every_submodule_and_change_behaviour():
    net = Net()
    x = cr.randn(16, 4)
    assert net.training and net.bn.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    with cr.no_grad():
        a, b = net(x), net(x)
    np.testing.assert_array_equal(a.array, b.array)  # no dropout, running statistics
    assert int(net.bn.num_batches_tracked.array) == 0
    net.train()
    assert all(m.training for m in net.modules())
    net(x)
    assert int(net.bn.num_batches_tracked.array) == 1


def test_zero_grad_clears_every_parameter():
    net = Net()
    net(cr.randn(8, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_copies_in_place():
    a, b = Net(), Net()
    a(cr.randn(8, 4))  # move the running statistics
    state = a.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state)[5:8] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert list(state)[-2:] == ["fc2.weight", "fc2.bias"]  # PyTorch's order: module by module
    state["fc1.weight"][0, 0] = 123.0  # shares the parameter's storage, as in PyTorch
    assert a.fc1.weight.array[0, 0] == 123.0 and not state["fc1.weight"].requires_grad
    snapshot = copy.deepcopy(a.state_dict())  # the PyTorch idiom for a copy
    a.fc1.weight.array[0, 0] = 7.0
    assert snapshot["fc1.weight"][0, 0].item() == 123.0
    arr = b.fc1.weight.array
    b.load_state_dict(a.state_dict())
    assert b.fc1.weight.array is arr  # in place, so optimizers holding the array keep working
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=k)
    assert int(b.bn.num_batches_tracked.array) == 1


def test_load_state_dict_strict_error_lists_every_problem():
    net = Net()
    state = net.state_dict()
    del state["fc1.bias"]
    state["extra.weight"] = np.zeros(3)
    state["fc2.weight"] = np.zeros((5, 8))
    with pytest.raises(ShapeError) as e:
        net.load_state_dict(state)
    msg = str(e.value)
    assert "missing keys: fc1.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "fc2.weight: checkpoint (5, 8) vs model (2, 8)" in msg
    assert net.fc2.weight.array.any()  # nothing was loaded


def test_load_state_dict_non_strict_reports_missing_and_unexpected():
    net, other = Net(), Net()
    state = other.state_dict()
    del state["fc1.bias"]
    state["extra"] = np.zeros(1)
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["fc1.bias"] and unexpected == ["extra"]
    np.testing.assert_array_equal(net.fc2.weight.array, other.fc2.weight.array)
    bad = other.state_dict()
    bad["fc2.bias"] = np.zeros(7)
    with pytest.raises(ShapeError, match="shape mismatches"):
        net.load_state_dict(bad, strict=False)  # a wrong shape is never loaded


def test_load_state_dict_accepts_tensors():
    a, b = nn.Linear(2, 3), nn.Linear(2, 3)
    b.load_state_dict({"weight": a.weight, "bias": a.bias})
    np.testing.assert_array_equal(b.weight.array, a.weight.array)


def test_repr_is_nested_and_readable():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.1), nn.Flatten()))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.1, inplace=False)\n"
        "    (1): Flatten(start_dim=1, end_dim=-1)\n"
        "  )\n"
        ")"
    )


def test_to_float64_converts_parameters_and_float_buffers():
    net = Net().to(cr.float64)
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_var.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64
    assert net(cr.tensor(np.ones((4, 4)))).dtype == np.float64


def test_layers_accept_a_dtype():
    assert nn.Linear(2, 3, dtype=cr.float64).weight.dtype == np.float64
    assert nn.BatchNorm2d(3, dtype="float64").running_mean.dtype == np.float64
    assert nn.LayerNorm(3, dtype=cr.float64).bias.dtype == np.float64
    assert nn.Embedding(4, 2, dtype=cr.float64).weight.dtype == np.float64


def test_module_without_super_init_and_without_forward():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\)\.__init__\(\)"):
        Bad()
    with pytest.raises(NotImplementedError, match="does not define forward"):
        nn.Module()(cr.zeros(1))


def test_parameters_are_leaves_that_require_grad():
    layer = nn.Linear(2, 2)
    for p in layer.parameters():
        assert isinstance(p, nn.Parameter) and p.is_leaf and p.requires_grad
    assert repr(layer.bias).startswith("Parameter containing:")


def _assignment_habits(lib):
    """What assigning to a module's attributes and editing a Sequential do, as a log."""
    nn, log = lib.nn, []

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc, self.out = nn.Linear(2, 3), nn.Linear(3, 3), nn.Linear(3, 1)

    net = Net()
    net.fc = nn.Linear(3, 3)  # replace the middle layer: it keeps its place
    log.append([k for k, _ in net.named_parameters()])
    for name, value in (("weight", lib.ones(3, 2)), ("weight", 3), ("weight", None)):
        try:
            setattr(net.conv, name, value)
            log.append(("ok", name, list(net.conv._parameters)))
        except TypeError as e:
            log.append(("TypeError", str(e)))
    try:
        net.fc = lib.ones(1)
    except TypeError as e:
        log.append(("TypeError", str(e)))
    bn = nn.BatchNorm1d(2)
    try:
        bn.running_mean = 5
    except TypeError as e:
        log.append(("TypeError", str(e)))
    bn.running_mean = lib.zeros(2)
    log.append(list(bn._buffers))
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.Tanh())
    del seq[1]
    log.append([type(m).__name__ for m in seq] + list(seq._modules))
    seq.insert(1, nn.Sigmoid())
    seq[0] = nn.Linear(2, 3)
    log.append(type(seq.pop(-1)).__name__)
    seq.extend([nn.ReLU()])
    del seq[0:2]
    log.append([type(m).__name__ for m in seq] + list(seq._modules))
    named = nn.Sequential(OrderedDict(a=nn.Linear(2, 2), b=nn.ReLU(), c=nn.Tanh()))
    log.append(list(named[1:]._modules))
    try:
        named[7]
    except IndexError:
        log.append("IndexError")
    return log


def test_assigning_attributes_and_editing_a_sequential_as_torch():
    torch = pytest.importorskip("torch")
    assert _assignment_habits(cr) == _assignment_habits(torch)
