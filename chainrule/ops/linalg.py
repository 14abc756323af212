"""matmul (batched, with NumPy's 1-D rules) and its named forms (mm, bmm, mv, dot, outer), einsum
(whose backward is another einsum), and the fused-add forms addmm, addmv, addr, addbmm and
baddbmm (beta * input + alpha * product)."""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operands
from chainrule.ops.reduce import sum_to
from chainrule.ops.shape import Transpose
from chainrule.tensor import Tensor


def _check_matmul(a: Any, b: Any) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: operands must have at least 1 dimension, got {a.shape} and {b.shape}; "
            "use * to multiply by a scalar"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(
            f"matmul: cannot multiply {a.shape} by {b.shape}: inner dimensions {k_a} and {k_b} "
            f"differ. The last axis of the first operand must equal the "
            f"{'only' if b.ndim == 1 else 'second-to-last'} axis of the second; transpose one "
            "operand or fix the layer sizes"
        )


def mm_flat(a: Any, b: Any) -> Any:
    """a @ b for arrays; a stack (..., K) times a matrix (K, N) as ONE matrix product of the
    flattened stack: BLAS runs a single large product 1.2-2.2x faster than NumPy's loop of
    small ones (a Linear layer on (L, N, E) sequences)."""
    if a.ndim > 2 and b.ndim == 2:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[-1:])
    return a @ b


class MatMul(Function):
    saves = "cross"

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return mm_flat(a, b)
        except ValueError:
            pass
        _check_matmul(a, b)  # the common mistakes get a precise message
        raise ShapeError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not broadcast")

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        na, nb = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the reshapes below
            return (MatMul()(gy, _t2(b)) if na else None), (MatMul()(_t2(a), gy) if nb else None)
        if a.ndim > 2 and b.ndim == 2:  # a stack times a matrix: b's gradient in one product
            gb = _t2(a.reshape(-1, a.shape[-1])) @ gy.reshape(-1, gy.shape[-1]) if nb else None
            return (MatMul()(gy, _t2(b)) if na else None), gb
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a.ndim == 1:
            gy = gy.unsqueeze(-2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            gy = gy.unsqueeze(-1)
        ga = gb = None
        if na:
            ga = gy @ b2.transpose(-1, -2)
            if a.ndim == 1:
                ga = sum_to(ga, a2.shape).reshape(a.shape)
        if nb:
            gb = a2.transpose(-1, -2) @ gy
            if b.ndim == 1:
                gb = sum_to(gb, b2.shape).reshape(b.shape)
        return ga, gb


def _t2(x: Tensor) -> Tensor:
    return Transpose((1, 0))(x)


def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product with NumPy's (and PyTorch's) rules for 1-D and batched operands. Both
    must have the same dtype, as in PyTorch."""
    a, b = as_operands((input, other))
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != "
                           f"{b.dtype}; convert one: b.to(a.dtype)")
    return MatMul()(a, b)


def mm(input: Any, mat2: Any) -> Tensor:
    """The product of two matrices (2-D only)."""
    a, b = as_operands((input, mat2))
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: self must be a matrix (got {a.ndim}-D) and mat2 must be a "
                           f"matrix (got {b.ndim}-D); use matmul for other shapes")
    return matmul(a, b)


def bmm(input: Any, mat2: Any) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors."""
    a, b = as_operands((input, mat2))
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"bmm: batch1 must be a 3D tensor (got {a.ndim}-D) and batch2 must "
                           f"be a 3D tensor (got {b.ndim}-D)")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: batch1 and batch2 must have same number of batches, got "
                           f"{a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)


def mv(input: Any, vec: Any) -> Tensor:
    a, v = as_operands((input, vec))
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"mv: vector + matrix @ vector expected, got {a.ndim}-D and "
                           f"{v.ndim}-D")
    return matmul(a, v)


def dot(input: Any, tensor: Any) -> Tensor:
    """The inner product of two 1-D tensors."""
    a, b = as_operands((input, tensor))
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape != b.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got "
                           f"{a.shape[0]} and {b.shape[0]} elements respectively")
    return matmul(a, b)


def outer(input: Any, vec2: Any) -> Tensor:
    a, b = as_operands((input, vec2))
    return a.reshape(-1, 1) * b.reshape(1, -1)


ger = outer


def _parse_einsum(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit subscripts: ellipses spelled out as letters, and the output given."""
    s = subscripts.replace(" ", "")
    lhs, out = s.split("->") if "->" in s else (s, None)
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' names {len(terms)} operands, got {len(shapes)}")
    free = [c for c in string.ascii_letters if c not in s]
    n_ell = max([len(sh) - (len(t) - 3) for t, sh in zip(terms, shapes) if "..." in t] or [0])
    ell = "".join(free[:n_ell])
    terms = [t.replace("...", ell[n_ell - (len(sh) - (len(t) - 3)):]) if "..." in t else t
             for t, sh in zip(terms, shapes)]
    if out is None:
        letters = "".join(terms)
        once = (c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        out = ell + "".join(sorted(once))
    else:
        out = out.replace("...", ell)
    for t, sh in zip(terms, shapes):
        if len(t) != len(sh):
            raise ShapeError(f"einsum: subscripts '{t}' do not fit an operand of shape {sh}")
    return terms, out


class Einsum(Function):
    saves = "inputs"

    def __init__(self, terms: list[str], out: str) -> None:
        self.terms, self.out = terms, out

    def forward(self, *xs: Any) -> Any:
        try:
            return xp_of(*xs).einsum(",".join(self.terms) + "->" + self.out, *xs,
                                     optimize=len(xs) > 2)
        except ValueError as e:
            raise ShapeError(
                f"einsum: '{','.join(self.terms)}->{self.out}' does not fit shapes "
                f"{[x.shape for x in xs]}: {e}"
            ) from None

    def backward(self, gy: Tensor) -> tuple:
        return tuple(self._grad(i, gy) if need else None
                     for i, need in enumerate(self.needs_input_grad))

    def _grad(self, i: int, gy: Tensor) -> Tensor:
        """d/d operand i: an einsum of gy with the other operands. A letter summed away only in
        operand i comes back through ones; a repeated letter (a diagonal) through an identity."""
        xp = xp_of(gy.array)
        sizes = {c: n for t, x in zip(self.terms, self.inputs) for c, n in zip(t, x.shape)}
        terms = [self.out] + [t for j, t in enumerate(self.terms) if j != i]
        ops = [gy] + [x for j, x in enumerate(self.inputs) if j != i]
        used = set("".join(self.terms) + self.out)
        fresh = (c for c in string.ascii_letters if c not in used)
        present = set("".join(terms))
        target, seen = "", set()
        for c in self.terms[i]:
            if c in seen:
                new = next(fresh)
                terms.append(c + new)
                ops.append(Tensor._make(xp.eye(sizes[c], dtype=gy.dtype), None))
                target += new
                continue
            seen.add(c)
            target += c
            if c not in present:
                terms.append(c)
                ops.append(Tensor._make(xp.ones(sizes[c], dtype=gy.dtype), None))
        return Einsum(terms, target)(*ops)


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation as in NumPy (ellipses and implicit output included), differentiable."""
    xs = as_operands(operands)
    terms, out = _parse_einsum(subscripts, [x.shape for x in xs])
    return Einsum(terms, out)(*xs)


# -- beta * input + alpha * product (addmm, addmv, addr, addbmm, baddbmm) -----------------------
def _add_scaled(op: str, input: Any, prod: Tensor, beta: Any, alpha: Any) -> Tensor:
    """beta * input + alpha * prod, input broadcast to prod's shape. beta = 0 ignores input's
    values (NaN and inf in it do not propagate) and gives it a zero gradient, as in PyTorch."""
    from chainrule.ops.elementwise import where

    x = as_operands((input,))[0]
    if x.array.dtype != prod.array.dtype:
        raise RuntimeError(f"{op}: self and mat2 must have the same dtype, but got {x.dtype} and "
                           f"{prod.dtype}; convert one: input.to(mat2.dtype)")
    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(prod.shape))
    except ValueError:
        shape = None
    if shape != tuple(prod.shape):
        raise ShapeError(f"{op}: input of shape {tuple(x.shape)} does not broadcast to the shape "
                         f"of the product, {tuple(prod.shape)}")
    if x.array.dtype.kind in "iub":
        beta, alpha = int(beta), int(alpha)  # PyTorch casts the scalars to the integer dtype
    p = prod if alpha == 1 else prod * alpha
    if beta == 0:
        return where(xp_of(p.array).zeros(p.array.shape, dtype=bool), x, p)
    return (x if beta == 1 else x * beta) + p


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2) for matrices (n, m) and (m, p); input broadcasts to
    (n, p)."""
    a, b = as_operands((mat1, mat2))
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"addmm: mat1 must be a matrix (got {a.ndim}-D) and mat2 must be a "
                           f"matrix (got {b.ndim}-D)")
    if a.shape[1] != b.shape[0]:
        raise ShapeError(f"addmm: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x"
                         f"{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(f"addmm: mat1 and mat2 must have the same dtype, but got {a.dtype} "
                           f"and {b.dtype}")
    return _add_scaled("addmm", input, MatMul()(a, b), beta, alpha)


def addmv(input: Any, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec) for a matrix (n, m) and a vector (m,); input
    broadcasts to (n,)."""
    return _add_scaled("addmv", input, mv(mat, vec), beta, alpha)


def addr(input: Any, vec1: Any, vec2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2); input broadcasts to (n, m)."""
    a, b = as_operands((vec1, vec2))
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1 and vec2, but got {a.ndim}-D and "
                           f"{b.ndim}-D")
    return _add_scaled("addr", input, outer(a, b), beta, alpha)


def addbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * sum_i batch1[i] @ batch2[i] for batches (b, n, m) and (b, m, p);
    input broadcasts to (n, p)."""
    return _add_scaled("addbmm", input, bmm(batch1, batch2).sum(0), beta, alpha)


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2) for batches (b, n, m) and (b, m, p); input
    broadcasts to (b, n, p)."""
    return _add_scaled("baddbmm", input, bmm(batch1, batch2), beta, alpha)
