"""chainrule.onnx.export checked by onnxruntime: MLP, CNN, residual and recurrent models, every
layer converter, names, dynamic axes, modes and the errors for what cannot be exported."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
from _onnx_helpers import chainrule_out, export_bytes, run_ort

import chainrule as cr
from chainrule import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _train_a_little(model, x, y, steps=3):
    """A few SGD steps so BatchNorm's running statistics and the weights are not the defaults."""
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(cr.from_numpy(x)), cr.from_numpy(y))
        loss.backward()
        opt.step()


def test_mlp_as_a_pytorch_user_writes_it(tmp_path):
    import chainrule as torch
    import chainrule.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10))
    model.eval()
    dummy = torch.randn(1, 784)
    torch.onnx.export(model, (dummy,), str(tmp_path / "mlp.onnx"), input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "batch"},
                                                             "logits": {0: "batch"}})
    sess = ort.InferenceSession(str(tmp_path / "mlp.onnx"))
    x = _rand(32, 784)
    (got,) = sess.run(["logits"], {"x": x})
    np.testing.assert_allclose(got, chainrule_out(model, x), rtol=1e-5, atol=1e-5)
    out = sess.get_outputs()[0]
    assert out.name == "logits" and out.shape == ["batch", 10]


def test_cnn_with_batchnorm_matches_onnxruntime_at_another_batch_size():
    cr.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 2 * 2, 10))
    _train_a_little(model, _rand(16, 1, 12, 12), np.arange(16) % 10)
    assert model.training  # export uses eval behaviour (torch's TrainingMode.EVAL) ...
    data = export_bytes(model, cr.randn(2, 1, 12, 12), dynamic_axes={"input": {0: "batch"}})
    assert model.training  # ... and leaves the model in the mode it was in
    ops = [n.op_type for n in onnx.load_model_from_string(data).graph.node]
    assert ops.count("BatchNormalization") == 2 and "Conv" in ops and "MaxPool" in ops
    x = _rand(7, 1, 12, 12, seed=3)
    (got,) = run_ort(data, x)
    np.testing.assert_allclose(got, chainrule_out(model, x), rtol=1e-5, atol=1e-5)


def test_residual_model_with_projection_shortcut():
    cr.manual_seed(2)
    block = lambda c_in, c: nn.Sequential(  # noqa: E731
        nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
        nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c))
    model = nn.Sequential(nn.Residual(block(3, 4), nn.Conv2d(3, 4, 1)), nn.ReLU(),
                          nn.Residual(block(4, 4)), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 5))
    _train_a_little(model, _rand(8, 3, 6, 6), np.arange(8) % 5)
    data = export_bytes(model, cr.randn(1, 3, 6, 6), dynamic_axes={"input": [0]})
    g = onnx.load_model_from_string(data).graph
    assert [n.op_type for n in g.node].count("Add") == 2
    assert g.input[0].type.tensor_type.shape.dim[0].dim_param == "input_dynamic_axes_1"
    x = _rand(5, 3, 6, 6, seed=4)
    np.testing.assert_allclose(run_ort(data, x)[0], chainrule_out(model, x), rtol=1e-5,
                               atol=1e-5)


# -- every converter -------------------------------------------------------------------------
LAYERS = {
    "conv1d_groups_dilation": (lambda: nn.Sequential(nn.Conv1d(4, 6, 3, stride=2, dilation=2,
                                                               groups=2, padding=2)), (2, 4, 11)),
    "conv2d_same": (lambda: nn.Conv2d(2, 3, (3, 4), padding="same"), (2, 2, 7, 7)),
    "conv2d_nobias": (lambda: nn.Conv2d(2, 3, 3, padding=2, bias=False), (2, 2, 5, 5)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                    output_padding=1), (2, 3, 4, 5)),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(3, 4, 2, stride=2), (2, 3, 5)),
    "maxpool2d_ceil_pad": (lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (2, 3, 8, 8)),
    "maxpool1d": (lambda: nn.MaxPool1d(2), (2, 3, 9)),
    "avgpool2d_no_pad_count": (lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False),
                               (2, 3, 7, 7)),
    "avgpool2d_ceil": (lambda: nn.AvgPool2d(2, ceil_mode=True), (2, 3, 7, 7)),
    "avgpool1d": (lambda: nn.AvgPool1d(3, 1, 1), (2, 3, 6)),
    "adaptive_avg_global": (lambda: nn.AdaptiveAvgPool2d((1, 1)), (2, 3, 5, 7)),
    "adaptive_avg_2": (lambda: nn.AdaptiveAvgPool2d(2), (2, 3, 4, 6)),
    "adaptive_max_global": (lambda: nn.AdaptiveMaxPool2d(1), (2, 3, 4, 6)),
    "batchnorm1d_seq": (lambda: nn.BatchNorm1d(3), (4, 3, 5)),
    "batchnorm_no_affine": (lambda: nn.BatchNorm2d(3, affine=False), (4, 3, 2, 2)),
    "layernorm": (lambda: nn.LayerNorm([4, 5]), (2, 3, 4, 5)),
    "layernorm_no_affine": (lambda: nn.LayerNorm(5, elementwise_affine=False), (2, 5)),
    "linear_3d": (lambda: nn.Linear(5, 3), (2, 4, 5)),
    "linear_no_bias": (lambda: nn.Linear(5, 3, bias=False), (4, 5)),
    "flatten_2": (lambda: nn.Flatten(2), (2, 3, 4, 5)),
    "unflatten": (lambda: nn.Unflatten(1, (3, 4)), (2, 12)),
    "gelu": (nn.GELU, (3, 5)),
    "gelu_tanh": (lambda: nn.GELU("tanh"), (3, 5)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), (3, 5)),
    "elu": (lambda: nn.ELU(0.7), (3, 5)),
    "celu": (lambda: nn.CELU(1.3), (3, 5)),
    "selu": (nn.SELU, (3, 5)),
    "sigmoid_tanh": (lambda: nn.Sequential(nn.Sigmoid(), nn.Tanh()), (3, 5)),
    "softmax": (lambda: nn.Softmax(dim=1), (3, 4, 5)),
    "softmax_implicit": (nn.Softmax, (3, 4, 5)),
    "log_softmax": (lambda: nn.LogSoftmax(-1), (3, 5)),
    "silu": (nn.SiLU, (3, 5)),
    "mish": (nn.Mish, (3, 5)),
    "softplus": (nn.Softplus, (3, 5)),
    "softplus_beta": (lambda: nn.Softplus(beta=2.0, threshold=5.0), (3, 5)),
    "hardswish_hardsigmoid": (lambda: nn.Sequential(nn.Hardswish(), nn.Hardsigmoid()), (3, 5)),
    "relu6_hardtanh": (lambda: nn.Sequential(nn.ReLU6(), nn.Hardtanh(-0.5, 0.5)), (3, 5)),
    "softsign": (nn.Softsign, (3, 5)),
    "prelu_channels": (lambda: nn.PReLU(3), (2, 3, 4, 4)),
    "identity_dropout2d": (lambda: nn.Sequential(nn.Identity(), nn.Dropout2d(0.3)),
                           (2, 3, 4, 4)),
}


@pytest.mark.parametrize("opset", [20, 17, 13])
@pytest.mark.parametrize("case", sorted(LAYERS))
def test_each_layer_matches_onnxruntime(case, opset):
    cr.manual_seed(0)
    make, shape = LAYERS[case]
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the implicit softmax dim warns, as in PyTorch
        x = _rand(*shape, seed=5) * 3
        if case.startswith("prelu"):
            with cr.no_grad():
                model.weight.copy_(cr.tensor([0.1, -0.3, 0.5]))
        if "batchnorm" in case:
            model.train()
            model(cr.from_numpy(_rand(*shape, seed=6) * 2 + 1))
        data = export_bytes(model, cr.from_numpy(x), opset_version=opset)
        want = chainrule_out(model, x)
    np.testing.assert_allclose(run_ort(data, x)[0], want, rtol=1e-5, atol=1e-5)


def test_embedding_takes_int64_indices():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    idx = np.array([[1, 2, 3], [9, 0, 4]], dtype=np.int64)
    data = export_bytes(model, cr.from_numpy(idx), dynamic_axes={"input": {0: "n"}})
    x = np.array([[5, 5, 1]], dtype=np.int64)
    np.testing.assert_allclose(run_ort(data, x)[0], chainrule_out(model, x), rtol=1e-6)


def test_float64_model_exports_double():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, dtype=cr.float64), nn.Tanh())
    x = np.random.default_rng(0).standard_normal((2, 3))
    data = export_bytes(model, cr.from_numpy(x))
    g = onnx.load_model_from_string(data).graph
    assert g.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    np.testing.assert_allclose(run_ort(data, x)[0], chainrule_out(model, x), rtol=1e-12)


# -- recurrent ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("batch_first,bidirectional,layers", [(False, False, 1), (True, True, 2),
                                                              (True, False, 3)])
def test_recurrent_layers_match_onnxruntime(cls, batch_first, bidirectional, layers):
    cr.manual_seed(0)
    kwargs = {"nonlinearity": "relu"} if cls is nn.RNN and layers == 2 else {}
    model = cls(3, 5, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional,
                **kwargs)
    data = export_bytes(model, cr.randn(2, 4, 3), dynamic_axes={"input": {0: "a", 1: "b"}})
    x = _rand(6, 3, 3, seed=1)  # another length and batch
    got = run_ort(data, x)
    names = [o.name for o in ort.InferenceSession(data).get_outputs()]
    model.eval()
    out, state = model(cr.from_numpy(x))
    want = [out] + (list(state) if cls is nn.LSTM else [state])
    assert names == ["output", "h_n", "c_n"][:len(want)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-5, atol=1e-5)


def test_lstm_matches_torch_onnx_export_of_the_same_weights():
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    model = nn.LSTM(3, 4, batch_first=True)
    ref = torch.nn.LSTM(3, 4, batch_first=True)
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                         for k, v in model.state_dict().items()})
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ref, (torch.randn(2, 5, 3),), buf, dynamo=False)
    x = _rand(2, 5, 3)
    theirs = run_ort(buf.getvalue(), x)
    ours = run_ort(export_bytes(model, cr.randn(2, 5, 3)), x)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- names, shapes, modes, arguments --------------------------------------------------------------
def test_default_names_static_shapes_and_file_objects(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2))
    path = tmp_path / "m.onnx"
    assert cr.onnx.export(model, cr.randn(4, 3), path) is None  # as the TorchScript exporter
    sess = ort.InferenceSession(str(path))
    assert [i.name for i in sess.get_inputs()] == ["input"]
    assert [o.name for o in sess.get_outputs()] == ["output"]
    assert sess.get_inputs()[0].shape == [4, 3]  # no dynamic_axes: the sample's sizes
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        sess.run(None, {"input": _rand(5, 3)})
    with open(tmp_path / "f.onnx", "wb") as f:
        cr.onnx.export(model, (cr.randn(4, 3),), f)
    assert (tmp_path / "f.onnx").read_bytes() == path.read_bytes()


def test_initializers_take_state_dict_names_and_export_params_false():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    g = onnx.load_model_from_string(export_bytes(model, cr.randn(2, 3))).graph
    assert {i.name for i in g.initializer} == {"0.weight", "0.bias", "1.weight", "1.bias",
                                               "1.running_mean", "1.running_var"}
    g = onnx.load_model_from_string(export_bytes(model, cr.randn(2, 3),
                                                 export_params=False)).graph
    assert not g.initializer and [i.name for i in g.input][0] == "input"
    assert {i.name for i in g.input} >= {"0.weight", "1.running_var"}


def test_training_mode_argument_and_is_in_onnx_export():
    seen = []

    class Spy(nn.Identity):
        def forward(self, x):
            return x

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model[0].register_forward_hook(lambda *a: seen.append(cr.onnx.is_in_onnx_export()))
    with pytest.raises(cr.onnx.OnnxExporterError, match="model.eval()"):
        export_bytes(model, cr.randn(1, 2), training=cr.onnx.TrainingMode.PRESERVE)
    model.eval()
    export_bytes(model, cr.randn(1, 2), training=cr.onnx.TrainingMode.PRESERVE)
    assert seen == [True] and not cr.onnx.is_in_onnx_export()
    with pytest.raises(cr.onnx.UnsupportedModuleError, match="0 \\(Spy\\) overrides"):
        export_bytes(nn.Sequential(Spy()), cr.randn(1, 2))


def test_verify_and_bad_arguments():
    model = nn.Sequential(nn.Linear(2, 2))
    export_bytes(model, cr.randn(3, 2), verify=True)
    with pytest.raises(ValueError, match="opset_version=5 .* 13 to"):
        export_bytes(model, cr.randn(3, 2), opset_version=5)
    with pytest.raises(TypeError, match="args\\[0\\] is a list"):
        export_bytes(model, ([1.0, 2.0],))
    with pytest.raises(TypeError, match="give f"):
        cr.onnx.export(model, cr.randn(3, 2))
    with pytest.raises(NotImplementedError, match="dynamic_axes="):
        export_bytes(model, cr.randn(3, 2), dynamic_shapes={"input": {0: "b"}})
    with pytest.raises(ValueError, match="2 input_names"):
        export_bytes(model, cr.randn(3, 2), input_names=["a", "b"])
    with pytest.warns(UserWarning, match="Provided key nope for dynamic axes"):
        export_bytes(model, cr.randn(3, 2), dynamic_axes={"nope": [0]})


# -- what cannot be exported ------------------------------------------------------------------
class MyBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return nn.functional.relu(self.fc(x)) * 2


def test_custom_module_is_refused_with_its_path():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), MyBlock()))
    with pytest.raises(cr.onnx.UnsupportedModuleError) as e:
        export_bytes(model, cr.randn(2, 3))
    msg = str(e.value)
    assert "1.1 (MyBlock) is a custom Module" in msg and "does not trace" in msg
    assert "Supported modules:" in msg and "Linear" in msg and "Residual" in msg


def test_unsupported_layer_and_option_are_named():
    with pytest.raises(cr.onnx.UnsupportedModuleError, match="0 \\(GroupNorm\\) has no ONNX"):
        export_bytes(nn.Sequential(nn.GroupNorm(1, 3)), cr.randn(2, 3, 4))
    with pytest.raises(cr.onnx.UnsupportedModuleError, match="divisor_override"):
        export_bytes(nn.AvgPool2d(2, divisor_override=3), cr.randn(1, 1, 4, 4))
    with pytest.raises(cr.onnx.UnsupportedModuleError, match="track_running_stats=False"):
        export_bytes(nn.BatchNorm1d(3, track_running_stats=False), cr.randn(2, 3))
    with pytest.raises(cr.onnx.OnnxExporterError, match="batched inputs of rank 4"):
        export_bytes(nn.Conv2d(1, 1, 3), cr.randn(1, 5, 5))
    with pytest.raises(cr.onnx.UnsupportedModuleError, match="dynamic spatial axes"):
        export_bytes(nn.AdaptiveAvgPool2d(2), cr.randn(1, 1, 4, 4),
                     dynamic_axes={"input": [0, 2, 3]})
    with pytest.raises(cr.onnx.UnsupportedModuleError, match="make only axis 0 dynamic"):
        export_bytes(nn.Flatten(2), cr.randn(1, 2, 3, 4), dynamic_axes={"input": [0, 3]})


def test_importing_chainrule_does_not_import_onnx():
    code = "import sys, chainrule; chainrule.onnx.TrainingMode; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_declared_output_shapes_agree_with_the_runtime():
    # ONNX's shape inference applies another ceil_mode rule than PyTorch's (and onnxruntime's)
    model = nn.Sequential(nn.MaxPool2d(2, 2, padding=1, ceil_mode=True), nn.ReLU())
    data = export_bytes(model, cr.randn(1, 1, 6, 6), dynamic_axes={"input": {0: "n"},
                                                                    "output": {0: "n"}})
    dims = onnx.load_model_from_string(data).graph.output[0].type.tensor_type.shape.dim
    x = _rand(2, 1, 6, 6)
    (got,) = run_ort(data, x)
    assert got.shape == tuple(chainrule_out(model, x).shape) == (2, 1, 4, 4)
    assert dims[0].dim_param == "n"
    assert all(d.dim_value in (0, s) for d, s in zip(dims[1:], got.shape[1:]))


def test_output_names_never_collide_with_inner_values():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    data = export_bytes(model, cr.randn(2, 3), input_names=["1"], output_names=["0"])
    x = _rand(2, 3)
    np.testing.assert_allclose(run_ort(data, x)[0], chainrule_out(model, x), rtol=1e-6)
    seq_lstm = nn.Sequential(nn.Linear(3, 3), nn.LSTM(3, 4))
    names = [o.name for o in ort.InferenceSession(
        export_bytes(seq_lstm, cr.randn(5, 2, 3))).get_outputs()]
    assert names == ["output_0", "output_1", "output_2"]


def test_without_the_onnx_package_the_error_names_the_extra():
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import chainrule as cr\n"
            "try:\n"
            "    cr.onnx.export(cr.nn.Linear(2, 2), cr.randn(1, 2), 'x.onnx')\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert 'pip install "chainrule[onnx]"' in out.stdout, out.stderr
