"""keras.Variable as the Keras 3 guides use it: made from a value or an initializer,
assign / assign_add / assign_sub, .value, .numpy(), tracked as a weight when a layer holds
it; add_weight's weights have the same API (the "new layers" guide's ComputeSum). Compared
with real Keras 3 (torch backend) where it runs."""

from __future__ import annotations

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
import chainrule.keras as ck


def _guide_program(keras):
    """The "Making new layers and models via subclassing" guide, imports aside."""
    from_ops = keras.ops

    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,),
                                         trainable=False)

        def call(self, inputs):
            self.total.assign_add(from_ops.sum(inputs, axis=0))
            return self.total

    x = from_ops.ones((2, 2))
    my_sum = ComputeSum(2)
    seen = [np.array(my_sum(x).numpy()), np.array(my_sum(x).numpy())]
    counts = (len(my_sum.weights), len(my_sum.non_trainable_weights),
              len(my_sum.trainable_weights))
    return seen, counts


def test_compute_sum_guide_like_keras():
    keras = _keras()
    theirs, ours = _guide_program(keras), _guide_program(ck)
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b)
    assert ours[0][1].tolist() == [4.0, 4.0]
    assert ours[1] == theirs[1] == (1, 1, 0)


def _variable_program(keras):
    v = keras.Variable(np.array([1.0, 2.0, 3.0], dtype="float32"), name="v")
    v.assign([4.0, 5.0, 6.0])
    v.assign_add(keras.ops.ones((3,)))
    v.assign_sub(np.array([0.5, 0.5, 0.5], dtype="float32"))
    w = keras.Variable("ones", shape=(2, 2), trainable=False)
    s = keras.Variable(3.0)
    i = keras.Variable(7, trainable=False)  # Keras-torch refuses a trainable int
    return (v.numpy(), np.asarray(keras.ops.convert_to_numpy(v.value)), w.numpy(),
            w.trainable, v.trainable, s.dtype, i.dtype, v.shape, v.name)


def test_variable_api_like_keras():
    keras = _keras()
    theirs, ours = _variable_program(keras), _variable_program(ck)
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])
    np.testing.assert_allclose(ours[2], theirs[2])
    assert ours[3:5] == theirs[3:5] == (False, True)
    assert theirs[5:7] == ("float32", "int32")
    assert ours[5] == "float32" and ours[6] == "int32"  # a dtype that equals Keras' string
    assert tuple(ours[7]) == tuple(theirs[7]) and ours[8] == theirs[8] == "v"


def test_variable_held_by_a_layer_trains():
    """A layer that holds keras.Variable attributes (not add_weight) trains them with fit, and
    they are its weights, trainable or not as asked."""

    class Scale(ck.layers.Layer):
        def __init__(self):
            super().__init__()
            self.k = ck.Variable(np.ones((3,), dtype="float32"), name="k")
            self.calls = ck.Variable(0.0, trainable=False, name="calls")

        def call(self, x):
            self.calls.assign_add(1.0)
            return x * self.k

    layer = Scale()
    assert [w.name for w in layer.weights] == ["k", "calls"]
    assert len(layer.trainable_weights) == 1 and len(layer.non_trainable_weights) == 1
    model = ck.Sequential([ck.Input((3,)), layer])
    model.compile(optimizer=ck.optimizers.SGD(0.1), loss="mse")
    x = np.ones((4, 3), dtype="float32")
    model.fit(x, 2 * x, epochs=5, batch_size=4, verbose=0)
    k = layer.k.numpy()
    assert np.all(k > 1.0) and np.all(k < 2.0)  # moved towards 2
    assert float(layer.calls.numpy()) >= 5


def test_variable_gradient_and_errors():
    v = ck.Variable(np.array([1.0, 2.0]))
    assert v.dtype == np.float64  # a NumPy array keeps its dtype, as in Keras
    loss = (v.value * v.value).sum()
    loss.backward()
    np.testing.assert_allclose(v.value.grad.numpy(), [2.0, 4.0])
    before = v._version if hasattr(v, "_version") else None
    v.assign_add([1.0, 1.0])
    np.testing.assert_allclose(v.numpy(), [2.0, 3.0])
    if before is not None:
        assert v._version > before
    with pytest.raises(ValueError, match="shape"):
        ck.Variable("zeros")
    with pytest.raises(ValueError, match="cannot contain"):
        ck.Variable(1.0, name="a/b")
    assert isinstance(v, cr.nn.Parameter)
