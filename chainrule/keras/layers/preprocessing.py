"""Image preprocessing and augmentation layers, channels-last (batch, height, width, channels)
or one unbatched image (height, width, channels), as Keras 3:

    Rescaling, Resizing                         always on
    RandomFlip, RandomRotation, RandomZoom,     on only while training (fit(), or
    RandomTranslation                           training=True); the identity in inference

Called directly, layer(images), a random layer augments (Keras' call default training=True);
inside a model it follows the model: active in fit(), the identity in predict() / evaluate().
The random layers split, as Keras does, into get_random_transformation(images) (the draws, from
chainrule's generators, or the layer's own when seed= is given) and transform_images(images,
transformation) (deterministic, the same numbers as Keras for the same transformation).
Geometric transforms map each output pixel back to an input point through Keras' 8-number
affine matrix [a0, a1, a2, b0, b1, b2, 0, 0]: x_in = a0 x + a1 y + a2, y_in = b0 x + b1 y + b2,
then read it with bilinear or nearest interpolation and Keras' fill modes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.keras._layer import Layer
from chainrule.keras.layers._affine import affine_transform
from chainrule.operands import as_tensor
from chainrule.random import generator_of
from chainrule.tensor import Tensor

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _float_images(inputs: Any, dtype: str) -> Tensor:
    x = inputs if isinstance(inputs, Tensor) else as_tensor(np.asarray(inputs))
    return x if x.dtype == np.dtype(dtype) else x.to(np.dtype(dtype))


def _check_images(layer: Layer, x: Tensor) -> None:
    if x.ndim not in (3, 4):
        raise layer._shape_error("images (batch, height, width, channels) or one image "
                                 "(height, width, channels)", tuple(x.shape))


class _ImageLayer(Layer):
    supports_masking = True

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{type(self).__name__}: only data_format="
                                      "'channels_last' is supported in chainrule.keras")
        self.data_format = "channels_last"

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


class Rescaling(_ImageLayer):
    """x * scale + offset (e.g. Rescaling(1. / 255) maps [0, 255] to [0, 1]); scale and offset
    may be per-channel lists. Output in the layer's dtype (float32)."""

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs: Any, training: bool | None = None) -> Tensor:
        x = _float_images(inputs, self.dtype)
        dt = x.array.dtype
        return x * as_tensor(np.asarray(self.scale, dt)) + as_tensor(np.asarray(self.offset, dt))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _resize_matrix(n_in: int, n_out: int, interpolation: str) -> np.ndarray:
    """(n_out, n_in) weights of torch's interpolate (align_corners=False, no antialias)
    along one axis: 'bilinear' (linear taps at half-pixel centres) or 'nearest' (-exact)."""
    scale = n_in / n_out
    M = np.zeros((n_out, n_in))
    i = np.arange(n_out)
    if interpolation == "nearest":
        M[i, np.minimum(np.floor((i + 0.5) * scale).astype(int), n_in - 1)] = 1
        return M
    src = np.maximum((i + 0.5) * scale - 0.5, 0)
    lo = np.floor(src).astype(int)
    hi = np.where(lo < n_in - 1, lo + 1, lo)
    w = src - lo
    np.add.at(M, (i, lo), 1 - w)
    np.add.at(M, (i, hi), w)
    return M


class Resizing(_ImageLayer):
    """Resize images to (height, width): 'bilinear' (default) or 'nearest' interpolation, as
    Keras on its torch backend (torch's interpolate, half-pixel centres, no antialiasing).
    crop_to_aspect_ratio=True first crops the largest centred window of the target's aspect
    ratio. Differentiable (two interpolation matrices)."""

    def __init__(self, height: int, width: int, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
                 fill_mode: str = "constant", fill_value: float = 0.0, antialias: bool = False,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, **kwargs)
        if interpolation not in _INTERPOLATIONS:
            raise NotImplementedError(f"Resizing: interpolation={interpolation!r} is not "
                                      f"supported; use one of {_INTERPOLATIONS}")
        if pad_to_aspect_ratio or antialias:
            raise NotImplementedError("Resizing: pad_to_aspect_ratio and antialias are not "
                                      "supported in chainrule.keras")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.fill_mode, self.fill_value = fill_mode, fill_value

    def compute_output_shape(self, s: Any) -> Any:
        return tuple(s[:-3]) + (self.height, self.width, s[-1])

    def call(self, inputs: Any, training: bool | None = None) -> Tensor:
        x = _float_images(inputs, self.dtype)
        _check_images(self, x)
        H, W = x.shape[-3], x.shape[-2]
        if self.crop_to_aspect_ratio:  # Keras' centred crop, in its integer arithmetic
            ch = max(min(H, int(float(W * self.height) / self.width)), 1)
            cw = max(min(W, int(float(H * self.width) / self.height)), 1)
            h0, w0 = int(float(H - ch) / 2), int(float(W - cw) / 2)
            x = x[..., h0:h0 + ch, w0:w0 + cw, :]
            H, W = ch, cw
        dt = x.array.dtype
        Mh = as_tensor(_resize_matrix(H, self.height, self.interpolation).astype(dt))
        Mw = as_tensor(_resize_matrix(W, self.width, self.interpolation).T.astype(dt))
        y = x.movedim(-1, -3)                     # (..., C, H, W)
        y = Mh.matmul(y).matmul(Mw)               # (..., C, height, width)
        return y.movedim(-3, -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value}


# -- random augmentation -------------------------------------------------------------------------
class _RandomLayer(_ImageLayer):
    _direct_training = True  # Keras: called directly (not in a model), a random layer augments
    def __init__(self, seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_format, **kwargs)
        self.seed = seed
        self._gen = None if seed is None else np.random.default_rng(seed)

    def _uniform(self, low: float, high: float, shape: tuple) -> np.ndarray:
        return generator_of(self._gen).uniform(low, high, size=shape).astype(np.float32)

    def call(self, inputs: Any, training: bool | None = None) -> Tensor:
        x = _float_images(inputs, self.dtype)
        _check_images(self, x)
        training = self.training if training is None else training
        if not training:
            return x
        return self.transform_images(x, self.get_random_transformation(x, training))

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: Any = None) -> Any:
        raise NotImplementedError

    def transform_images(self, images: Any, transformation: Any,
                         training: bool = True) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class RandomFlip(_RandomLayer):
    """Flips each image with probability 1/2: left-right ('horizontal'), upside-down
    ('vertical'), or both at once on the same draw ('horizontal_and_vertical', the default)."""

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(seed, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip layer {self.name} received an unknown mode="
                             f"{mode}; use 'horizontal', 'vertical' or "
                             "'horizontal_and_vertical'")
        self.mode = mode

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: Any = None) -> Any:
        if not training:
            return None
        shape = tuple(data.shape)
        n = (1, 1, 1) if len(shape) == 3 else (shape[0], 1, 1, 1)
        return {"flips": self._uniform(0, 1, n) <= 0.5, "input_shape": shape}

    def transform_images(self, images: Any, transformation: Any,
                         training: bool = True) -> Tensor:
        x = _float_images(images, self.dtype)
        if not training or transformation is None:
            return x
        flips = np.asarray(transformation["flips"].detach().cpu()
                           if hasattr(transformation["flips"], "detach")
                           else transformation["flips"], dtype=bool)
        keep = as_tensor((~flips).astype(x.array.dtype))
        turn = as_tensor(flips.astype(x.array.dtype))
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x = keep * x + turn * x.flip(-2)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x = keep * x + turn * x.flip(-3)
        return x

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


class _AffineLayer(_RandomLayer):
    key = ""

    def __init__(self, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(seed, **kwargs)
        if fill_mode not in _FILL_MODES:
            raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one "
                                      f"{_FILL_MODES}.")
        if interpolation not in _INTERPOLATIONS:
            raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of "
                                      f"one {_INTERPOLATIONS}.")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = float(fill_value)

    def _matrices(self, transformation: dict, H: int, W: int) -> np.ndarray:
        raise NotImplementedError

    def transform_images(self, images: Any, transformation: Any,
                         training: bool = True) -> Tensor:
        x = _float_images(images, self.dtype)
        if not training or transformation is None:
            return x
        one = x.ndim == 3
        if one:
            x = x.unsqueeze(0)
        t = {k: np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
             for k, v in transformation.items() if k != "input_shape"}
        y = affine_transform(x, self._matrices(t, x.shape[1], x.shape[2]),
                             self.interpolation, self.fill_mode, self.fill_value)
        return y[0] if one else y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


def _factor_range(layer: str, name: str, factor: Any) -> tuple[float, float]:
    """A number f gives (-|f|, |f|); a pair is sorted; all within (-1, 1]."""
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{layer}: {name} must be a number or a pair (lower, upper), "
                             f"got {factor!r}")
        lo, hi = sorted(float(f) for f in factor)
    elif isinstance(factor, (int, float)):
        lo, hi = -abs(float(factor)), abs(float(factor))
    else:
        raise ValueError(f"{layer}: {name} must be a number or a pair, got {factor!r}")
    if lo <= -1 or hi > 1:
        raise ValueError(f"{layer}: {name} must lie in (-1, 1], got {factor!r}")
    return lo, hi


def _batch(data: Any) -> int:
    return 1 if data.ndim == 3 else data.shape[0]


class RandomRotation(_AffineLayer):
    """Rotates each image by a random angle drawn from factor * 360 degrees (factor=0.1: up to
    36 degrees either way; a pair gives (lower, upper)) about its centre."""

    def __init__(self, factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = factor
        self._lo, self._hi = _factor_range("RandomRotation", "factor", factor)

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: Any = None) -> Any:
        if not training:
            return None
        angle = self._uniform(self._lo * 360.0, self._hi * 360.0, (_batch(data),))
        H, W = data.shape[-3], data.shape[-2]
        return {"angle": angle, "rotation_matrix": _rotation(angle, H, W),
                "image_height": H, "image_width": W, "batch_size": _batch(data)}

    def _matrices(self, t: dict, H: int, W: int) -> np.ndarray:
        return t["rotation_matrix"]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor}


def _rotation(angle_deg: np.ndarray, H: int, W: int) -> np.ndarray:
    """Keras' (N, 8) rotation matrices about the image centre (scale 1, no shear)."""
    a = np.asarray(angle_deg, np.float32) * np.float32(math.pi / 180.0)
    c, s = np.cos(a), np.sin(a)
    cx, cy = np.float32(0.5 * (W - 1)), np.float32(0.5 * (H - 1))
    z = np.zeros_like(a)
    return np.stack([c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c, z, z], axis=1)


class RandomZoom(_AffineLayer):
    """Zooms each image by a random factor: height_factor=0.2 draws a zoom in [-20%, +20%]
    (a positive draw zooms out, a negative one in); width_factor (default: the same draw as
    the height, keeping the aspect ratio) likewise."""

    def __init__(self, height_factor: Any, width_factor: Any = None,
                 fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_range("RandomZoom", "height_factor", height_factor)
        self._w = (None if width_factor is None
                   else _factor_range("RandomZoom", "width_factor", width_factor))

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: Any = None) -> Any:
        if not training:
            return None
        shape = (_batch(data), 1)
        hz = self._uniform(1 + self._h[0], 1 + self._h[1], shape)
        wz = hz if self._w is None else self._uniform(1 + self._w[0], 1 + self._w[1], shape)
        return {"height_zoom": hz, "width_zoom": wz, "input_shape": tuple(data.shape)}

    def _matrices(self, t: dict, H: int, W: int) -> np.ndarray:
        zx = np.asarray(t["width_zoom"], np.float32).reshape(-1)
        zy = np.asarray(t["height_zoom"], np.float32).reshape(-1)
        z = np.zeros_like(zx)
        return np.stack([zx, z, (W - 1.0) / 2.0 * (1.0 - zx), z, zy,
                         (H - 1.0) / 2.0 * (1.0 - zy), z, z], axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_AffineLayer):
    """Shifts each image by a random fraction of its height and width: height_factor=0.2
    shifts up or down by up to 20% of the height; a pair gives (lower, upper)."""

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_range("RandomTranslation", "height_factor", height_factor)
        self._w = _factor_range("RandomTranslation", "width_factor", width_factor)

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: Any = None) -> Any:
        if not training:
            return None
        n, H, W = _batch(data), data.shape[-3], data.shape[-2]
        dy = self._uniform(*self._h, (n, 1)) * H
        dx = self._uniform(*self._w, (n, 1)) * W
        return {"translations": np.concatenate([dx, dy], axis=1).astype(np.float32),
                "input_shape": tuple(data.shape)}

    def _matrices(self, t: dict, H: int, W: int) -> np.ndarray:
        tr = np.asarray(t["translations"], np.float32)
        one, z = np.ones(len(tr), np.float32), np.zeros(len(tr), np.float32)
        return np.stack([one, z, -tr[:, 0], z, one, -tr[:, 1], z, z], axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}
