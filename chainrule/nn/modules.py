"""chainrule.nn.modules: the classes of chainrule.nn at the paths PyTorch keeps them
(torch.nn.modules.loss._Loss, torch.nn.modules.batchnorm._BatchNorm, ...), for the programs
that subclass those bases, test isinstance against them, or list them for
torch.serialization.safe_globals. Each submodule holds the classes chainrule has of those
PyTorch keeps there (the same class objects as chainrule.nn's); nothing else is defined here.
"""

from __future__ import annotations

import sys
import types

from chainrule import nn as _nn

# torch 2.13's torch.nn.modules.<submodule>: its classes
TORCH_LAYOUT = {
    "activation": "CELU ELU GELU GLU Hardshrink Hardsigmoid Hardswish Hardtanh LeakyReLU "
        "LogSigmoid LogSoftmax Mish MultiheadAttention PReLU RReLU ReLU ReLU6 SELU SiLU Sigmoid "
        "Softmax Softmax2d Softmin Softplus Softshrink Softsign Tanh Tanhshrink Threshold",
    "adaptive": "AdaptiveLogSoftmaxWithLoss _ASMoutput",
    "batchnorm": "BatchNorm1d BatchNorm2d BatchNorm3d LazyBatchNorm1d LazyBatchNorm2d "
        "LazyBatchNorm3d SyncBatchNorm _BatchNorm _LazyNormBase _NormBase",
    "channelshuffle": "ChannelShuffle",
    "container": "Container ModuleDict ModuleList ParameterDict ParameterList Sequential",
    "conv": "Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d LazyConv1d "
        "LazyConv2d LazyConv3d LazyConvTranspose1d LazyConvTranspose2d LazyConvTranspose3d _ConvNd "
        "_ConvTransposeMixin _ConvTransposeNd _LazyConvXdMixin",
    "distance": "CosineSimilarity PairwiseDistance",
    "dropout": "AlphaDropout Dropout Dropout1d Dropout2d Dropout3d FeatureAlphaDropout _DropoutNd",
    "flatten": "Flatten Unflatten",
    "fold": "Fold Unfold",
    "instancenorm": "InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d "
        "LazyInstanceNorm2d LazyInstanceNorm3d _InstanceNorm",
    "lazy": "LazyModuleMixin _LazyProtocol",
    "linear": "Bilinear Identity LazyLinear Linear NonDynamicallyQuantizableLinear",
    "loss": "BCELoss BCEWithLogitsLoss CTCLoss CosineEmbeddingLoss CrossEntropyLoss "
        "GaussianNLLLoss HingeEmbeddingLoss HuberLoss KLDivLoss L1Loss LinearCrossEntropyLoss "
        "MSELoss MarginRankingLoss MultiLabelMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss "
        "NLLLoss NLLLoss2d PoissonNLLLoss SmoothL1Loss SoftMarginLoss TripletMarginLoss "
        "TripletMarginWithDistanceLoss _Loss _WeightedLoss",
    "module": "Module _IncompatibleKeys _WrappedHook",
    "normalization": "CrossMapLRN2d GroupNorm LayerNorm LocalResponseNorm RMSNorm",
    "padding": "CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d "
        "ConstantPad3d ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d "
        "ReplicationPad2d ReplicationPad3d ZeroPad1d ZeroPad2d ZeroPad3d _CircularPadNd "
        "_ConstantPadNd _ReflectionPadNd _ReplicationPadNd",
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "pooling": "AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d "
        "AdaptiveMaxPool2d AdaptiveMaxPool3d AvgPool1d AvgPool2d AvgPool3d FractionalMaxPool2d "
        "FractionalMaxPool3d LPPool1d LPPool2d LPPool3d MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d "
        "MaxUnpool2d MaxUnpool3d _AdaptiveAvgPoolNd _AdaptiveMaxPoolNd _AvgPoolNd _LPPoolNd "
        "_MaxPoolNd _MaxUnpoolNd",
    "rnn": "GRU GRUCell LSTM LSTMCell RNN RNNBase RNNCell RNNCellBase",
    "sparse": "Embedding EmbeddingBag",
    "transformer": "Transformer TransformerDecoder TransformerDecoderLayer TransformerEncoder "
        "TransformerEncoderLayer",
    "upsampling": "Upsample UpsamplingBilinear2d UpsamplingNearest2d",
}
# chainrule's names for PyTorch's bases that chainrule names differently
RENAMED = {"RNNBase": "_RNNBase"}


def _classes() -> dict[str, type]:
    """Every class defined in chainrule.nn and its submodules, by name."""
    found: dict[str, type] = {}
    for name, mod in list(sys.modules.items()):
        if (name == "chainrule.nn" or name.startswith("chainrule.nn.")) and mod is not None:
            for k, v in vars(mod).items():
                if isinstance(v, type) and v.__module__.startswith("chainrule.nn"):
                    found.setdefault(k, v)
    return found


def _build() -> None:
    classes = _classes()
    for sub, names in TORCH_LAYOUT.items():
        m = types.ModuleType(f"{__name__}.{sub}", f"torch.nn.modules.{sub}'s classes in chainrule")
        for name in names.split():
            cls = getattr(_nn, name, None) or classes.get(RENAMED.get(name, name))
            if cls is not None:
                setattr(m, name, cls)
        setattr(sys.modules[__name__], sub, m)
        sys.modules[m.__name__] = m
    this = sys.modules[__name__]
    for name, cls in vars(_nn).items():  # torch.nn.modules.Linear is torch.nn.Linear too
        if isinstance(cls, type) and issubclass(cls, _nn.Module):
            setattr(this, name, cls)


_build()
