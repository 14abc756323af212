"""Whole small programs in the style of the PyTorch documentation, the tutorials and d2l, written
once as a function of the module (`def program(torch, ...)`) and run twice: with torch, and with
chainrule under the same name. The initial weights come from torch's model (through NumPy, into
`load_state_dict` or `p.copy_` under no_grad), so the losses must agree step by step.
Skipped where torch is not installed.
"""

from __future__ import annotations

import importlib
import io
import math
from typing import Any, Callable

import numpy as np
import pytest

import chainrule

torch_module = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5


def both(program: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
    """(torch's result, chainrule's result) of one program."""
    return program(torch_module, *args), program(chainrule, *args)


def assert_close(got: Any, ref: Any, where: str = "result") -> None:
    if isinstance(ref, dict):
        assert isinstance(got, dict) and list(got) == list(ref), f"{where}: keys {list(got)}"
        for k in ref:
            assert_close(got[k], ref[k], f"{where}[{k!r}]")
    elif isinstance(ref, (list, tuple)) and not np.isscalar(ref):
        assert len(got) == len(ref), f"{where}: {len(got)} items, torch {len(ref)}"
        for k, (g, r) in enumerate(zip(got, ref)):
            assert_close(g, r, f"{where}[{k}]")
    elif isinstance(ref, (str, bool)):
        assert got == ref, f"{where}: chainrule {got!r}, torch {ref!r}"
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                                   np.asarray(ref, dtype=np.float64), rtol=RTOL, atol=ATOL,
                                   err_msg=where)


def numpy_state(model: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def initial_weights(build: Callable[[Any], Any], seed: int = 0) -> dict[str, np.ndarray]:
    """torch's own initialization of a model, as NumPy arrays."""
    torch_module.manual_seed(seed)
    return numpy_state(build(torch_module))


def load(torch: Any, model: Any, weights: dict[str, np.ndarray]) -> Any:
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    return model


# == (a) d2l: linear regression from scratch =======================================================


def synthetic_data(w: np.ndarray, b: float, num_examples: int) -> tuple[np.ndarray, np.ndarray]:
    """y = Xw + b + noise (d2l 3.2.1), drawn with NumPy so both libraries see the same data."""
    g = np.random.default_rng(42)
    X = g.normal(0, 1, (num_examples, len(w))).astype(np.float32)
    y = (X @ w + b + g.normal(0, 0.01, num_examples)).astype(np.float32)
    return X, y.reshape((-1, 1))


def linear_regression_from_scratch(torch: Any) -> dict[str, Any]:
    true_w, true_b = np.array([2, -3.4]), 4.2
    features_np, labels_np = synthetic_data(true_w, true_b, 1000)
    features, labels = torch.from_numpy(features_np), torch.from_numpy(labels_np)

    def data_iter(batch_size: int, features: Any, labels: Any) -> Any:
        num_examples = len(features)
        indices = list(range(num_examples))
        indices = indices[::2] + indices[1::2]  # d2l shuffles; a fixed order keeps both in step
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    with torch.no_grad():  # the same start in both libraries
        w.copy_(torch.tensor([[0.01], [-0.02]]))

    def linreg(X: Any, w: Any, b: Any) -> Any:
        return torch.matmul(X, w) + b

    def squared_loss(y_hat: Any, y: Any) -> Any:
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params: list, lr: float, batch_size: int) -> None:
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    lr, num_epochs, batch_size = 0.03, 3, 10
    net, loss = linreg, squared_loss
    w_object = w
    batch_losses, epoch_losses = [], []
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)  # noqa: E741  (d2l's name)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
            batch_losses.append(l.sum().item())
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            epoch_losses.append(float(train_l.mean()))
            print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")
    return {"batch_losses": batch_losses, "epoch_losses": epoch_losses,
            "w": w.detach().numpy().copy(), "b": b.detach().numpy().copy(),
            "w_error": (torch.from_numpy(true_w.astype(np.float32)) - w.reshape(true_w.shape))
            .detach().numpy().copy(),
            "same_w_object": w is w_object, "w_is_leaf": w.is_leaf}


def test_a_d2l_linear_regression_from_scratch() -> None:
    ref, got = both(linear_regression_from_scratch)
    assert_close(got, ref)
    assert got["epoch_losses"][-1] < 1e-2 * got["epoch_losses"][0]  # it really trains


# == (b) an MLP: nn.Sequential, CrossEntropyLoss, SGD(momentum) and Adam, TensorDataset+DataLoader


def classification_data(n: int = 96, features: int = 4, classes: int = 3) -> tuple:
    g = np.random.default_rng(1)
    centers = g.normal(0, 2, (classes, features))
    y = g.integers(0, classes, n)
    X = (centers[y] + g.normal(0, 1, (n, features))).astype(np.float32)
    return X, y.astype(np.int64)


def build_mlp(torch: Any) -> Any:
    nn = torch.nn
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def train_mlp(torch: Any, weights: dict, make_optimizer: Callable[[Any, Any], Any],
              data: Any = None) -> dict[str, Any]:
    data = torch.utils.data if data is None else data
    X, y = classification_data()
    dataset = data.TensorDataset(torch.tensor(X), torch.tensor(y))
    train_dataloader = data.DataLoader(dataset, batch_size=16, shuffle=False)

    model = load(torch, build_mlp(torch), weights)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = make_optimizer(torch, model.parameters())

    losses, batch_shapes = [], []
    for _ in range(3):
        model.train()
        for batch, (xb, yb) in enumerate(train_dataloader):
            pred = model(xb)
            loss = loss_fn(pred, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if batch == 0:
                batch_shapes.append(str((tuple(xb.shape), str(xb.dtype).split(".")[-1],
                                         tuple(yb.shape), str(yb.dtype).split(".")[-1])))
    return {"losses": losses, "batch_shapes": batch_shapes, "len": [len(dataset),
                                                                    len(train_dataloader)],
            "weights": list(numpy_state(model).values())}


def sgd_momentum(torch: Any, params: Any) -> Any:
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def sgd_nesterov_weight_decay(torch: Any, params: Any) -> Any:
    return torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)


def adam(torch: Any, params: Any) -> Any:
    return torch.optim.Adam(params, lr=1e-2)


def adam_betas_weight_decay(torch: Any, params: Any) -> Any:
    return torch.optim.Adam(params, lr=3e-3, betas=(0.8, 0.99), weight_decay=1e-2)


@pytest.mark.parametrize("make_optimizer", [sgd_momentum, sgd_nesterov_weight_decay, adam,
                                            adam_betas_weight_decay])
def test_b_mlp_with_dataloader(make_optimizer: Callable[[Any, Any], Any]) -> None:
    ref, got = both(train_mlp, initial_weights(build_mlp), make_optimizer)
    assert_close(got, ref)
    assert got["losses"][-1] < got["losses"][0]


def test_b_mlp_with_chainrule_utils_data() -> None:
    """`import chainrule.utils.data` works as `import torch.utils.data` does."""
    import chainrule.utils.data

    weights = initial_weights(build_mlp)
    ref = train_mlp(torch_module, weights, adam)
    for module in (chainrule.utils.data, importlib.import_module("chainrule.data")):
        got = train_mlp(chainrule, weights, adam, module)
        assert_close(got, ref)


# == (c) a custom autograd Function in PyTorch's style =============================================


def custom_function_two_layer_net(torch: Any) -> dict[str, Any]:
    """The 'PyTorch: Defining new autograd functions' example: a ReLU of our own in a
    two-layer net trained with a hand-written update."""

    class MyReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, input: Any) -> Any:  # noqa: A002
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (input,) = ctx.saved_tensors  # noqa: A001
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    g = np.random.default_rng(5)
    N, D_in, H, D_out = 16, 10, 20, 3
    x = torch.tensor(g.standard_normal((N, D_in)), dtype=torch.float)
    y = torch.tensor(g.standard_normal((N, D_out)), dtype=torch.float)
    w1 = torch.tensor(g.standard_normal((D_in, H)) * 0.3, dtype=torch.float, requires_grad=True)
    w2 = torch.tensor(g.standard_normal((H, D_out)) * 0.3, dtype=torch.float, requires_grad=True)

    learning_rate = 1e-3
    losses = []
    for _ in range(20):
        relu = MyReLU.apply
        y_pred = relu(x.mm(w1)).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return {"losses": losses, "w1": w1.detach().numpy().copy()}


def custom_function_legendre(torch: Any) -> dict[str, Any]:
    """The current tutorial: y = a + b * P3(c + d * x) fit to sin(x) with LegendrePolynomial3."""

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, input: Any) -> Any:  # noqa: A002
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (input,) = ctx.saved_tensors  # noqa: A001
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 200, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)

    learning_rate = 5e-5
    losses = []
    for t in range(30):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 10 == 9:
            print(t, loss.item())
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return {"losses": losses, "coefficients": [a.item(), b.item(), c.item(), d.item()]}


def custom_function_two_inputs(torch: Any) -> dict[str, Any]:
    """A Function with two tensor inputs and a number, needs_input_grad, and None for the number;
    used inside an nn.Module and trained with an optimizer."""

    class ScaledMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, w: Any, scale: float) -> Any:
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            return x * w * scale

        @staticmethod
        def backward(ctx: Any, grad_out: Any) -> Any:
            x, w = ctx.saved_tensors
            gx = grad_out * w * ctx.scale if ctx.needs_input_grad[0] else None
            gw = (grad_out * x * ctx.scale).sum(0) if ctx.needs_input_grad[1] else None
            return gx, gw, None

    class Gate(torch.nn.Module):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.linspace(0.5, 1.5, n))

        def forward(self, x: Any) -> Any:
            return ScaledMul.apply(x, self.w, 2.0)

    g = np.random.default_rng(9)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), Gate(5), torch.nn.Tanh(),
                                torch.nn.Linear(5, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor(g.standard_normal(tuple(p.shape)) * 0.4))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.tensor(g.standard_normal((8, 4)), dtype=torch.float32)
    y = torch.tensor(g.standard_normal((8, 1)), dtype=torch.float32)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "gate": model[1].w.detach().numpy().copy()}


@pytest.mark.parametrize("program", [custom_function_two_layer_net, custom_function_legendre,
                                     custom_function_two_inputs])
def test_c_custom_autograd_function(program: Callable[[Any], Any]) -> None:
    ref, got = both(program)
    assert_close(got, ref)


# == (d) evaluation under no_grad: argmax accuracy, model.eval() / model.train() ===================


def build_classifier(torch: Any) -> Any:
    nn = torch.nn

    class NeuralNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(2 * 2, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(0.5),
                nn.Linear(12, 3),
            )

        def forward(self, x: Any) -> Any:
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    return NeuralNetwork()


def evaluate_classifier(torch: Any, weights: dict) -> dict[str, Any]:
    """The quickstart's test loop, and what eval() and train() switch."""
    X, y = classification_data(n=64)
    dataset = torch.utils.data.TensorDataset(torch.tensor(X).reshape(-1, 2, 2), torch.tensor(y))
    test_dataloader = torch.utils.data.DataLoader(dataset, batch_size=20)
    model = load(torch, build_classifier(torch), weights)
    loss_fn = torch.nn.CrossEntropyLoss()

    def test(dataloader: Any, model: Any, loss_fn: Any) -> tuple[float, float, bool]:
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
        return test_loss, correct, pred.requires_grad

    test_loss, accuracy, pred_requires_grad = test(test_dataloader, model, loss_fn)
    flags_eval = [m.training for m in model.modules()]
    xb = torch.tensor(X[:16]).reshape(-1, 2, 2)
    eval_out = [model(xb).detach().numpy().copy() for _ in range(2)]

    model.train()
    flags_train = [m.training for m in model.modules()]
    model(xb)  # batch statistics, and the running statistics move
    bn = model.linear_relu_stack[1]
    return {"test_loss": test_loss, "accuracy": accuracy,
            "pred_requires_grad": pred_requires_grad,
            "flags": [str(flags_eval), str(flags_train)],
            "eval_out": eval_out[0], "eval_deterministic": bool(np.array_equal(*eval_out)),
            "running_mean": bn.running_mean.numpy().copy(),
            "running_var": bn.running_var.numpy().copy(),
            "num_batches_tracked": int(bn.num_batches_tracked)}


def test_d_no_grad_evaluation_and_modes() -> None:
    torch_module.manual_seed(0)
    model = build_classifier(torch_module)
    with torch_module.no_grad():  # running statistics other than the defaults
        bn = model.linear_relu_stack[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    weights = numpy_state(model)
    ref, got = both(evaluate_classifier, weights)
    assert_close(got, ref)


# == (e) a small CNN: one training step ============================================================


def build_cnn(torch: Any) -> Any:
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 4, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(4, 8, 3), nn.ReLU(inplace=True),
            )
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(8 * 2 * 2, 3)

        def forward(self, x: Any) -> Any:
            return self.fc(self.flatten(self.features(x)))

    return Net()


def cnn_one_step(torch: Any, weights: dict) -> dict[str, Any]:
    g = np.random.default_rng(3)
    images = torch.tensor(g.standard_normal((6, 1, 8, 8)), dtype=torch.float32)
    labels = torch.tensor(g.integers(0, 3, 6))
    net = load(torch, build_cnn(torch), weights)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    optimizer.zero_grad()
    outputs = net(images)
    loss = criterion(outputs, labels)
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in net.named_parameters()}
    optimizer.step()
    with torch.no_grad():
        loss_after = criterion(net(images), labels).item()
    return {"outputs_shape": str(tuple(outputs.shape)), "loss": loss.item(), "grads": grads,
            "loss_after": loss_after}


def test_e_cnn_one_training_step() -> None:
    ref, got = both(cnn_one_step, initial_weights(build_cnn))
    assert_close(got, ref)


# == (f) an LSTM with a Linear head, a few steps of Adam ===========================================


def build_sequence_model(torch: Any) -> Any:
    nn = torch.nn

    class SequenceRegressor(nn.Module):
        def __init__(self, input_size: int = 3, hidden_size: int = 8) -> None:
            super().__init__()
            self.lstm = nn.LSTM(input_size=input_size, hidden_size=hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, 1)

        def forward(self, x: Any) -> Any:
            out, (h_n, c_n) = self.lstm(x)
            return self.head(out[:, -1, :]), out, h_n, c_n

    return SequenceRegressor()


def lstm_adam(torch: Any, weights: dict) -> dict[str, Any]:
    g = np.random.default_rng(4)
    x = torch.tensor(g.standard_normal((5, 7, 3)), dtype=torch.float32)
    target = torch.tensor(g.standard_normal((5, 1)), dtype=torch.float32)
    model = load(torch, build_sequence_model(torch), weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.MSELoss()
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        pred, out, h_n, c_n = model(x)
        loss = loss_fn(pred, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses, "shapes": str([tuple(out.shape), tuple(h_n.shape),
                                             tuple(c_n.shape)]),
            "last_step_equals_h_n": out[:, -1, :].detach().numpy() - h_n[0].detach().numpy(),
            "weights": numpy_state(model)}


def test_f_lstm_batch_first_adam() -> None:
    ref, got = both(lstm_adam, initial_weights(build_sequence_model))
    assert_close(got, ref)


# == (g) state_dict round trip, save/load in memory, and manual_seed ===============================


def state_dict_round_trip(torch: Any, weights: dict) -> dict[str, Any]:
    model = load(torch, build_mlp(torch), weights)
    x = torch.tensor(classification_data(n=8)[0])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])).backward()
    opt.step()

    sd = model.state_dict()
    model2 = build_mlp(torch)
    result = model2.load_state_dict(sd)
    same_outputs = bool(torch.equal(model(x), model2(x)))

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    sd_loaded = torch.load(buffer, weights_only=True)
    model3 = build_mlp(torch)
    model3.load_state_dict(sd_loaded)

    with torch.no_grad():  # state_dict() tensors share the parameters' storage
        model[0].weight.add_(1.0)
    aliasing = bool(torch.equal(sd["0.weight"], model[0].weight))
    independent = not bool(torch.equal(model2[0].weight, model[0].weight))

    try:
        build_mlp(torch).load_state_dict({k: v for k, v in sd.items() if k != "2.bias"})
        strict_missing = "no error"
    except RuntimeError:
        strict_missing = "RuntimeError"
    return {"keys": list(sd), "loaded_types": str(sorted({type(v).__name__
                                                         for v in sd_loaded.values()})),
            "missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys),
            "same_outputs": same_outputs, "model3_out": model3(x).detach().numpy().copy(),
            "model2_out": model2(x).detach().numpy().copy(),
            "aliasing": aliasing, "independent": independent, "strict_missing": strict_missing}


def test_g_state_dict_round_trip() -> None:
    ref, got = both(state_dict_round_trip, initial_weights(build_mlp))
    assert_close(got, ref)


def seeded_run(torch: Any, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = build_mlp(torch)
    x = torch.randn(4, 4)
    noise = torch.rand(3)
    order = [int(i) for i in torch.randperm(6)]
    dataset = torch.utils.data.TensorDataset(torch.arange(12.0).reshape(6, 2))
    batches = [b[0].tolist() for b in torch.utils.data.DataLoader(dataset, batch_size=2,
                                                                    shuffle=True)]
    model.train()
    dropped = torch.nn.functional.dropout(torch.ones(20), p=0.5).tolist()
    return {"weights": numpy_state(model), "x": x.numpy().copy(), "noise": noise.numpy().copy(),
            "order": order, "batches": batches, "dropped": dropped,
            "out": model(x).detach().numpy().copy()}


def test_g_manual_seed_reproducibility() -> None:
    """Same seed, same numbers (within chainrule); another seed, other numbers."""
    first, again, other = (seeded_run(chainrule, s) for s in (0, 0, 1))
    assert_close(again, first)
    for key in ("x", "noise", "out"):
        assert not np.allclose(first[key], other[key]), key
    assert first["weights"]["0.weight"].tolist() != other["weights"]["0.weight"].tolist()
