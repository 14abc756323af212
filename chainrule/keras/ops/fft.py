"""keras.ops.fft, fft2, ifft2, rfft, irfft, stft: discrete Fourier transforms with Keras' calling
convention (chainrule has no complex tensors, and Keras passes complex values as a (real,
imaginary) pair of float tensors). Each transform is two real matrix products with the DFT's
cosine and sine matrices, so it is differentiable to any order; it costs O(n^2) per axis
(fine for the sizes of signals that a NumPy library trains on, not for long audio)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras.ops._convert import convert_to_tensor, to_float
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

__all__ = ["fft", "fft2", "ifft2", "irfft", "rfft", "stft"]


def _pair(x: Any, op: str) -> tuple[Tensor, Tensor]:
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. "
                         f"Received: x={x!r} (ops.{op})")
    re, im = (to_float(convert_to_tensor(a)) for a in x)
    if tuple(re.shape) != tuple(im.shape):
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. "
                         f"Both the real and imaginary parts should have the same shape. "
                         f"Received: x[0].shape = {tuple(re.shape)}, x[1].shape = "
                         f"{tuple(im.shape)} (ops.{op})")
    if re.ndim < 1:
        raise ValueError(f"ops.{op}: the input needs at least one axis")
    return re, im


def _cs(n_in: int, n_out: int, dt: Any, inverse: bool = False) -> tuple[Tensor, Tensor]:
    """cos and sin of 2 pi j k / n (n = n_in for the forward DFT, n_out for the inverse) as
    (n_in, n_out) matrices: x @ C - ... along the last axis."""
    n = n_out if inverse else n_in
    ang = 2 * np.pi * np.outer(np.arange(n_in), np.arange(n_out)) / n
    return as_tensor(np.cos(ang).astype(dt)), as_tensor(np.sin(ang).astype(dt))


def _dft(re: Tensor, im: Tensor, inverse: bool = False) -> tuple[Tensor, Tensor]:
    """The (inverse) DFT along the last axis: X = x e^{-/+ 2 pi i jk / n} (/ n if inverse)."""
    n = re.shape[-1]
    C, S = _cs(n, n, re.array.dtype)
    if inverse:  # e^{+i}: re C - im S, re S + im C, then 1/n
        return (re @ C - im @ S) * (1.0 / n), (re @ S + im @ C) * (1.0 / n)
    return re @ C + im @ S, im @ C - re @ S


def fft(x: Any) -> tuple[Tensor, Tensor]:
    """The DFT along the last axis of x = (real, imag) -> (real, imag)."""
    return _dft(*_pair(x, "fft"))


def _two(x: Any, op: str, inverse: bool) -> tuple[Tensor, Tensor]:
    re, im = _pair(x, op)
    if re.ndim < 2:
        raise ValueError(f"ops.{op}: the input needs at least two axes, got shape "
                         f"{tuple(re.shape)}")
    re, im = _dft(re, im, inverse)
    re, im = _dft(re.transpose(-2, -1), im.transpose(-2, -1), inverse)
    return re.transpose(-2, -1), im.transpose(-2, -1)


def fft2(x: Any) -> tuple[Tensor, Tensor]:
    """The 2-D DFT over the last two axes of x = (real, imag)."""
    return _two(x, "fft2", False)


def ifft2(x: Any) -> tuple[Tensor, Tensor]:
    """The inverse 2-D DFT over the last two axes of x = (real, imag)."""
    return _two(x, "ifft2", True)


def _fit(t: Tensor, n: int) -> Tensor:
    """t's last axis cut or zero-padded to n."""
    m = t.shape[-1]
    if m >= n:
        return t[..., :n]
    from chainrule.ops import cat

    zeros = as_tensor(np.zeros(tuple(t.shape[:-1]) + (n - m,), dtype=t.array.dtype))
    return cat([t, zeros], -1)


def rfft(x: Any, fft_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The DFT of real x along the last axis (cut or zero-padded to fft_length): its first
    fft_length // 2 + 1 frequencies as (real, imag)."""
    t = to_float(convert_to_tensor(x))
    n = t.shape[-1] if fft_length is None else int(fft_length)
    t = _fit(t, n)
    C, S = _cs(n, n // 2 + 1, t.array.dtype)
    return t @ C, -(t @ S)


def irfft(x: Any, fft_length: int | None = None) -> Tensor:
    """The real signal of length fft_length (default 2 * (bins - 1)) whose rfft is x = (real,
    imag) (the bins past fft_length // 2 + 1 are ignored, missing ones are zero)."""
    re, im = _pair(x, "irfft")
    n = 2 * (re.shape[-1] - 1) if fft_length is None else int(fft_length)
    m = n // 2 + 1
    re, im = _fit(re, m), _fit(im, m)
    k = np.arange(m)
    w = np.where((k == 0) | ((n % 2 == 0) & (k == n // 2)), 1.0, 2.0)[:, None] / n
    C, S = _cs(m, n, re.array.dtype, inverse=True)
    dt = re.array.dtype
    Wc = as_tensor((C.array * w).astype(dt))
    Ws = as_tensor((S.array * w).astype(dt))
    return re @ Wc - im @ Ws


def _window(window: Any, length: int, dt: Any) -> np.ndarray:
    """Keras-torch's windows: periodic Hann / Hamming, an array, or None (ones)."""
    n = np.arange(length)
    if window is None:
        return np.ones(length, dtype=dt)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f'If a string is passed to `window`, it must be one of `"hann"`, '
                             f'`"hamming"`. Received: window={window}')
        a = 0.5 if window == "hann" else 0.54
        return (a - (1 - a) * np.cos(2 * np.pi * n / length)).astype(dt)
    w = np.asarray(window.numpy(force=True) if isinstance(window, Tensor) else window, dtype=dt)
    if w.shape != (length,):
        raise ValueError(f"The shape of `window` must be equal to [sequence_length]."
                         f"Received: window shape={w.shape}")
    return w


def stft(x: Any, sequence_length: int, sequence_stride: int, fft_length: int,
         window: Any = "hann", center: bool = True) -> tuple[Tensor, Tensor]:
    """The short-time Fourier transform of real signals x (..., samples), as Keras on torch:
    frames of fft_length every sequence_stride samples (the signal reflect-padded by
    fft_length // 2 on each side when center), each times the window (sequence_length long,
    centred in the frame), then rfft -> (real, imag), each (..., frames, fft_length // 2 + 1).
    """
    t = convert_to_tensor(x)
    if t.array.dtype not in (np.float32, np.float64):
        raise TypeError(f"Invalid input type. Expected `float32` or `float64`. Received: "
                        f"input type={t.array.dtype}")
    if fft_length < sequence_length:
        raise ValueError(f"`fft_length` must equal or larger than `sequence_length`. "
                         f"Received: sequence_length={sequence_length}, "
                         f"fft_length={fft_length}")
    dt = t.array.dtype
    win = np.zeros(fft_length, dtype=dt)
    left = (fft_length - sequence_length) // 2
    win[left:left + sequence_length] = _window(window, sequence_length, dt)
    if center:
        from chainrule.keras.ops.numpy_array import pad

        h = fft_length // 2
        t = pad(t, [(0, 0)] * (t.ndim - 1) + [(h, h)], mode="reflect")
    n = t.shape[-1]
    if n < fft_length:
        raise ValueError(f"ops.stft: the signal ({n} samples after padding) is shorter than "
                         f"fft_length={fft_length}")
    frames = 1 + (n - fft_length) // sequence_stride
    idx = (np.arange(frames)[:, None] * sequence_stride + np.arange(fft_length)[None, :])
    f = t[..., as_tensor(idx.reshape(-1))].reshape(tuple(t.shape[:-1]) + idx.shape)
    return rfft(f * as_tensor(win))
