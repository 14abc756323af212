"""cr.viz.descent / lr_sweep: the real optimizers, step for step, and the textbook numbers."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.viz import descent, lr_sweep, surface
from chainrule.viz.surfaces import BUILTINS, quadratic

ALL = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamax",
       "nadam", "amsgrad"]


def by_hand(f, name, lr, steps, start):
    """The loop a user writes: the path of the parameter, start included."""
    p = cr.nn.Parameter(cr.tensor(np.array(start, dtype=np.float64)))
    opt = optim.create(name, [p], lr=lr)
    path = [p.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        f(p[0], p[1]).backward()
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


def test_trajectories_equal_calling_the_optimizer_by_hand():
    s = surface("rosenbrock")
    r = descent("rosenbrock", ALL, steps=40)
    assert list(r.runs) == ALL
    for name in ALL:
        t = r[name]
        want = by_hand(s.f, name, t.lr, 40, s.start)
        np.testing.assert_array_equal(t.path, want)
        assert t.losses[0] == pytest.approx(s(*[cr.tensor(v) for v in s.start]).item())
        assert len(t.losses) == 41 and not t.diverged


def test_options_labels_and_learning_rates():
    r = descent(quadratic(4.0), {"slow": {"name": "sgd", "lr": 1e-3}, "heavy": {
        "name": "sgd", "momentum": 0.5}}, lr={"heavy": 0.2}, steps=5, start=(1.0, 1.0))
    assert r["slow"].lr == 1e-3 and r["slow"].options == {}
    assert r["heavy"].lr == 0.2 and r["heavy"].options == {"momentum": 0.5}
    # heavy ball by hand: v <- 0.5 v + g; p <- p - 0.2 v, with g = (x, 4 y)
    p, v = np.array([1.0, 1.0]), None
    for _ in range(5):
        g = p * np.array([1.0, 4.0])
        v = g if v is None else 0.5 * v + g
        p = p - 0.2 * v
    np.testing.assert_allclose(r["heavy"].path[-1], p, rtol=1e-12)


def test_builtin_minima_are_stationary_points():
    for name in BUILTINS:
        s = surface(name)
        for m in s.minima:
            p = cr.tensor(np.array(m), requires_grad=True)
            (g,) = cr.autograd.grad(s(p[0], p[1]), [p])
            assert np.abs(g.numpy()).max() < 1e-4, (name, m, g.numpy())


def test_step_size_lessons_on_a_bowl():
    """Too small crawls, good converges, too large diverges; Adam copes with the ravine."""
    bowl = quadratic(10.0)
    r = descent(bowl, {"crawl": {"name": "sgd", "lr": 1e-3}, "good": {"name": "sgd", "lr": 0.1},
                       "over": {"name": "sgd", "lr": 0.25}}, steps=60)
    assert r["good"].final_loss < 1e-3 < r["crawl"].final_loss
    assert r["crawl"].final_loss < r["crawl"].losses[0]
    assert r["over"].final_loss > r["over"].losses[0]
    text = r.summary()
    assert "crawl" in text and "loss < 0.001 at step" in text


def test_divergence_is_detected_and_stops_the_run():
    r = descent(quadratic(10.0), {"big": {"name": "sgd", "lr": 1.0}}, steps=400)
    t = r["big"]
    assert t.diverged and len(t.losses) < 401 and "diverged at step" in r.summary()


def test_lr_sweep_finds_the_textbook_threshold():
    """Plain gradient descent on a bowl of curvature 10 diverges for lr > 2 / 10."""
    lrs = np.linspace(0.05, 0.35, 13)
    s = lr_sweep(quadratic(10.0), "sgd", lrs=lrs, steps=60)
    assert s.divergence_lr is not None and 0.2 < s.divergence_lr <= 0.225
    assert not s.diverged[lrs < 0.2].any() and s.diverged[lrs > 0.2].all()
    assert s.best_lr < 0.2
    assert "lr < 2 / curvature = 0.2" in s.summary()


def test_any_function_of_two_tensors():
    r = descent(lambda x, y: (x - 1) ** 2 + (y + 2) ** 2, ["sgd"], lr=0.1, steps=100,
                start=(0.0, 0.0))
    np.testing.assert_allclose(r["sgd"].path[-1], [1.0, -2.0], atol=1e-6)


def test_errors_name_what_exists():
    with pytest.raises(ValueError, match="rosenbrock"):
        descent("rosenbrok", ["sgd"])
    with pytest.raises(ValueError, match="adam"):
        descent("beale", ["adamm"])
    with pytest.raises(ValueError, match="condition"):
        quadratic(0.5)


def test_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    r = descent("himmelblau", ["sgd", "adam"], steps=20)
    fig = r.plot(tmp_path / "d.png")
    contour, losses = fig.axes[:2]
    assert len(contour.get_legend().get_texts()) == 2
    adam = [ln for ln in contour.lines if ln.get_label() == "adam"][0]
    np.testing.assert_array_equal(adam.get_xydata(), r["adam"].path)
    assert losses.get_yscale() == "log" and (tmp_path / "d.png").stat().st_size > 1000
    s = lr_sweep("quadratic", "sgd", lrs=[0.01, 0.1, 0.3], steps=10, path=tmp_path / "s.png")
    assert (tmp_path / "s.png").exists() and s.diverged.tolist() == [False, False, True]
    pytest.importorskip("PIL")
    r.animate(tmp_path / "d.gif", frames=5)
    assert (tmp_path / "d.gif").read_bytes()[:3] == b"GIF"


def test_lbfgs_runs_with_a_closure_one_iteration_per_step(capsys):
    """L-BFGS steps as its scripts do, opt.step(closure): the same path as that loop, one
    iterate per step, at the minimum of Rosenbrock's valley long before Adam."""
    s = surface("rosenbrock")
    r = descent("rosenbrock", ["lbfgs", "adam"], steps=60)
    t = r["lbfgs"]
    assert t.lr == 1.0 and not t.diverged
    assert t.options == {"max_iter": 1, "max_eval": 25, "line_search_fn": "strong_wolfe"}
    p = cr.nn.Parameter(cr.tensor(np.array(s.start, dtype=np.float64)))
    opt = optim.LBFGS([p], max_iter=1, max_eval=25, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = s.f(p[0], p[1])
        loss.backward()
        return loss

    path = [p.detach().numpy().copy()]
    for _ in range(60):
        opt.step(closure)
        path.append(p.detach().numpy().copy())
    np.testing.assert_array_equal(t.path, np.array(path))
    assert r.distance_to_minimum(t) < 1e-3 < r.distance_to_minimum(r["adam"])
    assert "loss < 0.001 at step" in r.summary().splitlines()[-2]
    # options override the playground's: 20 iterations per step reach the minimum in 3 steps
    many = descent("rosenbrock", {"lbfgs20": {"name": "lbfgs", "max_iter": 20,
                                              "max_eval": None}}, steps=3)["lbfgs20"]
    assert many.options["max_iter"] == 20 and many.final_loss < 1e-6
    # the command line: chainrule viz descent --optimizers lbfgs
    from chainrule.cli import main

    assert main(["viz", "descent", "--function", "beale", "--optimizers", "lbfgs,sgd",
                 "--steps", "40"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("lbfgs")]
    assert len(row) == 1 and "loss < 0.001 at step" in row[0]
