"""Sliding blocks: F.unfold (im2col) and F.fold (col2im), and the Unfold / Fold modules, with
PyTorch's layouts and argument order (kernel_size, dilation, padding, stride).

Both are the fused ops of chainrule.ops.conv (Im2Col and Col2Im, each the other's adjoint)
with the columns rearranged to PyTorch's (N, C * kh * kw, L) layout, L = OH * OW blocks.
"""

from __future__ import annotations

from typing import Any

from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.ops.conv import Col2Im, Im2Col, make_window, pair
from chainrule.tensor import Tensor


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Sliding blocks of x (N, C, H, W) or (C, H, W) as columns (N, C * kh * kw, L): column l
    holds block l (row-major over the OH x OW block positions), ordered by channel, then
    kernel row, then kernel column."""
    x = as_operand(input)
    if x.ndim not in (3, 4):
        raise ShapeError(f"unfold: Input Error: Only 3D or 4D input Tensors are supported (got "
                         f"{x.ndim}D, shape {tuple(x.shape)})")
    x4 = x if x.ndim == 4 else x.unsqueeze(0)
    k = pair(kernel_size, "kernel_size", "unfold")
    win = make_window(k, stride, padding, dilation, "unfold")
    n, c, h, w = x4.shape
    oh, ow = win.out_size(h, w)
    if oh < 1 or ow < 1:
        pads = (win.padding[0][0], win.padding[1][0])
        raise ShapeError(f"unfold: input of spatial size {(h, w)} with padding {pads} is "
                         f"smaller than the dilated kernel {(win.span(0), win.span(1))}: it has "
                         "no sliding block")
    cols = Im2Col(win)(x4)  # (C, kh, kw, N, OH, OW)
    y = cols.reshape(c * k[0] * k[1], n, oh * ow).permute(1, 0, 2)
    return y if x.ndim == 4 else y.squeeze(0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """Sum columns (N, C * kh * kw, L) or (C * kh * kw, L) back into images (N, C, H, W) of
    output_size (H, W), overlapping blocks added up: the adjoint of unfold."""
    x = as_operand(input)
    if x.ndim not in (2, 3):
        raise ShapeError(f"fold: Input Error: Only unbatched (2D) or batched (3D) input Tensors "
                         f"are supported (got {x.ndim}D, shape {tuple(x.shape)})")
    x3 = x if x.ndim == 3 else x.unsqueeze(0)
    k = pair(kernel_size, "kernel_size", "fold")
    h, w = pair(output_size, "output_size", "fold")
    win = make_window(k, stride, padding, dilation, "fold")
    n, ck, L = x3.shape
    if ck % (k[0] * k[1]):
        raise ShapeError(f"fold: Expected size of input's dimension 1 to be divisible by the "
                         f"product of kernel_size, but got input.size(1)={ck} and "
                         f"kernel_size={k}")
    oh, ow = win.out_size(h, w)
    if oh < 1 or ow < 1 or oh * ow != L:
        raise ShapeError(
            f"fold: Given output_size={(h, w)}, kernel_size={k}, dilation={win.dilation}, "
            f"padding={(win.padding[0][0], win.padding[1][0])}, stride={win.stride}, expected "
            f"size of input's dimension 2 to match the calculated number of sliding blocks "
            f"{oh} * {ow} = {oh * ow}, but got input.size(2)={L}.")
    c = ck // (k[0] * k[1])
    cols = x3.permute(1, 0, 2).reshape(c, k[0], k[1], n, oh, ow)
    y = Col2Im(win, (n, c, h, w))(cols)
    return y if x.ndim == 3 else y.squeeze(0)


class Unfold(Module):
    """Sliding blocks as columns: (N, C, H, W) -> (N, C * kh * kw, L); see F.unfold."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Columns summed back into images: (N, C * kh * kw, L) -> (N, C, H, W); see F.fold."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
