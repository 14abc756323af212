"""Library errors. Each refines the built-in it specialises, so `except ValueError` still works."""


class ShapeError(ValueError, RuntimeError):
    """Operand shapes that do not fit an op; the message names the op, the shapes and a fix.
    A ValueError, and a RuntimeError as PyTorch's shape errors are, so both `except`s catch it."""


class DimError(ShapeError, IndexError):
    """A dimension index out of range, or an empty dimension to reduce (an IndexError, as in
    PyTorch)."""


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one (see chainrule.numerical)."""


def dim_error(op: str, dim: int, ndim: int) -> DimError:
    """PyTorch's error for a dimension index out of range, naming the op."""
    n = max(ndim, 1)
    return DimError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                      f"but got {dim}) for a tensor of {ndim} dimensions")


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, damaged, edited or not a chainrule checkpoint; the
    message names the file and the problem."""
