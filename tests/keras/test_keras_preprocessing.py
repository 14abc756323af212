"""Image preprocessing / augmentation layers against real Keras 3 (torch backend): Rescaling and
Resizing values; RandomFlip / RandomRotation / RandomZoom / RandomTranslation on the same
(fixed) transformation, every fill mode and interpolation; identity in inference. The random
draws are chainrule's own: their ranges are checked, not their values. Config, save/load and
float64 gradchecks run without Keras."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _keras_oracle import keras_or_skip as _keras

import chainrule as cr
import chainrule.keras as ck
from chainrule.keras import layers as L

os.environ.setdefault("KERAS_BACKEND", "torch")




def _np(t):
    return np.asarray(t.detach().cpu()) if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 1, size=(3, 7, 9, 2)).astype(np.float32)


RESIZE = [dict(height=4, width=5), dict(height=11, width=13), dict(height=7, width=3),
          dict(height=4, width=5, interpolation="nearest"),
          dict(height=12, width=5, interpolation="nearest"),
          dict(height=4, width=6, crop_to_aspect_ratio=True),
          dict(height=8, width=3, crop_to_aspect_ratio=True, interpolation="nearest")]


@pytest.mark.parametrize("kw", RESIZE, ids=[str(sorted(k.items())) for k in RESIZE])
def test_resizing_matches_keras(kw, images):
    keras = _keras()
    _close(L.Resizing(**kw)(images), keras.layers.Resizing(**kw)(images))
    _close(L.Resizing(**kw)(images[0]), keras.layers.Resizing(**kw)(images[0]))  # unbatched


def test_rescaling_matches_keras(images):
    keras = _keras()
    x = (images * 255).astype(np.uint8)
    _close(L.Rescaling(1.0 / 255)(x), keras.layers.Rescaling(1.0 / 255)(x))
    args = ([1 / 255, 2 / 255],), {"offset": -1.0}
    _close(L.Rescaling(*args[0], **args[1])(images),
           keras.layers.Rescaling(*args[0], **args[1])(images))
    assert L.Rescaling(0.5)(x).dtype == cr.float32


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_random_flip_with_a_fixed_decision_matches_keras(mode, images):
    keras = _keras()
    import torch

    flips = np.array([True, False, True]).reshape(3, 1, 1, 1)
    ref = keras.layers.RandomFlip(mode).transform_images(
        torch.tensor(images), {"flips": torch.tensor(flips)}, training=True)
    got = L.RandomFlip(mode).transform_images(images, {"flips": flips})
    _close(got, ref)
    assert np.abs(_np(got) - images).max() > 0.1  # something was flipped


def _pair(kind, fill, interp):
    keras = _keras()
    kw = dict(fill_mode=fill, interpolation=interp, fill_value=0.7)
    args = {"RandomRotation": (0.3,), "RandomZoom": ((-0.3, 0.4),),
            "RandomTranslation": (0.3, (-0.2, 0.4))}[kind]
    return getattr(keras.layers, kind)(*args, **kw), getattr(L, kind)(*args, **kw)


@pytest.mark.parametrize("kind", ["RandomRotation", "RandomZoom", "RandomTranslation"])
@pytest.mark.parametrize("fill", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interp", ["bilinear", "nearest"])
def test_affine_augmentations_with_a_fixed_transformation_match_keras(kind, fill, interp,
                                                                       images):
    torch = pytest.importorskip("torch")
    theirs, ours = _pair(kind, fill, interp)
    t = ours.get_random_transformation(images)
    tt = {k: torch.tensor(np.asarray(v)) if isinstance(v, np.ndarray) else v
          for k, v in t.items()}
    ref = theirs.transform_images(torch.tensor(images), tt, training=True)
    got = ours.transform_images(images, t)
    _close(got, ref)
    assert np.abs(_np(got) - images).max() > 1e-3  # the transformation did something


def test_identity_in_inference_and_active_in_training(images):
    keras = _keras()
    for kind in ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation"):
        args = () if kind == "RandomFlip" else (0.2,) if kind != "RandomTranslation" \
            else (0.2, 0.2)
        ours, theirs = getattr(L, kind)(*args, seed=1), getattr(keras.layers, kind)(*args)
        _close(ours(images, training=False), images, 0)
        _close(theirs(images, training=False), images, 0)
        # called directly, both augment (Keras' default training=True for these layers);
        # 16 images, so that no flip at all (probability 2**-16) does not make this flaky
        many = np.concatenate([images] * 6)[:16]
        assert np.abs(_np(theirs(many)) - many).max() > 1e-3
        assert np.abs(_np(ours(many)) - many).max() > 1e-3
        assert np.abs(_np(ours(images, training=True)) - images).max() > 1e-3
        # inside a model: the identity in predict, as Keras
        model = ck.Sequential([ck.Input((7, 9, 2)), getattr(L, kind)(*args)])
        kmodel = keras.Sequential([keras.Input((7, 9, 2)), getattr(keras.layers, kind)(*args)])
        _close(model.predict(images, verbose=0), images, 0)
        _close(kmodel.predict(images, verbose=0), images, 0)


def test_draws_stay_in_keras_ranges():
    x = np.zeros((4000, 4, 6, 1), np.float32)
    flips = L.RandomFlip(seed=0).get_random_transformation(x)["flips"]
    assert 0.45 < flips.mean() < 0.55
    angle = L.RandomRotation((-0.1, 0.2), seed=0).get_random_transformation(x)["angle"]
    assert -36.0 <= angle.min() < -30 and 66 < angle.max() <= 72.0
    z = L.RandomZoom(0.25, seed=0).get_random_transformation(x)
    assert 0.75 <= z["height_zoom"].min() < 0.8 and 1.2 < z["height_zoom"].max() <= 1.25
    np.testing.assert_array_equal(z["width_zoom"], z["height_zoom"])  # one draw, aspect kept
    z = L.RandomZoom(0.25, width_factor=(0.0, 0.5), seed=0).get_random_transformation(x)
    assert 1.0 <= z["width_zoom"].min() and z["width_zoom"].max() <= 1.5
    tr = L.RandomTranslation(0.5, (0.0, 0.5), seed=0).get_random_transformation(x)
    dy, dx = tr["translations"][:, 1] / 4, tr["translations"][:, 0] / 6
    assert -0.5 <= dy.min() < -0.45 and 0.45 < dy.max() <= 0.5
    assert 0.0 <= dx.min() < 0.05 and 0.45 < dx.max() <= 0.5
    assert L.RandomRotation(None or 0.1, seed=0).get_random_transformation(x, False) is None


def test_seeded_layers_repeat_and_unbatched_images(images):
    a = L.RandomRotation(0.2, seed=3)(images, training=True)
    b = L.RandomRotation(0.2, seed=3)(images, training=True)
    _close(a, b, 0)
    one = L.RandomZoom(0.3, seed=2)(images[0], training=True)
    assert one.shape == images[0].shape
    assert L.RandomFlip("horizontal", seed=2)(images[0], training=True).shape == (7, 9, 2)


def test_data_augmentation_in_a_model_like_the_keras_examples(images, tmp_path):
    """keras.io image classification from scratch: augmentation layers in front of a model;
    fit() trains through them, predict() passes images through untouched."""
    data_augmentation = ck.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1),
                                       L.RandomZoom(0.1), L.RandomTranslation(0.1, 0.1)])
    inputs = ck.Input(shape=(7, 9, 2))
    x = data_augmentation(inputs)
    x = L.Rescaling(1.0 / 255)(x)
    x = L.Resizing(8, 8)(x)
    x = L.Conv2D(3, 3, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(2, activation="softmax")(x)
    model = ck.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    y = np.array([0, 1, 0])
    hist = model.fit(images * 255, y, epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    p = model.predict(images * 255, verbose=0)
    np.testing.assert_array_equal(model.predict(images * 255, verbose=0), p)  # no randomness
    model.save(tmp_path / "aug.keras")
    back = ck.models.load_model(tmp_path / "aug.keras")
    np.testing.assert_allclose(back.predict(images * 255, verbose=0), p, rtol=1e-6)


def test_configs_round_trip_and_errors():
    layers = [L.Rescaling(1 / 127.5, offset=-1), L.Resizing(5, 6, "nearest", True),
              L.RandomFlip("vertical", seed=3), L.RandomRotation((-0.2, 0.3), "constant",
                                                                 "nearest", 4, 0.5),
              L.RandomZoom(0.2, (0.1, 0.3), "wrap"), L.RandomTranslation(0.1, 0.2, "nearest")]
    for layer in layers:
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg
    with pytest.raises(ValueError, match="mode"):
        L.RandomFlip("diagonal")
    with pytest.raises(NotImplementedError, match="fill_mode"):
        L.RandomRotation(0.1, fill_mode="mirror_twice")
    with pytest.raises(ValueError, match="factor"):
        L.RandomZoom(1.5)
    with pytest.raises(ValueError, match="images"):
        L.Resizing(2, 2)(np.zeros((2, 3), np.float32))


def test_config_names_match_keras():
    keras = _keras()
    for ours, theirs in ((L.RandomRotation(0.1), keras.layers.RandomRotation(0.1)),
                         (L.Resizing(3, 4), keras.layers.Resizing(3, 4)),
                         (L.RandomFlip(), keras.layers.RandomFlip())):
        missing = {"height", "width", "interpolation", "crop_to_aspect_ratio", "factor",
                   "fill_mode", "mode", "seed"} & (set(theirs.get_config()) - set(
                       ours.get_config()))
        assert not missing


def test_gradcheck_float64(images):
    x = images[:2, :5, :6].astype(np.float64)
    for layer in (L.Resizing(3, 4, dtype="float64"), L.Resizing(7, 9, dtype="float64"),
                  L.Rescaling(0.5, 0.1, dtype="float64")):
        assert cr.gradcheck(lambda t, layer=layer: layer(t), x)
    for fill in ("reflect", "constant"):
        rot = L.RandomRotation(0.2, fill_mode=fill, seed=0, dtype="float64")
        t = rot.get_random_transformation(x)
        assert cr.gradcheck(lambda a, rot=rot, t=t: rot.transform_images(a, t), x)
