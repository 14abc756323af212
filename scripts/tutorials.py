"""Run the tutorials in docs/tutorials: every ```python block of a page, top to bottom, in one
namespace, in a scratch folder, so that a page cannot rot.

    python scripts/tutorials.py                      # every page
    python scripts/tutorials.py docs/tutorials/01-*.md  # some pages

The contract a page keeps (docs/tutorials/README.md says it for writers):
- the page is Markdown (jupytext opens it as a notebook: `jupytext --to ipynb PAGE`);
- its ```python blocks run in order in one namespace with the working folder set to a scratch
  folder; blocks fenced any other way (```text, ```console) are not run;
- a picture is saved as `figures/<page stem>-<name>.png` (the folder exists) and shown in the
  page as `![what it shows](figures/<page stem>-<name>.png)`; the docs build (docs/hooks.py)
  runs the pages and puts the figures beside them, so no picture is kept in git.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_FIGURE = re.compile(r"!\[[^\]]*\]\((figures/[^)\s]+)\)")


def pages() -> list[Path]:
    """The tutorial pages, in reading order (their names start with a number)."""
    return sorted(p for p in TUTORIALS.glob("[0-9]*.md"))


def code_blocks(page: Path) -> list[tuple[int, str]]:
    """(first line number, source) of every ```python block of a page."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _FENCE.finditer(text)]


def figures_named(page: Path) -> list[str]:
    """The figures the page shows, as paths relative to the page (figures/...)."""
    return _FIGURE.findall(page.read_text(encoding="utf-8"))


def _one_blas_thread() -> Any:
    """The pages multiply small matrices: with OpenBLAS's threads on a busy machine a
    (600, 32) @ (32, 32) product took 1 ms instead of 15 us and a page 45 s instead of 6 s
    (measured on 2 shared cores), so the pages run on one BLAS thread where threadpoolctl is
    installed (the test extra has it)."""
    import numpy  # noqa: F401  (loads OpenBLAS, so that there is a pool to limit)

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run_page(page: Path, workdir: Path) -> dict:
    """Run a page's blocks in `workdir` (its figures land in workdir/figures); return the
    namespace. An error names the page and the line of the block that failed."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    (workdir / "figures").mkdir(parents=True, exist_ok=True)
    namespace: dict = {"__name__": "__tutorial__"}
    here = os.getcwd()
    os.chdir(workdir)
    try:
        with _one_blas_thread():
            for line, source in code_blocks(page):
                code = compile("\n" * (line - 1) + source, str(page), "exec")
                exec(code, namespace)  # noqa: S102  (running the page is the point)
    finally:
        os.chdir(here)
        try:
            import matplotlib.pyplot as plt

            plt.close("all")
        except ImportError:
            pass
    missing = [f for f in figures_named(page) if not (workdir / f).is_file()]
    if missing:
        raise AssertionError(f"{page.name}: the page shows {missing}; its code saved none")
    return namespace


def main(argv: list[str]) -> int:
    import tempfile

    # run from a checkout without installing it: the pages import chainrule
    sys.path.insert(0, str(TUTORIALS.parent.parent))
    chosen = [Path(a) for a in argv] or pages()
    for page in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run_page(page.resolve(), Path(tmp))
            made = sorted(p.name for p in (Path(tmp) / "figures").glob("*"))
            print(f"{page.name}: ran in {time.perf_counter() - start:.1f} s; figures: {made}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
