"""The app's pages in story order: the ONE list the router, the prev/next links and the tests read.

Pure data (no Streamlit, no torch), so tests and tools can import it cheaply:

    import sys; sys.path.insert(0, "app"); from pages import PAGES

Each page's heading (its st.title) starts with "<title>:"; the first page is the default (served at "/").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent


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


PAGES: tuple[Page, ...] = (
    Page(1, "Start", "start", "lesson_pages/1_start.py"),
    Page(2, "The circuit in one picture", "circuit", "lesson_pages/2_circuit.py"),
    Page(3, "Decomposition", "decomposition", "lesson_pages/3_decomposition.py"),
    Page(4, "EPE", "epe", "lesson_pages/4_epe.py"),
    Page(5, "γ and alignment", "gamma", "lesson_pages/5_gamma.py"),
    Page(6, "Interventions", "interventions", "lesson_pages/6_interventions.py"),
    Page(7, "Across domains", "domains", "lesson_pages/7_domains.py"),
    Page(8, "Structural origin", "origin", "lesson_pages/8_origin.py"),
    Page(9, "Compare specimens", "compare", "lesson_pages/9_compare.py"),
    Page(10, "Length and dose", "curves", "lesson_pages/10_curves.py"),
)


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
