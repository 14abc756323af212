"""keras.ops.image: the image ops the Keras 3 guides use, on chainrule tensors, differentiable:
resize ('bilinear' / 'nearest', as Keras on its torch backend), extract_patches (Keras' own
identity-kernel convolution), crop_images, pad_images, rgb_to_grayscale. Images are
(height, width, channels) or (batch, height, width, channels); data_format='channels_first'
puts the channels before the spatial axes, as in Keras."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras.ops._convert import convert_to_tensor, to_float
from chainrule.keras.ops.nn import conv
from chainrule.keras.ops.numpy_array import pad
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

__all__ = ["crop_images", "extract_patches", "pad_images", "resize", "rgb_to_grayscale"]


def _fmt(data_format: str | None) -> str:
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of {{'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return fmt


def _images(images: Any, op: str) -> Tensor:
    t = convert_to_tensor(images)
    if t.ndim not in (3, 4):
        raise ValueError(f"ops.image.{op}: invalid images rank: expected rank 3 (single image) "
                         f"or rank 4 (batch of images). Received: images.shape="
                         f"{tuple(t.shape)}")
    return t


def _last(t: Tensor, fmt: str) -> Tensor:
    """channels_first images as channels_last (and back: _first)."""
    return t.movedim(-3, -1) if fmt == "channels_first" else t


def _first(t: Tensor, fmt: str) -> Tensor:
    return t.movedim(-1, -3) if fmt == "channels_first" else t


def resize(images: Any, size: Any, interpolation: str = "bilinear", antialias: bool = False,
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
           fill_mode: str = "constant", fill_value: float = 0.0,
           data_format: str | None = None) -> Tensor:
    """Images resized to size = (height, width), torch's interpolation (half-pixel centres,
    no antialiasing) as Keras-torch; crop_to_aspect_ratio first crops the largest centred
    window of the target's aspect ratio."""
    from chainrule.keras.layers.preprocessing import _resize_matrix

    fmt = _fmt(data_format)
    if interpolation not in ("bilinear", "nearest"):
        raise NotImplementedError(f"ops.image.resize: interpolation={interpolation!r} is not "
                                  "supported in chainrule; use 'bilinear' or 'nearest'")
    if antialias or pad_to_aspect_ratio:
        raise NotImplementedError("ops.image.resize: antialias and pad_to_aspect_ratio are "
                                  "not supported in chainrule")
    if len(tuple(size)) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    h, w = (int(s) for s in size)
    x = _last(to_float(_images(images, "resize")), fmt)
    H, W = x.shape[-3], x.shape[-2]
    if crop_to_aspect_ratio:  # Keras' centred crop, in its integer arithmetic
        ch = max(min(H, int(float(W * h) / w)), 1)
        cw = max(min(W, int(float(H * w) / h)), 1)
        h0, w0 = int(float(H - ch) / 2), int(float(W - cw) / 2)
        x = x[..., h0:h0 + ch, w0:w0 + cw, :]
        H, W = ch, cw
    dt = x.array.dtype
    Mh = as_tensor(_resize_matrix(H, h, interpolation).astype(dt))
    Mw = as_tensor(_resize_matrix(W, w, interpolation).T.astype(dt))
    y = Mh.matmul(x.movedim(-1, -3)).matmul(Mw)       # (..., C, h, w)
    return _first(y.movedim(-3, -1), fmt)


def extract_patches(images: Any, size: Any, strides: Any = None, dilation_rate: Any = 1,
                    padding: str = "valid", data_format: str | None = None) -> Tensor:
    """Patches of size (ph, pw) as feature vectors (ph * pw * channels, in (row, column,
    channel) order): (batch, out_h, out_w, ph * pw * channels), strides default = size."""
    if isinstance(size, int):
        ph = pw = size
    elif len(size) == 2:
        ph, pw = int(size[0]), int(size[1])
    else:
        raise TypeError(f"Invalid `size` argument. Expected an int or a tuple of length 2. "
                        f"Received: size={size}")
    fmt = _fmt(data_format)
    x = _images(images, "extract_patches")
    C = x.shape[-1] if fmt == "channels_last" else x.shape[-3]
    n = ph * pw * C
    kernel = np.eye(n, dtype=to_float(x).array.dtype).reshape(ph, pw, C, n)
    one = x.ndim == 3
    out = conv(x.unsqueeze(0) if one else x, kernel, strides=strides or (ph, pw),
               padding=padding, data_format=fmt, dilation_rate=dilation_rate)
    return out.squeeze(0) if one else out


def _three(a: Any, b: Any, target: Any, names: tuple[str, str, str]) -> None:
    if [a, b, target].count(None) != 1:
        raise ValueError(f"Must specify exactly two of {', '.join(names)}. Received: "
                         f"{names[0]}={a}, {names[1]}={b}, {names[2]}={target}")
    for v, n in zip((a, b, target), names):
        if v is not None and v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")


def pad_images(images: Any, top_padding: Any = None, left_padding: Any = None,
               bottom_padding: Any = None, right_padding: Any = None,
               target_height: Any = None, target_width: Any = None,
               data_format: str | None = None) -> Tensor:
    """Zero-pad images; of (top, bottom, target_height) and of (left, right, target_width)
    give exactly two each."""
    fmt = _fmt(data_format)
    _three(top_padding, bottom_padding, target_height,
           ("top_padding", "bottom_padding", "target_height"))
    _three(left_padding, right_padding, target_width,
           ("left_padding", "right_padding", "target_width"))
    x = _last(_images(images, "pad_images"), fmt)
    H, W = x.shape[-3], x.shape[-2]
    top = target_height - bottom_padding - H if top_padding is None else top_padding
    bottom = target_height - top - H if bottom_padding is None else bottom_padding
    left = target_width - right_padding - W if left_padding is None else left_padding
    right = target_width - left - W if right_padding is None else right_padding
    for v, n in ((top, "top_padding"), (left, "left_padding"), (right, "right_padding"),
                 (bottom, "bottom_padding")):
        if v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")
    widths = [(0, 0)] * (x.ndim - 3) + [(top, bottom), (left, right), (0, 0)]
    return _first(pad(x, widths), fmt)


def crop_images(images: Any, top_cropping: Any = None, left_cropping: Any = None,
                bottom_cropping: Any = None, right_cropping: Any = None,
                target_height: Any = None, target_width: Any = None,
                data_format: str | None = None) -> Tensor:
    """Crop images; of (top, bottom, target_height) and of (left, right, target_width) give
    exactly two each."""
    fmt = _fmt(data_format)
    _three(top_cropping, bottom_cropping, target_height,
           ("top_cropping", "bottom_cropping", "target_height"))
    _three(left_cropping, right_cropping, target_width,
           ("left_cropping", "right_cropping", "target_width"))
    x = _last(_images(images, "crop_images"), fmt)
    H, W = x.shape[-3], x.shape[-2]
    top = H - target_height - bottom_cropping if top_cropping is None else top_cropping
    h = H - bottom_cropping - top if target_height is None else target_height
    left = W - target_width - right_cropping if left_cropping is None else left_cropping
    w = W - right_cropping - left if target_width is None else target_width
    for v, n in ((top, "top_cropping"), (h, "target_height"), (left, "left_cropping"),
                 (w, "target_width")):
        if v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")
    return _first(x[..., top:top + h, left:left + w, :], fmt)


def rgb_to_grayscale(images: Any, data_format: str | None = None) -> Tensor:
    """0.2989 R + 0.5870 G + 0.1140 B, keeping a channel axis of size 1."""
    fmt = _fmt(data_format)
    x = _last(to_float(_images(images, "rgb_to_grayscale")), fmt)
    if x.shape[-1] != 3:
        raise ValueError(f"ops.image.rgb_to_grayscale: expected 3 channels, got images of "
                         f"shape {tuple(x.shape)}")
    wts = as_tensor(np.asarray([0.2989, 0.5870, 0.1140], dtype=x.array.dtype))
    return _first((x * wts).sum(-1, keepdim=True), fmt)
