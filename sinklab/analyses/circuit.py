"""The circuit in one picture: each wire of a sink route, labelled with its measured quantity, cuttable.

Two routes:
- positional (the circuit paper): p_0 → first MLP → massive coordinates of EPE_0 → keys (W_k rows) read
  by b_Q (γ = b_Q W_kᵀ) → the key-only shift Δ_0 → sink;
- structural (the structural-origin paper): aggregation (position 0 attends only to itself) → a larger
  attention-output norm at 0 → super neuron → massive coordinates → keys (aligned b_Q, W_k) → sink.
Every label is measured on the model and prompt given, under the cuts chosen (each cut is one
registered intervention run in the same forward pass).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ..model import families
from . import metrics
from .epe import massive_coords
from .gamma import gamma
from .structural import find
from ..errors import BadInput
from ..model.forward import Trace, run
from ..interventions import make

# wire id -> (label, the intervention that cuts it), per route; edges run source -> target
WIRING = {
    "positional": {
        "nodes": ["p_0", "first MLP", "EPE_0 massive coords", "keys at position 0", "score lead Δ_0", "sink"],
        "wires": [
            ("pe", "p_0", "first MLP", "c", {}),
            ("mlp", "first MLP", "EPE_0 massive coords", "g", {"layers": (0, 1)}),
            ("wk", "EPE_0 massive coords", "keys at position 0", "i", {}),
            ("bq", "keys at position 0", "score lead Δ_0", "b", {}),
            ("softmax", "score lead Δ_0", "sink", None, {}),
        ],
    },
    "structural": {
        "nodes": ["aggregation", "norm at position 0", "super neuron", "massive coords", "keys at position 0",
                  "score lead Δ_0", "sink"],
        "wires": [
            ("agg", "aggregation", "norm at position 0", None, {}),
            ("variance", "norm at position 0", "super neuron", "rmsnorm", {"layers": (0, 1)}),
            ("neuron", "super neuron", "massive coords", "g", {"layers": (0, 1)}),
            ("wk", "massive coords", "keys at position 0", "i", {}),
            ("bq", "keys at position 0", "score lead Δ_0", "b", {}),
            ("softmax", "score lead Δ_0", "sink", None, {}),
        ],
    },
}


@dataclass(frozen=True)
class CircuitView:
    route: str
    nodes: pd.DataFrame  # node, x, y, value (text measured at the node)
    edges: pd.DataFrame  # wire, source, target, label (measured), defined (what its number is), cut, cuttable, ...
    sink_before: float
    sink_after: float
    cuts: tuple[str, ...]
    coords: tuple[int, ...]  # the massive coordinates used


def routes_for(lm) -> list[str]:
    """The routes this model can be drawn with: positional needs position embeddings."""
    return (["positional"] if families.has_position_embeddings(lm.model) else []) + ["structural"]


@dataclass(frozen=True)
class Plan:
    """A route's wires on one model and prompt: (id, source, target, intervention label or None, kwargs) each,
    the layer where the structural chain's massive coordinate appears (0 for the planted specimens) and the
    massive coordinates; `notes` say why a wire has no cut on this model."""

    route: str
    nodes: tuple[str, ...]
    wires: tuple[tuple, ...]
    layer: int
    coords: tuple[int, ...]
    notes: dict


def plan(lm, ids: torch.Tensor, route: str = "structural") -> Plan:
    """The wires of `route` on this model. The positional route and a planted specimen's structural route are fixed
    (WIRING); on any other model the structural route is laid out by the finder (sinklab.analyses.structural.find on
    the prompt): its massive coordinate's layer L, L's super neurons (zero_neurons; without any, the whole MLP of L
    is skipped), the massive coordinates ((i) zeroes their W_k rows), and b_Q's wire only where the model has one."""
    if route not in WIRING:
        raise BadInput(f"route must be one of {', '.join(WIRING)}; got {route!r}")
    if route == "positional" and not families.has_position_embeddings(lm.model):
        raise BadInput(f"{lm.info.name} has no position embeddings: the positional route does not exist here; "
                       "draw the structural route")
    if route == "positional" or (lm.meta and lm.meta.get("massive_coords")):
        spec = WIRING[route]
        return Plan(route, tuple(spec["nodes"]), tuple(spec["wires"]), 0, _coords(lm), {})
    ids = ids.reshape(1, -1)
    found, _ = find(lm.model, ids, torch.ones_like(ids))
    if found.layer is None:
        raise BadInput(f"no coordinate of position 0 is massive in any layer of {lm.info.name} on this prompt: the "
                       "structural route has no massive coordinate to draw here")
    L, coords = found.layer, found.massive or (found.coord,)
    neurons = f"super neurons (layer {L})" if found.neurons else f"MLP of layer {L}"
    massive = f"massive coord{'s' if len(coords) > 1 else ''} {', '.join(map(str, coords))}"
    nodes = ("aggregation", f"norm at position 0 (layer {L})", neurons, massive, "keys at position 0",
             "score lead of key 0", "sink")
    has_bq = families.of(lm.model).has_query_bias
    notes = {}
    if not found.neurons:
        notes["neuron"] = (f"the finder sees no super neuron in layer {L}, so this cut skips that layer's whole MLP "
                           "(intervention g in one layer)")
    if not families.has_position_embeddings(lm.model):
        notes["wk"] = (f"here the rows of coordinate{'s' if len(coords) > 1 else ''} {', '.join(map(str, coords))}, "
                       "the finder's massive coordinates at position 0: this model has no position embeddings, so no "
                       "EPE_0")
    if not has_bq:
        notes["bq"] = ("this model has no query bias b_Q: the queries' own content, not a bias, lines up with the key "
                       "of position 0; no single intervention cuts that")
    wires = (("agg", nodes[0], nodes[1], None, {}),
             ("variance", nodes[1], nodes[2], "rmsnorm", {"layers": (0, L + 1)}),
             ("neuron", nodes[2], nodes[3], "zero_neurons" if found.neurons else "g",
              {"layer": L, "neurons": found.neurons} if found.neurons else {"layers": (L, L + 1)}),
             ("wk", nodes[3], nodes[4], "i", {}),
             ("bq", nodes[4], nodes[5], "b" if has_bq else None, {}),
             ("softmax", nodes[5], nodes[6], None, {}))
    return Plan(route, nodes, wires, L, tuple(coords), notes)


def _coords(lm) -> tuple[int, ...]:
    if lm.meta and lm.meta.get("massive_coords"):
        return tuple(lm.meta["massive_coords"])
    if not families.has_position_embeddings(lm.model):
        raise BadInput(f"{lm.info.name} has no position embeddings and no known massive coordinates")
    return massive_coords(lm.model)


def _times(x: float) -> str:
    return f"{x:.1f}×" if x < 10 else f"{x:,.0f}×"


def _score_lead(tr: Trace, layers: tuple[int, int]) -> float:
    """Mean over second-half queries, heads and `layers` of score(key 0) − mean score(other allowed keys)."""
    T = tr.ids.shape[1]
    lead = []
    for l in range(*layers):
        s = tr["attn_scores", l][0].float()  # [head, query_pos, key_pos]
        for q in range(max(1, T // 2), T):
            lead.append(float((s[:, q, 0] - s[:, q, 1:q + 1].mean(-1)).mean()))
    return sum(lead) / len(lead)


def _massive_ratio(tr: Trace, coords: tuple[int, ...], layer: int = 0) -> float:
    """|residual| on the massive coordinates at position 0 over the other positions' mean, after `layer`."""
    r = tr["resid_post", layer][0].float().abs()  # [pos, d_model]
    c = list(coords)
    return float(r[0, c].mean() / r[1:, c].mean().clamp(min=1e-9))


def _gamma_ratio(model, coords: tuple[int, ...], layers: tuple[int, int]) -> float:
    """Mean |γ| at `coords` over the mean |γ| of all coordinates, averaged over `layers`."""

    r = []
    for l in range(*layers):
        g = gamma(model, l).abs().float()
        r.append(float(g[list(coords)].mean() / g.mean().clamp(min=1e-12)))
    return sum(r) / len(r)


def _key_ratio(tr: Trace, layers: tuple[int, int]) -> float:
    """|k| at position 0 over the other positions' mean |k|, averaged over heads and `layers`."""
    r = []
    for l in range(*layers):
        k = tr["k", l][0].float().norm(dim=-1)  # [pos, kv_head]
        r.append(float((k[0] / k[1:].mean(0).clamp(min=1e-9)).mean()))
    return sum(r) / len(r)


def circuit(lm, ids: torch.Tensor, route: str = "positional", cuts: tuple[str, ...] = (),
            metric: metrics.Metric = "paper") -> CircuitView:
    """Measure every wire of `route` on `ids` [pos] with the wires in `cuts` cut (by their interventions)."""
    p = plan(lm, ids, route)
    spec = {"nodes": list(p.nodes), "wires": list(p.wires)}
    cuttable = {w: (iv, kw) for w, _, _, iv, kw in spec["wires"] if iv}
    bad = set(cuts) - set(cuttable)
    if bad:
        raise BadInput(f"wires that can be cut on the {route} route: {', '.join(cuttable)}; got {sorted(bad)}")
    coords, L = p.coords, p.layer
    ivs = []
    for w in cuts:
        label, kw = cuttable[w]
        if label == "i":
            kw = {**kw, "coords": coords}
        ivs.append(make(label, **kw))
    ids = ids.reshape(1, -1)
    tr = run(lm.model, ids.repeat(2, 1), per_example=[None, tuple(ivs)])  # example 0 intact, 1 cut
    one = [Trace(ids=tr.ids[i:i + 1], mask=tr.mask[i:i + 1], n_layer=tr.n_layer, n_head=tr.n_head,
                 cache={k: v[i:i + 1] for k, v in tr.cache.items()}, windows=tr.windows)
           for i in (0, 1)]
    base, cut = one
    band = metrics.paper_layers(lm.info.n_layer)
    sink = metrics.sink_score(tr, 0, metric).cpu()
    measured = {}
    has_pe = "hook_pos_embed" in base
    has_bq = "bq" not in p.notes
    after_band = (min(L + 1, lm.info.n_layer - 1), lm.info.n_layer)
    for name, t in (("before", base), ("after", cut)):
        z = t["attn_out", L][0].float().norm(dim=-1)  # [pos]
        post = t["post", L][0].float().abs().max(-1).values  # [pos]
        measured[name] = {
            "norm": float(z[0] / z[1:].mean()),
            "massive": _massive_ratio(t, coords, L),
            "lead": _score_lead(t, band),
            "pe": float(t["hook_pos_embed"][0, 0].float().norm() /
                        t["hook_pos_embed"][0, 1:].float().norm(dim=-1).mean().clamp(min=1e-12)) if has_pe else 0.0,
            "post": float(post[0] / post[1:].mean().clamp(min=1e-9)),
            "keys": _key_ratio(t, after_band),
        }
    m = measured["after"] if cuts else measured["before"]
    band_text = f"layers {band[0]}–{band[1] - 1}"
    after_text = f"layers {after_band[0]}–{after_band[1] - 1}"
    defined = {  # what each label's number is, exactly (the page shows it beside the label)
        "pe": "the norm of position 0's embedding over the mean norm of the others' (positions 1 … T−1)",
        "mlp": f"mean |residual| on the massive coordinates at position 0 after layer {L}, over the same mean at "
               "positions 1 … T−1",
        "wk": ("—" if "wk" in cuts else
               f"mean |γ| (γ = b_Q W_kᵀ) on the massive coordinates over its mean |value| on all coordinates, "
               f"averaged over {band_text} (the sink band)" if has_bq and has_pe else
               f"norm of the key at position 0 over the mean norm of the other positions' keys, averaged over "
               f"heads and {after_text}"),
        "bq": f"pre-softmax score of key 0 minus the mean score of the other keys the query sees, averaged over "
              f"the second-half queries (i ≥ T/2), every head and {band_text} (the sink band); in score units "
              "(logits: +1 multiplies key 0's attention weight by e ≈ 2.7 against an average key)",
        "softmax": f"the sink metric ({metric}) at position 0",
        "agg": f"norm of layer {L}'s attention output at position 0 over its mean norm at positions 1 … T−1",
        "variance": f"largest |MLP hidden activation| of layer {L} at position 0 over the mean of that maximum at "
                    "positions 1 … T−1",
        "neuron": f"mean |residual| on the massive coordinates at position 0 after layer {L}, over the same mean at "
                  "positions 1 … T−1",
    }
    text = {
        "pe": f"|p_0| / mean |p_j| = {m['pe']:.1f}",
        "mlp": f"massive coords at 0: {_times(m['massive'])} the other positions'",
        "wk": ("W_k rows at the massive coords zeroed" if "wk" in cuts else
               f"|γ| at coords {', '.join(map(str, coords))}: {_gamma_ratio(lm.model, coords, band):.0f}× the mean"
               if has_bq and has_pe else f"|k| at position 0: {_times(m['keys'])} the others' (layers {after_band[0]}–"
               f"{after_band[1] - 1})"),
        "bq": f"score lead of key 0: {m['lead']:+.2f}",
        "softmax": f"sink {float(sink[1] if cuts else sink[0]):.2f}",
        "agg": f"attention-output norm at 0: {_times(m['norm'])} the others'" + (f" (layer {L})" if L else ""),
        "variance": f"layer-{L} MLP peak at 0: {_times(m['post'])} the others'",
        "neuron": f"massive coords at 0: {_times(m['massive'])} the other positions'" + (f" (after layer {L})" if L else ""),
    }
    rows = []
    for w, s, t, iv, _ in spec["wires"]:
        rows.append({"wire": w, "source": s, "target": t, "label": text[w], "defined": defined[w], "cut": w in cuts,
                     "cuttable": iv is not None, "intervention": iv or "", "note": p.notes.get(w, "")})
    edges = pd.DataFrame(rows)
    nodes = pd.DataFrame({"node": spec["nodes"], "x": range(len(spec["nodes"])), "y": 0})
    before, after = float(sink[0]), float(sink[1])
    nodes["value"] = ""
    nodes.loc[nodes["node"] == "sink", "value"] = (f"{before:.2f} → {after:.2f}" if cuts else f"{before:.2f}")
    return CircuitView(route=route, nodes=nodes, edges=edges, sink_before=before,
                       sink_after=after if cuts else before, cuts=tuple(cuts), coords=coords)
