"""The Tensor methods that compute, bound from chainrule.ops (x.sum(1) is cr.sum(x, 1)), and the
conversions between dtypes and devices (x.to, x.float(), x.cuda(), x.new_zeros, ...).

Each method means what the PyTorch method of the same name means.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import Function
from chainrule.backend import as_device, check_device, to_device
from chainrule.dtypes import as_numpy_dtype, type_name
from chainrule.dtypes import dtype as dtype_cls
from chainrule.operands import _shape_arg
from chainrule.tensor import Tensor

# x.name(...) is ops.name(x, ...) for each of these
_SAME = """
abs absolute add addcdiv addcmul ceil clamp clamp_max clamp_min clip cos div divide exp exp2
expm1 fix float_power floor floor_divide fmod lerp log log1p log2 log10 maximum minimum mul
multiply neg negative pow reciprocal remainder round rsqrt sign sin sqrt square sub subtract
tan true_divide trunc
eq ne lt le gt ge greater greater_equal less less_equal not_equal bitwise_and bitwise_or
bitwise_xor bitwise_not logical_and logical_or logical_xor logical_not isnan isinf isfinite
isposinf isneginf signbit isclose allclose equal is_nonzero
elu gelu leaky_relu relu sigmoid softplus tanh
all amax amin any count_nonzero cumprod cumsum log_softmax logsumexp mean nanmean nansum prod
softmax std sum sum_to_size var
argmax argmin argsort gather kthvalue max median min msort sort take_along_dim topk
clone contiguous expand_as flatten movedim moveaxis narrow permute ravel reshape reshape_as
select squeeze swapaxes swapdims t transpose unflatten unsqueeze view view_as expand_dims
chunk flip fliplr flipud repeat repeat_interleave roll split tensor_split tile unbind
matmul mm bmm mv dot outer ger broadcast_to astype
addmm addmv addr addbmm baddbmm det inverse slogdet logdet
sinh cosh asin acos atan asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh atan2
arctan2 hypot erf erfc erfinv logaddexp logaddexp2 nan_to_num sgn
tril triu diag diagonal diag_embed diagonal_scatter trace
index_select masked_select nonzero argwhere unique unique_consecutive
scatter scatter_add scatter_reduce index_add index_fill index_copy masked_scatter
hardshrink prelu
copysign deg2rad digamma fmax fmin frac gcd heaviside lcm ldexp lgamma logit positive rad2deg
sinc xlogy corrcoef cov cross dist inner kron matrix_power renorm vdot aminmax bincount cummax
cummin histc logcumsumexp mode nanmedian nanquantile quantile diagflat diff rot90 take
""".split()


def _expand(self: Tensor, *sizes: Any) -> Tensor:
    return ops.expand(self, *sizes)


def _norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
          dtype: Any = None) -> Tensor:
    """x.norm(p, dim, keepdim, dtype): torch.norm's meaning (the method's 4th argument is
    dtype, the function's is out)."""
    return ops.norm(self, p, dim, keepdim, dtype=dtype)


def _where(self: Tensor, condition: Any, other: Any) -> Tensor:
    """x.where(condition, y) is where(condition, x, y)."""
    return ops.where(condition, self, other)


# -- dtype and device conversions ----------------------------------------------------------------
def _parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any, bool]:
    """(device, dtype, copy) from any of PyTorch's forms: to(dtype), to(device, dtype),
    to(other), to(device=..., dtype=...)."""
    kwargs = dict(kwargs)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    device, dt = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, Tensor):
            device, dt = a.device, a.dtype
        elif isinstance(a, dtype_cls) or (isinstance(a, type) and issubclass(a, np.generic)) \
                or isinstance(a, np.dtype):
            dt = a
        elif isinstance(a, bool):
            copy = a  # to(dtype, non_blocking, copy) positionally: rare; treat a bool as copy
        elif a is not None:
            device = a
    return device, dt, copy


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """This tensor with another dtype and/or on another device; itself when nothing changes
    (unless copy=True). Recorded: gradients flow back through the conversion."""
    device, dt, copy = _parse_to(args, kwargs)
    y = self
    if dt is not None:
        y = ops.astype(y, as_numpy_dtype(dt))
    if device is not None:
        d = check_device(device, "to")
        if as_device(d) != y.device:
            y = _ToDevice(d)(y)
    if copy and y is self:
        y = ops.clone(self)
    return y


class _ToDevice(Function):
    """A move between devices; the gradient moves back."""

    saves = ""

    def __init__(self, device: Any) -> None:
        self.device = device

    def forward(self, x: Any) -> Any:
        return to_device(x, self.device, "to")

    def backward(self, gy: Tensor) -> Tensor:
        return _ToDevice(self.inputs[0].device)(gy)


def _cast(np_dtype: Any, name: str) -> Any:
    def method(self: Tensor, memory_format: Any = None) -> Tensor:
        return ops.astype(self, np_dtype)

    method.__name__ = name
    method.__doc__ = f"self.to({name}) (self when it already is)."
    return method


def cpu(self: Tensor, memory_format: Any = None) -> Tensor:
    return to(self, "cpu")


def cuda(self: Tensor, device: Any = None, non_blocking: bool = False, memory_format: Any = None
         ) -> Tensor:
    d = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)
    return to(self, d)


def type_as(self: Tensor, other: Tensor) -> Tensor:
    return to(self, other.dtype)


# -- new tensors like this one -------------------------------------------------------------------
def _new(self: Tensor, data: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    dt = self.array.dtype if dtype is None else as_numpy_dtype(dtype)
    arr = np.asarray(data, dtype=dt)
    arr = to_device(arr, self.device if device is None else check_device(device, "new"))
    t = Tensor._make(arr, None)
    if requires_grad:
        t.requires_grad = True
    return t


def new_zeros(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _new(self, np.zeros(_shape_arg(size)), dtype, device, requires_grad)


def new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    return _new(self, np.ones(_shape_arg(size)), dtype, device, requires_grad)


def new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return new_zeros(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    return _new(self, np.full(_shape_arg((size,)), fill_value), dtype, device, requires_grad)


def new_tensor(self: Tensor, data: Any, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A copy of data with this tensor's dtype and device (unless given)."""
    if isinstance(data, Tensor):
        data = data.numpy(force=True)
    return _new(self, np.array(data, copy=True), dtype, device, requires_grad)


def _polygamma(self: Tensor, n: int) -> Tensor:
    """x.polygamma(n) is polygamma(n, x): the n-th derivative of digamma."""
    return ops.polygamma(n, self)


def _bind() -> None:
    for name in _SAME:
        setattr(Tensor, name, getattr(ops, name))
    Tensor.expand = _expand
    Tensor.where = _where
    Tensor.norm = _norm
    Tensor.polygamma = _polygamma  # x.polygamma(n) is polygamma(n, x)
    Tensor.T = property(ops.reverse_dims, doc="All dims reversed (the transpose of a matrix).")
    Tensor.mT = property(ops.matrix_transpose, doc="The last two dims swapped.")
    for name, dt in [("float", np.float32), ("double", np.float64), ("half", np.float16),
                     ("int", np.int32), ("long", np.int64), ("short", np.int16),
                     ("char", np.int8), ("byte", np.uint8), ("bool", np.bool_)]:
        setattr(Tensor, name, _cast(dt, name))
    for fn in (to, cpu, cuda, type_as, new_zeros, new_ones, new_empty, new_full, new_tensor):
        setattr(Tensor, fn.__name__, fn)


_bind()


# -- introspection -------------------------------------------------------------------------------
def _element_size(self: Tensor) -> int:
    return self.array.dtype.itemsize


def _is_floating_point(self: Tensor) -> bool:
    return self.array.dtype.kind == "f"


def _is_complex(self: Tensor) -> bool:
    return self.array.dtype.kind == "c"


def _is_contiguous(self: Tensor, memory_format: Any = None) -> bool:
    return bool(self.array.flags.c_contiguous)


def _stride(self: Tensor, dim: int | None = None) -> Any:
    """Strides in elements (NumPy counts bytes)."""
    from chainrule.tensor import _dim

    st = tuple(s // self.array.dtype.itemsize for s in self.array.strides)
    return st if dim is None else st[_dim(dim, self.array.ndim, "stride")]


def _data_ptr(self: Tensor) -> int:
    a = self.array
    return int(a.data.ptr) if hasattr(a.data, "ptr") else int(a.ctypes.data)


_TYPE_NAMES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
               "bool")


def _type(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """With no argument the type name ('chainrule.FloatTensor'); else .to(dtype)."""
    if dtype is None:
        return f"chainrule.{type_name(self.array.dtype)}"
    if isinstance(dtype, type) and hasattr(dtype, "dtype"):  # x.type(torch.LongTensor)
        dtype = dtype.dtype
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        names = {type_name(d): d for d in _TYPE_NAMES}
        key = dtype.rsplit(".", 1)[-1]
        if key not in names:
            raise TypeError(f"type: unknown tensor type {dtype!r}")
        dtype = names[key]
    return to(self, dtype)


def _deepcopy(self: Tensor, memo: dict) -> Tensor:
    if self.creator is not None:
        raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                           "support the deepcopy protocol at the moment")
    t = type(self).__new__(type(self))
    Tensor.__init__(t, self.array.copy(), dtype=self.array.dtype,
                    requires_grad=self._requires_grad)
    t.name = self.name
    if self.grad is not None:
        t.grad = Tensor._make(self.grad.array.copy(), None)
    memo[id(self)] = t
    return t


def _bind_introspection() -> None:
    for name, fn in (("element_size", _element_size), ("is_floating_point", _is_floating_point),
                     ("is_complex", _is_complex), ("is_contiguous", _is_contiguous),
                     ("stride", _stride), ("data_ptr", _data_ptr), ("type", _type),
                     ("__deepcopy__", _deepcopy)):
        setattr(Tensor, name, fn)
    Tensor.itemsize = property(_element_size)
    Tensor.nbytes = property(lambda self: int(self.array.nbytes))
    Tensor.is_cuda = property(lambda self: self.device.type == "cuda")
    Tensor.is_cpu = property(lambda self: self.device.type == "cpu")
    # PyTorch's: the GPU's index, -1 for a CPU tensor
    Tensor.get_device = lambda self: -1 if self.device.type == "cpu" else self.device.index


_bind_introspection()
