"""Library errors. Each refines the built-in it specialises, so `except ValueError` still works."""


class ShapeError(ValueError):
    """Operand shapes that do not fit an op; the message names the op, the shapes and a fix."""


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one (see chainrule.numerical)."""
