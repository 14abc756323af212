"""scripts/tutorials.py (the tutorial runner, a script rather than a module of the package),
loaded once for the tests of this folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("_chainrule_tutorials",
                                                  ROOT / "scripts" / "tutorials.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tutorials = _load()
PAGES = tutorials.pages()
