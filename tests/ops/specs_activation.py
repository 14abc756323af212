"""Spec rows for the activations of chainrule/ops/activation_more.py (F.hardtanh, relu6, threshold,
the shrinks, hardsigmoid, hardswish, silu, mish, selu, celu, softsign, tanhshrink, glu, prelu,
softmin) and their in-place forms, registered into the one table of tests/ops/specs.py (which
imports this module at its end): gradchecked, gradgradchecked, held to float32 and compared with
torch like every other op.

The piecewise functions have kinks at integers (hardtanh's +-1, relu6's 0 and 6, the +-3 of
hardsigmoid and hardswish): their rows scale the 'distinct' domain by 10, which puts every
element at k + 0.5 +- 0.2 for an integer k, at least 0.3 from every kink, on both sides of each.
The shrinks' default kink 0.5 sits between the unscaled distinct values (0.1 k + 0.05 +- 0.02).
In-place rows change a non-leaf (x * 1.0) in place, so the rebased graph is checked too.
"""

from __future__ import annotations

import chainrule as cr
import chainrule.nn.functional as F

from .specs import spec, th, thF

S = (3, 4)


def _ten(f):  # noqa: ANN001, ANN202 - f applied to 10 x (kinks at integers kept away)
    return lambda x: f(x * 10.0)


def _ten_plus(f, shift):  # noqa: ANN001, ANN202
    return lambda x: f(x * 10.0 + shift)


# -- piecewise: every kink crossed, none touched -------------------------------------------------
_PIECEWISE = [
    ("hardtanh", _ten(F.hardtanh), _ten(thF.hardtanh)),
    ("relu6", _ten_plus(F.relu6, 1.0), _ten_plus(thF.relu6, 1.0)),
    ("hardsigmoid", _ten(F.hardsigmoid), _ten(thF.hardsigmoid)),
    ("hardswish", _ten(F.hardswish), _ten(thF.hardswish)),
    ("threshold", lambda x: cr.threshold(x, 0.3, -2.0), lambda x: th.threshold(x, 0.3, -2.0)),
    ("hardshrink", cr.hardshrink, lambda x: th.hardshrink(x)),
    ("softshrink", F.softshrink, lambda x: thF.softshrink(x)),
]
for _name, _f, _tf in _PIECEWISE:
    spec(_name, "", _f, _tf, S, domain="distinct")
    spec(_name, "0d", _f, _tf, (), domain="distinct")
    spec(_name, "empty", _f, _tf, (0, 3), domain="distinct")

spec("hardtanh", "bounds", _ten(lambda x: F.hardtanh(x, -2.0, 3.0)),
     _ten(lambda x: thF.hardtanh(x, -2.0, 3.0)), S, domain="distinct")
spec("threshold", "F", _ten(lambda x: F.threshold(x, 1.0, 7.5)),
     _ten(lambda x: thF.threshold(x, 1.0, 7.5)), S, domain="distinct")
spec("hardshrink", "lambd", _ten(lambda x: x.hardshrink(2.0)),
     _ten(lambda x: x.hardshrink(2.0)), S, domain="distinct")
spec("softshrink", "lambd", _ten(lambda x: F.softshrink(x, 2.0)),
     _ten(lambda x: thF.softshrink(x, 2.0)), S, domain="distinct")

# -- smooth --------------------------------------------------------------------------------------
_SMOOTH = [  # selu and celu: smooth to first order only, so kept off 0 too
    ("silu", F.silu, thF.silu, "real"),
    ("mish", F.mish, thF.mish, "real"),
    ("selu", cr.selu, th.selu, "distinct"),
    ("celu", cr.celu, th.celu, "distinct"),
    ("softsign", F.softsign, thF.softsign, "real"),
    ("tanhshrink", F.tanhshrink, thF.tanhshrink, "real"),
]
for _name, _f, _tf, _dom in _SMOOTH:
    spec(_name, "", _f, _tf, S, domain=_dom)
    spec(_name, "0d", _f, _tf, (), domain=_dom)
    spec(_name, "empty", _f, _tf, (0, 3), domain=_dom)

spec("silu", "large", lambda x: F.silu(x * 30.0), lambda x: thF.silu(x * 30.0), (2, 5))
spec("mish", "large", lambda x: F.mish(x * 30.0), lambda x: thF.mish(x * 30.0), (2, 5))
spec("selu", "F", lambda x: F.selu(x * 3.0), lambda x: thF.selu(x * 3.0), S, domain="distinct")
spec("celu", "alpha", lambda x: F.celu(x * 3.0, 0.5), lambda x: thF.celu(x * 3.0, 0.5), S,
     domain="distinct")
spec("celu", "negative_alpha", lambda x: cr.celu(x, -2.0), lambda x: th.celu(x, -2.0), S,
     domain="distinct")

# -- glu, prelu, softmin -------------------------------------------------------------------------
spec("glu", "", F.glu, thF.glu, (3, 4))
spec("glu", "dim0", lambda x: F.glu(x, 0), lambda x: thF.glu(x, 0), (4, 3))
spec("glu", "3d", lambda x: F.glu(x, 1), lambda x: thF.glu(x, 1), (2, 6, 2))
spec("prelu", "", cr.prelu, th.prelu, (2, 3, 4), (3,), domain=("distinct", "real"))
spec("prelu", "one_weight", F.prelu, thF.prelu, (2, 3, 2), (1,), domain=("distinct", "real"))
spec("prelu", "1d", cr.prelu, th.prelu, (5,), (1,), domain=("distinct", "real"))
spec("prelu", "2d", F.prelu, thF.prelu, (4, 3), (3,), domain=("distinct", "real"))
spec("prelu", "method", lambda x, w: x.prelu(w), lambda x, w: x.prelu(w), (2, 3), (3,),
     domain=("distinct", "real"))
spec("softmin", "", lambda x: F.softmin(x, 1), lambda x: thF.softmin(x, 1), S)
spec("softmin", "dim0", lambda x: F.softmin(x, dim=0), lambda x: thF.softmin(x, dim=0), (3, 2, 2))

# -- in place, on a non-leaf ---------------------------------------------------------------------
_INPLACE = [
    ("hardtanh_", lambda x: F.hardtanh_(x * 10.0), lambda x: thF.hardtanh_(x * 10.0)),
    ("relu6_", lambda x: F.relu6(x * 10.0 + 1.0, inplace=True),
     lambda x: thF.relu6(x * 10.0 + 1.0, inplace=True)),
    ("threshold_", lambda x: F.threshold_(x * 1.0, 0.3, -2.0),
     lambda x: thF.threshold_(x * 1.0, 0.3, -2.0)),
    ("selu_", lambda x: F.selu_(x * 1.0), lambda x: thF.selu_(x * 1.0)),
    ("celu_", lambda x: F.celu_(x * 1.0, 0.5), lambda x: thF.celu_(x * 1.0, 0.5)),
    ("relu_", lambda x: F.relu_(x * 1.0), lambda x: thF.relu_(x * 1.0)),
    ("elu_", lambda x: F.elu_(x * 1.0, 0.5), lambda x: thF.elu_(x * 1.0, 0.5)),
    ("leaky_relu_", lambda x: F.leaky_relu_(x * 1.0, 0.2), lambda x: thF.leaky_relu_(x * 1.0, 0.2)),
    ("silu_", lambda x: F.silu(x * 1.0, inplace=True), lambda x: thF.silu(x * 1.0, inplace=True)),
    ("mish_", lambda x: F.mish(x * 1.0, inplace=True), lambda x: thF.mish(x * 1.0, inplace=True)),
    ("hardswish_", lambda x: F.hardswish(x * 10.0, inplace=True),
     lambda x: thF.hardswish(x * 10.0, inplace=True)),
    ("hardsigmoid_", lambda x: F.hardsigmoid(x * 10.0, inplace=True),
     lambda x: thF.hardsigmoid(x * 10.0, inplace=True)),
]
for _name, _f, _tf in _INPLACE:
    spec(_name, "", _f, _tf, S, domain="distinct")
