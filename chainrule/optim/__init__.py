"""Optimizers, learning-rate schedulers and gradient clipping (PyTorch's torch.optim, on arrays).

`create(name, params, **options)` builds an optimizer from its textbook name; an optimizer
built without params updates plain arrays: `params = opt.update(grads, params)`.
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam
from chainrule.optim.adamax import Adamax
from chainrule.optim.adamw import AdamW
from chainrule.optim.asgd import ASGD
from chainrule.optim.clip import clip_grad_norm_, clip_grad_value_
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer, available, create
from chainrule.optim.radam import RAdam
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.rprop import Rprop
from chainrule.optim.sgd import SGD

__all__ = [
    "ASGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "Optimizer",
    "RAdam", "RMSprop", "Rprop", "SGD", "available", "clip_grad_norm_", "clip_grad_value_",
    "create", "lr_scheduler",
]
