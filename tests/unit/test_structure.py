"""Every app page has its tutorial notebook and vice versa: same number, topic, title and charts.

Pages come from the app's page registry, app/pages.py (loaded by tests/app_helpers.py as PAGES: number,
title, url_path, file in story order); notebooks are tutorials/NN_<topic>.py (Jupytext percent format),
titled by their first markdown heading. The notebooks are also checked for the shape every tutorial shares: it opens with its question, prints its findings from the
page's claims (sinklab.teaching.claims), keeps its assertions in one final hidden cell, and closes with
"What we found".
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from app_helpers import PAGES  # noqa: E402  (app/pages.py: pure data, no Streamlit)

TUTORIALS = ROOT / "tutorials"
HIDDEN = '# %% tags=["remove-input"]'  # the final check cell: its input is left out of the rendered HTML


def _split(stem: str) -> tuple[int, str]:
    m = re.fullmatch(r"(\d+)_(\w+)", stem)
    assert m, f"{stem!r} is not named N_<topic>"
    return int(m.group(1)), m.group(2)


def app_pages() -> list[tuple[int, str, str, Path]]:
    """(number, topic, title, file) per page of the registry, in story order."""
    return [(p.number, p.topic, p.title, p.path) for p in PAGES]


def notebook_title(path: Path) -> str:
    """The first markdown heading ('# Title') of a percent-format notebook."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# %% [markdown]"):
            for md in lines[i + 1:]:
                if md.startswith("# # "):
                    return md[4:].strip()
                if md.startswith("# %%"):
                    break
    raise AssertionError(f"{path.name} has no markdown heading '# Title'")


def notebooks() -> list[tuple[int, str, str, Path]]:
    out = []
    for path in sorted(TUTORIALS.glob("[0-9]*.py")):
        out.append((*_split(path.stem), notebook_title(path), path))
    return out


def cells(path: Path) -> list[tuple[str, str]]:
    """(marker line, body) per cell of a percent-format notebook (the Jupytext header excluded)."""
    out, marker, body = [], None, []
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            if marker is not None:
                out.append((marker, "\n".join(body)))
            marker, body = line, []
        elif marker is not None:
            body.append(line)
    if marker is not None:
        out.append((marker, "\n".join(body)))
    return out


def test_notebooks_are_numbered_01_to_n_without_gaps():
    nbs = notebooks()
    assert nbs, "no tutorials/NN_<topic>.py notebooks"
    assert [n for n, *_ in nbs] == list(range(1, len(nbs) + 1))
    assert all(p.name.startswith(f"{n:02d}_") for n, _, _, p in nbs)


def test_every_page_has_its_notebook_and_vice_versa():
    pages = [(n, topic, title) for n, topic, title, _ in app_pages()]
    nbs = [(n, topic, title) for n, topic, title, _ in notebooks()]
    assert pages, "app/pages.py lists no pages"
    assert [n for n, *_ in pages] == list(range(1, len(pages) + 1)), "pages should be listed in story order"
    missing_nb = sorted(set(pages) - set(nbs))
    missing_page = sorted(set(nbs) - set(pages))
    assert not missing_nb, f"app pages without a matching notebook (number, topic, title): {missing_nb}"
    assert not missing_page, f"notebooks without a matching app page (number, topic, title): {missing_page}"


def test_page_files_exist_and_are_all_registered():
    pages = app_pages()
    for n, topic, _, path in pages:
        assert path.exists(), path
        assert path.name == f"{n}_{topic}.py", path
    folder = pages[0][3].parent
    assert {p.resolve() for p in folder.glob("[0-9]*_*.py")} == {p.resolve() for *_, p in pages}


def _chart_functions() -> set[str]:
    """The public chart builders of sinklab/teaching/charts.py (top-level functions)."""
    tree = ast.parse((ROOT / "sinklab" / "teaching" / "charts.py").read_text())
    return {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")}


def _charts_used(path: Path) -> set[str]:
    """Chart builders a file refers to, called (`charts.x(...)`) or passed on (`display.chart(charts.x, ...)`)."""
    return set(re.findall(r"\bcharts\.(\w+)\b", path.read_text())) & _chart_functions()


def test_each_notebook_draws_the_charts_of_its_page():
    by_number = {n: path for n, _, _, path in notebooks()}
    for n, _, title, page in app_pages():
        missing = _charts_used(page) - _charts_used(by_number[n])
        assert not missing, f"notebook {by_number[n].name} lacks the charts of page {title!r}: {sorted(missing)}"


def test_the_circuit_notebook_draws_the_circuit():
    path = TUTORIALS / "02_circuit.py"
    assert "charts.circuit_diagram(" in path.read_text() and "lessons.circuit_lesson(" in path.read_text()


@pytest.mark.parametrize("path", sorted(TUTORIALS.glob("[0-9]*.py")), ids=lambda p: p.name)
def test_notebook_conventions(path):
    text = path.read_text()
    assert text.startswith("# ---\n# jupyter:\n#   jupytext:"), "needs the Jupytext header"
    assert "from sinklab.config import Config" in text and "config = Config.load()" in text, \
        "settings are read once, in the setup cell, through sinklab.config.Config.load()"
    assert "sinklab.load_configured(config)" in text, "the model is a parameter (Config.model, else GPT-2 or textbook)"
    assert "os.environ" not in text and not re.search(r"^\s*import os\b", text, flags=re.M), \
        "notebooks read settings through Config.load(), not the environment"
    assert "## What we found" in text and "## Your turn" in text
    assert "lessons." in text, "uses the same sinklab.teaching.lessons call as its page"
    assert not re.search(r"^\s*(import altair|from altair)", text, flags=re.M), "charts come from sinklab.teaching.charts"
    assert "disable_progress_bar" not in text, "progress bars are the library's business, not the notebooks'"


def _claim_functions() -> set[str]:
    """The page-level functions of sinklab/teaching/claims.py (start, decomposition, ...; not the *_try premises)."""
    tree = ast.parse((ROOT / "sinklab" / "teaching" / "claims.py").read_text())
    return {f.name for f in tree.body if isinstance(f, ast.FunctionDef)
            and not f.name.startswith("_") and not f.name.endswith("_try")}


# the claims function of each page topic, where the name differs
CLAIMS_OF = {"interventions": "intervention"}


@pytest.mark.parametrize("path", sorted(TUTORIALS.glob("[0-9]*.py")), ids=lambda p: p.name)
def test_notebook_opens_with_its_question_and_closes_with_what_it_found(path):
    parts = cells(path)
    first_md = next(body for marker, body in parts if marker.startswith("# %% [markdown]"))
    assert "**The question.**" in first_md, "the first markdown cell states the notebook's question"
    headings = [line for marker, body in parts if marker.startswith("# %% [markdown]")
                for line in body.splitlines() if line.startswith("# ## ")]
    assert headings and headings[-1] == "# ## What we found", f"the last section must be 'What we found': {headings}"
    found = [i for i, (marker, body) in enumerate(parts) if "# ## What we found" in body][-1]
    assert any(m == "# %%" and "print(" in b for m, b in parts[found + 1:]), \
        "'What we found' is printed by code: computed from the model's numbers"


@pytest.mark.parametrize("path", sorted(TUTORIALS.glob("[0-9]*.py")), ids=lambda p: p.name)
def test_assertions_live_in_one_final_hidden_cell(path):
    parts = cells(path)
    marker, last = parts[-1]
    assert marker == HIDDEN, f"the last cell is the check cell, tagged remove-input: {marker!r}"
    assert re.search(r"^\s*assert\b", last, flags=re.M), "the final hidden cell checks something"
    for marker, body in parts[:-1]:
        assert marker != HIDDEN, "only the final cell is hidden"
        assert not re.search(r"^\s*assert\b", body, flags=re.M), \
            f"an assert in the reading flow (cell {marker!r}): move it to the final hidden cell"
    assert '.get("kind") == "planted"' in last or re.search(r"""\[["']textbook(-structural)?["']""", last), \
        "claims are asserted only where the answer is known: on the planted specimens (lm.meta, or indexed by name)"


@pytest.mark.parametrize("path", sorted(TUTORIALS.glob("[0-9]*.py")), ids=lambda p: p.name)
def test_findings_come_from_the_claims(path):
    _, topic = _split(path.stem)
    fn = CLAIMS_OF.get(topic, topic)
    if fn not in _claim_functions():
        pytest.skip(f"sinklab.teaching.claims has no claims for the {topic!r} page")
    text = path.read_text()
    assert f"claims.{fn}(" in text, f"the notebook evaluates the page's claims: claims.{fn}(...)"
    assert ".finding" in text, "findings are printed from the claims (Claim.finding), not written by hand"


@pytest.mark.parametrize("path", sorted(TUTORIALS.glob("[0-9]*.py")), ids=lambda p: p.name)
def test_exercises_use_the_course_material_in_tutorials(path):
    """Each exercise: a stub, the reference from tutorials/solutions.py when config.solutions, a tutorials/feedback.py check."""
    text = path.read_text()
    assert "sinklab.solutions" not in text, "reference solutions are course material: tutorials/solutions.py"
    assert re.search(r"^import feedback\b", text, flags=re.M), "the setup cell imports tutorials/feedback.py"
    stubs = re.findall(r"^def (\w+)\(", text, flags=re.M)
    references = re.findall(r"^if config\.solutions:[^\n]*\n\s+from solutions import (\w+)", text, flags=re.M)
    checked = re.findall(r"^feedback\.check_(\w+)\((\w+), .*strict=config\.solutions\)$", text, flags=re.M)
    assert references, "no exercise: `if config.solutions:` + `from solutions import <name>`"
    assert set(references) <= set(stubs), "every reference replaces a stub defined in the notebook"
    assert [(name, name) for name in references] == checked, \
        "each exercise is checked by feedback.check_<name>(<name>, ..., strict=config.solutions)"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return out | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_course_material_lives_in_tutorials_and_the_library_never_reads_it():
    for name in ("solutions.py", "feedback.py", "conftest.py", "__init__.py"):
        assert (TUTORIALS / name).is_file(), name
    for name in ("train_mini.py", "make_math_problems.py"):
        assert (ROOT / "scripts" / name).is_file(), name
    course = {"solutions", "feedback", "tutorials", "scripts", "train_mini", "make_math_problems"}
    for path in (ROOT / "sinklab").rglob("*.py"):  # the library depends on no course material, no recipe
        assert not {m.split(".")[0] for m in _imports(path)} & course, path.relative_to(ROOT)
    defined = {n.name for n in ast.parse((TUTORIALS / "solutions.py").read_text()).body
               if isinstance(n, ast.FunctionDef)}
    for path in TUTORIALS.glob("[0-9]*.py"):  # every reference a notebook asks for is there
        wanted = set(re.findall(r"^\s+from solutions import (\w+)", path.read_text(), flags=re.M))
        assert wanted and wanted <= defined, (path.name, sorted(wanted - defined))


@pytest.mark.parametrize("module", ["lessons.py", "claims.py", "charts.py"])
def test_the_teaching_modules_sections_are_named_after_the_pages(module):
    """Sections are titled by page (not numbered: numbers went stale when pages were reordered)."""
    titles = {p.title for p in PAGES}
    text = (ROOT / "sinklab" / "teaching" / module).read_text()
    sections = re.findall(r"^# -{10,} (.+)$", text, flags=re.M)
    assert sections, module
    for section in sections:
        assert section.split(":")[0] in titles, f"{module}: section {section!r} names no page of {sorted(titles)}"
