"""Residual(block, shortcut=None): y = block(x) + shortcut(x), the skip connection of ResNets."""

from __future__ import annotations

from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Residual(Module):
    """y = block(x) + shortcut(x); the shortcut is the identity unless a module is given (a
    projection such as Linear(in, out) or a 1x1 Conv2d where the block changes the shape).
    The two branches must produce the same shape: no silent broadcasting."""

    def __init__(self, block: Module, shortcut: Module | None = None) -> None:
        super().__init__()
        if not isinstance(block, Module):
            raise TypeError(f"Residual: block must be a Module, got {type(block).__name__}")
        if shortcut is not None and not isinstance(shortcut, Module):
            raise TypeError(f"Residual: shortcut must be a Module or None, got "
                            f"{type(shortcut).__name__}")
        self.block = block
        self.add_module("shortcut", shortcut)  # None stays listed, as in PyTorch

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        s = x if self.shortcut is None else self.shortcut(x)
        if tuple(y.shape) != tuple(s.shape):
            fix = ("give Residual a shortcut projection that maps the input to the block's "
                   "output shape, e.g. Residual(block, shortcut=Linear(in_features, "
                   "out_features))" if self.shortcut is None else
                   "make the shortcut produce the block's output shape")
            which = "the input (identity shortcut)" if self.shortcut is None else "the shortcut"
            raise ShapeError(
                f"Residual: the block maps {tuple(x.shape)} to {tuple(y.shape)}, but {which} "
                f"gives {tuple(s.shape)}; {fix}"
            )
        return y + s
