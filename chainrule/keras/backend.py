"""The few keras.backend functions that Keras code commonly calls."""

from __future__ import annotations

from chainrule.keras._graph import clear_session

__all__ = ["clear_session", "epsilon", "floatx", "image_data_format"]


def floatx() -> str:
    """The default float type of weights and inputs."""
    return "float32"


def epsilon() -> float:
    """The fuzz factor of the losses (probabilities are clipped to [epsilon, 1 - epsilon])."""
    return 1e-7


def image_data_format() -> str:
    """Images are channels-last, as Keras' default."""
    return "channels_last"
