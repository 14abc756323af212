"""Neural-network building blocks: Module, Parameter, layers, losses, init, functional."""

from chainrule.nn.module import Buffer, Module, Parameter
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn import functional, utils

# -- layers-core: Linear, activations, Dropout, Embedding, norms, Residual, init ---------------
from chainrule.nn import init  # noqa: F401
from chainrule.nn.layers import (  # noqa: F401
    ELU, GELU, BatchNorm1d, BatchNorm2d, Dropout, Embedding, Flatten, Identity, LayerNorm,
    LeakyReLU, Linear, LogSoftmax, ReLU, Residual, Sigmoid, Softmax, Softplus, Tanh,
)

# -- conv: Conv1d, Conv2d, ConvTranspose2d, pooling ---------------------------------------------
from chainrule.nn.layers.conv import Conv1d, Conv2d, ConvTranspose2d  # noqa: F401
from chainrule.nn.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: F401
from chainrule.nn.layers.conv import Conv3d, ConvTranspose3d  # noqa: F401
from chainrule.nn.layers.norm import BatchNorm3d  # noqa: F401
from chainrule.nn.layers.pooling import AdaptiveAvgPool3d, AvgPool3d, MaxPool3d  # noqa: F401

# -- recurrent: RNN, LSTM, GRU ----------------------------------------------------------------
from chainrule.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401

# -- attention and Transformer: MultiheadAttention, Transformer* -----------------------------
from chainrule.nn.layers.attention import MultiheadAttention  # noqa: F401
from chainrule.nn.layers.transformer import (  # noqa: F401
    TransformerDecoderLayer, TransformerEncoderLayer,
)
from chainrule.nn.layers.transformer_model import (  # noqa: F401
    Transformer, TransformerDecoder, TransformerEncoder,
)

# -- losses: loss modules -------------------------------------------------------------------
from chainrule.nn.loss_modules import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, HingeEmbeddingLoss,
    HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss,
)
from chainrule.nn.loss_modules_more import (  # noqa: F401
    CTCLoss, GaussianNLLLoss, MarginRankingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
    MultiMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)

# -- group/instance norm, channel dropout, 1-D pooling, resampling, folding, lazy, containers ---
from chainrule.nn.containers import ParameterDict, ParameterList  # noqa: F401
from chainrule.nn.layers.conv import ConvTranspose1d  # noqa: F401
from chainrule.nn.layers.dropout import Dropout1d, Dropout2d, Dropout3d  # noqa: F401
from chainrule.nn.layers.fold import Fold, Unfold  # noqa: F401
from chainrule.nn.layers.groupnorm import (  # noqa: F401
    GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
)
from chainrule.nn.layers.lazy import (  # noqa: F401
    LazyConv1d, LazyConv2d, LazyLinear, UninitializedParameter,
)
from chainrule.nn.layers.linear import Unflatten  # noqa: F401
from chainrule.nn.layers.pooling import (  # noqa: F401
    AdaptiveAvgPool1d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, MaxPool1d,
)
from chainrule.nn.layers.upsample import (  # noqa: F401
    PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d,
)

# -- more activations, padding, RMSNorm, Bilinear, distances (issue 10) -----------------------
from chainrule.nn.layers.activation_more import (  # noqa: F401
    CELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, PReLU,
    ReLU6, SiLU, Softmax2d, Softmin, Softshrink, Softsign, Tanhshrink, Threshold,
)
from chainrule.nn.layers.padding import (  # noqa: F401
    CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
    ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
    ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d,
)
from chainrule.nn.layers.misc import (  # noqa: F401
    Bilinear, CosineSimilarity, PairwiseDistance, RMSNorm,
)

# -- nn.parallel: DistributedDataParallel (issue 12; mpi4py is imported only when used) ----
from chainrule.nn import parallel  # noqa: F401
from chainrule.nn.parallel.sync_batchnorm import SyncBatchNorm  # noqa: F401

# -- torch.nn.modules.<submodule> paths (last: it gathers the classes imported above) ----------
from chainrule.nn import modules  # noqa: E402, F401
