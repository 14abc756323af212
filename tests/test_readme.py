"""Every Python example in README.md runs, in order, in one namespace; where the README shows
the printed output right after an example, the output is exactly that."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)

# names the examples use without defining them (a data set in the reader's hands)
SETUP = {
    "DataLoader(TensorDataset(x_train": "x_train = cr.randn(256, 784)\n"
                                         "y_train = cr.randint(0, 10, (256,))\n",
    "model.fit(x_train": "x_train = np.random.default_rng(0).standard_normal((64, 20))"
                         ".astype('float32')\n"
                         "y_train = np.eye(10, dtype='float32')[np.arange(64) % 10]\n",
    "model = Net().to(device)": "Net = lambda: cr.nn.Linear(3, 2)\n"
                                "loader = [(cr.randn(4, 3), cr.randint(0, 2, (4,)))]\n",
}

# examples that need an optional package (skipped without it; they define nothing later ones use)
NEEDS = {"torch.onnx.export": "onnx"}


def _examples() -> list[tuple[str, str | None]]:
    """(code, the output block that follows it or None) for every python block."""
    text = README.read_text()
    blocks = [(m.group(1), m.group(2), m.end()) for m in BLOCK.finditer(text)]
    out = []
    for k, (lang, body, end) in enumerate(blocks):
        if lang != "python":
            continue
        nxt = blocks[k + 1] if k + 1 < len(blocks) else None
        follows = nxt is not None and nxt[0] == "" and \
            text[end:text.index("```", end)].strip() == ""
        out.append((body, nxt[1] if follows else None))
    return out


def test_every_readme_example_runs_and_prints_what_the_readme_shows(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    import chainrule as cr

    ns: dict = {"cr": cr, "np": np}
    examples = _examples()
    assert len(examples) >= 8
    for code, expected in examples:
        if any(m in code and importlib.util.find_spec(pkg) is None for m, pkg in NEEDS.items()):
            continue
        for marker, setup in SETUP.items():
            if marker in code:
                exec(setup, ns)  # noqa: S102 (our own README)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, "README.md", "exec"), ns)  # noqa: S102
        if expected is not None:
            assert buf.getvalue().strip() == expected.strip(), code
