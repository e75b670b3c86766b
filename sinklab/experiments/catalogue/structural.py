"""The structural account tested link by link (sinklab.analyses.structural): where position 0's massive coordinate
appears, the super neurons writing it, and each link cut beside its controls, per model, domain and data seed."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ...analyses import structural
from ...errors import BadInput
from ...model.tokens import prepends_bos
from ..experiment import Experiment, Option
from ..markdown import md_table
from ..tables import GROUP

FOUND = ("found_layer", "coord", "magnitude", "peak", "neurons", "massive", "bos")
EFFECT_VALUES = ("pct_of_baseline", "pct_at_k", "ce_change", "sink")
LAYER_VALUES = ("abs_first", "abs_other", "variance_ratio")


def _bos(value: str) -> str:
    if value not in ("auto", "yes", "no"):
        raise BadInput(f"structural_bos must be auto, yes or no; got {value!r}")
    return value


class Structural(Experiment, name="structural"):
    """the structural account link by link: the layer where position 0's massive coordinate appears, its super
    neurons, and each link cut beside its controls (zero_neurons, zero_random_neurons, zero_massive, that layer's
    MLP, isolate and amplify at k, head-wise RMSNorm): % of the baseline sink and the cross-entropy change

    One row per cut (part "effect": setting, % of the baseline sink at position 0, % arriving at k, CE change) and
    per layer of the baseline (part "layer": the sink in that layer, the tracked coordinate at position 0 and
    elsewhere, the attention-output variance ratio); every row carries what the finder saw on those inputs.
    """

    options = (Option("structural_k", 5, "the position k isolate and amplify try to make a sink", kind=int,
                      many=False, low=1, flag_parse=int),
               Option("amplify_factors", structural.FACTORS, "amplify's factor sweep (structural)", kind=float,
                      low=0.0, flag_parse=float),
               Option("control_seeds", structural.CONTROL_SEEDS, "the random-neuron control's draws (structural)",
                      kind=int, low=0, flag_parse=int),
               Option("structural_bos", "auto", "put the model's BOS token first: auto (as its tokenizer does, "
                      "e.g. Gemma's <bos>), yes or no", many=False, check=_bos))
    ce = True
    keys = ("model", "domain", "part", "setting", "label")
    values = (*EFFECT_VALUES, *LAYER_VALUES)
    per_seed = ("n", "layer", *FOUND, "note")
    shown = ("model", "domain", "setting", "pct_of_baseline", "pct_at_k", "ce_change")
    published_in_report = False

    def settings(self, plan):
        return ("baseline",)

    def measure(self, job, lm, ids, band, batch_size):
        k = job.option("structural_k")
        if k >= ids.shape[1]:
            raise BadInput(f"structural_k = {k} needs inputs of more than {k} tokens; got {ids.shape[1]}")
        bos = job.option("structural_bos")
        with_bos = prepends_bos(lm.tokenizer) if bos == "auto" else bos == "yes"
        if with_bos:
            ids = structural.with_bos(ids, lm.tokenizer.bos_token_id)
        m = structural.measure(lm, ids, target=k, factors=job.option("amplify_factors"),
                               control_seeds=job.option("control_seeds"), metric=job.metric, ce=True,
                               batch_size=min(batch_size, 16))
        f = m["found"].iloc[0]
        found = {"found_layer": f["layer"], "coord": f["coord"], "magnitude": f["magnitude"], "peak": f["peak"],
                 "neurons": f["neurons"], "massive": f["massive"], "bos": bool(with_bos)}
        eff = m["effects"].assign(part="effect")
        chain = m["chain"].assign(part="layer", setting="baseline", label=m["chain"]["layer"].map(lambda l: f"layer {l}"),
                                  n=len(ids), note="")
        per_layer = m["sink_per_layer"].set_index("layer")["value"]
        chain["sink"] = chain["layer"].map(per_layer)
        chain = chain[["part", "setting", "label", "layer", "n", "sink", *LAYER_VALUES, "note"]]
        return pd.concat([eff, chain], ignore_index=True).assign(**found)

    def table(self, raw, plan):
        """Per model, seed, domain (and "all": each effect's mean over the domains of that seed, where every domain
        ran it): the effect rows and the per-layer rows of the measurement."""
        rows = raw.measured.get(self.name)
        if rows is None or rows.empty:
            return pd.DataFrame()
        rows = rows[rows["regime"].isin(plan.domains) & (rows["revision"] == "")].rename(columns={"regime": "domain"})
        eff = rows[(rows["part"] == "effect") & (rows["n"] > 0)]
        keys = ["model", "seed", "part", "setting", "label"]
        counts = eff.groupby(keys)["domain"].nunique()
        full = counts[counts == len(plan.domains)].index
        pooled = (eff.set_index(keys).loc[lambda d: d.index.isin(full)].reset_index()
                  .groupby(keys, sort=False).agg(n=("n", "sum"), layer=("layer", "first"),
                                                 **{v: (v, "mean") for v in EFFECT_VALUES}).reset_index()
                  .assign(domain="all", note=""))
        out = pd.concat([rows, pooled], ignore_index=True)
        cols = ["model", "seed", "domain", *self.keys[2:], *self.values, *self.per_seed]
        for c in cols:
            if c not in out.columns:
                out[c] = pd.NA
        mrank = {m: i for i, m in enumerate(plan.models)}
        drank = {d: i for i, d in enumerate((*plan.domains, "all"))}
        out = out.assign(_m=out["model"].map(mrank), _d=out["domain"].map(drank), _p=out["part"].map({"effect": 0,
                                                                                                 "layer": 1}))
        out = out.sort_values(["_m", "seed", "_d", "_p"], kind="stable")
        return out[cols].reset_index(drop=True)

    def figure(self, summary, published):
        s = summary[(summary["part"] == "effect") & (summary["setting"] != "baseline")]
        s = s[s["domain"] == ("all" if "all" in set(s["domain"]) else s["domain"].iloc[0])] if len(s) else s
        if s.empty:
            return None
        s = s.assign(what=s["setting"].str.replace("zero_random_neurons:", "random neurons, seed ")
                     .str.replace("amplify:", "amplify × "),
                     value=s["pct_of_baseline_mean"],
                     lo=s["pct_of_baseline_mean"] - s["pct_of_baseline_sd"].fillna(0),
                     hi=s["pct_of_baseline_mean"] + s["pct_of_baseline_sd"].fillna(0))
        base = alt.Chart(s).encode(y=alt.Y("what:N", title=None, sort=list(dict.fromkeys(s["what"])),
                                           axis=alt.Axis(labelLimit=240)))
        bars = base.mark_bar().encode(x=alt.X("value:Q", title="sink at position 0, % of the baseline (mean ± SD "
                                                                "over seeds)", scale=alt.Scale(domain=[0, 130])),
                                      color=alt.Color("model:N", title="model"), yOffset="model:N",
                                      tooltip=["model", "setting", alt.Tooltip("value:Q", format=".1f")])
        err = base.mark_rule().encode(x="lo:Q", x2="hi:Q", yOffset="model:N")
        return alt.layer(bars, err).properties(width=460, title="The structural chain cut link by link (all domains)")

    def markdown(self, res, table, summary, published):
        """Per model: what the finder saw, and each cut's % of the baseline (mean ± SD over seeds, all domains)."""
        lines = []
        t = table[table["part"] == "effect"]
        for model in dict.fromkeys(t["model"]):
            mt = t[(t["model"] == model)]
            found = mt.drop_duplicates(["seed", "domain"])
            runs = len(found[found["domain"] != "all"])
            layers = found[found["domain"] != "all"]["found_layer"].dropna().astype(int).value_counts()
            lines.append(f"- {model}: the massive coordinate appears after layer "
                         + (", ".join(f"{l} ({c} of {runs} runs)" for l, c in layers.items()) or "none")
                         + "; super neurons: " + (", ".join(sorted(set(" ".join(found["neurons"].fillna("").astype(str))
                                                                      .split()), key=int)) or "none"))
        s = summary[(summary["part"] == "effect") & (summary["domain"] == "all")]
        if len(s):
            view = pd.DataFrame({
                "model": s["model"], "setting": s["setting"],
                "% of baseline (all domains)": [f"{m:.1f} ± {0 if pd.isna(d) else d:.1f}" for m, d in
                                                zip(s["pct_of_baseline_mean"], s["pct_of_baseline_sd"])],
                "% at k": s["pct_at_k_mean"].map(lambda x: f"{x:.1f}"),
                "CE change": s["ce_change_mean"].map(lambda x: "n/a" if pd.isna(x) else f"{x:+.3f}")})
            lines += ["", md_table(view)]
        notes = t[t["note"].fillna("").astype(str) != ""].drop_duplicates(["model", "setting"])
        if len(notes):
            lines += ["", "Not run:"] + [f"- {r.model}, {r.setting}: {r.note}" for r in notes.itertuples()]
        return lines + [""]
