"""Short programs that use the breadth ops (quantile, bucketize, bincount, cov / corrcoef,
tensordot, lgamma / xlogy, cummax, diff, the trapezoid rules) as a PyTorch user writes them,
each written once as a function of the module `t` and run on torch and on chainrule: every value
it returns (losses, intermediate tensors, gradients, an optimizer's trajectory) must agree.
Skipped where torch is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


# == short user programs, written once for t = torch or chainrule ==================================
def _both(program) -> None:  # noqa: ANN001
    """Run program(t) on torch and chainrule; every value it returns must agree."""
    ref, got = program(torch), program(cr)
    assert ref.keys() == got.keys()
    for k in ref:
        r, g = ref[k], got[k]
        r = r.detach().numpy() if isinstance(r, torch.Tensor) else np.asarray(r)
        g = g.detach().numpy() if isinstance(g, cr.Tensor) else np.asarray(g)
        assert g.dtype == r.dtype and g.shape == r.shape, f"{k}: {g.dtype}{g.shape} vs " \
            f"{r.dtype}{r.shape}"
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6, err_msg=k)


ACTS = np.random.default_rng(7).standard_normal((64, 10)).astype(np.float32)
W_ACT = np.random.default_rng(8).standard_normal((10, 6)).astype(np.float32) * 0.5


def test_program_quantile_clipping_of_activations() -> None:
    def program(t):  # noqa: ANN001, ANN202
        x = t.tensor(ACTS)
        W = t.tensor(W_ACT, requires_grad=True)
        h = x @ W
        lo = h.quantile(0.05, dim=0, keepdim=True)
        hi = t.quantile(h, 0.95, dim=0, keepdim=True)
        clipped = t.max(t.min(h, hi), lo)  # outliers clipped per feature
        loss = clipped.pow(2).mean()
        loss.backward()
        return {"lo": lo, "hi": hi, "loss": loss, "W.grad": W.grad}

    _both(program)


def test_program_bucketize_a_feature_into_an_embedding() -> None:
    ages = np.array([3.0, 18.0, 25.0, 30.0, 44.9, 45.0, 70.0, 99.0], np.float32)
    table = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)

    def program(t):  # noqa: ANN001, ANN202
        age = t.tensor(ages)
        boundaries = t.tensor([18.0, 30.0, 45.0, 65.0])
        bucket = t.bucketize(age, boundaries)  # 0..4
        emb = t.nn.Embedding(5, 4)
        with t.no_grad():
            emb.weight.copy_(t.tensor(table))
        out = emb(bucket).sum()
        out.backward()
        counts = t.bincount(bucket, minlength=5)
        return {"bucket": bucket, "counts": counts, "out": out, "grad": emb.weight.grad}

    _both(program)


def test_program_covariance_and_correlation_of_data() -> None:
    data = np.random.default_rng(5).standard_normal((100, 3)) @ np.array(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]])

    def program(t):  # noqa: ANN001, ANN202
        X = t.tensor(data, requires_grad=True)
        C = t.cov(X.T)                   # variables in rows
        R = t.corrcoef(X.T)
        mu = X.mean(0)
        d = X - mu
        maha = (d @ t.linalg.inv(C) * d).sum(1)  # squared Mahalanobis distances
        maha.mean().backward()
        return {"C": C, "R": R, "maha": maha, "X.grad": X.grad}

    _both(program)


def test_program_tensordot_attention_scores() -> None:
    q_ = np.random.default_rng(11).standard_normal((5, 8))
    k_ = np.random.default_rng(12).standard_normal((7, 8))
    v_ = np.random.default_rng(13).standard_normal((7, 8))

    def program(t):  # noqa: ANN001, ANN202
        q = t.tensor(q_, requires_grad=True)
        k = t.tensor(k_, requires_grad=True)
        v = t.tensor(v_)
        scores = t.tensordot(q, k, dims=([1], [1])) / 8 ** 0.5   # (5, 7)
        attn = scores.softmax(dim=-1)
        out = t.tensordot(attn, v, dims=1)                        # (5, 8)
        out.pow(2).sum().backward()
        return {"scores": scores, "out": out, "q.grad": q.grad, "k.grad": k.grad}

    _both(program)


def test_program_fit_a_beta_distribution_with_lgamma() -> None:
    """Maximum likelihood by SGD: the loss is built from lgamma, so each step's gradient goes
    through digamma; 20 steps must follow torch's trajectory."""
    samples = np.random.default_rng(2).beta(2.0, 5.0, 200)

    def program(t):  # noqa: ANN001, ANN202
        x = t.tensor(samples)
        log_ab = t.zeros(2, dtype=t.float64, requires_grad=True)
        opt = t.optim.SGD([log_ab], lr=0.5)
        losses = []
        for _ in range(20):
            opt.zero_grad()
            a, b = log_ab.exp()
            log_beta = t.lgamma(a) + t.lgamma(b) - t.lgamma(a + b)
            nll = log_beta - ((a - 1) * x.log() + t.xlogy(b - 1, 1 - x)).mean()
            nll.backward()
            opt.step()
            losses.append(nll.item())
        return {"losses": np.array(losses), "log_ab": log_ab}

    _both(program)


def test_program_running_drawdown_and_area_under_a_curve() -> None:
    prices = 100 + np.cumsum(np.random.default_rng(9).standard_normal(50))

    def program(t):  # noqa: ANN001, ANN202
        p = t.tensor(prices, requires_grad=True)
        peak, where_peak = t.cummax(p, dim=0)
        drawdown = (peak - p) / peak
        worst = drawdown.max()
        returns = t.diff(p.log())
        area = t.trapezoid(p, dx=0.5)
        running = t.cumulative_trapezoid(p, dx=0.5)
        (worst + area * 1e-3 + returns.std()).backward()
        return {"where_peak": where_peak, "worst": worst, "area": area, "running": running,
                "p.grad": p.grad}

    _both(program)
