"""The pages as served: each in the one layout (head, skip link, header, navigation, footer
once) with its own title, scripts and content."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from services.web import pages
from services.web.app import create_app
from services.web.config import Settings


@dataclass
class Seen(HTMLParser):
    """What a page's HTML holds: tags by name and class, ids, scripts, title, navigation."""

    tags: Counter[str] = field(default_factory=Counter)
    ids: Counter[str] = field(default_factory=Counter)
    scripts: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    title: str = ""
    lang: str | None = None
    _in_title: bool = False

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        self.tags[tag] += 1
        for name in (attr.get("class") or "").split():
            self.tags[f"{tag}.{name}"] += 1
        if attr.get("id"):
            self.ids[attr["id"] or ""] += 1
        if tag == "html":
            self.lang = attr.get("lang")
        if tag == "script":
            self.scripts.append(attr.get("src") or "")
        if tag == "a" and attr.get("aria-current") == "page":
            self.current.append(attr.get("href") or "")
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def seen(html: str) -> Seen:
    parser = Seen()
    parser.feed(html)
    parser.close()
    return parser


# address, title, the page's own scripts, its entry in the navigation, an id of its own content
PAGES = [
    ("/", "Netværksmøder · KL", ["/static/index.js"], ["/"], "kommune-form"),
    ("/moeder/m-1", "Netværksmøde · KL", ["/static/moede.js"], [], "register-form"),
    ("/kommuner/751", "Kommune · KL", ["/static/kommune.js"], [], "join-form"),
    (
        "/drift",
        "Drift · KL",
        ["/static/drift.js", "/static/drift-opsoegende.js"],
        ["/drift"],
        "outreach-form",
    ),
]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # The pages need no lifespan: they are rendered when the app is made.
    transport = httpx.ASGITransport(app=create_app(Settings(issuer_url="")))
    async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as http:
        yield http


@pytest.mark.parametrize(("address", "title", "scripts", "current", "own_id"), PAGES)
async def test_each_page_is_served_in_the_layout_once_with_its_own_title_and_scripts(
    client: httpx.AsyncClient,
    address: str,
    title: str,
    scripts: list[str],
    current: list[str],
    own_id: str,
) -> None:
    answer = await client.get(address)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["etag"]
    assert answer.headers["last-modified"]
    assert answer.text.startswith("<!doctype html>\n")
    page = seen(answer.text)
    assert page.lang == "da"
    assert page.title == title
    for shared in ("html", "head", "body", "title", "header.site", "nav", "main", "footer.site"):
        assert page.tags[shared] == 1, shared
    assert page.tags["a.skip"] == 1
    assert page.tags["meta"] == 2  # charset and viewport
    assert page.ids["indhold"] == 1
    assert page.scripts == ["/static/common.js", *scripts]
    assert page.current == current
    assert page.ids[own_id] == 1
    assert [name for name, count in page.ids.items() if count > 1] == []


async def test_a_page_is_the_same_on_every_request(client: httpx.AsyncClient) -> None:
    first, second = await client.get("/kommuner/101"), await client.get("/kommuner/851")

    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]


async def test_the_page_sources_are_not_served_as_static_files(client: httpx.AsyncClient) -> None:
    for name in ("layout", *pages.PAGES):
        assert (await client.get(f"/static/{name}.html")).status_code == 404


def test_a_page_without_its_head_and_main_or_with_two_titles_is_refused_at_startup(
    tmp_path: Path,
) -> None:
    layout = (pages.TEMPLATES / "layout.html").read_text(encoding="utf-8")

    with pytest.raises(ValueError, match=r"moede\.html: a page is a <head>"):
        pages.render(layout, "<main>\n  <h1>Møde</h1>\n</main>\n", "moede")
    with pytest.raises(ValueError, match=r"drift\.html: its <head> needs one <title>, not 2"):
        pages.render(
            layout,
            "<head>\n  <title>A</title>\n  <title>B</title>\n</head>\n<main>\n</main>\n",
            "drift",
        )

    for source in pages.TEMPLATES.glob("*.html"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "index.html").write_text("<h1>Møder</h1>\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"index\.html"):
        pages.load(tmp_path)
