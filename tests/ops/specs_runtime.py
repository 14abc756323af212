"""Spec rows for the op defined with PyTorch's top-level functional forms
(chainrule/functional_top.py): pdist, registered into the one table of tests/ops/specs.py (which
imports this module at its end), so it is gradchecked, gradgradchecked, held to float32 and
compared with torch like every other op.

The rows use the "distinct" domain: no two rows share an element, so every distance and every
elementwise difference is away from 0, where p-norms have no derivative.
"""

from __future__ import annotations

import chainrule as cr

from .specs import spec, th

for _p, _case in ((2.0, "p2"), (1.0, "p1"), (3.0, "p3"), (0.5, "p0.5"),
                  (float("inf"), "pinf")):
    spec("pdist", _case, lambda x, p=_p: cr.pdist(x, p), lambda x, p=_p: th.pdist(x, p),
         (5, 3), domain="distinct")
spec("pdist", "one_column", lambda x: cr.nn.functional.pdist(x), lambda x: th.pdist(x),
     (4, 1), domain="distinct")
spec("pdist", "one_row", lambda x: cr.pdist(x), lambda x: th.pdist(x), (1, 3))
