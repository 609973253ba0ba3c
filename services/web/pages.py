"""The pages: one layout around each page's own parts, rendered once when the app is made.

A page's file in ``templates/`` holds only what is its own: a ``<head>`` with its ``<title>``
and its scripts, then a ``<main>`` with its content. ``templates/layout.html`` holds the
rest, once: the document's head (charset, viewport, stylesheet, ``common.js``), the skip link,
the site header with the navigation, the ``<main id="indhold">`` the skip link goes to, and
the footer. In the layout ``$title``, ``$scripts`` and ``$main`` take the page's parts (at
the layout's depth), and ``${current_<page>}`` marks the page's own entry in the navigation
with ``aria-current="page"``.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from string import Template

from fastapi import Response

TEMPLATES = Path(__file__).parent / "templates"
PAGES = ("index", "moede", "kommune", "drift")
HTML = "text/html; charset=utf-8"

_PAGE = re.compile(r"<head>\n(?P<head>.*?)</head>\n<main>\n(?P<main>.*?)</main>\n?", re.DOTALL)
_TITLE = re.compile(r"^[ \t]*<title>[^<]+</title>[ \t]*\n", re.MULTILINE)


@dataclass(frozen=True)
class Page:
    """A page as served: its HTML and the validators a file response would give it."""

    html: bytes
    etag: str
    last_modified: str

    def response(self) -> Response:
        return Response(
            self.html,
            media_type=HTML,
            headers={"ETag": self.etag, "Last-Modified": self.last_modified},
        )


def _block(text: str, depth: int) -> str:
    return textwrap.indent(textwrap.dedent(text), " " * depth).rstrip("\n")


def render(layout: str, page: str, name: str) -> str:
    """The page ``name`` (its file's text in ``page``) inside the layout."""
    parts = _PAGE.fullmatch(page)
    if parts is None:
        raise ValueError(
            f"{name}.html: a page is a <head> with its <title> and scripts, "
            "then a <main> with its content, and nothing else"
        )
    titles = _TITLE.findall(parts["head"])
    if len(titles) != 1:
        raise ValueError(f"{name}.html: its <head> needs one <title>, not {len(titles)}")
    current = {f"current_{each}": ' aria-current="page"' if each == name else "" for each in PAGES}
    return Template(layout).substitute(
        current,
        title=_block(titles[0], 2),
        scripts=_block(_TITLE.sub("", parts["head"]), 2),
        main=_block(parts["main"], 4),
    )


def load(directory: Path = TEMPLATES) -> dict[str, Page]:
    """Every page rendered, by name (``index``, ``moede``, ``kommune``, ``drift``)."""
    layout = directory / "layout.html"
    layout_text = layout.read_text(encoding="utf-8")
    pages: dict[str, Page] = {}
    for name in PAGES:
        source = directory / f"{name}.html"
        html = render(layout_text, source.read_text(encoding="utf-8"), name).encode()
        modified = max(layout.stat().st_mtime, source.stat().st_mtime)
        pages[name] = Page(
            html,
            etag=f'"{hashlib.sha256(html).hexdigest()[:32]}"',
            last_modified=formatdate(modified, usegmt=True),
        )
    return pages
