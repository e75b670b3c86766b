"""The app's pages in story order: the ONE list the router, the prev/next links and the tests read, made from the
page files themselves.

A page is a file lesson_pages/<number>_<topic>.py whose heading is `st.title("<title>: ...")`: its number orders
the story, its topic is its URL path (/<topic>), and the title before the colon names it in the navigation. Adding
a page is adding its file (docs/architecture.md, "Add a page and its notebook").

Pure data (no Streamlit, no torch), so tests and tools can import it cheaply:

    import sys; sys.path.insert(0, "app"); from pages import PAGES

The first page is the default (served at "/").
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
PAGE_DIR = APP_DIR / "lesson_pages"


@dataclass(frozen=True)
class Page:
    number: int  # 1, 2, ... in story order; the page file is lesson_pages/<number>_<topic>.py
    title: str  # navigation label; the page heading starts with f"{title}:"
    url_path: str  # /<url_path> in the browser ("/" for the first page)
    file: str  # relative to app/

    @property
    def path(self) -> Path:
        return APP_DIR / self.file

    @property
    def topic(self) -> str:
        return Path(self.file).stem.split("_", 1)[1]

    @property
    def default(self) -> bool:
        return self is PAGES[0]

    @property
    def url(self) -> str:
        """The page's path in the browser: "" for the default page, else its url_path."""
        return "" if self.default else self.url_path


def heading_title(path: Path) -> str:
    """The title a page file gives itself: its heading, st.title("<title>: ..."), up to the colon."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "title" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            return node.args[0].value.split(":")[0].strip()
    raise ValueError(f"{path.name} has no heading st.title(\"<title>: ...\")")


def scan(folder: Path = PAGE_DIR) -> tuple[Page, ...]:
    """Every page file of `folder` (<number>_<topic>.py) as a Page, in story order."""
    found = []
    for path in folder.glob("[0-9]*_*.py"):
        number, topic = path.stem.split("_", 1)
        found.append(Page(int(number), heading_title(path), topic, f"{folder.name}/{path.name}"))
    return tuple(sorted(found, key=lambda p: p.number))


PAGES: tuple[Page, ...] = scan()


def by_url(url_path: str) -> Page:
    """The page served at /<url_path> ("" or "start" for the first page)."""
    for p in PAGES:
        if url_path in (p.url_path, p.url):
            return p
    raise KeyError(url_path)


def by_title(title: str) -> Page:
    for p in PAGES:
        if p.title == title:
            return p
    raise KeyError(title)


def neighbours(page: Page) -> tuple[Page | None, Page | None]:
    """(previous, next) page in story order."""
    i = PAGES.index(page)
    return (PAGES[i - 1] if i > 0 else None), (PAGES[i + 1] if i + 1 < len(PAGES) else None)
