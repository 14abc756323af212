"""chainrule: backpropagation you can see and check, fast on CPU.

The public surface; everything here is re-exported from the modules that define it.
"""

from chainrule.backend import manual_seed
from chainrule.errors import GradcheckError, ShapeError
from chainrule.tensor import Tensor
from chainrule import autograd, ops
from chainrule.autograd import (
    Function, detect_anomaly, enable_grad, grad_table, is_grad_enabled, no_grad,
    set_grad_enabled,
)
from chainrule.creation import (
    arange, eye, from_numpy, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like,
)
from chainrule.ops import *  # noqa: F403  (the op functions: cr.exp, cr.matmul, cr.where, ...)
from chainrule import data, func, io, nn, numerical, optim, viz
from chainrule.io import CheckpointError, load, save
from chainrule.func import grad, hessian, jacobian, jvp, value_and_grad, vjp
from chainrule.numerical import gradcheck, gradgradcheck, numerical_grad

import numpy as _np

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int32, int64, bool_ = _np.int32, _np.int64, _np.bool_

__version__ = "0.1.0"
