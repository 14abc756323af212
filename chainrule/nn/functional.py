"""Stateless versions of the layers and the losses: F.relu, F.linear, F.conv2d, F.cross_entropy...

This module only gathers names; each family is defined next to its ops or layers.
"""

# -- activations and softmax (engine ops) -------------------------------------------------------
from chainrule.ops.activation import gelu, sigmoid, softplus, tanh  # noqa: F401
from chainrule.nn.layers.activation import elu, leaky_relu, relu  # noqa: F401
from chainrule.nn.layers.activation import log_softmax, softmax  # noqa: F401

# -- linear, dropout, embedding, normalization (owner: layers-core) -----------------------------
from chainrule.nn.layers.linear import dropout, embedding, flatten, linear, pad  # noqa: F401
from chainrule.nn.layers.norm import batch_norm, layer_norm  # noqa: F401

# -- convolution and pooling (owner: conv) ------------------------------------------------------
from chainrule.ops.conv import conv1d, conv2d, conv_transpose2d  # noqa: F401
from chainrule.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from chainrule.ops.conv import conv3d, conv_transpose3d  # noqa: F401
from chainrule.ops.pool import adaptive_avg_pool3d, avg_pool3d, max_pool3d  # noqa: F401

# -- losses (owner: losses) -------------------------------------------------------------------
from chainrule.nn.losses import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cosine_embedding_loss, cross_entropy,
    hinge_embedding_loss, huber_loss, kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss,
)
from chainrule.nn.losses_more import (  # noqa: F401
    gaussian_nll_loss, margin_ranking_loss, multi_margin_loss, multilabel_margin_loss,
    multilabel_soft_margin_loss, poisson_nll_loss, soft_margin_loss, triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from chainrule.nn.losses_ctc import ctc_loss  # noqa: F401

# -- attention -----------------------------------------------------------------------------------
from chainrule.nn.layers.sdpa import scaled_dot_product_attention  # noqa: F401
from chainrule.nn.layers.attention import multi_head_attention_forward  # noqa: F401

# -- channel dropout, 1-D and transposed conv, pooling, group/instance norm, resampling, folding --
from chainrule.nn.layers.conv import conv_transpose1d  # noqa: F401
from chainrule.nn.layers.dropout import dropout1d, dropout2d, dropout3d  # noqa: F401
from chainrule.nn.layers.fold import fold, unfold  # noqa: F401
from chainrule.nn.layers.groupnorm import group_norm, instance_norm  # noqa: F401
from chainrule.nn.layers.pooling import (  # noqa: F401
    adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool2d, avg_pool1d, max_pool1d,
)
from chainrule.nn.layers.upsample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: F401

# -- one-hot, distances, normalisation, log-sigmoid (engine ops) ---------------------------------
from chainrule.ops.distance import cosine_similarity, normalize, pairwise_distance  # noqa: F401
from chainrule.ops.indexing import one_hot  # noqa: F401
from chainrule.ops.special import logsigmoid  # noqa: F401

# -- more activations (owner: nn breadth, issue 10), RMSNorm, Bilinear -------------------------
from chainrule.ops.activation_more import (  # noqa: F401
    glu, hardshrink, prelu, softmin, softshrink, softsign, tanhshrink,
)
from chainrule.nn.layers.activation_more import (  # noqa: F401
    celu, celu_, elu_, hardsigmoid, hardswish, hardtanh, hardtanh_, leaky_relu_, mish, relu6,
    relu_, selu, selu_, silu, threshold, threshold_,
)
from chainrule.nn.layers.misc import bilinear, rms_norm  # noqa: F401

# -- pdist (defined with the top-level functional forms) ------------------------------------------
from chainrule.functional_top import pdist  # noqa: F401
