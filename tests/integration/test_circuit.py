"""The circuit in one picture: every wire measured, every cut run, on both planted specimens."""
from __future__ import annotations

import pytest
import torch

import sinklab
from sinklab import charts, lessons
from sinklab.analyses import circuit


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return {n: sinklab.load_model(n) for n in ("textbook", "textbook-structural")}


@pytest.mark.parametrize("name,route", [("textbook", "positional"), ("textbook-structural", "structural")])
def test_each_cut_wire_breaks_the_planted_route(models, name, route):
    lm = models[name]
    base = lessons.circuit_lesson(lm)
    assert base.route == route and base.sink_before > 0.5
    assert set(base.edges["source"]) | set(base.edges["target"]) == set(base.nodes["node"])
    for wire in base.edges[base.edges["cuttable"]]["wire"]:
        cut = lessons.circuit_lesson(lm, cuts=(wire,))
        assert cut.sink_after < 0.5 * cut.sink_before, (wire, cut.sink_after)
        assert cut.edges.set_index("wire").loc[wire, "cut"]
    lead = base.edges.set_index("wire").loc["bq", "label"]
    assert "score lead of key 0: +" in lead


def test_positional_route_does_not_exist_without_position_embeddings(models):
    with pytest.raises(sinklab.BadInput, match="no position embeddings"):
        lessons.circuit_lesson(models["textbook-structural"], route="positional")
    assert circuit.routes_for(models["textbook-structural"]) == ["structural"]
    with pytest.raises(sinklab.BadInput, match="can be cut"):
        lessons.circuit_lesson(models["textbook"], cuts=("nope",))


def test_diagram_draws_every_node_and_wire(models):
    v = lessons.circuit_lesson(models["textbook"], cuts=("bq",))
    spec = charts.circuit_diagram(v.nodes, v.edges).to_dict()
    text = str(spec)
    assert "✂ score lead of key 0" in text.replace("\\n", " ")
    for node in v.nodes["node"]:
        assert node.split(" ")[0] in text


@pytest.mark.parametrize("name", ["textbook", "textbook-structural"])
def test_every_wire_number_is_defined_and_the_definition_recomputes_it(models, name):
    """Each wire says exactly what its number is; two of them are recomputed from their definition."""
    from sinklab import metrics
    from sinklab.model.forward import run
    lm = models[name]
    v = lessons.circuit_lesson(lm)
    e = v.edges.set_index("wire")
    assert (e["defined"].str.len() > 20).all(), e["defined"].to_dict()
    lo, hi = metrics.paper_layers(lm.info.n_layer)
    assert f"layers {lo}–{hi - 1} (the sink band)" in e.loc["bq", "defined"]
    ids = lessons.encode(lm, lessons.Prompt()).ids.reshape(1, -1)
    tr = run(lm.model, ids)
    T = ids.shape[1]
    lead = []
    for l in range(lo, hi):
        s = tr["attn_scores", l][0].float()  # [head, query_pos, key_pos]
        lead += [float((s[:, q, 0] - s[:, q, 1:q + 1].mean(-1)).mean()) for q in range(max(1, T // 2), T)]
    assert e.loc["bq", "label"] == f"score lead of key 0: {sum(lead) / len(lead):+.2f}"
    wire = "mlp" if "mlp" in e.index else "neuron"
    r = tr["resid_post", 0][0].float().abs()[:, list(v.coords)]  # [pos, coord]
    ratio = float(r[0].mean() / r[1:].mean())
    assert e.loc[wire, "label"].startswith(f"massive coords at 0: {ratio:,.0f}×" if ratio >= 10 else
                                           f"massive coords at 0: {ratio:.1f}×")
