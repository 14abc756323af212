"""chainrule.onnx.load: export -> load gives the same outputs and the same gradients, the loaded
model trains and exports again, files from torch.onnx.export load, and forged files give clear
errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from _onnx_helpers import chainrule_out, export_bytes, run_ort

import chainrule as cr
from chainrule import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _grads(model, x, y):
    model.zero_grad()
    out = model(cr.from_numpy(x))
    loss = nn.functional.cross_entropy(out, cr.from_numpy(y))
    loss.backward()
    return out.detach().numpy(), {k: p.grad.numpy() for k, p in model.named_parameters()}


def _round_trip(model, x, y, **kwargs):
    """Export, load, and compare outputs and every parameter's gradient (train mode where the
    model has no randomness; eval otherwise) and the eval outputs with onnxruntime."""
    data = export_bytes(model, cr.from_numpy(x[:2]), dynamic_axes={"input": {0: "n"}}, **kwargs)
    loaded = cr.onnx.load(io.BytesIO(data))
    assert isinstance(loaded, nn.Sequential)
    assert sorted(dict(loaded.named_parameters())) == sorted(dict(model.named_parameters()))
    for m in (model, loaded):
        m.eval()
    out_a, grads_a = _grads(model, x, y)
    out_b, grads_b = _grads(loaded, x, y)
    np.testing.assert_allclose(out_b, out_a, rtol=1e-6, atol=1e-6)
    for k in grads_a:
        np.testing.assert_allclose(grads_b[k], grads_a[k], rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(run_ort(data, x)[0], out_a, rtol=1e-5, atol=1e-5)
    return loaded


def test_mlp_round_trip_same_outputs_and_gradients():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.1),
                          nn.Linear(16, 16), nn.SiLU(), nn.LayerNorm(16), nn.Linear(16, 3))
    with cr.no_grad():
        model.train()
        model(cr.randn(32, 4) * 2 + 1)  # running statistics that are not the defaults
    loaded = _round_trip(model, _rand(9, 4), np.arange(9) % 3)
    assert [type(m).__name__ for m in loaded] == [type(m).__name__ for m in model]
    assert loaded[3].p == pytest.approx(0.1) and loaded[1].momentum == pytest.approx(0.1)


def test_cnn_and_residual_round_trip():
    cr.manual_seed(1)
    block = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Residual(block, nn.Conv2d(4, 8, 1)), nn.ReLU(),
                          nn.Residual(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Tanh())),
                          nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 2 * 2, 5),
                          nn.LogSoftmax(dim=1))
    loaded = _round_trip(model, _rand(6, 1, 8, 8), np.arange(6) % 5)
    assert isinstance(loaded[3], nn.Residual) and isinstance(loaded[3].shortcut, nn.Conv2d)
    assert loaded[5].shortcut is None and isinstance(loaded[5].block, nn.Sequential)


def test_loaded_model_fine_tunes_and_exports_again():
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    loaded = cr.onnx.load(export_bytes(model, cr.randn(1, 2)))
    assert all(p.requires_grad and isinstance(p, nn.Parameter) for p in loaded.parameters())
    x, y = cr.from_numpy(_rand(64, 2)), cr.from_numpy((_rand(64, 2)[:, 0] > 0).astype(np.int64))
    opt = cr.optim.Adam(loaded.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(loaded(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    data = export_bytes(loaded, x[:1], dynamic_axes={"input": [0]})
    np.testing.assert_allclose(run_ort(data, x.numpy())[0], chainrule_out(loaded, x.numpy()),
                               rtol=1e-5, atol=1e-5)


def test_file_from_torch_onnx_export_loads():
    torch = pytest.importorskip("torch")
    import warnings

    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.BatchNorm2d(3),
                              torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 3 * 3, 4), torch.nn.Softmax(dim=1)).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ref, (torch.randn(2, 1, 6, 6),), buf, dynamo=False)
    model = cr.onnx.load(buf.getvalue()).eval()
    x = _rand(2, 1, 6, 6)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(chainrule_out(model, x), want, rtol=1e-5, atol=1e-6)


# -- hand-made graphs ------------------------------------------------------------------------
def _model(nodes, inits, in_shape=(2, 3), out_name="y", opset=20, inputs=None):
    graph = helper.make_graph(
        nodes, "g", inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=9).SerializeToString()


def test_matmul_add_gemm_alpha_beta_and_silu_pattern():
    W, b = _rand(3, 4), _rand(4, seed=1)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["s"]),
             helper.make_node("Mul", ["z", "s"], ["a"]),
             helper.make_node("Gemm", ["a", "W2", "b2"], ["y"], alpha=2.0, beta=0.5)]
    W2, b2 = _rand(4, 2, seed=2), _rand(2, seed=3)
    data = _model(nodes, [numpy_helper.from_array(a, n) for a, n in
                          ((W, "W"), (b, "b"), (W2, "W2"), (b2, "b2"))])
    model = cr.onnx.load(data)
    assert [type(m).__name__ for m in model] == ["Linear", "SiLU", "Linear"]
    x = _rand(2, 3, seed=4)
    np.testing.assert_allclose(chainrule_out(model, x), run_ort(data, x)[0], rtol=1e-5,
                               atol=1e-6)


def _forged(tensor, name="W"):
    nodes = [helper.make_node("Gemm", ["x", name], ["y"], transB=1, name="fc")]
    return _model(nodes, [tensor])


def test_forged_files_give_clear_errors(tmp_path):
    Load = cr.onnx.OnnxLoadError
    short = numpy_helper.from_array(_rand(2, 3), "W")
    short.raw_data = short.raw_data[:-4]
    with pytest.raises(Load, match="'W' declares shape \\[2, 3\\] .* holds 20 bytes"):
        cr.onnx.load(_forged(short))
    huge = numpy_helper.from_array(_rand(2, 3), "W")
    huge.dims[:] = [1 << 20, 1 << 20]
    with pytest.raises(Load, match="more than .* elements"):
        cr.onnx.load(_forged(huge))
    negative = numpy_helper.from_array(_rand(2, 3), "W")
    negative.dims[0] = -2
    with pytest.raises(Load, match="negative dimensions"):
        cr.onnx.load(_forged(negative))
    external = numpy_helper.from_array(_rand(2, 3), "W")
    external.data_location = TensorProto.EXTERNAL
    external.external_data.add(key="location", value="../../etc/passwd")
    with pytest.raises(Load, match="external data is not read"):
        cr.onnx.load(_forged(external))
    wrong = numpy_helper.from_array(_rand(3, 5), "W")  # the input has 3 features, W takes 5
    with pytest.raises(Load, match="does not run on the declared input 'x' of shape \\(2, 3\\): "
                                   "Linear\\(5, 3\\)"):
        cr.onnx.load(_forged(wrong))
    unknown = _model([helper.make_node("Sin", ["x"], ["y"], name="weird")], [])
    with pytest.raises(Load, match="node 'weird' \\(Sin\\) is not an op chainrule.onnx.load "
                                   "rebuilds; it rebuilds .*Conv"):
        cr.onnx.load(unknown)
    with pytest.raises(Load, match="not an ONNX model"):
        cr.onnx.load(b"\x08\x07garbage" * 10)
    (tmp_path / "big.onnx").write_bytes(_forged(numpy_helper.from_array(_rand(2, 3), "W")))
    with pytest.raises(Load, match="more than the limit of 10 bytes"):
        cr.onnx.load(tmp_path / "big.onnx", max_bytes=10)


def test_inconsistent_weights_and_structures_are_refused():
    Load = cr.onnx.OnnxLoadError
    conv = _model([helper.make_node("Conv", ["x", "W"], ["y"], kernel_shape=[5, 5], name="c")],
                  [numpy_helper.from_array(_rand(2, 1, 3, 3), "W")], in_shape=(1, 1, 6, 6))
    with pytest.raises(Load, match="'c' \\(Conv\\): kernel_shape \\[5, 5\\] but a weight of "
                                   "shape \\(2, 1, 3, 3\\)"):
        cr.onnx.load(conv)
    bn = _model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                                  name="bn")],
                 [numpy_helper.from_array(a, n) for a, n in
                  ((_rand(3), "s"), (_rand(3), "b"), (_rand(3), "m"), (_rand(4), "v"))])
    with pytest.raises(Load, match="'bn' \\(BatchNormalization\\): var has shape \\(4,\\)"):
        cr.onnx.load(bn)
    two_in = _model([helper.make_node("Add", ["x", "x2"], ["y"])], [], inputs=[
        helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("x", "x2")])
    with pytest.raises(Load, match="inputs \\['x', 'x2'\\]"):
        cr.onnx.load(two_in)
    mul_join = _model([helper.make_node("Relu", ["x"], ["r"]),
                       helper.make_node("Mul", ["x", "r"], ["y"], name="gate")], [])
    with pytest.raises(Load, match="join at node 'gate' \\(Mul\\); only an Add"):
        cr.onnx.load(mul_join)
    domain = _model([helper.make_node("Relu", ["x"], ["y"], domain="com.evil")], [])
    with pytest.raises(Load, match="domain 'com.evil'"):
        cr.onnx.load(domain)
