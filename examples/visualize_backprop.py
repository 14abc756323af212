"""One picture of each kind chainrule.viz draws, written to a folder (default ./out).

    python examples/visualize_backprop.py                     # needs matplotlib; Graphviz
    python examples/visualize_backprop.py --out docs/images   # regenerate the README's pictures

1. graph_mlp.png       the graph of a 2-layer MLP's loss, with values and gradients
   (and explain.txt:   the same backward pass narrated on a tiny scalar graph)
2. descent_steps.png   one step size too small, one right, one too large, on a bowl
3. descent_rosenbrock.png   SGD, momentum, Nesterov and adaptive methods in a curved valley
4. lr_sweep.png        where plain gradient descent turns to divergence
5. gradient_flow.png   vanishing gradients in a deep sigmoid net, per layer
6. lr_find.png         the learning-rate range test and its suggestion
7. saliency.png        which pixels the prediction is sensitive to (MNIST when present)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.viz  # noqa: F401  (cr.viz)
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.nn import functional as F


def graph_and_explain(out: Path) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x, y = cr.randn(4, 2), cr.randn(4, 1)
    x.name, y.name = "x", "y"
    loss = F.mse_loss(model(x), y)
    try:
        cr.viz.graph(loss, model=model, path=out / "graph_mlp.png")
    except cr.viz.GraphvizNotFound as e:
        print(f"skipped graph_mlp.png: {e}", file=sys.stderr)
    a = cr.tensor(2.0, requires_grad=True)
    b = cr.tensor(-3.0, requires_grad=True)
    c = cr.tensor(0.5, requires_grad=True)
    a.name, b.name, c.name = "a", "b", "c"
    f = (a * b + c * a).sigmoid()
    f.name = "f"
    (out / "explain.txt").write_text(str(cr.viz.explain(f)) + "\n")


def descents(out: Path) -> None:
    bowl = cr.viz.surfaces.quadratic(10.0)
    cr.viz.descent(bowl, {"lr 0.01 (too small)": {"name": "sgd", "lr": 0.01},
                          "lr 0.12 (good)": {"name": "sgd", "lr": 0.12},
                          "lr 0.205 (too large)": {"name": "sgd", "lr": 0.205}},
                   steps=30, path=out / "descent_steps.png")
    r = cr.viz.descent("rosenbrock", ["sgd", "momentum", "nesterov", "rmsprop", "adam",
                                      "nadam"], path=out / "descent_rosenbrock.png")
    print(r.summary())
    s = cr.viz.lr_sweep(bowl, "sgd", path=out / "lr_sweep.png")
    print(s.summary())


def gradient_flow(out: Path) -> None:
    cr.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(8, 32)]
    for _ in range(12):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(32, 2))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 8)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    monitor = cr.viz.GradientMonitor(model, warn=print)
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                             generator=cr.Generator().manual_seed(0)):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        monitor.record()
        opt.step()
    monitor.plot(out / "gradient_flow.png")


def learning_rate_finder(out: Path) -> None:
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1024, 10)).astype(np.float32)
    y = (X @ rng.standard_normal((10, 3))).argmax(1)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                        generator=cr.Generator().manual_seed(1))
    found = cr.viz.lr_find(model, loader, F.cross_entropy,
                           optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    print(f"lr_find suggests lr = {found.suggestion:.3g}")
    found.plot(out / "lr_find.png")


def bars(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """12x12 noisy images with one bright bar: class 0 horizontal, class 1 vertical."""
    X = rng.normal(0, 0.3, (n, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 2, n)
    at = rng.integers(1, 11, n)
    for i in range(n):
        if y[i] == 0:
            X[i, 0, at[i], 2:10] += 1.5
        else:
            X[i, 0, 2:10, at[i]] += 1.5
    return X, y


def saliency_maps(out: Path) -> None:
    """A small CNN on MNIST (the t10k files in ../shared/datasets/mnist when present; noisy
    bars otherwise), then d score of the true class / d pixel for six test images."""
    cr.manual_seed(0)
    try:
        from _mnist import load_mnist

        X, y, Xt, yt = load_mnist(flat=False)
        classes = 10
    except (ImportError, OSError, ValueError):
        X, y = bars(2000, np.random.default_rng(0))
        Xt, yt = bars(6, np.random.default_rng(1))
        classes = 2
    side = X.shape[-1] // 4
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * side * side, classes))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True,
                             generator=cr.Generator().manual_seed(0)):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    cr.viz.saliency(model, Xt[:6], yt[:6], path=out / "saliency.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw one picture of each kind chainrule.viz "
                                     "makes (graph, descent, lr sweep, gradient flow, lr "
                                     "finder, saliency) into a folder.")
    parser.add_argument("--out", type=Path, default=Path("out"), metavar="DIR",
                        help="Folder for the pictures (default ./out; --out docs/images "
                        "regenerates the README's pictures).")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    graph_and_explain(out)
    descents(out)
    gradient_flow(out)
    learning_rate_finder(out)
    saliency_maps(out)
    print(f"pictures in {out}")


if __name__ == "__main__":
    main()
