"""From the jobs' raw rows to each experiment's tidy tables: per data seed, and mean ± SD across seeds.

Every percentage is relative to the baseline of the same (model, revision, seed, regime, length): the
same inputs, so "% of the same-length baseline" for lengths and "% of the regime's baseline" for regimes.
The pooled domain "all" pools the examples of every domain of a (model, seed) (as the paper's Table 1).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..inputs.corpora import DOMAINS
from ..analyses.decomposition import percentiles_authors
from ..interventions import REGISTRY
from .jobs import AND, DOSE_CURVES, JOB_COLUMNS, step_of

GROUP = JOB_COLUMNS  # model, revision, seed, regime, n_tokens


def title(setting: str) -> str:
    """A readable title for a setting name."""
    if setting == "baseline":
        return "Baseline"
    if setting in REGISTRY:
        return REGISTRY[setting].title
    if AND in setting:
        return " + ".join(title(p) for p in setting.split(AND))
    if setting.startswith("transplant@"):
        return f"Transplant EPE_0 to position {setting.split('@')[1]}"
    if setting.startswith("dose:"):
        _, curve, alpha = setting.split(":")
        return f"{DOSE_CURVES.get(curve, curve)}, α = {alpha}"
    return setting


def summarise(ex: pd.DataFrame, group=GROUP) -> pd.DataFrame:
    """Per group and setting: n, sink (mean at the setting's key) ± se, first, ce, ce_change (paired with
    the baseline's example), pct_of_baseline (sink / baseline sink at position 0), at_k and base_at_k."""
    group = list(group)
    at = [c for c in ex.columns if c.startswith("at_")]
    base = ex[ex["setting"] == "baseline"][group + ["example", "first", "ce", *at]]
    base = base.rename(columns={"first": "base_first", "ce": "base_ce", **{c: f"base_{c}" for c in at}})
    ex = ex.merge(base, on=group + ["example"], how="left")
    ex["ce_change"] = ex["ce"] - ex["base_ce"]
    aggs = dict(n=("target", "count"), sink=("target", "mean"), sd=("target", "std"), key=("key", "first"),
                first=("first", "mean"), ce=("ce", "mean"), ce_change=("ce_change", "mean"),
                base_first=("base_first", "mean"))
    for c in at:
        aggs[c] = (c, "mean")
        aggs[f"base_{c}"] = (f"base_{c}", "mean")
    out = ex.groupby(group + ["setting"], sort=False, dropna=False).agg(**aggs).reset_index()
    out["se"] = (out["sd"] / np.sqrt(out["n"])).fillna(0.0)
    out["pct_of_baseline"] = 100 * out["sink"] / out["base_first"]
    return out.drop(columns=["sd"])


def pooled(ex: pd.DataFrame, domains=DOMAINS) -> pd.DataFrame:
    """The examples of every domain of a (model, revision, seed, length) as one regime 'all'."""
    d = ex[ex["regime"].isin(domains)].copy()
    if d.empty or d["regime"].nunique() < 2:
        return d.iloc[:0]
    d["example"] = d["regime"] + ":" + d["example"].astype(str)
    d["regime"] = "all"
    return d


def _domains(ex: pd.DataFrame, plan, settings) -> pd.DataFrame:
    ex = ex[ex["regime"].isin(plan.domains) & (ex["n_tokens"] == plan.n_tokens) & (ex["revision"] == "")]
    ex = ex[ex["setting"].isin(settings)]
    if ex.empty:
        return pd.DataFrame()
    ex = pd.concat([ex, pooled(ex, plan.domains)], ignore_index=True)
    s = summarise(ex)
    s = s.rename(columns={"regime": "domain"})
    drank = {d: i for i, d in enumerate((*plan.domains, "all"))}
    srank = {k: i for i, k in enumerate(dict.fromkeys(settings))}
    s = s.assign(_d=s["domain"].map(drank), _s=s["setting"].map(srank))
    return s.sort_values(["_d", "_s"], kind="stable").drop(columns=["_d", "_s"]).reset_index(drop=True)


BASE_COLS = ["model", "seed", "domain", "intervention", "title", "key", "n", "sink", "se", "pct_of_baseline",
             "first", "ce", "ce_change"]


def _finish(s: pd.DataFrame, cols) -> pd.DataFrame:
    s = s.rename(columns={"setting": "intervention"})
    s["title"] = s["intervention"].map(title)
    return s[[c for c in cols if c in s.columns]].reset_index(drop=True)


def table1(ex, plan) -> pd.DataFrame:
    s = _domains(ex, plan, plan.settings_for("table1"))
    return _finish(s, BASE_COLS) if len(s) else s


def combined(ex, plan) -> pd.DataFrame:
    s = _domains(ex, plan, plan.settings_for("combined"))
    return _finish(s, BASE_COLS) if len(s) else s


COST_COLS = [*BASE_COLS[:BASE_COLS.index("first")], "first", "base_first", "reduction_pct", "ce", "ce_change"]


def cost(ex, plan) -> pd.DataFrame:
    """ΔCE against the reduction of the sink AT POSITION 0 (first vs the baseline's first), for every setting:
    reduction_pct = 100 (1 - first / base_first). `sink` / `pct_of_baseline` stay the attention at the
    setting's key (position k for transplant, isolate, amplify: where they move the sink), as in Table 1."""
    s = _domains(ex, plan, plan.settings_for("cost"))
    if s.empty:
        return s
    base = s["base_first"].where(s["base_first"] > 0)  # no sink at position 0: nothing to reduce (NaN)
    s = s.assign(reduction_pct=100 * (1 - s["first"] / base))
    s = _finish(s, COST_COLS)
    s["on_frontier"] = False
    for _, g in s.groupby(["model", "seed", "domain"]):
        g = g[g["intervention"] != "baseline"].dropna(subset=["ce_change", "reduction_pct"])
        for i, r in g.iterrows():  # Pareto: no other setting cuts more for no more cost
            dominated = ((g["reduction_pct"] >= r["reduction_pct"]) & (g["ce_change"] <= r["ce_change"]) &
                         ((g["reduction_pct"] > r["reduction_pct"]) | (g["ce_change"] < r["ce_change"]))).any()
            s.loc[i, "on_frontier"] = not dominated
    return s


def dose(ex, plan) -> pd.DataFrame:
    s = _domains(ex, plan, plan.settings_for("dose"))
    if s.empty:
        return s
    s = s[s["setting"] != "baseline"].copy()
    parts = s["setting"].str.split(":", expand=True)
    s["curve"], s["alpha"] = parts[1], parts[2].astype(float)
    s["curve_title"] = s["curve"].map(DOSE_CURVES)
    cols = ["model", "seed", "domain", "curve", "curve_title", "alpha", "n", "sink", "se", "pct_of_baseline"]
    return s.sort_values(["model", "seed", "domain", "curve", "alpha"], kind="stable")[cols].reset_index(drop=True)


def relocation(ex, plan) -> pd.DataFrame:
    s = _domains(ex, plan, plan.settings_for("relocation"))
    if s.empty:
        return s
    rows = []
    for _, r in s[s["setting"].str.startswith("transplant@")].iterrows():
        k = int(r["setting"].split("@")[1])
        base0, at_k, base_k = r["base_first"], r["sink"], r.get(f"base_at_{k}", math.nan)
        rows.append({"model": r["model"], "seed": r["seed"], "domain": r["domain"], "target": k, "n": r["n"],
                     "baseline_at_0": base0, "moved_to_target": at_k, "baseline_at_target": base_k,
                     "left_at_0": r["first"], "ratio": at_k / base0 if base0 else math.nan,  # no sink: undefined
                     "net_ratio": (at_k - base_k) / base0 if base0 else math.nan})
    return pd.DataFrame(rows)


def _by_regime(ex, plan, regimes, lengths) -> pd.DataFrame:
    ex = ex[ex["regime"].isin(regimes) & ex["n_tokens"].isin(lengths) & (ex["revision"] == "")]
    ex = ex[ex["setting"].isin(plan.settings_for("lengths"))]
    if ex.empty:
        return pd.DataFrame()
    s = summarise(ex).rename(columns={"setting": "intervention"})
    s["title"] = s["intervention"].map(title)
    return s


def lengths(ex, plan) -> pd.DataFrame:
    s = _by_regime(ex, plan, [plan.length_regime], plan.lengths)
    if s.empty:
        return s
    cols = ["model", "seed", "regime", "n_tokens", "intervention", "title", "n", "sink", "se", "pct_of_baseline"]
    return s.sort_values(["model", "seed", "n_tokens"], kind="stable")[cols].reset_index(drop=True)


def regimes(ex, plan) -> pd.DataFrame:
    s = _by_regime(ex, plan, plan.regimes, [plan.n_tokens])
    if s.empty:
        return s
    cols = ["model", "seed", "regime", "intervention", "title", "n", "sink", "se", "pct_of_baseline"]
    return s[cols].reset_index(drop=True)


def pathways(raw: pd.DataFrame, plan) -> pd.DataFrame:
    if raw is None or raw.empty:
        return pd.DataFrame()
    raw = raw[raw["regime"].isin(plan.domains) & (raw["revision"] == "")]
    allr = pooled(raw, plan.domains)
    raw = pd.concat([raw, allr], ignore_index=True)
    measures = ["full", "content_only", "bias_only", "delta_share"]
    long = raw.melt(GROUP + ["example"], measures, var_name="measure", value_name="v")
    g = long.groupby(GROUP + ["measure"], sort=False)["v"]
    out = pd.DataFrame({"n": g.count(), "value": g.mean(), "se": g.std() / np.sqrt(g.count())}).reset_index()
    out["se"] = out["se"].fillna(0.0)
    out = out.rename(columns={"regime": "domain"})
    return out[["model", "seed", "domain", "measure", "n", "value", "se"]]


def emergence(ex, stats: pd.DataFrame, plan) -> pd.DataFrame:
    """Per checkpoint (revision), seed: sink, pct of baseline per efficacy intervention, EPE_0 max, and the
    b_Q–EPE_0 alignment two ways (alignment_heads: mean over heads, the paper's Fig. 2; alignment_concat:
    over the concatenated heads)."""
    ex = ex[(ex["revision"] != "") & ex["regime"].isin(plan.domains) & (ex["n_tokens"] == plan.n_tokens)]
    if ex.empty:
        return pd.DataFrame()
    ex = pd.concat([ex, pooled(ex, plan.domains)], ignore_index=True) if len(plan.domains) > 1 else ex
    region = "all" if len(plan.domains) > 1 else plan.domains[0]
    s = summarise(ex[ex["regime"] == region])
    order = {r: i for i, r in enumerate(plan.revisions)}
    rows = []
    for (model, rev, seed), g in s.groupby(["model", "revision", "seed"], sort=False):
        row = {"model": model, "revision": rev, "order": order.get(rev, -1), "step": step_of(rev, order.get(rev, -1)),
               "seed": seed}
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


PERCENTILES = ("p10", "p50", "p90", "mean", "std")


def delta(raw: pd.DataFrame, plan) -> pd.DataFrame:
    """Per model, seed, domain (and 'all', the domains pooled), layer and position: the authors' Δ percentile
    table, pooled over examples and heads. raw: the jobs' delta_values rows."""
    if raw is None or raw.empty:
        return pd.DataFrame()
    raw = raw[raw["regime"].isin(plan.domains) & (raw["revision"] == "") & (raw["n_tokens"] == plan.n_tokens)]
    if raw.empty:
        return pd.DataFrame()
    raw = pd.concat([raw, raw.assign(regime="all")], ignore_index=True)  # the domains pooled (examples unused)
    out = percentiles_authors(raw, ["model", "seed", "regime", "layer", "position"]).rename(
        columns={"regime": "domain"})
    drank = {d: i for i, d in enumerate((*plan.domains, "all"))}
    mrank = {m: i for i, m in enumerate(plan.models)}
    out = out.assign(_m=out["model"].map(mrank), _d=out["domain"].map(drank))
    out = out.sort_values(["_m", "seed", "_d", "layer", "position"], kind="stable").drop(columns=["_m", "_d"])
    return out.reset_index(drop=True)[["model", "seed", "domain", "layer", "position", *PERCENTILES]]


# ------------------------------------------------------------------------------------------ across seeds
VALUES = ("sink", "pct_of_baseline", "ce", "ce_change", "reduction_pct", "value", "ratio", "net_ratio",
          "baseline_at_target", "left_at_0", "base_first",
          "moved_to_target", "baseline_at_0", "epe_max", "alignment_heads", "alignment_concat", *PERCENTILES)


def across_seeds(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD across data seeds of every value column (n_seeds; SD is NaN with one seed)."""
    if df is None or df.empty or "seed" not in df.columns:
        return pd.DataFrame()
    values = [c for c in df.columns if c in VALUES or c.startswith("pct_")]
    skip = set(values) | {"seed", "n", "se", "on_frontier", "step", "top3_coords", "stats_note", "first", "key"}
    keys = [c for c in df.columns if c not in skip]
    g = df.groupby(keys, sort=False, dropna=False)
    out = g.size().rename("n_seeds").reset_index()
    for c in values:
        vals = pd.to_numeric(df[c], errors="coerce")
        m = vals.groupby([df[k] for k in keys], sort=False, dropna=False).agg(["mean", "std"]).reset_index(drop=True)
        out[f"{c}_mean"], out[f"{c}_sd"] = m["mean"].values, m["std"].values
    if "step" in df.columns:
        out["step"] = g["step"].first().values
    if "on_frontier" in df.columns:
        out["on_frontier_share"] = g["on_frontier"].mean().values
    return out


def not_run(errors: pd.DataFrame, models: bool = False) -> pd.DataFrame:
    """What did not run, one row per reason: what (settings by name, a dose curve once for all its α, or
    the whole job), the lengths it concerns, and why. errors: Results.errors (engine.errors_table).
    models=True: grouped per model too, with a first column `model` (a run over several models)."""
    rows = []
    keys = ["model", "error"] if models else ["error"]
    for k, g in errors.groupby(keys, sort=False):
        why = k[-1] if isinstance(k, tuple) else k
        settings = g["setting"].fillna("") if "setting" in g else pd.Series([""] * len(g))
        what = sorted({f"the {x.split(':')[1]} dose curve" if x.startswith("dose:") else f"({x})"
                       for x in settings if x}) or ["the whole job"]
        row = {"model": k[0]} if models else {}
        row.update({"what": ", ".join(what), "lengths": ", ".join(map(str, sorted(set(g["n_tokens"].astype(int))))),
                    "why": why})
        rows.append(row)
    return pd.DataFrame(rows, columns=(["model"] if models else []) + ["what", "lengths", "why"])
