"""Where GPT-2 small can be loaded, sinklab reproduces the authors' published numbers."""
from __future__ import annotations

import pytest

import sinklab
from sinklab import experiments
from sinklab.published import reference
from sinklab.analyses.epe import massive_coords

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


def test_table1_matches_the_published_table(gpt2):
    res = experiments.run_plan(experiments.Plan(models=(gpt2.info.name,), n=100, n_tokens=40, seeds=(42,),
                                                source="auto"), lm=gpt2)
    sources = dict(zip(res.info["regime"], res.info["source"]))
    if not all(s.startswith("online") for s in sources.values()):
        pytest.skip(f"the paper's corpora are not reachable (sources: {sources})")
    table = res.tables["table1"]
    ours = table[table["domain"] == "all"].set_index("intervention")
    published = reference.authors_table1()
    published = published[published["domain"] == "all"].set_index("intervention")
    assert abs(ours.loc["baseline", "sink"] - published.loc["baseline", "sink"]) <= 0.01
    for label in "bcdefghij":
        assert abs(ours.loc[label, "sink"] - published.loc[label, "sink"]) <= 0.02, label
