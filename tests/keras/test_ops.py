"""chainrule.keras.ops against real Keras 3 (torch backend): values, dtypes, gradients and
signatures on the same inputs, and a user's program written with ops."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import ops

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if not hasattr(keras, "ops"):  # only this tests/keras folder, seen as a namespace package
    pytest.skip("keras is not installed", allow_module_level=True)
torch = pytest.importorskip("torch")
kops = keras.ops

R = np.random.default_rng(0)
A = R.standard_normal((3, 4))
B = R.standard_normal((4, 5))
P = R.uniform(0.05, 1.0, (3, 4))
V = R.standard_normal(6)
I32 = np.array([[3, -1, 2], [0, 5, 4]], dtype=np.int32)
IMG = R.standard_normal((2, 7, 6, 3))
QKV = R.standard_normal((3, 2, 5, 4, 3))  # query, key, value: (batch 2, length 5, heads 4, 3)
KV2 = R.standard_normal((2, 2, 6, 2, 3))  # key, value with 2 heads (grouped) and length 6
K = R.standard_normal((3, 3, 3, 4))
SEQ = R.standard_normal((2, 9, 3))
K1 = R.standard_normal((2, 3, 5))
A3 = R.standard_normal((2, 3, 4))

# (op name, positional args, keyword args); float arrays are differentiated too
CASES = [
    ("mean", (A,), {}), ("mean", (A,), {"axis": 1, "keepdims": True}), ("mean", (I32,), {}),
    ("sum", (A,), {"axis": (0, 1)}), ("sum", (I32,), {"axis": 0}), ("prod", (A,), {"axis": 1}),
    ("std", (A,), {}), ("std", (A,), {"axis": 0}), ("var", (A,), {"axis": -1, "keepdims": True}),
    ("max", (A,), {}), ("max", (A,), {"axis": 1, "keepdims": True}),
    ("max", (A,), {"axis": 0, "initial": 0.5}), ("min", (A,), {"axis": 0}),
    ("amax", (A,), {"axis": 1}), ("argmax", (A,), {}), ("argmax", (A,), {"axis": 1}),
    ("argmin", (A,), {"axis": 0, "keepdims": True}), ("logsumexp", (A,), {"axis": 1}),
    ("logsumexp", (A,), {}), ("cumsum", (A,), {"axis": 1}), ("cumsum", (I32,), {}),
    ("cumprod", (A,), {"axis": 0}), ("any", (A > 1,), {"axis": 1}), ("all", (A > -3,), {}),
    ("count_nonzero", (I32,), {"axis": 1}),
    ("concatenate", ([A, A * 2],), {}), ("concatenate", ([A, A],), {"axis": 1}),
    ("stack", ([A, A * 2],), {"axis": 1}), ("reshape", (A, (2, -1)), {}),
    ("expand_dims", (A, 1), {}), ("expand_dims", (A, (0, 3)), {}),
    ("squeeze", (A[:, :1],), {}), ("squeeze", (A[None],), {"axis": 0}),
    ("transpose", (A3,), {}), ("transpose", (A3, (1, 0, 2)), {}),
    ("swapaxes", (A3, 0, 2), {}), ("moveaxis", (A3, 0, -1), {}),
    ("repeat", (A, 2), {}), ("repeat", (A, 2), {"axis": 1}),
    ("repeat", (A, np.array([1, 0, 2])), {"axis": 0}),
    ("tile", (A, (2, 1)), {}), ("flip", (A,), {"axis": 1}), ("roll", (A, 1), {}),
    ("roll", (A, -1), {"axis": 0}), ("broadcast_to", (V[:3, None], (3, 4)), {}),
    ("ravel", (A,), {}), ("where", (A > 0, A, -A), {}), ("where", (A > 0, A, 0.0), {}),
    ("take", (A, np.array([2, 0, 5])), {}), ("take", (A, np.array([[2, 0], [1, -1]])), {"axis": 1}),
    ("take_along_axis", (A, np.argsort(A, axis=1)), {"axis": 1}),
    ("matmul", (A, B), {}), ("matmul", (A3, B), {}), ("dot", (A, B), {}), ("dot", (V, V), {}),
    ("dot", (A3, B), {}), ("einsum", ("ij,jk->ik", A, B), {}), ("tensordot", (A, B, 1), {}),
    ("outer", (V, V[:3]), {}), ("tril", (A,), {}), ("triu", (A, 1), {}),
    ("pad", (A, ((1, 0), (2, 1))), {}), ("pad", (A, ((1, 1), (0, 2))), {"constant_values": 2.0}),
    ("pad", (A, ((1, 1), (2, 2))), {"mode": "reflect"}),
    ("clip", (A, -0.5, 0.5), {}), ("clip", (I32, 0, 3), {}),
    ("norm", (A,), {}), ("norm", (A,), {"axis": 1}), ("norm", (A,), {"ord": 1, "axis": 0}),
    ("norm", (A,), {"ord": "fro"}), ("norm", (A,), {"ord": np.inf, "axis": (0, 1)}),
    ("norm", (V,), {"ord": 3}), ("sort", (A,), {}), ("sort", (A,), {"axis": 0}),
    ("argsort", (A,), {}), ("split", (A, 2), {"axis": 1}), ("split", (A, [1, 3]), {"axis": 1}),
    ("unstack", (A,), {}),
    ("abs", (A,), {}), ("exp", (A,), {}), ("log", (P,), {}), ("sqrt", (P,), {}),
    ("sqrt", (np.array([1, 4], dtype=np.int32),), {}), ("square", (A,), {}),
    ("power", (P, A), {}), ("power", (A, 2), {}), ("maximum", (A, 0.0), {}),
    ("minimum", (A, P), {}), ("sign", (A,), {}), ("floor", (A,), {}),
    ("ceil", (A,), {}), ("round", (A * 3,), {}), ("round", (A,), {"decimals": 2}),
    ("tanh", (A,), {}), ("sin", (A,), {}), ("cos", (A,), {}), ("log1p", (P,), {}),
    ("expm1", (A,), {}), ("rsqrt", (P,), {}), ("reciprocal", (P,), {}), ("negative", (A,), {}),
    ("add", (A, 1), {}), ("add", (I32, 2.5), {}), ("subtract", (2.0, A), {}),
    ("multiply", (A, A), {}), ("divide", (A, P), {}), ("divide", (I32, 2), {}),
    ("true_divide", (A, 3.0), {}), ("floor_divide", (I32, 2), {}), ("mod", (I32, 3), {}),
    ("arctan2", (A, P), {}), ("logaddexp", (A, P), {}),
    ("equal", (I32, 2), {}), ("not_equal", (A, A[:1]), {}), ("greater", (A, 0.0), {}),
    ("greater_equal", (A, 0.0), {}), ("less", (A, P), {}), ("less_equal", (I32, 2), {}),
    ("logical_and", (A > 0, A > 1), {}), ("logical_or", (A > 0, A > 1), {}),
    ("logical_xor", (A > 0, A > 1), {}), ("logical_not", (A > 0,), {}),
    ("isnan", (A,), {}), ("isfinite", (A,), {}),
    ("zeros", ((2, 3),), {}), ("ones", (3,), {"dtype": "int32"}), ("full", ((2, 2), 3.0), {}),
    ("full", ((2,), 7), {}), ("full", ((2,), 7), {"dtype": "int32"}), ("zeros_like", (I32,), {}),
    ("ones_like", (A,), {}),
    ("full_like", (A, 2), {}), ("eye", (3,), {}), ("eye", (3, 4), {"k": 1}),
    ("identity", (3,), {}), ("tri", (3,), {}), ("arange", (5,), {}),
    ("arange", (1, 7, 2), {}), ("arange", (0.0, 1.0, 0.25), {}), ("linspace", (0, 1, 5), {}),
    ("linspace", (0.0, 2.0), {"num": 4, "endpoint": False}),
    ("relu", (A,), {}), ("relu6", (A * 4,), {}), ("sigmoid", (A,), {}), ("softplus", (A,), {}),
    ("softsign", (A,), {}), ("silu", (A,), {}), ("swish", (A,), {}), ("gelu", (A,), {}),
    ("gelu", (A,), {"approximate": False}), ("elu", (A,), {}), ("elu", (A,), {"alpha": 0.5}),
    ("selu", (A,), {}), ("leaky_relu", (A,), {}), ("leaky_relu", (A,), {"negative_slope": 0.1}),
    ("hard_sigmoid", (A * 3,), {}), ("hard_silu", (A * 3,), {}), ("log_sigmoid", (A,), {}),
    ("softmax", (A,), {}), ("softmax", (A,), {"axis": 0}), ("softmax", (A,), {"axis": None}),
    ("log_softmax", (A,), {}), ("log_softmax", (A,), {"axis": 0}),
    ("one_hot", (np.array([1, 0, 3]), 4), {}), ("one_hot", (I32, 6), {"axis": 0}),
    ("multi_hot", (np.array([[0, 2], [1, 1]]), 4), {}),
    ("binary_crossentropy", ((A > 0) * 1.0, P), {}),
    ("binary_crossentropy", ((A > 0) * 1.0, A), {"from_logits": True}),
    ("categorical_crossentropy", (np.eye(4)[[0, 3, 1]], P), {}),
    ("categorical_crossentropy", (np.eye(4)[[0, 3, 1]], A), {"from_logits": True}),
    ("sparse_categorical_crossentropy", (np.array([0, 3, 1]), P), {}),
    ("sparse_categorical_crossentropy", (np.array([[0], [3], [1]]), A), {"from_logits": True}),
    ("moments", (A, (0,)), {}), ("moments", (A3, [0, 1]), {"keepdims": True}),
    ("batch_normalization", (A, A[0], P[0], 1), {"offset": V[:4], "scale": P[1]}),
    ("batch_normalization", (A, A[:, 0], P[:, 0], 0), {}),
    ("normalize", (A,), {}), ("normalize", (A,), {"axis": 0, "order": 1}),
    ("conv", (IMG, K), {}), ("conv", (IMG, K), {"padding": "same"}),
    ("conv", (IMG, K), {"strides": 2, "padding": "same"}),
    ("conv", (IMG, K), {"dilation_rate": 2}), ("conv", (SEQ, K1), {"padding": "same"}),
    ("depthwise_conv", (IMG, K[..., :2]), {"padding": "same"}),
    ("max_pool", (IMG, 2), {}), ("max_pool", (IMG, 3), {"strides": 2, "padding": "same"}),
    ("max_pool", (IMG, (2, 3)), {"strides": 1}), ("average_pool", (IMG, 2), {}),
    ("average_pool", (IMG, 3), {"strides": 2, "padding": "same"}),
    ("average_pool", (SEQ, 2), {"padding": "same"}),
    ("slice", (A, (1, 0), (2, 3)), {}), ("slice_update", (A, (1, 1), P[:2, :2]), {}),
    ("scatter", (np.array([[0, 1], [2, 3], [0, 1]]), V[:3], (3, 4)), {}),
    ("scatter", (np.array([[1], [0]]), A[:2], (3, 4)), {}),
    ("scatter_update", (A, np.array([[0, 1], [2, 3]]), V[:2]), {}),
    ("scatter_update", (A, np.array([[1]]), P[:1]), {}),
    ("segment_sum", (A, np.array([0, 0, 2])), {}),
    ("segment_sum", (A, np.array([1, 0, 1])), {"num_segments": 3}),
    ("segment_max", (A, np.array([0, 0, 2])), {}),
    ("top_k", (A, 2), {}), ("top_k", (V, 3), {"sorted": True}), ("where", (A > 0,), {}),
    ("hstack", ([A, P],), {}), ("vstack", ([A, P],), {}), ("diag", (V,), {}),
    ("diag", (A,), {"k": 1}), ("append", (A, P), {"axis": 0}), ("append", (A, P), {}),
    ("amin", (A,), {"axis": 0}), ("isinf", (A,), {}), ("absolute", (A,), {}),
    ("convert_to_tensor", (A,), {}), ("convert_to_tensor", (A,), {"dtype": "float32"}),
    ("size", (A,), {}), ("array", (A,), {}), ("average", (A,), {}),
    ("average", (A,), {"axis": 1, "weights": V[:4]}), ("median", (A,), {}),
    ("median", (A,), {"axis": 1}), ("isclose", (A, A + 1e-9), {}), ("isclose", (I32, 2), {}),
    ("nan_to_num", (np.array([np.nan, np.inf, -np.inf, 1.0]),), {}), ("diff", (A,), {}),
    ("diff", (A,), {"n": 2, "axis": 0}), ("meshgrid", (V[:2], V[:3]), {}),
    ("meshgrid", (V[:2], V[:3]), {"indexing": "ij"}), ("celu", (A,), {}),
    ("glu", (A,), {}), ("hard_tanh", (A * 2,), {}),
    ("convert_to_tensor", (2,), {}), ("convert_to_tensor", (2.5,), {}),
    ("expand_dims", (2, -1), {}), ("full", ((), 3.0), {}), ("linspace", (0.0, 1.0, 1), {}),
    ("dot_product_attention", tuple(QKV), {}),
    ("dot_product_attention", tuple(QKV), {"is_causal": True, "scale": 0.3}),
    ("dot_product_attention", (QKV[0], *KV2), {"mask": R.random((2, 1, 5, 6)) > 0.3}),
    ("dot_product_attention", (QKV[0], *KV2), {"bias": R.standard_normal((1, 4, 5, 6))}),
    ("dot_product_attention", (QKV[0], *KV2), {"mask": R.random((5, 6)) > 0.5,
                                               "is_causal": True}),
    ("cast", (A, "int32"), {}), ("cast", (I32, "float32"), {}), ("stop_gradient", (A,), {}),
]


def _as_torch(v, grad):
    if isinstance(v, np.ndarray):
        t = torch.tensor(v)
        if grad and v.dtype == np.float64:
            t.requires_grad_(True)
        return t
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [_as_torch(a, grad) for a in v]
    return v


def _as_cr(v, grad):
    if isinstance(v, np.ndarray):
        return cr.tensor(v, requires_grad=grad and v.dtype == np.float64)
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [_as_cr(a, grad) for a in v]
    return v


def _leaves(v):
    return [x for a in v for x in _leaves(a)] if isinstance(v, (list, tuple)) else [v]


def _compare(name, args, kwargs, grad):
    t_args = [_as_torch(a, grad) for a in args]
    c_args = [_as_cr(a, grad) for a in args]
    want = _leaves(getattr(kops, name)(*t_args, **kwargs))
    got = _leaves(getattr(ops, name)(*c_args, **kwargs))
    assert len(got) == len(want), name
    for g, w in zip(got, want):
        assert isinstance(g, cr.Tensor), (name, type(g))
        w_np = w.detach().numpy()
        assert ops.dtype(g) == str(w_np.dtype), (name, ops.dtype(g), w_np.dtype)
        np.testing.assert_allclose(g.detach().numpy(), w_np, rtol=1e-6, atol=1e-6,
                                   err_msg=name)
    return t_args, c_args, got, want


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_dtypes_and_gradients_match_keras(name, args, kwargs):
    t_args, c_args, got, want = _compare(name, args, kwargs, grad=True)
    pairs = [(g, w) for g, w in zip(got, want) if w.requires_grad]
    if not pairs:
        return
    t_in = [a for a in _leaves(t_args) if isinstance(a, torch.Tensor) and a.requires_grad]
    c_in = [a for a in _leaves(c_args) if isinstance(a, cr.Tensor) and a.requires_grad]
    weights = [R.standard_normal(tuple(w.shape)) for _, w in pairs]
    t_loss = sum((w * torch.tensor(m, dtype=w.dtype)).sum() for (_, w), m in zip(pairs, weights))
    c_loss = sum((g * cr.tensor(m).to(g.dtype)).sum() for (g, _), m in zip(pairs, weights))
    t_grads = torch.autograd.grad(t_loss, t_in, allow_unused=True)
    c_grads = cr.autograd.grad(c_loss, c_in, allow_unused=True)
    for tg, cg in zip(t_grads, c_grads):
        if tg is None:
            assert cg is None or not np.any(cg.numpy()), name
            continue
        np.testing.assert_allclose(cg.numpy(), tg.numpy(), rtol=1e-6, atol=1e-6,
                                   err_msg=f"gradient of {name}")


def _keras_names():
    return [n for n in ops.__all__ if callable(getattr(kops, n, None))]


def test_every_op_is_a_keras_op():
    missing = [n for n in ops.__all__ if not hasattr(kops, n)]
    assert missing == []


@pytest.mark.parametrize("name", _keras_names())
def test_signature_matches_keras(name):
    ours = inspect.signature(getattr(ops, name)).parameters
    theirs = inspect.signature(getattr(kops, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.values()], name


# -- a user's program, as the Keras guides write it ------------------------------------------
def _program(K, op):
    """A custom layer and a custom loss written with ops, trained with fit (Keras' guides'
    style); K is keras or chainrule.keras and op its ops."""

    class Attention(K.layers.Layer):
        def __init__(self, dim, **kwargs):
            super().__init__(**kwargs)
            self.dim = dim

        def build(self, input_shape):
            self.wq = self.add_weight(shape=(input_shape[-1], self.dim),
                                      initializer="glorot_uniform")
            self.wv = self.add_weight(shape=(input_shape[-1], self.dim),
                                      initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.dim,), initializer="zeros")

        def call(self, inputs):
            q = op.matmul(inputs, self.wq)
            v = op.matmul(inputs, self.wv) + self.b
            scores = op.einsum("bqd,bkd->bqk", q, q) / op.sqrt(op.cast(self.dim, "float32"))
            w = op.softmax(scores, axis=-1)
            h = op.gelu(op.matmul(w, v))
            return op.concatenate([op.mean(h, axis=1), op.max(h, axis=1)], axis=-1)

    def loss(y_true, y_pred):
        err = op.square(y_true - y_pred)
        return op.mean(err, axis=-1) + 0.01 * op.sum(op.abs(y_pred), axis=-1)

    model = K.Sequential([K.Input((5, 4)), Attention(6), K.layers.Dense(2)])
    model.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss=loss)
    return model


def test_custom_layer_and_loss_written_with_ops_train_like_keras():
    import chainrule.keras as ck

    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 5, 4)).astype(np.float32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    theirs, ours = _program(keras, kops), _program(ck, ops)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    h_t = theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    h_o = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_o.history["loss"], h_t.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _causal_attention_mask(op, batch_size, n_dest, n_src, dtype):
    # from the Keras example "Text generation with a miniature GPT"
    i = op.arange(n_dest)[:, None]
    j = op.arange(n_src)
    m = i >= j - n_src + n_dest
    mask = op.cast(m, dtype)
    mask = op.reshape(mask, [1, n_dest, n_src])
    mult = op.concatenate([op.expand_dims(batch_size, -1), op.convert_to_tensor([1, 1])], 0)
    return op.tile(mask, mult)


def test_gpt_example_causal_mask_like_keras():
    got = _causal_attention_mask(ops, 2, 4, 5, "bool")
    want = _causal_attention_mask(kops, 2, 4, 5, "bool")
    assert ops.dtype(got) == "bool" and np.array_equal(got.numpy(), want.numpy())


def _functional(K, op):
    inp = K.Input((5,))
    x = op.expand_dims(inp, -1)
    x = op.concatenate([x, op.square(x)], axis=-1)
    mean, var = op.moments(x, axes=[1])
    h = K.layers.Dense(3)(op.concatenate([mean, op.sqrt(var)], axis=-1))
    return K.Model(inp, op.softmax(h))


def test_ops_on_symbolic_inputs_build_a_functional_model_like_keras():
    import chainrule.keras as ck

    x = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    theirs, ours = _functional(keras, kops), _functional(ck, ops)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert ours.output_shape == (None, 3)
    inp, kin = ck.Input((5,)), keras.Input((5,))
    assert ops.shape(inp) == kops.shape(kin) == (None, 5)
    assert ops.dtype(inp) == kops.dtype(kin)
    assert ops.is_tensor(inp) == kops.is_tensor(kin)
    assert ops.argmax(inp, axis=-1).dtype == kops.argmax(kin, axis=-1).dtype == "int32"
    assert ops.shape(ops.argmax(inp, axis=-1)) == kops.shape(kops.argmax(kin, axis=-1))


def test_map_switch_and_ndim_like_keras():
    x = A
    np.testing.assert_allclose(ops.map(lambda r: ops.sum(r), x).numpy(),
                               kops.map(lambda r: kops.sum(r), torch.tensor(x)).numpy())
    branches = [lambda a: a + 1, lambda a: a * 10]
    for i in (-1, 0, 1, 5):
        assert ops.switch(i, branches, 2) == kops.switch(i, branches, 2)
    assert ops.ndim(A) == kops.ndim(A) == 2


def test_conversions_shapes_and_dtypes_like_keras():
    for v in ([1.0, 2.0], [1, 2], 3.0, 4, True, np.arange(3), np.ones(2), np.float32(1.5)):
        assert ops.dtype(ops.convert_to_tensor(v)) == kops.dtype(kops.convert_to_tensor(v)), v
    x = ops.ones((2, 3))
    assert ops.shape(x) == kops.shape(kops.ones((2, 3))) == (2, 3)
    assert isinstance(ops.shape(x), tuple)
    assert ops.is_tensor(x) and not ops.is_tensor(np.ones(2))
    a = ops.convert_to_numpy(ops.convert_to_tensor([1.0, 2.0]))
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    w = cr.ones(3, requires_grad=True)
    assert not ops.stop_gradient(w).requires_grad


def _loops(op, x):  # op: keras.ops or chainrule.keras.ops
    y = op.fori_loop(0, 3, lambda i, v: v * x + i, x)
    z = op.while_loop(lambda a, b: op.sum(a) < 50.0, lambda a, b: (a * 2.0, b + 1), (x, 0))
    carry, ys = op.scan(lambda c, v: (c + v, c * v), op.zeros_like(x[0]), x)
    m = op.vectorized_map(lambda row: op.sum(row * row), x)
    c = op.cond(op.sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0)
    return [y, z[0], carry, ys, m, c]


def test_control_flow_values_and_gradients_like_keras():
    x = np.abs(A) + 0.5
    xt = torch.tensor(x, requires_grad=True)
    xc = cr.tensor(x, requires_grad=True)
    want, got = _loops(kops, xt), _loops(ops, xc)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-6)
    sum(w.sum() for w in want).backward()
    sum(g.sum() for g in got).backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-6)
    assert ops.while_loop(lambda i: i < 10, lambda i: i + 1, 0, maximum_iterations=4).item() \
        == kops.while_loop(lambda i: i < 10, lambda i: i + 1, 0, maximum_iterations=4).item()


def test_documented_differences_from_numpy_are_keras_bugs_not_copied():
    # Keras 3.15's torch backend pads only the last axis for an int pad_width and wraps a
    # negative index of take(axis=None) by the first axis' size; NumPy and Keras' own docs
    # (and its JAX backend) do what chainrule does.
    assert tuple(ops.pad(np.ones((3, 4)), 1).shape) == np.pad(np.ones((3, 4)), 1).shape
    assert ops.take(A, -1).item() == np.take(A, -1)


def test_errors_name_the_op():
    with pytest.raises(ValueError, match="split"):
        ops.split(np.ones(5), 2)
    with pytest.raises(ValueError, match="squeeze"):
        ops.squeeze(np.ones((2, 3)), axis=0)
    with pytest.raises(ValueError, match="binary_crossentropy"):
        ops.binary_crossentropy(np.ones(3), np.ones(4) * 0.5)


def _f32(v):
    if isinstance(v, np.ndarray) and v.dtype == np.float64:
        return v.astype(np.float32)
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [_f32(a) for a in v]
    return v


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_float32_stays_float32_like_keras(name, args, kwargs):
    args = tuple(_f32(a) for a in args)
    t_args = [_as_torch(a, False) for a in args]
    want = _leaves(getattr(kops, name)(*t_args, **kwargs))
    got = _leaves(getattr(ops, name)(*[_as_cr(a, False) for a in args], **kwargs))
    for g, w in zip(got, want):
        w_np = w.detach().numpy()
        assert ops.dtype(g) == str(w_np.dtype), (name, ops.dtype(g), w_np.dtype)
        np.testing.assert_allclose(g.numpy(), w_np, rtol=2e-5, atol=2e-5, err_msg=name)


# float64 end to end (the ops that Keras narrows to float32, such as matmul, are left out)
GRADCHECKS = [
    ("softmax_all", lambda x: ops.softmax(x, axis=None), (A,)),
    ("log_softmax", lambda x: ops.log_softmax(x, axis=0), (A,)),
    ("normalize", lambda x: ops.normalize(x, axis=-1), (A,)),
    ("normalize_l1", lambda x: ops.normalize(x, axis=0, order=1), (A,)),
    ("moments", lambda x: ops.moments(x, axes=[0])[1], (A,)),
    ("std", lambda x: ops.std(x, axis=1), (A,)),
    ("bce", lambda p: ops.binary_crossentropy((A > 0) * 1.0, p), (P,)),
    ("cce", lambda p: ops.categorical_crossentropy(np.eye(4)[[0, 3, 1]], p), (P,)),
    ("scce_logits", lambda z: ops.sparse_categorical_crossentropy(
        np.array([0, 3, 1]), z, from_logits=True), (A,)),
    ("conv_same", lambda x, k: ops.conv(x, k, strides=2, padding="same"),
     (IMG[:1, :5, :5], K[:, :, :, :2])),
    ("max_pool_same", lambda x: ops.max_pool(x, 3, 2, "same"), (IMG[:1],)),
    ("average_pool_same", lambda x: ops.average_pool(x, 3, 2, "same"), (IMG[:1],)),
    ("take", lambda x: ops.take(x, np.array([[2, 0], [1, 1]]), axis=1), (A,)),
    ("take_along_axis", lambda x: ops.take_along_axis(x, np.argsort(A, 1), axis=1), (A,)),
    ("slice_update", lambda x, u: ops.slice_update(x, (1, 1), u), (A, P[:2, :2])),
    ("scatter", lambda v: ops.scatter(np.array([[0, 1], [2, 3], [0, 1]]), v, (3, 4)), (V[:3],)),
    ("scatter_update", lambda x, u: ops.scatter_update(x, np.array([[0, 1], [2, 3]]), u),
     (A, V[:2])),
    ("segment_sum", lambda x: ops.segment_sum(x, np.array([1, 0, 1]), 3), (A,)),
    ("pad_reflect", lambda x: ops.pad(x, ((1, 2), (2, 1)), mode="reflect"), (A,)),
    ("repeat", lambda x: ops.repeat(x, np.array([1, 0, 2]), axis=0), (A,)),
    ("gelu", lambda x: ops.gelu(x), (A,)), ("selu", lambda x: ops.selu(x), (A,)),
    ("hard_silu", lambda x: ops.hard_silu(x * 2), (A,)),
]


@pytest.mark.parametrize("name,fn,inputs", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck_and_gradgradcheck(name, fn, inputs):
    xs = [cr.tensor(np.ascontiguousarray(a), requires_grad=True) for a in inputs]
    assert cr.gradcheck(fn, *xs)
    assert cr.gradgradcheck(fn, *xs)
