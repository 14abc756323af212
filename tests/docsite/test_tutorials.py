"""Every tutorial page runs, top to bottom, as the docs build runs it (scripts/tutorials.py), and
keeps the page contract: a title, at least one picture its code draws, no torch, a place in the
site's navigation, and one notebook code cell per ```python block when jupytext opens it."""

from __future__ import annotations

import re

import pytest

from ._pages import PAGES, ROOT, tutorials

IDS = [p.stem for p in PAGES]


def test_there_are_tutorials():
    assert len(PAGES) >= 3, f"expected the tutorial pages in {tutorials.TUTORIALS}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_page_runs_and_draws_its_figures(page, tmp_path):
    pytest.importorskip("matplotlib", reason="the tutorials draw with matplotlib")
    tutorials.run_page(page, tmp_path)  # raises naming the page and line, or a missing figure
    shown = tutorials.figures_named(page)
    made = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "figures").iterdir()}
    assert set(shown) <= made


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_page_keeps_the_contract(page):
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# "), f"{page.name}: a page starts with its title ('# ...')"
    assert tutorials.code_blocks(page), f"{page.name}: no ```python block"
    shown = tutorials.figures_named(page)
    assert shown, f"{page.name}: a page shows at least one picture (![...](figures/...))"
    number = page.name.split("-")[0]
    wrong = [f for f in shown if not f.startswith(f"figures/{number}-")]
    assert not wrong, f"{page.name}: figure names start with the page's number: {wrong}"
    for _, source in tutorials.code_blocks(page):
        assert not re.search(r"^\s*(import torch|from torch)\b", source, re.M), \
            f"{page.name}: a page never imports torch (compare in prose)"


def _nav_files() -> list[str]:
    """The .md files named in mkdocs.yml's nav (read without a YAML parser)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:"):]
    return re.findall(r"^\s*-\s*(?:[^\n:]+:\s*)?([\w./-]+\.md)\s*$", nav, re.M)


def test_every_tutorial_is_in_the_nav_and_every_nav_page_exists():
    nav = _nav_files()
    assert "index.md" in nav and "tutorials/01-chain-rule.md" in nav
    for page in PAGES:
        assert f"tutorials/{page.name}" in nav, f"{page.name} is missing from mkdocs.yml's nav"
    missing = [f for f in nav if not (ROOT / "docs" / f).is_file()]
    assert not missing, f"mkdocs.yml's nav names files that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_page_opens_as_a_notebook(page):
    jupytext = pytest.importorskip("jupytext", reason="jupytext opens the pages as notebooks")
    notebook = jupytext.read(page)
    cells = [c.source.strip() for c in notebook.cells if c.cell_type == "code"]
    blocks = [source.strip() for _, source in tutorials.code_blocks(page)]
    assert cells == blocks, f"{page.name}: jupytext finds {len(cells)} code cells, the runner " \
                            f"{len(blocks)} blocks"
