"""chainrule.utils.data is chainrule.data, at the path PyTorch programs import it from
(torch.utils.data)."""

import sys

from chainrule import data

sys.modules[__name__ + ".data"] = data
