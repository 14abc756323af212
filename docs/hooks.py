"""MkDocs hooks (mkdocs.yml `hooks:`) for the chainrule site.

1. Tutorials: every page of docs/tutorials is run once per build with scripts/tutorials.py's
   run_page, in a scratch folder; the figures it saves are added to the site as
   tutorials/figures/<name>, so `mkdocs build --strict` sees every picture a page shows. A page
   whose code fails stops the build, naming the page and the line. No figure is kept in git.
2. Guide pages: a line `<!-- readme: Section title -->` in a page is replaced by that section of
   README.md (its `##` heading becomes the page's title), so the README stays the one source of
   the user guide and the site never copies it by hand.
3. API pages: a line `<!-- api-members: chainrule.nn -->` becomes one mkdocstrings directive
   (`::: chainrule.nn.Linear`) per public class and function of a module that re-exports its
   names without an `__all__` (mkdocstrings renders only a module's own definitions or those
   its `__all__` lists), classes first, each in alphabetical order.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
_MARKER = re.compile(r"^<!--\s*readme:\s*(.+?)\s*-->[ \t]*$", re.M)
_API = re.compile(r"^<!--\s*api-members:\s*([\w.]+)\s*-->[ \t]*$", re.M)
# pages already run in this process (mkdocs serve rebuilds): page text hash -> figures folder
_RUNS: dict[str, Path] = {}
_SCRATCH: list[Path] = []
_SERVING = [False]


def _tutorials() -> Any:
    """scripts/tutorials.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("_chainrule_tutorials",
                                                  ROOT / "scripts" / "tutorials.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tutorials: Any, page: Path) -> Path:
    """Run one page (once per distinct text) and return the folder holding its figures."""
    key = hashlib.sha256(page.read_bytes()).hexdigest()
    if key in _RUNS:
        return _RUNS[key]
    work = Path(tempfile.mkdtemp(prefix=f"chainrule-docs-{page.stem}-"))
    _SCRATCH.append(work)
    start = time.perf_counter()
    try:
        # the pages print their numbers for a reader; the build log is not the place
        with contextlib.redirect_stdout(io.StringIO()):
            tutorials.run_page(page, work)
    except Exception as e:  # any failure of a page's code stops the build
        raise PluginError(f"tutorial {page.name} failed: {type(e).__name__}: {e}") from e
    print(f"INFO    -  tutorial {page.name} ran in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    _RUNS[key] = work / "figures"
    return _RUNS[key]


def on_files(files: Files, config: Any) -> Files:
    """Run the tutorials and add their figures to the site."""
    if str(ROOT) not in sys.path:  # the pages import chainrule: from this checkout
        sys.path.insert(0, str(ROOT))
    tutorials = _tutorials()
    docs = Path(config["docs_dir"]).resolve()
    for page in tutorials.pages():
        src = page.resolve().relative_to(docs).as_posix()
        if files.get_file_from_path(src) is None:
            continue  # a page outside the site (excluded) is not run here
        for fig in sorted(_run(tutorials, page).glob("*")):
            uri = f"{Path(src).parent.as_posix()}/figures/{fig.name}"
            old = files.get_file_from_path(uri)
            if old is not None:  # a stale figure left in docs/: the fresh one wins
                files.remove(old)
            files.append(File.generated(config, uri, abs_src_path=str(fig)))
    return files


def _sections() -> dict[str, tuple[int, str]]:
    """README.md's sections: title -> (heading level, body below the heading)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heads = [m for m in re.finditer(r"^(#{2,3}) (.+?)[ \t]*$", text, re.M)
             if not _in_fence(text, m.start())]
    out = {}
    for i, m in enumerate(heads):
        level = len(m.group(1))
        end = next((h.start() for h in heads[i + 1:] if len(h.group(1)) <= level), len(text))
        out[m.group(2)] = (level, text[m.end():end].strip("\n"))
    return out


def _in_fence(text: str, pos: int) -> bool:
    return len(re.findall(r"^```", text[:pos], re.M)) % 2 == 1


def _slug(title: str) -> str:
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", title.lower()).strip())


def _readme_section(title: str, page: Any, anchors: dict[str, str]) -> str:
    sections = _sections()
    if title not in sections:
        raise PluginError(f"{page.file.src_uri}: README.md has no section '{title}' (its sections: "
                          f"{', '.join(sections)})")
    level, body = sections[title]
    lines, fence = [], False
    for line in body.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("#" * (level + 1) + " "):
            line = line[level - 1:]  # ### under a ## section -> ## under the page's #
        lines.append(line)
    body = "\n".join(lines).replace("](docs/", "](../")
    body = re.sub(r"\]\(#([\w-]+)\)", lambda m: f"]({anchors.get(m.group(1), '')}#{m.group(1)})",
                  body)
    return f"# {title}\n\n{body}\n"


def _anchor_pages(config: Any, here: str) -> dict[str, str]:
    """Slug of each README heading -> the page (relative to page `here`) that includes it."""
    docs = Path(config["docs_dir"])
    sections = _sections()
    out = {}
    for path in sorted((docs / "guide").glob("*.md")):
        target = os.path.relpath(path.relative_to(docs), Path(here).parent).replace(os.sep, "/")
        for title in _MARKER.findall(path.read_text(encoding="utf-8")):
            subs = re.findall(r"^### (.+?)[ \t]*$", sections.get(title, (0, ""))[1], re.M)
            out.update({_slug(t): target for t in [title, *subs]})
    return out


def _api_members(module_name: str) -> str:
    """One `::: module.Name` directive per public class, then function, of a module."""
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    names = sorted(n for n in vars(module) if not n.startswith("_"))
    objs = [(n, getattr(module, n)) for n in names]
    classes = [n for n, o in objs if inspect.isclass(o)]
    functions = [n for n, o in objs if callable(o) and not inspect.isclass(o)]
    out = []
    for title, group in (("Classes", classes), ("Functions", functions)):
        if group:
            out.append(f"## {title}\n")
            out += [f"::: {module_name}.{n}\n    options:\n      heading_level: 3\n"
                    f"      show_root_full_path: false\n" for n in group]
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Replace `<!-- readme: Title -->` lines by README.md's section of that title, and
    `<!-- api-members: module -->` lines by one directive per public member."""
    markdown = _API.sub(lambda m: _api_members(m.group(1)), markdown)
    if not _MARKER.search(markdown):
        return markdown
    anchors = _anchor_pages(config, page.file.src_uri)
    return _MARKER.sub(lambda m: _readme_section(m.group(1), page, anchors), markdown)


def on_startup(command: str, dirty: bool) -> None:
    """Note whether this is `mkdocs serve`, whose rebuilds reuse the pages' runs."""
    _SERVING[0] = command == "serve"


def on_post_build(config: Any) -> None:
    """Remove the scratch folders (mkdocs serve keeps them between rebuilds)."""
    if not _SERVING[0]:
        for work in _SCRATCH:
            shutil.rmtree(work, ignore_errors=True)
        _SCRATCH.clear()
        _RUNS.clear()
