"""Build the model of a run from its architecture description (a small JSON-able dict).

The description is saved in every checkpoint, so `evaluate`, `predict`, `info` and `--resume`
rebuild exactly the same module tree before loading its weights:

    {"model": "mlp", "input_shape": [2], "hidden": [64, 64], "activation": "relu",
     "dropout": 0.0, "outputs": 3}
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import nn
from chainrule.cli.options import TEXT_MODELS, UsageError

ACTIVATION_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
                      "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
                      "softplus": nn.Softplus}
DEFAULT_HIDDEN = {"vector": [64, 64], "image": [16, 32]}


def architecture(cfg: dict[str, Any], input_shape: list[int], outputs: int) -> dict[str, Any]:
    """The architecture description for resolved options cfg and the data's shapes."""
    if cfg["model"] in TEXT_MODELS:
        raise UsageError(f"--model {cfg['model']} is a language model: use text data "
                         "(cli.text.architecture describes it)")
    image = len(input_shape) == 3
    if cfg["model"] == "cnn" and not image:
        raise UsageError(f"--model cnn needs image data (mnist, fashion-mnist); "
                         f"{cfg['dataset']} has vectors of {math.prod(input_shape)} features: "
                         "use --model mlp or resnet")
    hidden = cfg["hidden"] or DEFAULT_HIDDEN["image" if image and cfg["model"] != "mlp"
                                             else "vector"]
    return {"model": cfg["model"], "input_shape": list(input_shape), "hidden": list(hidden),
            "activation": cfg["activation"], "dropout": cfg["dropout"], "outputs": outputs}


def build_model(arch: dict[str, Any]) -> nn.Module:
    """A fresh module for the description (weights from the default generator)."""
    if arch["model"] in TEXT_MODELS:
        from chainrule.cli.text_models import build_text_model

        return build_text_model(arch)
    act = ACTIVATION_MODULES[arch["activation"]]
    shape, hidden, outputs = arch["input_shape"], arch["hidden"], arch["outputs"]
    if arch["model"] == "mlp":
        return _mlp(shape, hidden, outputs, act, arch.get("dropout", 0.0))
    if len(shape) == 3:
        return _cnn(shape, hidden, outputs, act, residual=arch["model"] == "resnet")
    return _resnet_mlp(shape, hidden, outputs, act)


def _mlp(shape: list[int], hidden: list[int], outputs: int, act: type, p: float) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()] if len(shape) > 1 else []
    width = math.prod(shape)
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        if p > 0:
            layers.append(nn.Dropout(p))
        width = h
    return nn.Sequential(*layers, nn.Linear(width, outputs))


def _resnet_mlp(shape: list[int], hidden: list[int], outputs: int, act: type) -> nn.Module:
    """A linear stem to hidden[0], then per width a residual block Linear-BN-act-Linear-BN
    (with a linear projection where the width changes) followed by the activation."""
    layers: list[nn.Module] = [nn.Linear(math.prod(shape), hidden[0]), nn.BatchNorm1d(hidden[0]),
                               act()]
    width = hidden[0]
    for h in hidden:
        block = nn.Sequential(nn.Linear(width, h), nn.BatchNorm1d(h), act(), nn.Linear(h, h),
                              nn.BatchNorm1d(h))
        layers += [nn.Residual(block, None if h == width else nn.Linear(width, h)), act()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, outputs))


def _cnn(shape: list[int], channels: list[int], outputs: int, act: type,
         residual: bool) -> nn.Module:
    """Per entry of channels: conv 3x3 (a residual pair of convs with batch-norm for resnet),
    activation, 2x2 max-pool; then flatten and a linear classifier."""
    layers: list[nn.Module] = []
    c, h, w = shape
    if min(h, w) >> len(channels) < 1:
        raise UsageError(f"--hidden {','.join(map(str, channels))}: {len(channels)} conv "
                         f"blocks halve {h}x{w} images to nothing; use fewer")
    for out in channels:
        if residual:
            block = nn.Sequential(nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), act(),
                                  nn.Conv2d(out, out, 3, padding=1), nn.BatchNorm2d(out))
            shortcut = None if out == c else nn.Conv2d(c, out, 1)
            layers += [nn.Residual(block, shortcut), act(), nn.MaxPool2d(2)]
        else:
            layers += [nn.Conv2d(c, out, 3, padding=1), act(), nn.MaxPool2d(2)]
        c, h, w = out, h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c * h * w, outputs)]
    return nn.Sequential(*layers)
