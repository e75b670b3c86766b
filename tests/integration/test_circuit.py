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
