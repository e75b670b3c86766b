"""From the jobs' raw rows to tidy tables: what every experiment shares (each builds its own in its catalogue file).

Every percentage is relative to the baseline of the same (model, revision, seed, regime, length): the same
inputs, so "% of the same-length baseline" for lengths and "% of the regime's baseline" for regimes. The pooled
domain "all" pools the examples of every domain of a (model, seed) (as the paper's Table 1): `pooled`, here
only. `summarise` computes the sink ± se and the % of baseline (sinklab.analyses.stats.percent_of), here only.
`across_seeds` averages what an experiment declares as its values, grouped by what it declares as its keys.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analyses.stats import percent_of
from ..inputs.corpora import DOMAINS
from .jobs import JOB_COLUMNS
from .settings import title

GROUP = JOB_COLUMNS  # model, revision, seed, regime, n_tokens


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
    out["pct_of_baseline"] = percent_of(out["sink"], out["base_first"])
    return out.drop(columns=["sd"])


def pooled(ex: pd.DataFrame, domains=DOMAINS) -> pd.DataFrame:
    """The examples of every domain of a (model, revision, seed, length) as one regime 'all'."""
    d = ex[ex["regime"].isin(domains)].copy()
    if d.empty or d["regime"].nunique() < 2:
        return d.iloc[:0]
    d["example"] = d["regime"] + ":" + d["example"].astype(str)
    d["regime"] = "all"
    return d


def by_domain(ex: pd.DataFrame, plan, settings) -> pd.DataFrame:
    """summarise() over the plan's domains at its length (and 'all', pooled), rows in domain then setting order."""
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


def by_regime(ex: pd.DataFrame, settings, regimes, lengths) -> pd.DataFrame:
    """summarise() over some regimes and lengths (no pooling), with each setting's title."""
    ex = ex[ex["regime"].isin(regimes) & ex["n_tokens"].isin(lengths) & (ex["revision"] == "")]
    ex = ex[ex["setting"].isin(settings)]
    if ex.empty:
        return pd.DataFrame()
    s = summarise(ex).rename(columns={"setting": "intervention"})
    s["title"] = s["intervention"].map(title)
    return s


BASE_COLS = ["model", "seed", "domain", "intervention", "title", "key", "n", "sink", "se", "pct_of_baseline",
             "first", "ce", "ce_change"]


def finish(s: pd.DataFrame, cols) -> pd.DataFrame:
    """A by_domain() summary with intervention names and titles, in `cols` (those present)."""
    s = s.rename(columns={"setting": "intervention"})
    s["title"] = s["intervention"].map(title)
    return s[[c for c in cols if c in s.columns]].reset_index(drop=True)


# ------------------------------------------------------------------------------------------ across seeds
def across_seeds(df: pd.DataFrame, experiment) -> pd.DataFrame:
    """Mean and SD across data seeds of the experiment's declared values, per its declared keys (n_seeds; SD is
    NaN with one seed); its carried columns kept ("first") or averaged into <column>_share ("share").
    A column its declaration does not classify raises DeclarationError (Experiment.columns_of)."""
    if df is None or df.empty or "seed" not in df.columns:
        return pd.DataFrame()
    keys, values = experiment.columns_of(df)
    g = df.groupby(keys, sort=False, dropna=False)
    out = g.size().rename("n_seeds").reset_index()
    for c in values:
        vals = pd.to_numeric(df[c], errors="coerce")
        m = vals.groupby([df[k] for k in keys], sort=False, dropna=False).agg(["mean", "std"]).reset_index(drop=True)
        out[f"{c}_mean"], out[f"{c}_sd"] = m["mean"].values, m["std"].values
    for c, how in experiment.carried.items():
        if c in df.columns:
            if how == "first":
                out[c] = g[c].first().values
            else:
                out[f"{c}_share"] = g[c].mean().values
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
