"""Spec rows for the 3-D layers' ops (conv3d, conv_transpose3d, max / avg / adaptive average
pooling over volumes, batch-norm of (N, C, D, H, W)), registered into the one table of
tests/ops/specs.py (which imports this module at its end), so each is gradchecked,
gradgradchecked, held to float32 and compared with torch like every other op.

Shapes stay tiny ((1, 2, 3, 4, 4) and the like): the float64 checks differentiate numerically
through every element. Max pooling draws from the "distinct" domain, so no window has a tie.
"""

from __future__ import annotations

import chainrule.nn.functional as F

from .specs import spec, thF

X = (1, 2, 3, 4, 4)

spec("conv3d", "", lambda x, w, b: F.conv3d(x, w, b), lambda x, w, b: thF.conv3d(x, w, b),
     X, (2, 2, 2, 2, 2), (2,))
spec("conv3d", "stride_pad_dilation_groups",
     lambda x, w, b: F.conv3d(x, w, b, (1, 2, 2), 1, (1, 1, 2), 2),
     lambda x, w, b: thF.conv3d(x, w, b, (1, 2, 2), 1, (1, 1, 2), 2),
     X, (4, 1, 2, 2, 2), (4,))
spec("conv3d", "same_no_bias", lambda x, w: F.conv3d(x, w, padding="same"),
     lambda x, w: thF.conv3d(x, w, padding="same"), (1, 2, 3, 3, 4), (1, 2, 2, 3, 2))
spec("conv3d", "unbatched", lambda x, w: F.conv3d(x, w, stride=2),
     lambda x, w: thF.conv3d(x, w, stride=2), (2, 3, 4, 4), (2, 2, 1, 2, 2))

spec("conv_transpose3d", "", lambda x, w, b: F.conv_transpose3d(x, w, b, 2, 1, 1),
     lambda x, w, b: thF.conv_transpose3d(x, w, b, 2, 1, 1), (1, 2, 2, 3, 3), (2, 2, 2, 2, 2),
     (2,))
spec("conv_transpose3d", "groups_dilation",
     lambda x, w: F.conv_transpose3d(x, w, None, (1, 2, 1), 0, (0, 1, 0), 2, (2, 1, 1)),
     lambda x, w: thF.conv_transpose3d(x, w, None, (1, 2, 1), 0, (0, 1, 0), 2, (2, 1, 1)),
     (1, 4, 2, 2, 3), (4, 1, 2, 2, 2))

spec("max_pool3d", "", lambda x: F.max_pool3d(x, 2), lambda x: thF.max_pool3d(x, 2),
     (1, 2, 4, 4, 4), domain="distinct")
spec("max_pool3d", "pad_ceil", lambda x: F.max_pool3d(x, 3, 2, 1, ceil_mode=True),
     lambda x: thF.max_pool3d(x, 3, 2, 1, ceil_mode=True), (1, 1, 4, 5, 4), domain="distinct")
spec("max_pool3d", "dilation_unbatched", lambda x: F.max_pool3d(x, 2, 1, 0, (1, 2, 1)),
     lambda x: thF.max_pool3d(x, 2, 1, 0, (1, 2, 1)), (2, 3, 4, 3), domain="distinct")

spec("avg_pool3d", "", lambda x: F.avg_pool3d(x, 2), lambda x: thF.avg_pool3d(x, 2), X)
spec("avg_pool3d", "pad_ceil_exclude_pad",
     lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda x: thF.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     (1, 1, 4, 5, 4))
spec("avg_pool3d", "divisor_override", lambda x: F.avg_pool3d(x, (1, 2, 2), divisor_override=3),
     lambda x: thF.avg_pool3d(x, (1, 2, 2), divisor_override=3), X)

spec("adaptive_avg_pool3d", "", lambda x: F.adaptive_avg_pool3d(x, (2, 3, None)),
     lambda x: thF.adaptive_avg_pool3d(x, (2, 3, None)), (1, 2, 5, 4, 3))
spec("adaptive_avg_pool3d", "unbatched_one", lambda x: F.adaptive_avg_pool3d(x, 1),
     lambda x: thF.adaptive_avg_pool3d(x, 1), (2, 3, 2, 3))

spec("batch_norm", "3d_training",
     lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: thF.batch_norm(x, None, None, w, b, training=True), (2, 2, 2, 3, 2), (2,),
     (2,))
