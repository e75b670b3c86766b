"""The tutorials' course helpers (tutorials/course.py) and what every notebook does with them (issue 21, item 6).

Static checks on the Jupytext sources, no kernel: each notebook inlines the charts' JavaScript once in its setup
cell, before its first chart; has one predict-then-reveal (a **Predict.** prompt, a `guess` cell before the
computation, `course.reveal` after it) and one checkpoint (a "## Checkpoint" section answered by
`course.Checkpoint` from the notebook's numbers). Then the helpers themselves: the inlined HTML records the
versions altair's charts ask for, a checkpoint folds its computed answer away and checks a learner's, a reveal
compares a guess, and declared no-ops come from sinklab's own table of meanings.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tutorials import course  # noqa: E402  (course material: tutorials/ is a package)

NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def _cells(path: Path) -> list[tuple[str, str]]:
    out, marker, body = [], None, []
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            if marker is not None:
                out.append((marker, "\n".join(body)))
            marker, body = line, []
        elif marker is not None:
            body.append(line)
    out.append((marker, "\n".join(body)))
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_inlines_vega_once_before_any_chart(path):
    cells = [(m, b) for m, b in _cells(path) if m == "# %%"]
    setup = next(b for m, b in cells if "Config.load()" in b)
    assert "course.offline_charts()" in setup, "the setup cell displays the vega bundle (course.offline_charts())"
    assert path.read_text().count("course.offline_charts()") == 1
    first_chart = next(i for i, (_, b) in enumerate(cells) if re.search(r"\bcharts\.\w+\(|figures\.chart\(", b))
    assert first_chart >= next(i for i, (_, b) in enumerate(cells) if "course.offline_charts()" in b)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_predict_then_reveal_and_one_checkpoint(path):
    text = path.read_text()
    cells = _cells(path)
    assert text.count("# **Predict.**") == 1, "one predict-then-reveal prompt"
    guess = next(i for i, (m, b) in enumerate(cells) if m == "# %%" and re.search(r"^guess = None\b", b, flags=re.M))
    reveal = next(i for i, (m, b) in enumerate(cells) if "course.reveal(guess" in b)
    assert guess < reveal, "the guess is written before the cell that reveals the answer"
    assert not re.search(r"^\s*course\.reveal\(guess, (True|False|\d)", text, flags=re.M), "the answer is computed"
    headings = re.findall(r"^# ## (.+)$", text, flags=re.M)
    assert headings.count("Checkpoint") == 1 and headings.index("Checkpoint") < headings.index("What we found")
    assert text.count("course.Checkpoint(") == 1 and re.search(r"^my_answer = None\b", text, flags=re.M)
    assert re.search(r"\)\.check\(my_answer\)$", text, flags=re.M), "the checkpoint checks the learner's answer"


def test_offline_html_records_the_versions_altair_asks_for():
    import altair as alt

    html = course.offline_html()
    for key, version in [("vega_version", alt.VEGA_VERSION), ("vegalite_version", alt.VEGALITE_VERSION),
                         ("vegaembed_version", alt.VEGAEMBED_VERSION)]:
        assert f'window.VEGA_DEBUG["{key}"] = "{version}";' in html
    assert "window.vegaEmbed=" in html.replace(" ", "") and "cdn.jsdelivr" not in html
    assert html.count("<script") == 1 and html.rstrip().endswith("</script>")
    assert "</script" not in html[html.index("<script") + 7:-len("</script>")], "the bundle cannot close its tag"
    # altair's universal template skips loading a library exactly when VEGA_DEBUG[<lib>_version] equals its version
    chart = alt.Chart(alt.Data(values=[{"a": 1}])).mark_point().encode(x="a:Q")._repr_mimebundle_()
    template = chart[0]["text/html"] if isinstance(chart, tuple) else chart["text/html"]
    assert "VEGA_DEBUG[key] == version" in template and 'maybeLoadScript("vega", "' + alt.VEGA_VERSION + '")' in template


def test_checkpoint_folds_its_answer_and_checks_the_learners(capsys):
    cp = course.Checkpoint("How many?", 3, "three of them", tol=0.0)
    html = cp._repr_html_()
    assert "<details>" in html and "How many?" in html and "three of them" in html
    assert cp.check(None) is cp and capsys.readouterr().out == ""
    cp.check(3)
    assert "✔ right" in capsys.readouterr().out
    cp.check(4)
    assert "✘ not quite" in capsys.readouterr().out
    several = course.Checkpoint("Which?", {"g", "f"}, "both within a point")
    several.check("f")
    assert "✔" in capsys.readouterr().out
    several.check("b")
    assert "✘" in capsys.readouterr().out


def test_reveal_compares_a_guess_with_the_computed_answer(capsys):
    assert course.reveal(None, True, "0.53 vs 0.03.") is None
    assert "Reveal: yes. 0.53 vs 0.03." in capsys.readouterr().out
    assert course.reveal("no", False, "x") is True and course.reveal(True, False, "x") is False
    assert course.reveal(3, 3, "three") is True and course.reveal("upstream", "downstream", "x") is False


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "gpt_neo"])
def test_declared_noops_come_from_sinklabs_meanings(model_type):
    """A declared no-op: it applies (it runs) and its meaning says it changes nothing. Without a query bias, (b) is
    either that or refused as not applicable — never a plain intervention with a result."""
    from types import SimpleNamespace

    from sinklab.interventions import meanings
    from sinklab.model.families import random_model

    lm = SimpleNamespace(model=random_model(model_type))
    found = course.declared_noops(lm)
    table = meanings(lm.model).set_index("label")
    assert all(table.loc[k, "applies"] and table.loc[k, "meaning"] == why and why.startswith("a no-op")
               for k, why in found.items())
    if model_type == "gpt2":
        assert not found
    else:  # no query bias
        assert "b" in found or not table.loc["b", "applies"]
    assert list(course.meanings_here(lm, ["b", "c", "nope"]).index) == ["b", "c"]
    if model_type != "gpt2":
        assert not table.loc["b", "applies"] and "no query bias" in table.loc["b", "meaning"]
