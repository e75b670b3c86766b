"""Where GPT-2 small can be loaded, sinklab reproduces the authors' published numbers."""
from __future__ import annotations

import pytest

import sinklab
from sinklab.published import reference
from sinklab.analyses.epe import massive_coords
from sinklab.report import build_report

pytestmark = pytest.mark.gpt2


@pytest.fixture(scope="module")
def gpt2():
    try:
        return sinklab.load_model("gpt2")
    except sinklab.ModelUnavailable as e:
        pytest.skip(f"GPT-2 small cannot be loaded here: {str(e).splitlines()[0]}")


def test_massive_coordinates_of_gpt2(gpt2):
    from sinklab.published.reference import massive_coords as published

    assert set(massive_coords(gpt2.model)) == set(published())  # the authors' coordinate-alignment summary


def test_report_matches_the_published_table(gpt2):
    rep = build_report(gpt2, n=100, n_tokens=40, seed=42, source="auto")
    if not all(s.startswith("online") for s in rep.sources.values()):
        pytest.skip(f"the paper's corpora are not reachable (sources: {rep.sources})")
    ours = rep.table[rep.table["domain"] == "all"].set_index("intervention")
    published = reference.table1()
    published = published[published["domain"] == "all"].set_index("intervention")
    assert abs(ours.loc["baseline", "sink"] - published.loc["baseline", "sink"]) <= 0.01
    for label in "bcdefghij":
        assert abs(ours.loc[label, "sink"] - published.loc[label, "sink"]) <= 0.02, label
