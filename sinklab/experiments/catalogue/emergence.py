"""Emergence over checkpoints of a training run: the sink, the interventions' efficacy, EPE_0's largest value and
the b_Q–EPE_0 alignment at each training step."""
from __future__ import annotations

import math
import os
import re

import altair as alt
import pandas as pd

from ...analyses.gamma import alignment
from ...errors import BadInput
from ...model.epe import epe, massive_coords
from ...published import beside
from .. import figures
from ..experiment import Experiment, Option
from ..plan import INTERVENTIONS
from ..tables import pooled, summarise


def model_stats(lm, band: tuple[int, int]) -> dict:
    """What the emergence experiment tracks besides the sink: EPE_0's largest |value|, its top-3 massive
    coordinates, and the b_Q–EPE_0-key alignment averaged over the band's layers, two ways:
    alignment_heads = the mean over heads of cos(b_Q^h, EPE_0 W_k^h) (the circuit paper's Fig. 2), and
    alignment_concat = cos(b_Q, EPE_0 W_k) over the concatenated heads (one d_model-long cosine per layer).
    NaN (with a note) where a quantity is not defined on the model."""
    out = {"epe_max": math.nan, "top3_coords": "", "alignment_heads": math.nan, "alignment_concat": math.nan,
           "stats_note": ""}
    notes = []
    try:
        out["epe_max"] = float(epe(lm.model)[0].abs().max())
        out["top3_coords"] = " ".join(str(c) for c in massive_coords(lm.model, top=3))
    except BadInput as e:
        notes.append(str(e))
    try:
        for over in ("heads", "concat"):
            al = alignment(lm.model, positions=1, over=over)
            al = al[(al["position"] == 0) & al["layer"].between(band[0], band[1] - 1)]
            out[f"alignment_{over}"] = float(al["cosine"].mean())
    except BadInput as e:
        notes.append(str(e))
    out["stats_note"] = " | ".join(notes)
    return out


def step_of(revision: str | None, order: int) -> int:
    """The training step a revision name or checkpoint directory names (its last integer), else its order."""
    if revision:
        tail = revision.rstrip("/").split("/")[-1]
        nums = re.findall(r"\d+", tail)
        if nums:
            return int(nums[-1])
    return order


class Emergence(Experiment, name="emergence"):
    """over checkpoints: sink, EPE_0 max, alignment and intervention efficacy per step"""

    options = (Option("revisions", (), "emergence checkpoints: revision names of --model on the hub, or checkpoint "
                                        "directories (of one --model only)"),
               INTERVENTIONS)
    required = ("revisions",)
    keys = ("model", "revision", "order")
    values = ("sink", "pct_*", "epe_max", "alignment_heads", "alignment_concat")
    per_seed = ("top3_coords", "stats_note")
    carried = {"step": "first"}
    shown = ("model", "revision", "step", "sink", "epe_max", "alignment_heads", "alignment_concat", "pct_*")
    published = beside.emergence_rows

    def validate(self, plan):
        if not plan.revisions:
            raise BadInput("the emergence experiment needs checkpoints: --revisions with revision names of the "
                           "model or checkpoint directories")
        dirs = [r for r in plan.revisions if isinstance(r, str) and (r.startswith((".", "/", "~")) or
                                                                     os.path.isdir(os.path.expanduser(r)))]
        if dirs and len(plan.models) > 1:
            raise BadInput(f"checkpoint directories ({', '.join(dirs)}) are the checkpoints of ONE training run, "
                           f"but {len(plan.models)} models are given ({', '.join(plan.models)}): run emergence over "
                           "checkpoint directories with one --model (revision names of the hub may be shared)")

    def units(self, plan):
        return [(rev, d, plan.n_tokens) for rev in plan.revisions for d in plan.domains]

    def settings(self, plan):
        return ("baseline", *plan.interventions)

    def measure(self, job, lm, ids, band, batch_size):
        return pd.DataFrame([model_stats(lm, band)])

    def table(self, raw, plan):
        """Per checkpoint (revision), seed: sink, pct of baseline per efficacy intervention, EPE_0 max, and the
        b_Q–EPE_0 alignment two ways (alignment_heads: mean over heads, the paper's Fig. 2; alignment_concat:
        over the concatenated heads)."""
        ex, stats = raw.examples, raw.measured.get(self.name)
        ex = ex[(ex["revision"] != "") & ex["regime"].isin(plan.domains) & (ex["n_tokens"] == plan.n_tokens)]
        if ex.empty:
            return pd.DataFrame()
        ex = pd.concat([ex, pooled(ex, plan.domains)], ignore_index=True) if len(plan.domains) > 1 else ex
        region = "all" if len(plan.domains) > 1 else plan.domains[0]
        s = summarise(ex[ex["regime"] == region])
        order = {r: i for i, r in enumerate(plan.revisions)}
        rows = []
        for (model, rev, seed), g in s.groupby(["model", "revision", "seed"], sort=False):
            row = {"model": model, "revision": rev, "order": order.get(rev, -1),
                   "step": step_of(rev, order.get(rev, -1)), "seed": seed}
            b = g[g["setting"] == "baseline"]
            row["sink"] = float(b["sink"].iloc[0]) if len(b) else math.nan
            for _, r in g[g["setting"] != "baseline"].iterrows():
                row[f"pct_{r['setting']}"] = r["pct_of_baseline"]
            if stats is not None and len(stats):
                st = stats[(stats["model"] == model) & (stats["revision"] == rev)]
                if len(st):
                    for c in ("epe_max", "alignment_heads", "alignment_concat", "top3_coords", "stats_note"):
                        row[c] = st[c].iloc[0]
            rows.append(row)
        return pd.DataFrame(rows).sort_values(["model", "order", "seed"], kind="stable").reset_index(drop=True)

    def figure(self, summary, published):
        cols = [c for c in summary.columns if c.endswith("_mean") and (
            c[:-5] in ("sink", "epe_max", "alignment_heads", "alignment_concat") or c.startswith("pct_"))]
        long = summary.melt(["model", "revision", "step"], cols, var_name="measure", value_name="value").dropna(
            subset=["value"])
        long["measure"] = long["measure"].str.removesuffix("_mean")
        data = figures.with_published(long, published, "value", "value", {"measure": list(long["measure"].unique()),
                                                                            "model": list(long["model"].unique())})
        base = alt.Chart(data)
        computed = base.transform_filter(figures.COMPUTED)
        layers = [computed.mark_line(point=True).encode(
            x=alt.X("step:Q", title="training step"), y=alt.Y("value:Q", title=None), color="model:N",
            tooltip=["revision", "measure", alt.Tooltip("value:Q", format=".3f")])]
        if (data["kind"] == "published").any():
            layers.append(base.transform_filter(figures.IS_PUBLISHED).mark_point(
                color="black", **figures.PUBLISHED_MARK).encode(
                x="step:Q", y="value:Q", shape=figures.reference_shape(data),
                tooltip=["reference", "reference_model", "measure", alt.Tooltip("value:Q", format=".3f")]))
        ch = alt.layer(*layers).properties(width=220, height=150).facet(facet=alt.Facet("measure:N", title=None),
                                                                          columns=3)
        return ch.resolve_scale(y="independent").properties(title="Emergence over checkpoints")
