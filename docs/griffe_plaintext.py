"""A griffe extension (mkdocs.yml, mkdocstrings `extensions:`) that lets mkdocstrings render
chainrule's docstrings, which are plain text written for help(), as Markdown without losing
characters.

The docstrings use math and shape notation: `x (*, in_features)`, `a * b`, `out[i][j]`,
`__call__`. Read as Markdown, `*` pairs become italics, `[i][j]` a broken link (a --strict
failure) and `__x__` bold. So, outside backtick spans and code: `*`, `_`, `[`, `]` and `<` are
escaped; lines aligned in columns (two spaces or more inside the line) and doctest sessions
(`>>>`) are kept as preformatted text; indented blocks are left to Markdown (code blocks).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SPECIAL = re.compile(r"([*_\[\]<])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_ALIGNED = re.compile(r"\S {2,}\S")


def _escape(line: str) -> str:
    """Escape Markdown's special characters outside `code spans`."""
    out, last = [], 0
    for m in _CODE_SPAN.finditer(line):
        out.append(_SPECIAL.sub(r"\\\1", line[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_SPECIAL.sub(r"\\\1", line[last:]))
    return "".join(out)


def plaintext_to_markdown(text: str) -> str:
    """A plain-text docstring as Markdown that renders every character of it."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):  # already a fenced block: copy it through
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            out += lines[i:j + 1]
            i = j + 1
            continue
        preformatted = line.lstrip().startswith(">>>") or (
            not line.startswith("    ") and _ALIGNED.search(line.strip()))
        if preformatted:  # a doctest session or a table aligned in columns
            j = i
            while j < len(lines) and lines[j].strip():
                j += 1
            out += ["", "```text", *lines[i:j], "```", ""]
            i = j
            continue
        if line.startswith("    ") and (not out or not out[-1].strip() or out[-1].startswith(
                "    ")):
            out.append(line)  # an indented block: Markdown shows it as code, unescaped
        else:
            out.append(_escape(line))
        i += 1
    return "\n".join(out)


class PlainTextDocstrings(griffe.Extension):
    """Rewrite each docstring once the object tree is loaded (see the module docstring)."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        doc = obj.docstring
        if doc is not None and not getattr(doc, "_chainrule_plain", False):
            doc.value = plaintext_to_markdown(doc.value)
            doc._chainrule_plain = True
