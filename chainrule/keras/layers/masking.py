"""Masking: the Masking layer, and the mask-aware GlobalAveragePooling1D (a masked mean).

A Keras mask is a boolean (batch, steps) tensor, True at the real steps; it rides along with
the tensor it describes (see _layer.get_keras_mask) from the layer that makes it (Masking,
Embedding(mask_zero=True)) through the layers that support masking (Dense, Dropout, ...) to
those that use it (LSTM / GRU / SimpleRNN, GlobalAveragePooling1D, attention).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.keras._layer import Layer
from chainrule.keras.layers import convolutional as _conv
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor


def mask_array(mask: Any) -> np.ndarray | None:
    """A Keras mask (Tensor, array or None) as a NumPy bool array."""
    if mask is None:
        return None
    a = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    return a if a.dtype == np.bool_ else a > 0.5


class Masking(Layer):
    """Masks the steps whose features all equal mask_value: (batch, steps, features) ->
    the same with those steps zeroed, and the mask any(x != mask_value, axis=-1) attached."""

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return as_tensor((inputs.array != self.mask_value).any(axis=-1))

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        keep = (inputs.array != self.mask_value).any(axis=-1, keepdims=True)
        return inputs * as_tensor(keep.astype(inputs.array.dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


class GlobalAveragePooling1D(_conv.GlobalAveragePooling1D):
    """The mean over steps: (batch, steps, features) -> (batch, features); with a mask, the
    mean over the unmasked steps only (Keras' masked mean). The output carries no mask."""

    supports_masking = True

    def call(self, inputs: Tensor, training: bool | None = None, mask: Any = None) -> Tensor:
        keep = mask_array(mask)
        if keep is None:
            return super().call(inputs, training)
        x = inputs if inputs.is_floating_point() else inputs.float()
        last = self.data_format == "channels_last"
        axis = 1 if last else 2  # the steps
        m = np.expand_dims(keep, 2 if last else 1).astype(x.array.dtype)
        w = as_tensor(m)
        return (x * w).sum(dim=axis, keepdim=self.keepdims) / as_tensor(
            m.sum(axis=axis, keepdims=self.keepdims))

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None
