"""chainrule: backpropagation you can see and check, fast on CPU.

The public surface; everything here is re-exported from the modules that define it. Names that
PyTorch also has mean what they mean in PyTorch (`import chainrule as torch` runs PyTorch code).
"""

from chainrule.dtypes import (
    bool_, complex64, complex128, dtype, finfo, float16, float32, float64, get_default_dtype,
    iinfo, int8, int16, int32, int64, set_default_dtype, uint8, uint16, uint32, uint64,
)
from chainrule.backend import device, get_default_device, set_default_device
from chainrule.errors import GradcheckError, ShapeError
from chainrule.tensor import Size, Tensor
from chainrule.random import (
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state,
)
from chainrule import autograd, ops
from chainrule.autograd import (
    Function, enable_grad, grad_table, is_grad_enabled, no_grad, set_grad_enabled,
)
# chainrule's own detect_anomaly (NaN/Inf, forward and backward); cr.autograd's is PyTorch's
from chainrule.modes import detect_anomaly, inference_mode, is_inference_mode_enabled
from chainrule.ops import *  # noqa: F403  (the op functions: cr.exp, cr.matmul, cr.cat, ...)
from chainrule import inplace_methods, methods  # noqa: F401  (bind the Tensor methods)
from chainrule.creation import (
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like,
    linspace, logspace, meshgrid, multinomial, normal, ones, ones_like, poisson, rand,
    rand_like, randint, randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from chainrule.conversion import from_dlpack
from chainrule.legacy import (  # the typed tensor classes of older tutorials
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
    LongTensor, ShortTensor,
)
from chainrule import accelerator, cuda, data, func, io, linalg, nn, numerical, optim  # noqa: F401
from chainrule import serialization, utils, viz  # noqa: F401
from chainrule import distributed  # noqa: F401  (light: mpi4py is imported by init_process_group)
from chainrule import onnx  # noqa: F401  (light: the onnx package is imported when used)
from chainrule.io import CheckpointError, load, save
from chainrule.func import grad, hessian, jacobian, jvp, value_and_grad, vjp
from chainrule.numerical import gradcheck, gradgradcheck, numerical_grad
# PyTorch's run-time switches, torch.compile, amp and backends, and the top-level F forms
from chainrule import amp, backends, compiler, cpu, runtime  # noqa: F401
from chainrule.amp import autocast, is_autocast_enabled
from chainrule.compiler import compile
from chainrule.runtime import (
    are_deterministic_algorithms_enabled, get_deterministic_debug_mode,
    get_float32_matmul_precision, get_num_interop_threads, get_num_threads,
    is_anomaly_check_nan_enabled, is_anomaly_enabled, is_deterministic_algorithms_warn_only_enabled,
    is_warn_always_enabled, set_anomaly_enabled, set_deterministic_debug_mode, set_flush_denormal,
    set_float32_matmul_precision, set_num_interop_threads, set_num_threads, set_warn_always,
    typename, use_deterministic_algorithms,
)
from chainrule.functional_top import *  # noqa: F403  (torch.conv2d, torch.dropout, ...)
from chainrule.dtypes import result_type as _result_type
from chainrule.out_arg import with_out as _with_out

# PyTorch's out= on the functions its tutorials call with it (torch.matmul(a, b, out=c))
for _name in ("matmul", "mm", "bmm", "mul", "multiply", "add", "sub", "subtract", "div",
              "divide", "true_divide", "exp", "log", "sqrt", "abs", "neg", "sin", "cos", "tanh",
              "sigmoid", "pow", "maximum", "minimum", "clamp"):
    globals()[_name] = _with_out(globals()[_name])
del _name

# PyTorch's dtype aliases (cr.float is float32, cr.long is int64, ...), and its name for bool
half, float, double = float16, float32, float64
cfloat, cdouble = complex64, complex128
short, int, long = int16, int32, int64
bool = bool_

import builtins as _builtins
import warnings as _warnings

# PyTorch computes IEEE results silently (1/0 = inf, log(0) = -inf, sqrt(-1) = nan): the NumPy
# floating-point RuntimeWarnings raised inside chainrule's own ops are noise to the user (a
# causal mask is log(tril(ones))); cr.detect_anomaly() is the way to catch NaN/Inf
_warnings.filterwarnings("ignore", r"(divide by zero|invalid value|overflow|underflow) "
                         "encountered", RuntimeWarning, r"chainrule(\.|$)")


def is_tensor(obj: object) -> _builtins.bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> _builtins.bool:
    return input.is_floating_point()


def is_complex(input: Tensor) -> _builtins.bool:
    return input.is_complex()


def numel(input: Tensor) -> _builtins.int:
    return input.numel()


def result_type(tensor1: object, tensor2: object) -> dtype:
    """The dtype of an elementwise op on these two operands (PyTorch's promotion)."""
    from chainrule.dtypes import from_numpy_dtype

    return from_numpy_dtype(_result_type(tensor1, tensor2))


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """The smallest dtype both convert to (PyTorch's table)."""
    from chainrule.dtypes import from_numpy_dtype
    from chainrule.dtypes import promote_types as _promote

    return from_numpy_dtype(_promote(type1, type2))


def can_cast(from_: dtype, to: dtype) -> _builtins.bool:
    from chainrule.dtypes import as_numpy_dtype
    from chainrule.dtypes import can_cast as _can_cast

    return _can_cast(as_numpy_dtype(from_), as_numpy_dtype(to))


def set_printoptions(precision: object = None, threshold: object = None,
                     edgeitems: object = None, linewidth: object = None,
                     profile: object = None, sci_mode: object = None) -> None:
    """How tensors print (PyTorch's options)."""
    from chainrule.printing import set_printoptions as _set

    _set(precision, threshold, edgeitems, linewidth, profile, sci_mode)


__version__ = "0.1.0"
