"""In-place operations as PyTorch has them: really in place (the object and its storage kept),
counted by a version counter shared with views, recorded in the graph where autograd must see
them (the tensor becomes the op's output; ops that used the old value still reach it; a change
through a view is a change of its base), and refused where PyTorch refuses.

Each program is written once as a function of the library, run with chainrule and, where it is
installed, with torch: same numbers, or an error in both.
"""

from __future__ import annotations

import pytest

import chainrule as cr


def _same(a, b, rtol: float = 1e-6) -> None:
    """a == b for nested lists / tuples of numbers, bools and strings (numbers to rtol)."""
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (a, b)
        for u, v in zip(a, b):
            _same(u, v, rtol)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=rtol), (a, b)
    else:
        assert a == b, (a, b)


def _run(lib, program):
    try:
        return program(lib)
    except RuntimeError as e:
        return ("RuntimeError", str(e).split(":")[0])


# -- programs (each returns something comparable, or raises RuntimeError) -------------------------
def earlier_consumers_keep_the_old_value(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    a = y * 2           # uses y before the changes
    y.mul_(3)
    b = y * 5           # uses 3y
    y.add_(1)
    c = y * 7           # uses 3y + 1
    (a + b + c).sum().backward()
    return x.grad.tolist()


def change_through_a_row_view(t):
    x = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1
    h[0].mul_(3)
    h.sum().backward()
    return x.grad.tolist()


def change_through_a_transposed_view(t):
    x = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x + 0
    h.t().mul_(2)
    (h * t.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    return x.grad.tolist()


def change_through_a_view_of_a_view(t):
    x = t.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    h = x * 1
    h[1][1:].mul_(10)
    h.sum().backward()
    return x.grad.tolist()


def a_view_made_before_its_base_changed(t):
    x = t.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    h = x * 1
    v = h[1:3]
    h.mul_(2)
    (v * 1).sum().backward()
    return x.grad.tolist(), v.tolist()


def rows_written_into_a_buffer(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    out = t.zeros(3, 2)
    for i in range(3):
        out[i] = w * (i + 1)
    (out ** 2).sum().backward()
    return w.grad.tolist(), out.requires_grad


def relu_in_place_after_a_matmul(t):
    x = t.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    W = t.tensor([[0.5, -1.0], [2.0, 1.0]], requires_grad=True)
    y = x @ W
    y.relu_()
    (y * y).sum().backward()
    return x.grad.tolist(), W.grad.tolist()


def masked_fill_and_clamp_on_a_non_leaf(t):
    x = t.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    y.masked_fill_(y < 0, 0.0)
    y.clamp_(max=4.0)
    y.sum().backward()
    return x.grad.tolist()


def copy_into_a_plain_buffer(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    b = t.zeros(2)
    b.copy_(x * 3)
    (b * b).sum().backward()
    return x.grad.tolist(), b.is_leaf


def setitem_with_a_tensor_index(t):
    x = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[t.tensor([0, 2])] = t.tensor(9.0)
    (y * y).sum().backward()
    return x.grad.tolist()


def create_graph_through_an_in_place_op(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.mul_(x)
    (g,) = t.autograd.grad(y.sum(), x, create_graph=True)
    g.sum().backward()
    return x.grad.tolist()


def saved_output_changed(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    y.add_(1)
    y.sum().backward()
    return x.grad.tolist()


def saved_input_changed_under_no_grad(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    x = t.tensor([3.0, 4.0], requires_grad=True)
    y = (w * x).sum()
    with t.no_grad():
        w.add_(1)
    y.backward()
    return w.grad.tolist()


def unsaved_input_changed_under_no_grad(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    y = (w + 1).sum()
    with t.no_grad():
        w.add_(1)
    y.backward()
    return w.grad.tolist(), w.tolist()


def a_number_divided_by_a_tensor_saves_the_result(t):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    w = x * 1
    y = 3 / w
    w.add_(1)
    y.sum().backward()
    return x.grad.tolist()


def a_leaf_that_requires_grad(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    w.add_(1)
    return w.tolist()


def a_view_of_such_a_leaf(t):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    w[0] = 5.0
    return w.tolist()


def version_counts(t):
    x = t.ones(3)
    v = x[1:]
    x.add_(1)
    v.mul_(2)
    d = x.detach()
    d.add_(1)
    dd = x.data
    dd.add_(1)
    return x._version, v._version, d._version, dd._version, x.tolist()


def integers_stay_integers(t):
    a = t.tensor([1, 2, 3])
    a += 1
    a *= 2
    a[0] = 7.9  # a value is cast to the tensor's dtype
    return a.tolist(), str(a.dtype).split(".")[-1]


PROGRAMS = [earlier_consumers_keep_the_old_value, change_through_a_row_view,
            change_through_a_transposed_view, change_through_a_view_of_a_view,
            a_view_made_before_its_base_changed, rows_written_into_a_buffer,
            relu_in_place_after_a_matmul, masked_fill_and_clamp_on_a_non_leaf,
            copy_into_a_plain_buffer, setitem_with_a_tensor_index,
            create_graph_through_an_in_place_op, saved_output_changed,
            saved_input_changed_under_no_grad, unsaved_input_changed_under_no_grad,
            a_number_divided_by_a_tensor_saves_the_result, a_leaf_that_requires_grad,
            a_view_of_such_a_leaf, version_counts, integers_stay_integers]

# what chainrule must give, worked by hand (so the suite checks them without torch too)
EXPECTED = {
    "earlier_consumers_keep_the_old_value": [38.0, 38.0],        # 2 + 5*3 + 7*3
    "change_through_a_row_view": [[3.0, 3.0], [1.0, 1.0]],
    "change_through_a_transposed_view": [[2.0, 4.0], [6.0, 8.0]],
    "change_through_a_view_of_a_view": [[1.0, 1.0, 1.0], [1.0, 10.0, 10.0]],
    "a_view_made_before_its_base_changed": ([0.0, 2.0, 2.0, 0.0], [4.0, 6.0]),
    "rows_written_into_a_buffer": ([28.0, 56.0], True),            # 2 w (1 + 4 + 9)
    "masked_fill_and_clamp_on_a_non_leaf": [2.0, 0.0, 0.0],
    "copy_into_a_plain_buffer": ([18.0, 36.0], False),
    "setitem_with_a_tensor_index": [0.0, 4.0, 0.0],
    "create_graph_through_an_in_place_op": [6.0, 12.0],            # d/dx sum(3x^2) = 6x
    "unsaved_input_changed_under_no_grad": ([1.0, 1.0], [2.0, 3.0]),
    "a_number_divided_by_a_tensor_saves_the_result": [-3.0, -0.75],
    "version_counts": (3, 3, 3, 1, [4.0, 6.0, 6.0]),
    "integers_stay_integers": ([7, 6, 8], "int64"),
}
RAISES = {"saved_output_changed": "one of the variables needed for gradient computation has "
          "been modified by an inplace operation",
          "saved_input_changed_under_no_grad": "one of the variables needed",
          "a_leaf_that_requires_grad": "a leaf Variable that requires grad is being used in an "
          "in-place operation.",
          "a_view_of_such_a_leaf": "a view of a leaf Variable that requires grad"}


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_program_without_torch(program) -> None:
    name = program.__name__
    if name in RAISES:
        with pytest.raises(RuntimeError, match=RAISES[name].replace("(", r"\(")):
            program(cr)
    elif name in EXPECTED:
        _same(program(cr), EXPECTED[name])
    else:
        program(cr)  # compared with torch below


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_program_matches_torch(program) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _run(cr, program), _run(torch, program)
    if isinstance(theirs, tuple) and theirs and theirs[0] == "RuntimeError":
        assert isinstance(ours, tuple) and ours[0] == "RuntimeError", ours
        return
    _same(ours, theirs)


# -- the mechanism, directly -------------------------------------------------------------------
def test_in_place_keeps_the_object_and_its_storage() -> None:
    p = cr.ones(3, requires_grad=True)
    obj, arr = p, p.array
    with cr.no_grad():
        p -= 0.5 * cr.ones(3)
    assert p is obj and p.array is arr and p.tolist() == [0.5, 0.5, 0.5] and p.is_leaf


def test_the_error_names_the_op_the_tensor_and_both_versions() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    y.add_(1)
    with pytest.raises(RuntimeError) as e:
        y.sum().backward()
    msg = str(e.value)
    assert "[chainrule.FloatTensor [2]]" in msg and "output 0 of Exp" in msg
    assert "is at version 2; expected version 0 instead" in msg and "Hint" in msg


def test_out_of_shape_and_out_of_dtype_results_are_refused() -> None:
    x = cr.ones(3)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        x.add_(cr.ones(2, 3))
    i = cr.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        i += 1.5
    with pytest.raises(RuntimeError, match="Float can't be cast"):
        i.div_(2)
    e = cr.ones(2, 1).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        e.add_(1)


def test_data_and_detach_share_storage_with_different_version_counters() -> None:
    w = cr.zeros(2, requires_grad=True)
    w.data.add_(1)          # the old idiom: not seen by autograd, no version change
    assert w.tolist() == [1.0, 1.0] and w._version == 0
    w.detach().add_(1)      # seen: detach shares the counter
    assert w.tolist() == [2.0, 2.0] and w._version == 1
    w.data = cr.tensor([5.0, 6.0, 7.0])  # PyTorch lets .data be replaced wholesale
    assert w.shape == (3,) and w.requires_grad


def test_optimizer_steps_and_init_count_as_in_place_changes() -> None:
    lin = cr.nn.Linear(2, 2)
    before = lin.weight._version
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    lin(cr.ones(1, 2)).sum().backward()
    opt.step()
    assert lin.weight._version == before + 1
    cr.nn.init.zeros_(lin.weight)
    assert lin.weight._version == before + 2
    x = cr.ones(1, 2, requires_grad=True)
    y = lin(x).sum()
    opt.step()  # between forward and backward: the saved weight changed
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_accumulated_gradients_are_summed_in_place() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g and g.tolist() == [5.0, 5.0]


def test_inplace_relu_module_changes_its_input() -> None:
    x = cr.tensor([-1.0, 2.0])
    y = cr.nn.ReLU(inplace=True)(x)
    assert x.tolist() == [0.0, 2.0] and (y is x or y.array is x.array)
