"""Claims as data: every sentence a page or notebook states about the model on screen, evaluated live.

Each function takes a lesson's view (sinklab.teaching.lessons) and returns Claims: the sentence, whether it
holds on these numbers, the numbers themselves, a labelled published reference where one exists, and
— when it does not hold — where the learner can see it hold. Pages show them with ✓ / ✗; notebooks
print them as findings and assert them only on the planted specimens, whose answer is known.
A Try-this is a question with a premise (a Claim): when the premise fails, the page says why instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..analyses import verdicts
from ..interventions import REGISTRY
from ..published.reference import authors_table1
from ..published.reference import massive_coords as published_massive_coords
from .compare import CUT, KEPT, MOVED, wires_cut

SINK_LEVEL = verdicts.SINK_MIN  # a sink: at least this much of the attention on the key (sinklab.analyses.verdicts)
OVER_UNIFORM = verdicts.SINK_VS_UNIFORM  # ... and this many times what equal attention to every key would give
POSITIONAL = "textbook"  # the specimen where the circuit paper's route is planted
STRUCTURAL = "textbook-structural"  # the specimen where the structural route is planted


@dataclass(frozen=True)
class Claim:
    """One statement about the model on screen, checked on its numbers."""

    id: str
    statement: str  # what the page asserts, e.g. "The first token is a sink"
    holds: bool | None  # None: does not apply here (no real sink to cut, a declared no-op): never a result
    evidence: str  # the numbers, in words
    numbers: dict = field(default_factory=dict)
    reference: str = ""  # a labelled published number, e.g. "the paper measured 44.7 % on GPT-2 small"
    elsewhere: str = ""  # when it does not hold: why, and where it does

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "–"}[self.holds]

    def _say(self, head: str, reference: str, elsewhere: str) -> str:
        """head, then the reference (when `reference` has a slot) and, when it does not hold, the pointer."""
        out = head + (reference.format(self.reference) if self.reference and reference else "")
        return out + (elsewhere.format(self.elsewhere) if self.holds is False and self.elsewhere else "")

    @property
    def text(self) -> str:
        """One line: mark, statement, evidence; plus the pointer when it does not hold. A published reference is
        never part of it (it is about another model): see `reference_line`."""
        return self._say(f"{self.mark} {self.statement} — {self.evidence}", "", ". {}")

    @property
    def reference_line(self) -> str:
        """The published reference as its own labelled line ("" without one)."""
        return f"Published, for comparison (not this model's number): {self.reference}." if self.reference else ""

    @property
    def finding(self) -> str:
        """The same claim as prose for a notebook."""
        verb = {True: "holds", False: "does not hold", None: "does not apply"}[self.holds]
        return self._say(f"“{self.statement}” {verb} on this model: {self.evidence}.", " For comparison, {}.", " {}")


@dataclass(frozen=True)
class TryThis:
    """A question for the learner, shown only when its premise holds on the model on screen."""

    question: str
    premise: Claim

    @property
    def text(self) -> str:
        if self.premise.holds:
            return self.question
        verb = "does not apply here" if self.premise.holds is None else "does not hold here"
        return (f"This question needs “{self.premise.statement}”, which {verb} "
                f"({self.premise.evidence}). {self.premise.elsewhere}").strip()


def _pct(x: float) -> str:
    return f"{x:.0f} %"


def _published_baseline() -> str:
    """The authors' published GPT-2 small baseline sink (all domains), as a labelled reference."""

    t = authors_table1()
    sink = float(t[(t["domain"] == "all") & (t["intervention"] == "baseline")]["sink"].iloc[0])
    return f"the circuit paper's authors published {sink:.2f} on GPT-2 small"


# ---------------------------------------------------------------- Start
def _uniform(T: int) -> float:
    """The paper metric if every second-half query spread its attention evenly over the keys it sees."""
    return verdicts.uniform_share(T)


def from_verdict(id_: str, statement: str, v: verdicts.Verdict, numbers: dict | None = None, reference: str = "",
                 elsewhere: str = "") -> Claim:
    """A claim whose truth is a verdict of sinklab.analyses.verdicts (its numbers; its criterion in brackets)."""
    evidence = v.numbers if v.holds is None else f"{v.numbers} [criterion: {v.criterion}]"
    return Claim(id_, statement, v.holds, evidence, numbers or {}, reference=reference, elsewhere=elsewhere)


def _is_sink(x: float, T: int) -> bool:
    """The sink rule every page uses (sinklab.analyses.verdicts.has_sink)."""
    return bool(verdicts.has_sink(x, T).holds)


def start(v) -> list[Claim]:
    """The first token is a sink; it grows after the first layers."""
    pl = v.per_layer.set_index("layer")["value"]
    lo, hi = v.paper_layers
    mid = float(pl.loc[lo:hi - 1].mean())
    first = float(pl.iloc[0])
    T = len(v.tokens)
    uniform = _uniform(T)
    metric_name = {"paper": "paper metric", "gu": "share of heads with a sink (Gu ε = 0.3)", "mass": "mass"}[v.metric]
    if v.metric == "gu":
        sink = Claim("start.sink", "The first token is a sink in many heads", v.score >= SINK_LEVEL,
                     f"{v.score:.2f} of all (layer, head) pairs have a sink at position 0 ({metric_name})",
                     {"score": v.score}, elsewhere=f"The planted specimen {POSITIONAL} has one in most heads.")
    else:
        verdict = verdicts.has_sink(v.score, T)
        sink = Claim("start.sink", "The first token is an attention sink", verdict.holds,
                     f"second-half queries put {v.score:.2f} of their attention on position 0 in layers {lo}–{hi - 1} "
                     f"(equal attention to every earlier token would give {uniform:.2f}) [criterion: {verdict.criterion}]",
                     {"score": v.score, "uniform": uniform},
                     reference=_published_baseline(),
                     elsewhere=f"The planted specimens {POSITIONAL} and {STRUCTURAL} both have a strong one.")
    grows = Claim("start.grows", "The sink grows after the first layer", mid > first + 0.1,
                  f"layer 0: {first:.2f}; layers {lo}–{hi - 1}: {mid:.2f} on average ({metric_name})",
                  {"layer0": first, "middle": mid},
                  elsewhere=f"On {POSITIONAL} the first layer has none and the wired layers a strong one.")
    return [sink, grows]


def start_try(v) -> TryThis:
    return TryThis("Pick the code or math example in the sidebar, or type your own text: does the first column stay "
                   "bright? Then switch on the sidebar's “Prepend …” toggle (the model's BOS token): which token is "
                   "the sink now?", start(v)[0])


# ---------------------------------------------------------------- Decomposition
def decomposition(v) -> list[Claim]:
    """Terms 2 and 4 cancel; Δ is largest at position 0 (this head, and pooled over the metric's layers)."""
    exact = Claim("dec.exact", "Terms 2 and 4 cancel in the softmax: attention from terms 1 + 3 alone is the model's",
                  v.max_attention_change < 1e-4,
                  f"largest difference over every layer and head {v.max_attention_change:.1e}",
                  {"max_attention_change": v.max_attention_change})
    d = v.delta.set_index("position")["delta_scaled"]
    d0, other = float(d.loc[0]), float(d.drop(index=0).max()) if len(d) > 1 else float("nan")
    head = Claim("dec.head", f"In layer {v.layer}, head {v.head}, Δ is largest at position 0", d0 > other,
                 f"Δ_0/√d_head = {d0:.2f} vs at most {other:.2f} at any other position",
                 {"first": d0, "other_max": other},
                 elsewhere="Heads differ: on a model with a planted circuit the wired heads show it "
                           f"(see {POSITIONAL}'s metadata, wired_heads).")
    lo, hi = v.paper_layers
    band = v.by_layer[(v.by_layer["layer"] >= lo) & (v.by_layer["layer"] < hi)]
    towers = band[band["first"] > 2 * band["other_max"].clip(lower=1e-9)]
    share = len(towers) / max(1, len(band))
    pooled = Claim("dec.pooled", "Δ towers over the other positions at position 0 in most heads of the middle layers",
                   share >= 0.5,
                   f"in {len(towers)} of {len(band)} (layer, head) pairs of layers {lo}–{hi - 1}, Δ_0 (min-normalised) "
                   "is more than twice the largest elsewhere",
                   {"share": share},
                   elsewhere=f"On {POSITIONAL} the wired heads show it; on a NoPE model Δ reads massive coordinates "
                             "made by aggregation instead (see Structural origin).")
    return [exact, head, pooled]


def decomposition_try(v) -> TryThis:
    first_layers = v.by_layer[v.by_layer["first"] > 2 * v.by_layer["other_max"].clip(lower=1e-9)]["layer"]
    premise = Claim("dec.some_layer", "Δ at position 0 towers over the others in some layer",
                    len(first_layers) > 0,
                    f"layers where it does: {sorted(set(first_layers.tolist())) or 'none'}",
                    elsewhere=f"Open {POSITIONAL} to see it in its wired layers.")
    return TryThis("Move the layer slider from 0 up: in which layer does Δ at position 0 first tower over the "
                   "others? Does the same happen in every head?", premise)


# ---------------------------------------------------------------- EPE
def _k_of(coords: pd.DataFrame) -> pd.Series:
    """For each coordinate, the kσ at which it stops being massive: (|v| - mean) / std."""
    a = coords["abs_value"]
    return (a - a.mean()) / a.std()


def _published_massive() -> str:
    found = published_massive_coords()
    return f"the authors found {len(found)} on GPT-2 small: {', '.join(map(str, found))}"


def epe(v, k_sigma: float) -> list[Claim]:
    """A few massive coordinates in EPE_0; EPE_0 is what the model adds at position 0."""
    a = v.coords.set_index("coord")["abs_value"]
    n = len(v.massive)
    median = max(float(a.median()), 1e-12)
    ratio = float(a.max()) / median
    smallest = float(a.loc[list(v.massive)].min()) / median if n else 0.0
    margin = verdicts.MASSIVE_MIN_RATIO
    few = Claim("epe.massive", "EPE_0 has a few massive coordinates", 1 <= n <= 10 and smallest >= margin,
                f"{n} coordinate(s) above mean + {k_sigma:g}σ ({', '.join(map(str, v.massive)) or 'none'}); the largest "
                f"|value| is {ratio:.0f}× the median, the smallest of them {smallest:.1f}× [criterion: 1 to 10 "
                f"coordinates, each at least {margin:g}× the median |value|]",
                {"n": n, "ratio": ratio, "smallest": smallest},
                reference=_published_massive(),
                elsewhere=f"The planted specimen {POSITIONAL} has exactly three.")
    val = v.validation.set_index("position")
    c0 = float(val.loc[0, "p50"])
    others = float(val.drop(index=0)["p50"].median()) if len(val) > 1 else float("nan")
    valid = Claim("epe.valid", "EPE_0 is what the model adds at position 0", c0 >= 0.9,
                  f"median cos(EPE_0, R_0 − O_0) = {c0:.2f} over {v.n_inputs} inputs (other positions: median {others:.2f})",
                  {"cos0": c0, "cos_other": others},
                  elsewhere="It holds where the first MLP acts on the position embedding nearly alone, as in "
                            f"{POSITIONAL}.")
    return [few, valid]


def epe_try(v, k_sigma: float = 3.0, k_max: float = 8.0) -> TryThis:
    """Raise kσ until the massive set empties: do its coordinates leave together or one by one?

    k_sigma: the page's kσ; k_max: the top of its slider (the question needs the set to empty below it)."""
    k = _k_of(v.coords).sort_values(ascending=False)
    few = epe(v, k_sigma)[0]
    top = float(k.iloc[0]) if len(k) else 0.0
    premise = Claim("epe.leaves", "EPE_0 has massive coordinates that the kσ slider can raise past",
                    bool(few.holds and top < k_max),
                    f"{few.evidence}; the last one leaves the massive set at kσ = {top:.2f} (the slider goes to "
                    f"{k_max:g})", {"top": top},
                    elsewhere=f"The planted specimen {POSITIONAL} has three massive coordinates with a real margin.")
    return TryThis(f"Raise kσ from {k_sigma:g} step by step until no coordinate stays red: at which kσ does the last "
                   f"one leave, and do the {len(v.massive)} coordinate(s) leave together or one by one? (Together: they "
                   "are equally large, as planted weights can be; one by one: “massive” depends on the threshold.) "
                   "Then switch on ln_2: do the same coordinates stand out?", premise)


# ---------------------------------------------------------------- γ and alignment
def gamma(v) -> list[Claim]:
    """|γ| is large at the massive coordinates; b_Q aligns with the first position's key."""
    t = v.table
    z = verdicts.GAMMA_MIN_Z
    # a pair counts with a margin: the spec's mean + 2 std alone lets a layer whose γ is ~0 everywhere count
    # (textbook's layer 0: |γ| 0.018 against an upper bound of 0.015)
    clear = (t["abs_gamma"] >= t["baseline_mean"] + z * t["baseline_std"]) if len(t) else t.get("exceeds", [])
    share = float(clear.mean()) if len(t) else 0.0
    big = Claim("gamma.exceeds", "γ = b_Q W_kᵀ is large exactly at EPE_0's massive coordinates", share >= 0.3,
                f"|γ| is at least mean + {z:g} std of its layer in {int(clear.sum())} of {len(t)} (layer, coordinate) "
                f"pairs (above the spec's mean + 2 std: {int(t['exceeds'].sum()) if len(t) else 0}) [criterion: at "
                f"least 30 % of the pairs ≥ mean + {z:g} std]",
                {"share": share}, elsewhere=f"On {POSITIONAL} the wired layers show it.")
    al = v.alignment
    first = al[al["position"] == 0].set_index("layer")["cosine"]
    rest = al[al["position"] != 0].groupby("layer")["cosine"].max()
    wins = (first > rest).reindex(first.index, fill_value=False)
    aligned = Claim("gamma.align", "b_Q aligns with the first position's key more than with any other",
                    bool(wins.sum() >= max(1, len(wins) // 2)),
                    f"cos(b_Q, EPE_0 W_k) is the largest over positions in {int(wins.sum())} of {len(wins)} layers "
                    f"(best {first.max():.2f} in layer {int(first.idxmax())})",
                    {"layers_won": int(wins.sum())}, elsewhere=f"On {POSITIONAL} the wired layers align by construction.")
    return [big, aligned]


def gamma_try(v, sink: Claim | None = None) -> TryThis:
    """Remove b_Q in the layer where the alignment peaks. sink: the Start page's "start.sink" claim on the same
    prompt; the question asks how much of the sink goes away, so it needs one."""
    first = v.alignment[v.alignment["position"] == 0].set_index("layer")["cosine"].sort_values(ascending=False)
    gap = float(first.iloc[0] - first.iloc[1]) if len(first) > 1 else 0.0
    question = (f"The alignment peaks in layer {int(first.index[0])}: on Interventions, remove the query bias (b) "
                "only there with the layer range. How much of the sink goes away?")
    if sink is not None and not sink.holds:
        return TryThis(question, Claim("gamma.sink", "The first token is an attention sink (something for b to take "
                                       "away)", sink.holds, sink.evidence, elsewhere=sink.elsewhere))
    premise = Claim("gamma.peak", "The alignment at position 0 peaks in one layer", gap >= 0.05,
                    f"the best two layers: {int(first.index[0])} ({first.iloc[0]:.2f}) and {int(first.index[1])} "
                    f"({first.iloc[1]:.2f})" if len(first) > 1 else "one layer only",
                    elsewhere="Here several layers align about equally; remove b_Q (b) in one wired layer at a time "
                              "on the Interventions page instead.")
    return TryThis(question, premise)


# ---------------------------------------------------------------- Interventions
def intervention(v, label: str, published: pd.DataFrame | None = None) -> list[Claim]:
    """What this intervention did to the sink, against what the account it tests predicts."""
    cls = REGISTRY[label]
    s = v.summary.set_index("run")
    base0 = float(s.loc["before", "sink_first"])
    after_k = float(s.loc["after", "sink"])
    pct = 100 * after_k / base0 if base0 else float("nan")
    ref = ""
    if published is not None and label in set(published["intervention"]):
        p = published[(published["intervention"] == label) & (published["domain"] == "all")]
        b = published[(published["intervention"] == "baseline") & (published["domain"] == "all")]
        if len(p) and len(b):
            ref = f"the paper measured {100 * float(p['sink'].iloc[0]) / float(b['sink'].iloc[0]):.1f} % on GPT-2 small"
    base = verdicts.has_sink(base0, len(v.before.tokens))
    if v.key != 0:
        route = cls.route
        where = STRUCTURAL if route == "structural" else POSITIONAL
        verdict = verdicts.moved(pct, v.key, base, after=after_k)
        c = Claim("iv.moves", f"{cls.title} moves the sink to position {v.key}", verdict.holds,
                  f"{after_k:.2f} of the attention now goes to position {v.key} ({_pct(pct)} of the baseline sink "
                  f"at position 0, {base0:.2f}); before: {float(s.loc['before', 'sink']):.2f} [criterion: "
                  f"{verdict.criterion}]" if verdict.applies else verdict.numbers,
                  {"pct": pct, "after": after_k, "base": base0}, reference=ref,
                  elsewhere=f"The {route} route is not what makes this model's sink here (at k = {v.key}); open "
                            f"{where} to see it move.")
    elif label == "a" or label == "baseline":  # nothing is cut: what is there to cut?
        T = len(v.before.tokens)
        c = Claim("iv.baseline", "Without an intervention the first token is a sink: there is something to cut",
                  _is_sink(base0, T),
                  f"{base0:.2f} of the attention goes to position 0 (equal attention to every earlier token would give "
                  f"{_uniform(T):.2f})", {"sink": base0},
                  elsewhere=f"The planted specimens {POSITIONAL} and {STRUCTURAL} both have a strong one.")
    elif cls.control:
        c = from_verdict("iv.control", f"{cls.title} is a control: the sink stays", verdicts.kept(pct, base),
                         {"pct": pct}, reference=ref,
                         elsewhere="A control that changes the sink means this model's sink uses what the control "
                                   "changed.")
    else:
        layers = (f" in layers {v.layers[0]}–{v.layers[1] - 1}" if v.layers else "")
        c = from_verdict("iv.cuts", f"Cutting {cls.wire}{layers} weakens the sink", verdicts.cut(pct, base),
                         {"pct": pct}, reference=ref,
                         elsewhere=f"This wire{layers} does not carry this model's sink on this prompt; the Compare "
                                   "specimens page shows which wires each model's sink runs through.")
    return [c]


def intervention_try(label: str, claim: Claim) -> TryThis:
    """The intervention's own Try-this, behind its claim."""
    return TryThis(REGISTRY[label].try_this or "Change the parameters and watch the sink.", claim)


# ---------------------------------------------------------------- Across domains
def domains(v, n_asked: int) -> list[Claim]:
    """Enough inputs; the ranking of interventions is the same in every domain; (i) beats its control (j)."""
    t = v.table[(v.table["domain"] != "all") & (v.table["note"].fillna("") == "")]
    out = []
    got = t.groupby("domain")["n"].max()
    short = got[got < n_asked]
    out.append(Claim("dom.n", f"Every domain has the {n_asked} inputs asked for", short.empty,
                     ", ".join(f"{d}: {int(k)}" for d, k in got.items()),
                     elsewhere="The offline corpus of a domain has fewer texts long enough; the table uses what exists."))
    piv = t.pivot_table(index="intervention", columns="domain", values="pct_of_baseline")
    corr = piv.rank().corr().values
    low = float(corr[np.triu_indices_from(corr, 1)].min()) if piv.shape[1] > 1 else 1.0
    out.append(Claim("dom.ranking", "The ranking of the interventions is the same in every domain", low >= 0.8,
                     f"the lowest rank correlation between two domains is {low:.2f}", {"min_rank_corr": low},
                     elsewhere="On a model whose sink is weak, small changes reorder the interventions."))
    if {"i", "j"} <= set(piv.index):
        se = t.pivot_table(index="intervention", columns="domain", values="se")
        sk = t.pivot_table(index="intervention", columns="domain", values="sink")
        gap = sk.loc["j"] - sk.loc["i"]
        bars = 2 * (se.loc["i"] + se.loc["j"])
        ok = bool((gap > bars).all())
        out.append(Claim("dom.i_vs_j", "Zeroing W_k at the massive coordinates (i) breaks the sink more than its random "
                         "control (j), beyond the error bars, in every domain", ok,
                         "; ".join(f"{d}: j − i = {gap[d]:.3f} (2 × (se_i + se_j) = {bars[d]:.3f})" for d in gap.index),
                         elsewhere=f"On {POSITIONAL} (i) cuts the sink and (j) does not."))
    return out


# ---------------------------------------------------------------- The circuit in one picture
def circuit(v) -> list[Claim]:
    """Cutting the chosen wires weakens the sink (✓ when less than compare.CUT % is left); none if nothing is cut.

    v: a sinklab.analyses.circuit.CircuitView (lessons.circuit_lesson) with its cuts."""

    cut = v.edges[v.edges["cut"].astype(bool)]
    if not len(cut):
        return []
    names = [REGISTRY[iv].wire or wire for wire, iv in zip(cut["wire"], cut["intervention"])]
    pct = 100 * v.sink_after / v.sink_before if v.sink_before else float("nan")
    return [Claim("circuit.cut", f"Cutting {' and '.join(names)} weakens the sink", pct < CUT,
                  f"{pct:.0f} % of the sink is left ({v.sink_before:.2f} → {v.sink_after:.2f})", {"pct": pct},
                  elsewhere="This route does not carry this model's sink here: try the other route, or another "
                            "wire (Compare specimens shows which wires each model's sink runs through).")]


# ---------------------------------------------------------------- Compare specimens
def compare(v) -> list[Claim]:
    """The models' sinks run through different wires (none for fewer than two compared models).

    v: a lessons.compare_lesson view (its `computed` signature rows)."""

    cut = wires_cut(v.computed) if len(v.computed) else {}
    if len(cut) < 2:
        return []
    differ = len({tuple(w) for w in cut.values()}) > 1
    return [Claim("compare.differ", "The models' sinks run through different wires: no one mechanism explains "
                  "every sink", differ,
                  "; ".join(f"{m}: {', '.join(w) or 'none'} cut it below {CUT:.0f} %" for m, w in cut.items()),
                  {"wires": cut},
                  elsewhere="These models happen to share their wires; add a planted specimen of the other route "
                            "to see them differ.")]


# ---------------------------------------------------------------- Length and dose
def _curve(v, curve: str) -> pd.Series | None:
    """alpha -> mean sink of one dose curve (None if it did not run on this model)."""
    d = v.dose_summary
    if d is None or d.empty or curve not in set(d["curve"]):
        return None
    return d[d["curve"] == curve].set_index("alpha")["sink_mean"].sort_index()


def _published_curve(v, experiment: str, which: str) -> str:
    """The extension's numbers for the same curve, as a labelled reference ("" for a model of another shape)."""
    pub = (v.published or {}).get(experiment)
    if pub is None or pub.empty:
        return ""
    if experiment == "lengths":
        p = pub[pub["intervention"] == which].sort_values("n_tokens")
        if p.empty:
            return ""
        return (f"the extension measured {p['pct_of_baseline'].min():.0f}–{p['pct_of_baseline'].max():.0f} % left on "
                f"{p['reference_model'].iloc[0]} at {int(p['n_tokens'].min())}–{int(p['n_tokens'].max())} tokens")
    p = pub[pub["curve"] == which].set_index("alpha")["sink"]
    if p.empty or 0 not in p.index or 1 not in p.index:
        return ""
    return (f"the extension measured {p.loc[0]:.2f} at α = 0 and {p.loc[1]:.2f} at α = 1 on "
            f"{pub['reference_model'].iloc[0]}")


def curves(v) -> list[Claim]:
    """The sink at every length; (b)'s cut at every length; the dose curves of b_Q and W_k as dials, PE_0 as a
    switch. v: a lessons.CurvesView. The b_Q claims are left out on a model without a query bias (there (b)
    is a declared no-op: there is nothing to cut or dial)."""

    out = []
    L = v.lengths_summary
    if L is not None and not L.empty:
        base = L[L["intervention"] == "baseline"].set_index("n_tokens")["sink_mean"].sort_index()
        short = [int(T) for T, x in base.items() if not _is_sink(x, int(T))]
        out.append(Claim("curves.sink", "The first token is a sink at every length", not short,
                         "baseline sink " + ", ".join(f"{x:.2f} at {int(T)}" for T, x in base.items())
                         + (f"; below the sink rule at {', '.join(map(str, short))} tokens" if short else ""),
                         {"sink": base.to_dict()},
                         elsewhere=f"The planted specimens {POSITIONAL} and {STRUCTURAL} keep one at every length."))
        b = L[L["intervention"] == "b"].set_index("n_tokens")["pct_of_baseline_mean"].sort_index()
        if len(b) and v.query_bias:
            out.append(Claim("curves.b", f"Removing b_Q cuts the sink at every length (below {CUT:.0f} % left)",
                             None if short else bool((b < CUT).all()),
                             (f"there is no sink to cut at {', '.join(map(str, short))} tokens" if short else
                              ", ".join(f"{p:.0f} % left at {int(T)}" for T, p in b.items())), {"pct": b.to_dict()},
                             reference=_published_curve(v, "lengths", "b"),
                             elsewhere=f"Here the query bias does not carry the sink at every length; on {POSITIONAL} "
                                       f"and {STRUCTURAL} it does."))
    def weak(c: pd.Series) -> str:  # a curve needs a sink at α = 1 to say anything about it
        s1 = float(c.loc[1.0])
        return "" if _is_sink(s1, v.n_tokens) else f" (at α = 1 the sink is only {s1:.2f}: too weak"\
            " to call a sink)"

    for curve, what in (("b", "b_Q"), ("scale_wk", "the massive rows of W_k")):
        c = _curve(v, curve)
        if c is None or 0.0 not in c.index or 1.0 not in c.index or (curve == "b" and not v.query_bias):
            continue
        rising = c.loc[0.0:1.0]
        dial = bool(c.loc[0.0] < CUT / 100 * c.loc[1.0] and (rising.diff().dropna() >= -0.01).all()) and not weak(c)
        out.append(Claim(f"curves.dose_{curve}", f"The sink is a dial on {what}: turned down to α = 0 it keeps "
                         f"under {CUT:.0f} % of the sink, and it grows steadily back to α = 1",
                         dial, "sink " + ", ".join(f"{x:.2f} at α = {a:g}" for a, x in c.items()) + weak(c),
                         {"sink": c.to_dict()}, reference=_published_curve(v, "dose", curve),
                         elsewhere=f"On {POSITIONAL} and {STRUCTURAL} the sink rises steadily with {what}."))
    c = _curve(v, "pe")
    if c is not None and {0.0, 0.5, 1.0} <= set(c.index):
        switch = bool(c.loc[0.0] < CUT / 100 * c.loc[1.0] and c.loc[0.5] >= 0.8 * c.loc[1.0]) and not weak(c)
        out.append(Claim("curves.dose_pe", "Moving PE_0 toward PE_1 is a switch, not a dial: the sink is back "
                         "in full by α = 0.5", switch,
                         f"sink {c.loc[0.0]:.2f} at α = 0, {c.loc[0.5]:.2f} at 0.5, {c.loc[1.0]:.2f} at 1" + weak(c),
                         {"sink": c.to_dict()}, reference=_published_curve(v, "dose", "pe"),
                         elsewhere=f"On {POSITIONAL} a little of PE_0 is enough for the whole sink."))
    return out


def curves_try(v) -> TryThis:
    premise = next((c for c in curves(v) if c.id == "curves.dose_b"), None) or Claim(
        "curves.dose_b", "The model has a query bias b_Q to dial", False,
        "it has none, so the b_Q curve is flat by construction" if not v.query_bias else "its b_Q curve did not run",
        elsewhere=f"Open {POSITIONAL} or {STRUCTURAL}.")
    return TryThis("Read the b_Q curve: at which α has the sink reached half its full size? Is it the same α for "
                   "the W_k curve? Then read the length curve: does cutting b_Q work as well at the longest length "
                   "shown as at the shortest?", premise)


# ---------------------------------------------------------------- Structural origin
def _big(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


def origin(v) -> list[Claim]:
    """The structural chain link by link on the prompt: the variance discrepancy where the massive coordinate
    appears, the massive coordinate, the super neurons writing it, cutting them beside their random control,
    zeroing the coordinate, and the two moves."""
    f, ch = v.found, v.chain
    layer = f.layer if f is not None and f.layer is not None else 0
    row = ch.set_index("layer").loc[layer] if ch is not None else None
    g = v.stats[v.stats["layer"] == layer].set_index("position")["norm"]
    ratio = float(g.loc[0] / g.drop(index=0).mean()) if len(g) > 1 else float("nan")
    var = Claim("origin.variance", f"Position 0's attention output stands out in layer {layer} (one value vector, not "
                "an average)", ratio >= 1.5,
                f"its norm is {ratio:.1f}× the other positions' mean in layer {layer}"
                + (", where the massive coordinate appears" if f is not None and f.layer is not None else ""),
                {"ratio": ratio, "layer": layer}, elsewhere=f"{STRUCTURAL} is built on this discrepancy.")
    if f is not None and f.layer is not None:
        massive = Claim("origin.massive", f"A massive coordinate appears at position 0 in layer {f.layer}", True,
                        f"coordinate {f.coord}: {_big(f.magnitude)} at position 0 after layer {f.layer} vs "
                        f"{_big(float(row['abs_other']))} at the other positions (peak {_big(f.peak)})",
                        {"layer": f.layer, "coord": f.coord, "magnitude": f.magnitude})
    else:
        massive = Claim("origin.massive", "A massive coordinate appears at position 0", False,
                        "no coordinate of position 0 passes the massive rule in any layer on this prompt",
                        elsewhere=f"Both specimens have one ({POSITIONAL}, {STRUCTURAL}).")
    top = v.neurons.iloc[0]
    names = ", ".join(str(n) for n in (f.neurons if f is not None else ()))
    sn = Claim("origin.super", f"Super neurons of layer {layer} write it",
               bool(f is not None and f.neurons),
               (f"neurons {names}: active mainly at position 0 (neuron {int(top['neuron'])} fires "
                f"{_big(float(top['score']))}× more there than elsewhere, on average) and making "
                f"{float(top['share']):.0%} of the layer's MLP write there"
                if f is not None and f.neurons else
                f"none in layer {layer}: no unit is both active mainly at position 0 and writing a massive coordinate "
                f"(the largest writer, neuron {int(top['neuron'])}, is {_big(float(top['score']))}× as active at 0 "
                f"and makes {float(top['share']):.0%} of the write)"),
               {"neurons": tuple(f.neurons) if f is not None else ()},
               elsewhere=f"Both specimens have planted ones ({POSITIONAL} and {STRUCTURAL} in layer 0).")
    out = [var, massive, sn]
    cuts = v.cuts.set_index("setting") if v.cuts is not None else None

    def pct(name):
        if cuts is None or name not in cuts.index or not cuts.loc[name, "n"]:
            return None
        return float(cuts.loc[name, "pct_of_baseline"])

    zn, ctrl, zm = pct("zero_neurons"), pct("zero_random_neurons:0"), pct("zero_massive")
    m = v.moves_summary.set_index("intervention")
    base_k, base0 = float(m.loc["baseline", "sink_at_k"]), float(m.loc["baseline", "sink_first"])
    base = verdicts.has_sink(base0, int(v.stats["position"].max()) + 1)
    if zn is not None:
        cut_v, kept_v = verdicts.cut(zn, base), (verdicts.kept(ctrl, base) if ctrl is not None else None)
        out.append(Claim("origin.cut", "Zeroing those super neurons cuts the sink, and as many random neurons do not",
                         None if not cut_v.applies else bool(cut_v.holds and (kept_v is None or kept_v.holds)),
                         f"{zn:.0f} % of the baseline sink left after zero_neurons in layer {layer}; "
                         + (f"{ctrl:.0f} % after zeroing as many random neurons of that layer (the control)"
                            if ctrl is not None else "no control ran"),
                         {"zero_neurons": zn, "control": ctrl}))
    if zm is not None:
        zv = verdicts.cut(zm, base)
        out.append(Claim("origin.zero_massive", f"Zeroing the massive coordinates after layer {layer} cuts the sink",
                         zv.holds, f"{zm:.0f} % of the baseline sink left" if zv.applies else zv.numbers,
                         {"zero_massive": zm},
                         elsewhere="Later layers may rebuild or bypass it; the per-layer chart shows where."))
    for name in ("isolate", "amplify"):
        a = float(m.loc[name, "sink_at_k"])
        out.append(Claim(f"origin.{name}", f"{REGISTRY[name].title} makes a sink at k = {v.position}",
                         (a >= 0.3 and a >= 3 * base_k) if base.holds else None,
                         (f"attention to position {v.position}: {base_k:.2f} → {a:.2f} (the sink at 0 was {base0:.2f})"
                          if base.holds else f"there is no sink on this prompt to move ({base.numbers})"),
                         {"before": base_k, "after": a},
                         elsewhere=f"This model's sink is not made by aggregation alone; on {STRUCTURAL} it moves to k."))
    return out


def origin_try(v) -> TryThis:
    premise = next(c for c in origin(v) if c.id == "origin.amplify")
    return TryThis("Set k to a middle position and raise the amplify factor step by step: from which factor does "
                   "position k collect attention? Does isolate alone make a sink?", premise)


# ---------------------------------------------------------------- EPE
# (and γ, Decomposition: on a model without the positional route, what carries the sink instead)
def instead(v) -> list[Claim]:
    """The circuit paper's route is absent here (which parts, computed from the model) and what carries the sink
    instead, measured on the prompt (lessons.positional_absent)."""
    f = v.found
    out = [Claim("instead.absent", "The circuit paper's positional route is absent on this model", True,
                 "; ".join(v.absent), {"absent": v.absent}),
           Claim("instead.sink", "Its first token is still a sink", v.sink >= 0.3,
                 f"second-half queries put {v.sink:.2f} of their attention on position 0 ({v.tokens} tokens)",
                 {"sink": v.sink})]
    if f["layer"] is not None:
        row = v.chain.set_index("layer").loc[f["layer"]]
        out.append(Claim("instead.massive", "A massive coordinate at position 0 carries it instead", True,
                         f"coordinate {f['coord']}: {_big(f['magnitude'])} at position 0 after layer {f['layer']} vs "
                         f"{_big(float(row['abs_other']))} elsewhere"
                         + (f", written by super neurons {', '.join(map(str, f['super_neurons']))} of that layer"
                            if f["super_neurons"] else ", grown over several layers (no single super neuron)"),
                         {"layer": f["layer"], "coord": f["coord"]}))
    else:
        out.append(Claim("instead.massive", "A massive coordinate at position 0 carries it instead", False,
                         "no coordinate of position 0 passes the massive rule on this prompt",
                         elsewhere="The Structural origin page measures the rest of the chain."))
    return out
