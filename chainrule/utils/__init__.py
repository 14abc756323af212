"""chainrule.utils.data is chainrule.data, at the path PyTorch programs import it from
(torch.utils.data); its submodules are the same module objects under both names, so a class
imported through either path is one class. chainrule.utils.dlpack is torch.utils.dlpack's
from_dlpack / to_dlpack."""

import importlib
import sys

from chainrule import data
from chainrule.utils import dlpack  # noqa: F401  (cr.utils.dlpack, as torch.utils.dlpack)

sys.modules[__name__ + ".data"] = data
for _name in ("collate", "dataloader", "dataset", "distributed", "sampler", "worker"):
    sys.modules[f"{__name__}.data.{_name}"] = importlib.import_module(f"chainrule.data.{_name}")
