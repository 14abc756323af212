"""Short whole programs in the style of PyTorch's own tutorials (the polynomial series, Learn the
Basics, the 60-minute blitz, "What is torch.nn really?", the char-RNN classifier, and
pytorch/examples' mnist and word_language_model), each run unchanged but for its imports under
torch and under chainrule; what they print must agree number by number (tutorial_runner).
Skipped where torch is not installed.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from tutorial_runner import run_both

import chainrule as cr

pytest.importorskip("torch")


def test_polynomial_with_tensors_and_a_custom_autograd_function() -> None:
    run_both('''
import math
import torch

class Cubic(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)

dtype, device = torch.float, torch.device("cpu")
x = torch.linspace(-math.pi, math.pi, 500, device=device, dtype=dtype)
y = torch.sin(x)
a = torch.randn((), device=device, dtype=dtype)
b = torch.randn((), device=device, dtype=dtype)
for t in range(100):                       # the gradients written by hand
    y_pred = a + b * x
    loss = (y_pred - y).pow(2).sum().item()
    grad_y_pred = -2.0 * (y - y_pred)
    a -= 1e-4 * grad_y_pred.sum()
    b -= 1e-4 * torch.matmul(input=grad_y_pred, other=x).sum()
print(loss, a.item(), b.item())

c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
for t in range(100):                       # autograd through a custom Function
    P3 = Cubic.apply
    loss = (P3(c + d * x) - y).pow(2).sum()
    if t % 25 == 24:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        c -= 5e-6 * c.grad
        d -= 5e-6 * d.grad
        c.grad = None
        d.grad = None
print(f"Result: y = P3({c.item()} + {d.item()} x)")
''')


def test_polynomial_with_nn_sequential_flatten_and_optim() -> None:
    run_both('''
import math
import torch

x = torch.linspace(-math.pi, math.pi, 500)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)               # int exponents on a float base: float
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
__hook__(model)
loss_fn = torch.nn.MSELoss(reduction='sum')
for t in range(50):                        # hand-written update, then torch.optim
    loss = loss_fn(model(xx), y)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= 1e-6 * param.grad
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
for t in range(50):
    loss = loss_fn(model(xx), y)
    if t % 10 == 9:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
linear_layer = model[0]
print(f"y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x "
      f"+ {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
''')


def test_dynamic_net_with_python_random_control_flow_and_momentum() -> None:
    run_both('''
import math
import random
import torch

class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.e = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        y = self.a + self.b * x
        for exp in range(4, random.randint(4, 6)):   # the graph changes from step to step
            y = y + self.e * x ** exp
        return y

x = torch.linspace(-math.pi, math.pi, 500)
y = torch.sin(x)
model = DynamicNet()
criterion = torch.nn.MSELoss(reduction='sum')
optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
for t in range(200):
    loss = criterion(model(x), y)
    if t % 50 == 49:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(model.a.item(), model.b.item(), model.e.item())
''')


def test_learn_the_basics_tensors_out_and_numpy_bridge() -> None:
    ref, got = run_both('''
import numpy as np
import torch

tensor = torch.ones(4, 4)
tensor[:, 1] = 0
y3 = torch.rand_like(tensor)
torch.matmul(tensor, tensor.T, out=y3)      # out= writes into y3, as in "Tensors"
z3 = torch.rand_like(tensor)
torch.mul(tensor, tensor, out=z3)
print(y3, z3)
agg_item = tensor.sum().item()
print(agg_item, type(agg_item))
tensor.add_(5)
t = torch.ones(5)
n = t.numpy()
t.add_(1)
print(f"t: {t}", f"n: {n}")
n = np.ones(5)
t = torch.from_numpy(n)
np.add(n, 1, out=n)
print(f"t: {t}")
''')
    assert "<class 'float'>" in got


def test_out_argument_keeps_pytorch_rules() -> None:
    a, w = cr.ones(2, 2), cr.ones(2, 2, requires_grad=True)
    out = cr.zeros(2, 2)
    assert cr.add(a, a, out=out) is out and out.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        cr.matmul(a, w, out=out)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        cr.mul(a, 2, out=cr.zeros(2, 2, dtype=cr.long))
    with pytest.warns(UserWarning, match="was resized"):
        cr.mul(a, a, out=out[:1])  # a view of another shape is resized, with PyTorch's warning
    empty = cr.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cr.matmul(a, a, out=empty).shape == (2, 2)  # an empty out grows silently


def test_autograd_basics_grad_fn_next_functions_and_jacobian_products() -> None:
    run_both('''
import torch

x = torch.ones(5)
y = torch.zeros(3)
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
print(f"Gradient function for z = {z.grad_fn}")
loss.backward()
print(w.grad, b.grad)
with torch.no_grad():
    print(torch.matmul(x, w).requires_grad, z.detach().requires_grad)
h = (torch.relu(x @ w) * 2).sum()          # walk the graph from the loss to the leaf
assert h.grad_fn.name() == "SumBackward0"
node = h.grad_fn
while node.next_functions:
    node = next(f for f, _ in node.next_functions if f is not None)
print(type(node).__name__, node.variable is w)
inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
out.backward(torch.ones_like(out), retain_graph=True)
print(inp.grad)
''')


def test_assigning_a_non_tensor_grad_fails_where_it_is_assigned() -> None:
    # PyTorch's polynomial_autograd.py ends each step with `a.grad = 0.`: torch 2 refuses it at
    # that line, and so must chainrule (else backward fails later, far from the cause)
    a = cr.randn((), requires_grad=True)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
        a.grad = 0.0
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="same size"):
        w.grad = cr.zeros(3)
    with pytest.raises(RuntimeError, match="dtype"):
        w.grad = cr.zeros(2, dtype=cr.float64)
    w.grad = cr.ones(2)
    w.grad = None
    assert w.grad is None


def test_ieee_results_come_without_numpy_warnings_as_in_torch() -> None:
    # a causal mask is log(tril(ones)): torch gives 0 and -inf silently, where NumPy would warn
    # from inside chainrule's ops; the user's own NumPy code still warns. Run as a script runs
    # (chainrule imported at the top, not inside pytest's catch_warnings, which would drop the
    # filter chainrule installs)
    script = """
import numpy as np
import chainrule as torch
mask = torch.log(torch.tril(torch.ones(3, 3)))
x = torch.tensor([1.0, 0.0, -1.0])
q, root, big = (x / 0).numpy(), torch.sqrt(x).numpy(), torch.exp(torch.tensor([1e3])).numpy()
assert mask[0, 1].item() == -np.inf and mask[1, 0].item() == 0.0
assert q[0] == np.inf and np.isnan(q[1]) and np.isnan(root[2]) and big[0] == np.inf
np.log(np.zeros(1))
"""
    done = subprocess.run([sys.executable, "-W", "default", "-c", script], capture_output=True,
                          text=True, timeout=120, cwd=Path(cr.__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("RuntimeWarning") == 1 and "<string>:9:" in done.stderr, done.stderr


def test_save_and_load_weights_and_a_whole_model() -> None:
    run_both('''
import os
import tempfile
import torch
from torch import nn

class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(28 * 28, 32), nn.ReLU(),
                                               nn.Dropout(0.5), nn.Linear(32, 10))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))

os.chdir(tempfile.mkdtemp())
model = NeuralNetwork()
__hook__(model)
torch.save(model.state_dict(), 'model_weights.pth')
model = NeuralNetwork()
print(model.load_state_dict(torch.load('model_weights.pth', weights_only=True)))
model.eval()
x = torch.rand(2, 28, 28)
print(model(x))
torch.save(model, 'model.pth')
model = torch.load('model.pth', weights_only=False)
print(model(x), model.training)
''')


def test_older_tutorials_variable_and_typed_tensor_classes() -> None:
    ref, got = run_both('''
import warnings
import torch
from torch.autograd import Variable

category_tensor = Variable(torch.LongTensor([2]))
hidden = Variable(torch.zeros(1, 4))
w = Variable(torch.randn(4, 3), requires_grad=True)
out = torch.nn.functional.log_softmax(hidden @ w + 1, dim=1)
loss = torch.nn.NLLLoss()(out, category_tensor)
loss.backward()
print(loss.data, w.grad.data.sum(), w.is_leaf, Variable(out).is_leaf, Variable(out).grad_fn)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for p in [w]:
        p.data.add_(-0.1, p.grad.data)       # the deprecated overload: alpha first, warned
print(w.sum().item(), len(caught))
print(isinstance(w, Variable), isinstance(w, torch.FloatTensor), isinstance(w, torch.LongTensor))
print(torch.FloatTensor([1, 2]), torch.FloatTensor(2, 3).shape, torch.LongTensor([1.5]))
print(torch.ByteTensor([1]).dtype == torch.uint8, torch.ones(2).type(torch.LongTensor))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    Variable(torch.ones(1), volatile=True)
print(len(caught))
''')
    assert "True True False" in got
