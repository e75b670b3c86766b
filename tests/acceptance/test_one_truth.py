"""One truth across pages (issue 21): every page of the app on every bundled and real model, and no two pages give
the same statement about the model on screen different verdicts; without a sink on the prompt, no page claims a
cut or a move of it (they say "does not apply").

Each page's claims are read from its claim blocks (display.claims: "**<title>** (…):" then "- ✓/✗/– statement —
numbers"). A block about another model (the planted specimen shown beside, a published reference) is not about the
model on screen and is left out.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app_helpers import MARKS, PAGES, app, no_crash  # noqa: E402
from app_helpers import offline_model  # noqa: E402,F401  (autouse: the offline default)

MODELS = ["textbook", "textbook-structural", "sinklab-mini", "smollm2-135m", "gemma-3-270m"]
CHEAP = dict(dom_n=2, cmp_n=2, cur_n=2, cur_seeds=1, cur_len="16,32")
OTHERS = ("textbook", "textbook-structural", "sinklab-mini", "GPT-2")
SINK = "The first token is an attention sink"
GATED = ("weakens the sink", "moves the sink", "makes a sink at k", "cuts the sink", "the sink stays")
PROMPT_PAGES = ("", "circuit", "interventions", "origin")  # their verdicts are about the sidebar's prompt (the rest:
#                                                           corpora, each gated on its own baseline sink)

pytestmark = pytest.mark.slow  # every page on five models


def verdicts_on(at, model: str) -> list[tuple[str, str]]:
    """(mark, statement) of every claim about the model on screen."""
    out = []
    for m in at.markdown:
        lines = m.value.splitlines()
        if not lines or not lines[0].startswith("**") or "holds on these numbers" not in lines[0]:
            continue
        title = lines[0].split("**")[1]
        if any(o in title and o != model for o in OTHERS):
            continue  # a block about another model
        for line in lines[1:]:
            for mark, plain in MARKS.items():
                if line.startswith(f"- {mark}"):
                    out.append((plain, line[2 + len(mark):].split(" — ")[0].strip()))
    return out


@pytest.mark.parametrize("model", MODELS)
def test_no_two_pages_contradict_each_other(model, monkeypatch):
    monkeypatch.setenv("SINKLAB_MODEL", model)
    said: dict[str, dict[str, list[str]]] = {}
    for page in PAGES:
        at = app(page.url_path, model=model, cmp_models=model, **CHEAP)
        no_crash(at)
        for mark, statement in verdicts_on(at, model):
            said.setdefault(statement, {}).setdefault(mark, []).append(page.url)
    assert SINK in said, f"no page says whether {model}'s first token is a sink"
    conflicts = {s: m for s, m in said.items() if len(set(m) - {"–"}) > 1}
    assert not conflicts, f"{model}: the same statement gets different verdicts on different pages: {conflicts}"
    if "✗" in said[SINK]:  # no sink on this prompt: nothing about cutting or moving it may hold or fail
        judged = {s: {k: p for k, p in m.items() if k != "–" and set(p) & set(PROMPT_PAGES)}
                  for s, m in said.items() if any(g in s for g in GATED)}
        judged = {s: m for s, m in judged.items() if m}
        assert not judged, f"{model} has no sink on this prompt, yet pages judge cuts or moves of it: {judged}"


def test_a_two_token_prompt_has_no_sink_and_nothing_is_judged(monkeypatch):
    """At 2 tokens the first token cannot stand out: Start says so, and no page judges a cut or a move."""
    said = {}
    for page in PAGES:
        if page.url not in PROMPT_PAGES:  # the corpus pages measure their own inputs
            continue
        at = app(page.url_path, tokens=2, **CHEAP)
        no_crash(at)
        for mark, statement in verdicts_on(at, "textbook"):
            said.setdefault(statement, set()).add(mark)
    assert said.get(SINK) == {"✗"}, said.get(SINK)
    judged = {s: m for s, m in said.items() if any(g in s for g in GATED) and m - {"–"}}
    assert not judged, judged
