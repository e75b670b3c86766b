"""Every claim a page states, evaluated on both planted specimens against their ground truth."""
from __future__ import annotations

import pytest
import torch

import sinklab
from sinklab import claims, lessons
from sinklab.interventions import PAPER, REGISTRY, NotApplicable, make
from sinklab.published.reference import authors_table1


@pytest.fixture(scope="module")
def specimens():
    torch.set_num_threads(1)
    return {name: sinklab.load_model(name) for name in ("textbook", "textbook-structural")}


def by_id(cs):
    return {c.id: c for c in cs}


@pytest.mark.parametrize("name", ["textbook", "textbook-structural"])
def test_both_specimens_sink_and_decompose_exactly(specimens, name):
    lm = specimens[name]
    s = by_id(claims.start(lessons.start(lm)))
    assert s["start.sink"].holds and s["start.grows"].holds
    assert claims.start_try(lessons.start(lm)).premise.holds
    wired = lm.meta["wired_heads"]
    layer = max(int(l) for l in wired)
    d = lessons.decomposition(lm, layer=layer, head=wired[str(layer)][0])
    c = by_id(claims.decomposition(d))
    assert c["dec.exact"].holds and c["dec.head"].holds and c["dec.pooled"].holds


def test_positional_specimen_epe_and_gamma_claims_match_ground_truth(specimens):
    lm = specimens["textbook"]
    e = lessons.epe_lesson(lm, n=6)
    c = by_id(claims.epe(e, 3.0))
    assert c["epe.massive"].holds and set(e.massive) == set(lm.meta["massive_coords"])
    assert c["epe.valid"].holds
    t = claims.epe_try(e, 3.0)
    assert t.premise.holds and t.text == t.question  # three planted massive coordinates, 96× the median
    assert "do the 3 coordinate(s) leave together or one by one" in t.question
    gv = lessons.gamma_lesson(lm)
    g = by_id(claims.gamma(gv))
    assert g["gamma.exceeds"].holds and g["gamma.align"].holds
    # the planted wires are in layers ≥ 1; layer 0's γ is ~0 everywhere, so its pairs clear no margin even where
    # one passes the spec's mean + 2 std: the claim counts the wired layers' pairs only
    wired = gv.table[gv.table["layer"] >= 1]
    assert f"in {len(wired)} of {len(gv.table)} (layer, coordinate) pairs" in g["gamma.exceeds"].evidence
    assert "[criterion:" in g["gamma.exceeds"].evidence


def test_epe_pages_refuse_a_model_without_position_embeddings(specimens):
    lm = specimens["textbook-structural"]
    for call in (lambda: lessons.epe_lesson(lm, n=6), lambda: lessons.gamma_lesson(lm)):
        with pytest.raises(NotApplicable, match="no.*position embeddings|has none"):
            call()


EXPECT = {  # intervention -> does its claim hold? (the planted routes decide)
    "textbook": {"b": True, "c": True, "d": True, "e": True, "f": True, "g": True, "h": True, "i": True,
                 "j": True, "transplant": True, "isolate": False, "amplify": False, "rmsnorm": False},
    "textbook-structural": {"b": True, "isolate": True, "amplify": True, "rmsnorm": True, "j": True},
}


@pytest.mark.parametrize("name", list(EXPECT))
def test_intervention_claims_follow_the_planted_route(specimens, name):
    lm = specimens[name]
    coords = {} if name == "textbook" else {"coords": tuple(lm.meta["massive_coords"])}
    for label, expected in EXPECT[name].items():
        params = {k: 5 for k, (_, p) in REGISTRY[label].params().items() if p.target}  # the moves' target k
        if label in ("i", "j"):
            params.update(coords)
        if label == "amplify":
            params["factor"] = 5.0
        v = lessons.intervention_lesson(lm, make(label, **params))
        (c,) = claims.intervention(v, label, authors_table1())
        assert c.holds is expected, c.text
        if not c.holds:
            assert c.elsewhere, "a failed claim must say where it holds"
        if label in PAPER:
            assert "GPT-2 small" in c.reference  # the published number, labelled


def test_epe_interventions_are_not_applicable_on_the_structural_specimen(specimens):
    lm = specimens["textbook-structural"]
    for label in ("d", "transplant", "interpolate", "i"):
        with pytest.raises(NotApplicable):
            lessons.intervention_lesson(lm, make(label))


@pytest.mark.parametrize("name,route", [("textbook", False), ("textbook-structural", True)])
def test_origin_claims_match_the_route(specimens, name, route):
    lm = specimens[name]
    v = lessons.origin_lesson(lm, position=5, factor=5.0)
    c = by_id(claims.origin(v))
    assert c["origin.variance"].holds is route
    assert c["origin.isolate"].holds is route and c["origin.amplify"].holds is route
    assert c["origin.super"].holds
    assert list(v.top_neuron) in lm.meta["super_neurons"]
    assert claims.origin_try(v).premise.holds is route


def test_claim_text_shows_mark_numbers_and_reference():
    c = claims.Claim("x", "Cutting b_Q weakens the sink", True, "6 % left", reference="the paper measured 44.7 %")
    assert c.text == "✓ Cutting b_Q weakens the sink — 6 % left"  # the published number is not in the claim
    assert c.reference_line == "Published, for comparison (not this model's number): the paper measured 44.7 %."
    bad = claims.Claim("y", "It moves", False, "2 % arrived", elsewhere="See textbook-structural.")
    assert bad.text.startswith("✗ It moves") and bad.text.endswith("See textbook-structural.")
    assert "does not hold" in bad.finding


def test_comparison_rows_equal_separate_per_model_runs(specimens):
    from sinklab.teaching import compare

    models = [specimens["textbook"], specimens["textbook-structural"]]
    view = lessons.compare_lesson(models, n=2, target=5, factor=5.0)
    for lm in models:
        alone = compare.signature(lm, n=2, target=5, factor=5.0)
        rows = view.computed[view.computed["model"] == lm.info.name].reset_index(drop=True)
        assert list(rows["intervention"]) == list(alone["intervention"])
        pd_t = __import__("pandas").testing
        pd_t.assert_series_equal(rows["pct_of_baseline"], alone["pct_of_baseline"])
        assert list(rows["note"].fillna("")) == list(alone["note"].fillna(""))
    na = view.computed[(view.computed["model"] == "textbook-structural") & (view.computed["note"] != "")]
    assert {"d", "transplant", "interpolate"} <= set(na["intervention"])  # blank cells with the reason
    differ = by_id(claims.compare(view))["compare.differ"]  # the two planted routes use different wires
    wires = differ.numbers["wires"]
    assert differ.holds and "c" in wires["textbook"] and "rmsnorm" not in wires["textbook"]
    assert "rmsnorm" in wires["textbook-structural"] and "c" not in wires["textbook-structural"]
    one = lessons.compare_lesson(models[:1], n=2, target=5, factor=5.0)
    assert claims.compare(one) == []  # one model: nothing to compare


@pytest.mark.parametrize("name,route,wire,cuts_it", [
    ("textbook", "positional", "bq", True),  # b_Q carries the planted positional sink
    ("textbook-structural", "structural", "variance", True),  # head-wise RMSNorm removes the discrepancy
    ("textbook", "structural", "variance", False),  # a positional sink: equal variances leave it (100 %)
])
def test_circuit_claim_says_whether_a_cut_wire_carries_the_sink(specimens, name, route, wire, cuts_it):
    lm = specimens[name]
    assert claims.circuit(lessons.circuit_lesson(lm, route=route)) == []  # nothing cut: nothing claimed
    v = lessons.circuit_lesson(lm, route=route, cuts=(wire,))
    (claim,) = claims.circuit(v)
    assert claim.holds is cuts_it, claim.text
    assert claim.numbers["pct"] == pytest.approx(100 * v.sink_after / v.sink_before)


def test_the_published_massive_coordinates_come_from_the_authors_summary(specimens):
    from sinklab.published.reference import massive_coords

    found = massive_coords()  # parsed from sinklab/published/data/coord_alignment_statistical__summary.txt
    assert found == [138, 378, 447]  # the file's "Massive indices: [138, 378, 447]", parsed
    v = lessons.epe_lesson(specimens["textbook"], n=3)
    ref = by_id(claims.epe(v, 3.0))["epe.massive"].reference
    assert ref.endswith(", ".join(map(str, found))) and "GPT-2 small" in ref


def test_the_gamma_question_needs_a_sink_to_take_away():
    """γ's Try-this asks how much of the sink removing b_Q takes away: on a model without a sink on the prompt it
    says so instead of asking (sinklab-mini: aligned layers, no sink yet)."""
    mini = sinklab.load_model("sinklab-mini")
    sink = claims.start(lessons.start(mini))[0]
    assert sink.holds is False
    t = claims.gamma_try(lessons.gamma_lesson(mini), sink)
    assert t.premise.id == "gamma.sink" and t.text != t.question and "does not hold here" in t.text
    assert sink.evidence in t.text
