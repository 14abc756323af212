"""Keras layers: `from chainrule.keras.layers import Dense, Conv2D, ...` (channels-last, Keras'
arguments and defaults), thin adapters over chainrule.nn."""

from chainrule.keras._layer import Layer
from chainrule.keras.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from chainrule.keras.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from chainrule.keras.layers.convolutional import (
    AveragePooling1D,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from chainrule.keras.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Reshape,
)
from chainrule.keras.layers.masking import GlobalAveragePooling1D, Masking  # noqa: F811 (masked)
from chainrule.keras.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from chainrule.keras.layers.normalization import BatchNormalization, LayerNormalization
from chainrule.keras.layers.preprocessing import (
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from chainrule.keras.layers.recurrent import GRU, LSTM, SimpleRNN
from chainrule.keras.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from chainrule.keras.layers.rnn_layer import RNN
from chainrule.keras.layers.upsampling import (
    Conv1DTranspose,
    Conv2DTranspose,
    UpSampling1D,
    UpSampling2D,
)
from chainrule.keras.layers.wrappers import Bidirectional, TimeDistributed


def serialize(layer: Layer) -> dict:
    """keras.layers.serialize: the layer's {module, class_name, config, registered_name}."""
    from chainrule.keras.saving import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """keras.layers.deserialize: a new layer from serialize()'s dict."""
    from chainrule.keras.saving import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects)


# Keras' aliases
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution1D, Convolution2D = Conv1D, Conv2D
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, \
    AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D

__all__ = [
    "deserialize", "serialize",
    "AdditiveAttention", "Attention", "Masking", "MultiHeadAttention",
    "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
    "Bidirectional", "GRUCell", "LSTMCell", "RNN", "SimpleRNNCell", "StackedRNNCells",
    "TimeDistributed", "ELU", "PReLU", "ReLU", "LeakyReLU", "Softmax", "Conv1DTranspose",
    "Conv2DTranspose",
    "Convolution1DTranspose", "Convolution2DTranspose", "UpSampling1D", "UpSampling2D",
    "Activation", "Add", "Average", "AveragePooling1D", "AveragePooling2D", "AvgPool1D",
    "AvgPool2D", "BatchNormalization", "Concatenate", "Conv1D", "Conv2D", "Convolution1D",
    "Convolution2D", "Dense", "Dropout", "Embedding", "Flatten", "GRU", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
    "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Input", "InputLayer", "LSTM",
    "Lambda", "Layer", "LayerNormalization", "MaxPool1D", "MaxPool2D", "MaxPooling1D",
    "MaxPooling2D", "Maximum", "Minimum", "Multiply", "Reshape", "SimpleRNN", "Subtract", "add",
    "average", "concatenate", "maximum", "minimum", "multiply", "subtract",
]
