"""The user-facing edges of a device: checkpoints across devices, numpy(), printing, item()."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn


def test_numpy_of_a_device_tensor_is_pytorchs_error(dev: str) -> None:
    x = cr.ones(2, 3, device=dev)
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. "
                                        r"Use Tensor\.cpu\(\) to copy the tensor to host memory "
                                        r"first\."):
        x.numpy()
    np.testing.assert_array_equal(x.cpu().numpy(), np.ones((2, 3), np.float32))
    assert x.cpu().device == cr.device("cpu") and x.cuda().device.type == "cuda"


def test_scalars_and_printing_copy_explicitly(dev: str) -> None:
    x = cr.arange(6.0, device=dev).reshape(2, 3)
    assert x.sum().item() == 15.0 and float(x[1, 2]) == 5.0 and int(x[0, 1]) == 1
    assert bool(x[1, 1] > 3) and x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert "device='cuda:0'" in repr(x)
    assert f"{x.mean():.2f}" == "2.50"


def test_checkpoint_from_the_device_loads_on_the_cpu(dev: str, tmp_path) -> None:
    """torch.save(model.state_dict()) on a GPU; torch.load(..., map_location='cpu') elsewhere."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(dev)
    model(cr.randn(5, 3, device=dev)).sum().backward()
    cr.save(model.state_dict(), tmp_path / "m.pt")
    cr.save({"w": model[0].weight, "step": 3}, tmp_path / "obj.pt")
    sd = cr.load(tmp_path / "m.pt", map_location="cpu")
    assert {t.device.type for t in sd.values()} == {"cpu"}
    cpu_model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    cpu_model.load_state_dict(sd)
    for (k, a), b in zip(cpu_model.state_dict().items(), model.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.cpu().numpy(), err_msg=k)
    obj = cr.load(tmp_path / "obj.pt", map_location=cr.device("cpu"))
    assert obj["step"] == 3 and obj["w"].device.type == "cpu"
    # and back: a CPU checkpoint into a model on the device, and map_location='cuda'
    model.load_state_dict(cr.load(tmp_path / "m.pt"))
    assert {p.device.type for p in model.parameters()} == {"cuda"}
    on_dev = cr.load(tmp_path / "m.pt", map_location="cuda")
    assert {t.device.type for t in on_dev.values()} == {"cuda"}


def test_device_context_and_factories(dev: str) -> None:
    assert cr.cuda.is_available() and cr.cuda.device_count() >= 1
    for t in (cr.zeros(2, device=dev), cr.randn(2, device=dev), cr.arange(3, device=dev),
              cr.eye(2, device=dev), cr.full((2,), 1.5, device=dev),
              cr.tensor([1, 2], device=dev), cr.empty(2, device=dev),
              cr.randint(0, 5, (3,), device=dev), cr.linspace(0, 1, 3, device=dev)):
        assert t.device.type == "cuda", t
    x = cr.randn(3, device=dev)
    for t in (cr.zeros_like(x), cr.ones_like(x), cr.rand_like(x), cr.randn_like(x),
              cr.full_like(x, 2.0), x.new_zeros(2) if hasattr(x, "new_zeros") else x):
        assert t.device.type == "cuda", t


def test_same_seed_same_numbers_on_both_devices(dev: str) -> None:
    """The stand-in's generator is the host one, uploaded: cr.manual_seed seeds it."""
    cr.manual_seed(3)
    a = cr.randn(4, device=dev)
    cr.manual_seed(3)
    b = cr.randn(4)
    np.testing.assert_array_equal(a.cpu().numpy(), b.numpy())


def test_host_and_device_tensors_do_not_mix_silently(dev: str) -> None:
    x = cr.ones(3, device=dev)
    with pytest.raises(RuntimeError, match="Add: Expected all tensors to be on the same device, "
                                           "but found at least two devices, cuda:0 and cpu!"):
        x + cr.ones(3)
    with pytest.raises(RuntimeError, match="same device"):
        cr.gather(cr.ones(2, 3, device=dev), 1, cr.zeros(2, 1, dtype=cr.int64))
    # Python numbers and NumPy scalars are fine, as in PyTorch
    assert (x * 2 + np.float32(1.0)).sum().item() == 9.0
