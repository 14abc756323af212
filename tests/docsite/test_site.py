"""The documentation site builds with `mkdocs build --strict`, as CI builds it: every page and
API reference page renders without a warning, every tutorial runs (docs/hooks.py) and its
figures are in the site, and the guide pages carry the README's sections."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from ._pages import PAGES, ROOT, tutorials

NEEDED = ["mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "jupytext",
          "matplotlib"]


def _missing() -> list[str]:
    missing = []
    for name in NEEDED:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = _missing()
    if missing:
        pytest.skip(f"the site needs the docs extra (pip install -e '.[docs]'): missing "
                    f"{', '.join(missing)}")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def test_site_builds_strict_with_every_page(site):
    assert (site / "index.html").is_file()
    for page in PAGES:
        assert (site / "tutorials" / page.stem / "index.html").is_file(), page.name


def test_tutorial_figures_are_in_the_site(site):
    for page in PAGES:
        html = (site / "tutorials" / page.stem / "index.html").read_text(encoding="utf-8")
        for fig in tutorials.figures_named(page):
            assert (site / "tutorials" / fig).is_file(), f"{page.name}: {fig} not in the site"
            assert f"../{fig}" in html, f"{page.name}: the page does not show {fig}"


def test_tutorial_math_is_all_typeset(site):
    """A `$` left in a page's text (outside code) is math that arithmatex did not pick up, e.g.
    a $$ block without blank lines around it inside a list item."""
    for page in PAGES:
        html = (site / "tutorials" / page.stem / "index.html").read_text(encoding="utf-8")
        body = html[html.index("<article"):html.index("</article>")]
        body = re.sub(r"<(pre|code)\b.*?</\1>", "", body, flags=re.S)
        text = re.sub(r"<[^>]+>", "", body)
        stray = [text[max(0, m.start() - 30):m.start() + 30] for m in re.finditer(r"\$", text)]
        assert not stray, f"{page.name}: math not typeset near {stray[:3]}"


def test_api_reference_is_generated_from_the_docstrings(site):
    nn = (site / "api" / "nn" / "index.html").read_text(encoding="utf-8")
    assert "chainrule.nn.Linear" in nn or 'id="chainrule.nn.Linear"' in nn
    assert "in_features" in nn  # Linear's signature, rendered from the source
    ops = (site / "api" / "ops" / "index.html").read_text(encoding="utf-8")
    assert 'id="chainrule.ops.gather"' in ops


def test_guide_pages_carry_the_readme_sections(site):
    html = (site / "guide" / "autograd" / "index.html").read_text(encoding="utf-8")
    assert 'id="reading-a-grad_table"' in html and "grad_table" in html
    seeing = (site / "guide" / "seeing-backprop" / "index.html").read_text(encoding="utf-8")
    assert "../../images/graph_mlp.png" in seeing


def test_docstrings_keep_their_characters_in_markdown():
    pytest.importorskip("griffe", reason="griffe (with mkdocstrings) reads the docstrings")
    spec = importlib.util.spec_from_file_location("_griffe_plaintext",
                                                  ROOT / "docs" / "griffe_plaintext.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    md = module.plaintext_to_markdown
    assert md("x (*, in) -> y (*, out); out[i][j] = a * b") == \
        r"x (\*, in) -> y (\*, out); out\[i\]\[j\] = a \* b"
    assert md("calls `f(*args)` and __call__") == r"calls `f(*args)` and \_\_call\_\_"
    table = "grad(f)    d f / d x\njvp(f)     forward mode"
    assert md(table) == f"\n```text\n{table}\n```\n"
    assert md("Example:\n\n    y = x * 2") == "Example:\n\n    y = x * 2"
