"""The structural account tested link by link on one model and one set of inputs, with controls.

    out = structural.measure(lm, ids, mask)            # dict of tidy DataFrames (see `measure`)
    out["effects"]                                      # setting, pct_of_baseline, pct_at_k, ce_change, note

The finder (sinklab.origin) locates, on the inputs' baseline forward, the layer where position 0's
massive coordinate appears (the first layer holding half its peak magnitude, origin.emergence), that
coordinate, and that layer's super neurons (flagged in at least half the inputs). Each link of the chain
is then cut by its intervention in one batched sweep, beside its controls:

    setting                 what it cuts                                       applies when
    zero_neurons            the super neurons of the emergence layer           the finder found some there
    zero_random_neurons:s   as many random units of that layer (control, s)    always (n = found, else 2)
    zero_massive            the massive coordinates at position 0 after it     a coordinate is massive there
    skip_mlp                that layer's whole MLP ((g) in one layer)           always
    isolate                 position k attends only to itself (a sink at k?)   always
    amplify:f               k's attention-output spread x f (a sink at k?)     always
    rmsnorm                 head-wise RMSNorm in every layer (parity)           always

Numbers: the sink (sinklab.metrics, attention to position 0) as % of the baseline's, the attention to k
for the two moving settings (% of the baseline's sink at 0), and the mean change of next-token cross-entropy.
A setting that does not apply is a row with its reason and no numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ..errors import BadInput
from ..interventions import make
from ..model import families
from ..model.forward import run
from . import effects, origin

FACTORS = (2.0, 5.0, 20.0)  # amplify's factor sweep
CONTROL_SEEDS = (0, 1, 2)  # zero_random_neurons' draws
TARGET = 5  # the position k that isolate and amplify try to make a sink


@dataclass(frozen=True)
class Found:
    """What the finder sees on a set of inputs (pooled: flagged in at least half of them)."""

    layer: int | None  # where the massive coordinate appears (None: it never does)
    coord: int  # the tracked coordinate
    magnitude: float  # its mean |value| at position 0 after that layer
    peak: float  # its largest mean |value| over the layers
    neurons: tuple[int, ...]  # the super neurons of that layer, largest write first
    massive: tuple[int, ...]  # the massive coordinates at position 0 after that layer


CHAIN_POINTS = (".hook_post", ".hook_mlp_out", ".hook_resid_post", ".hook_attn_out", ".hook_z", ".hook_pattern")


def find(model, ids: torch.Tensor, mask: torch.Tensor, metric: str = "paper") -> tuple[Found, pd.DataFrame]:
    """The finder on the inputs' baseline forward: (Found, the chain per layer, origin.chain)."""
    tr = run(model, ids, mask, names=lambda n: n.endswith(CHAIN_POINTS))
    return found_in(tr, model, metric)


def found_in(tr, model, metric: str = "paper") -> tuple[Found, pd.DataFrame]:
    """`find` on a recorded baseline trace (it must hold the CHAIN_POINTS of every layer)."""
    ch = origin.chain(tr, model, metric=metric)
    em = origin.emergence(ch)
    layer = em["layer"]
    if layer is None:
        return Found(None, em["coord"], float("nan"), em["peak"], (), ()), ch
    r = tr["resid_post", layer]
    massive = origin.massive_mask(r, tr.mask).float().mean(0) >= 0.5
    return Found(layer, em["coord"], em["magnitude"], em["peak"], tuple(em["super_neurons"]),
                 tuple(int(c) for c in torch.nonzero(massive).flatten())), ch


def settings(found: Found, n_layer: int, target: int = TARGET, factors=FACTORS,
             control_seeds=CONTROL_SEEDS, moves: bool = True) -> tuple[dict, dict[str, str]]:
    """The sweep's settings for what was found, and {setting: why it does not apply} for the rest
    (moves=False: only the cuts of the chain's links and their controls, no isolate / amplify / rmsnorm)."""
    out: dict = {"baseline": None}
    why: dict[str, str] = {}
    L = found.layer
    if L is None:
        reason = "no massive coordinate appears at position 0 on these inputs, so there is no layer to cut"
        why.update({k: reason for k in ("zero_neurons", "zero_massive", "skip_mlp")})
        why.update({f"zero_random_neurons:{s}": reason for s in control_seeds})
    else:
        if found.neurons:
            out["zero_neurons"] = make("zero_neurons", layer=L, neurons=found.neurons)
        else:
            why["zero_neurons"] = (f"the finder sees no super neuron in layer {L}, where coordinate {found.coord} "
                                   "becomes massive (no unit both active mainly at position 0 and writing a "
                                   "massive coordinate there)")
        for s in control_seeds:
            out[f"zero_random_neurons:{s}"] = make("zero_random_neurons", layer=L, n=len(found.neurons) or 2, seed=s)
        if found.massive:
            out["zero_massive"] = make("zero_massive", layer=L, coords=found.massive)
        else:
            why["zero_massive"] = f"no coordinate passes the massive rule after layer {L} in most inputs"
        out["skip_mlp"] = make("g", layers=(L, L + 1))
    if moves:
        out["isolate"] = make("isolate", position=target)
        for f in factors:
            out[f"amplify:{f:g}"] = make("amplify", position=target, factor=float(f))
        out["rmsnorm"] = make("rmsnorm")
    return out, why


def with_bos(ids: torch.Tensor, bos_id: int) -> torch.Tensor:
    """The inputs with `bos_id` at position 0 and their last token dropped (the same length). [n, pos]"""
    return torch.cat([torch.full_like(ids[:, :1], bos_id), ids[:, :-1]], dim=1)


def measure(lm, ids: torch.Tensor, mask: torch.Tensor | None = None, target: int = TARGET, factors=FACTORS,
            control_seeds=CONTROL_SEEDS, metric: str = "paper", batch_size: int = 16, ce: bool = True,
            progress=None, moves: bool = True, found: tuple[Found, pd.DataFrame] | None = None
            ) -> dict[str, pd.DataFrame]:
    """The chain and every link's cut on `ids` [n, pos] (equal lengths). Returns tidy DataFrames:
    found (one row: layer, coord, magnitude, peak, neurons, massive), chain (origin.chain, per layer),
    sink_per_layer (the baseline's attention to position 0 per layer), effects (setting, label, layer, n,
    sink, se, pct_of_baseline, sink_at_k, pct_at_k, ce_change, note).
    moves=False: the chain's cuts and controls only; found: (Found, chain) already computed on these inputs."""
    if ids.dim() != 2 or ids.shape[0] == 0:
        raise BadInput("no inputs")
    if target > ids.shape[1] - 1:
        raise BadInput(f"target position k = {target} needs at least {target + 1} tokens; got {ids.shape[1]}")
    mask = torch.ones_like(ids) if mask is None else mask
    model = lm.model
    fam = families.of(model)
    found, ch = find(model, ids, mask, metric) if found is None else found
    todo, why = settings(found, fam.n_layer, target, factors, control_seeds, moves)
    sw = effects.sweep(model, ids, todo, metric=metric, batch_size=batch_size, keys=(target,), ce=ce,
                       progress=progress)
    why.update(sw.skipped)
    ex = sw.examples
    base = ex[ex["intervention"] == "baseline"].set_index("example")
    base_sink = float(base["first"].mean())
    rows = []
    for name in list(todo) + [k for k in why if k not in todo]:
        label = name.split(":")[0]
        iv = todo.get(name)
        layer = getattr(iv, "layer", None) if iv is not None else found.layer
        if label == "skip_mlp" and iv is not None:
            layer = iv.layers[0]
        if name in why or name not in set(ex["intervention"]):
            rows.append({"setting": name, "label": label, "layer": layer, "n": 0, "note": why.get(name, "")})
            continue
        e = ex[ex["intervention"] == name]
        s = e["first"]
        at_k = e[f"at_{target}"]
        ce_change = (e["ce"].to_numpy() - base.loc[e["example"], "ce"].to_numpy()) if ce else [float("nan")]
        rows.append({"setting": name, "label": label, "layer": layer, "n": len(e),
                     "sink": float(s.mean()), "se": float(s.std(ddof=1) / len(s) ** 0.5) if len(s) > 1 else 0.0,
                     "pct_of_baseline": 100 * float(s.mean()) / base_sink if base_sink else float("nan"),
                     "sink_at_k": float(at_k.mean()),
                     "pct_at_k": 100 * float(at_k.mean()) / base_sink if base_sink else float("nan"),
                     "ce_change": float(pd.Series(ce_change).mean()), "note": ""})
    eff = pd.DataFrame(rows)
    per_layer = sw.layers[(sw.layers["intervention"] == "baseline") & (sw.layers["key"] == 0)][["layer", "value"]]
    found_df = pd.DataFrame([{"layer": found.layer, "coord": found.coord, "magnitude": found.magnitude,
                              "peak": found.peak, "neurons": " ".join(map(str, found.neurons)),
                              "massive": " ".join(map(str, found.massive)), "baseline_sink": base_sink,
                              "n_inputs": int(ids.shape[0]), "target": target}])
    ch = ch.assign(super_neurons=ch["super_neurons"].map(lambda t: " ".join(map(str, t))))
    return {"found": found_df, "chain": ch, "sink_per_layer": per_layer.reset_index(drop=True), "effects": eff}
