"""Compare specimens: every model's intervention signature side by side, and the wires each sink runs through.

signature(lm) runs the table1 experiment (every registered intervention of the signature over the three domains)
on the loaded model and keeps the pooled row per intervention; findings() turns one model's signature into sentences computed
from its numbers. Published signatures (sinklab.published.reference) are shown beside, labelled, never mixed in.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd
import torch

from .. import experiments
from ..analyses import bands, structural, verdicts
from ..inputs.corpora import load_corpora
from ..model.tokens import prepends_bos
from ..errors import BadInput
from ..experiments.settings import title
from ..interventions import REGISTRY
from ..model.loading import LoadedModel

CUT, MOVED, KEPT = verdicts.CUT, verdicts.MOVED, verdicts.KEPT  # the one definition: sinklab.analyses.verdicts


def signature_table(lm: LoadedModel, n: int = 8, n_tokens: int = 40, target: int = 1, factor: float | None = None,
                    seed: int = 42, metric: str = "paper",
                    progress: Callable[[str, float], None] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """(the table1 experiment on this loaded model, per domain and pooled "all", with a blank row and its reason
    for every intervention that does not apply: intervention, title, key, n, sink, se, pct_of_baseline, first,
    ce, ce_change, note, domain; {domain: where its inputs came from}). The sink band is the metric's own.
    BadInput when a whole domain could not run (no inputs long enough, ...)."""
    plan = experiments.Plan(models=(lm.info.name,), experiments=("table1",), seeds=(seed,), n=n, n_tokens=n_tokens,
                            bos="auto",  # the pages follow the model's own tokenizer (Gemma's <bos>; GPT-2: none)
                            target=target, factor=factor, metric=metric,
                            band=bands.for_metric(metric, lm.info.n_layer))
    jobs = plan.jobs()
    res = experiments.run_plan(plan, lm=lm, reuse_inputs=True,  # visitors' different n share their inputs
                               progress=None if progress is None else (
                                   lambda done, total: progress(jobs[done - 1].regime, done / total)))
    failed = res.errors[res.errors["error_type"] != "not run"]
    if len(failed):
        raise BadInput(failed["error"].iloc[0])
    t = res.tables["table1"].drop(columns=["model", "seed"]).assign(note="")
    not_run = res.errors.drop_duplicates(["regime", "setting"])
    frames = []
    for d in (*plan.domains, "all"):
        skipped = (not_run if d == "all" else not_run[not_run["regime"] == d]).drop_duplicates("setting")
        frames += [t[t["domain"] == d],
                   pd.DataFrame({"domain": d, "intervention": skipped["setting"].values,
                                 "title": skipped["setting"].map(title).values, "key": pd.NA, "n": 0,
                                 "note": skipped["error"].values})]
    table = pd.concat([f for f in frames if len(f)], ignore_index=True)
    table = table[[c for c in table.columns if c != "domain"] + ["domain"]]  # as the pages have always shown it
    sources = {r["regime"]: r["source"] for _, r in res.info.drop_duplicates("regime").iterrows()}
    return table, sources


def signature(lm: LoadedModel, n: int = 8, n_tokens: int = 40, target: int = 5, factor: float = 5.0,
              seed: int = 42, progress: Callable[[str, float], None] | None = None) -> pd.DataFrame:
    """One row per intervention: model, intervention, title, key, n, sink, pct_of_baseline, note (blank = ran),
    the domains pooled.

    pct_of_baseline: the sink at the intervention's key as % of the baseline sink at position 0.
    """
    n_tokens = min(n_tokens, lm.info.n_positions)
    table, _ = signature_table(lm, n=n, n_tokens=n_tokens, target=min(target, n_tokens - 1), factor=factor,
                               seed=seed, progress=progress)
    t = table[table["domain"] == "all"]
    out = t[["intervention", "title", "key", "n", "sink", "pct_of_baseline", "note"]].copy()
    out = pd.concat([out, structural_rows(lm, n=n, n_tokens=n_tokens, seed=seed)], ignore_index=True)
    out.insert(0, "model", lm.info.name)
    return out.reset_index(drop=True)


STRUCTURAL_CUTS = ("zero_neurons", "zero_random_neurons", "zero_massive")  # the structural chain's cuts, beside Table 1


def structural_rows(lm: LoadedModel, n: int = 8, n_tokens: int = 40, seed: int = 42) -> pd.DataFrame:
    """The structural chain's cuts (sinklab.analyses.structural) on the same inputs as the signature, the domains
    pooled: zero_neurons (the super neurons of the layer where the massive coordinate appears), its random control
    (one seeded draw) and zero_massive; a blank row with the reason where one does not apply."""
    corpora = load_corpora(lm.tokenizer, n=n, n_tokens=n_tokens, seed=seed)
    ids = torch.cat([c.ids for c in corpora.values()])
    if prepends_bos(lm.tokenizer):  # as the table1 rows beside them (Plan bos="auto")
        ids = structural.with_bos(ids, lm.tokenizer.bos_token_id)
    eff = structural.measure(lm, ids, target=min(structural.TARGET, n_tokens - 1), factors=(), control_seeds=(0,),
                             ce=False, moves=False)["effects"]
    rows = []
    for label in STRUCTURAL_CUTS:
        r = eff[eff["label"] == label]
        if r.empty or int(r["n"].iloc[0]) == 0:
            rows.append({"intervention": label, "title": title(label), "key": pd.NA, "n": 0,
                         "note": r["note"].iloc[0] if len(r) else "not run"})
            continue
        r = r.iloc[0]
        rows.append({"intervention": label, "title": f"{title(label)} (layer {int(r['layer'])})", "key": 0,
                     "n": int(r["n"]), "sink": float(r["sink"]), "pct_of_baseline": float(r["pct_of_baseline"]),
                     "note": ""})
    return pd.DataFrame(rows)


def baseline_sink(sig: pd.DataFrame) -> verdicts.Verdict:
    """Whether a model's signature rows start from a real sink at position 0 (verdicts.has_sink on its baseline)."""
    base = sig[sig["intervention"] == "baseline"]
    if base.empty or pd.isna(base["sink"].iloc[0]):
        return verdicts.does_not_apply("has a sink", "no baseline row")
    n_tokens = int(base["n_tokens"].iloc[0]) if "n_tokens" in base.columns else 40
    return verdicts.has_sink(float(base["sink"].iloc[0]), n_tokens)


def wires_cut(computed: pd.DataFrame) -> dict[str, list[str]]:
    """model -> the interventions (not controls) that left less than CUT % of its sink at position 0, for the models
    whose baseline has a sink (verdicts.has_sink: a model without one has no wire to cut and is left out).

    computed: signature rows of one or more models (signature()); blank rows (did not apply) are left out."""
    sunk = {m for m, g in computed.groupby("model", sort=False) if baseline_sink(g).holds}
    computed = computed[computed["model"].isin(sunk)]
    ran = computed[(computed["note"].fillna("") == "") & (computed["intervention"] != "baseline")]
    ran = ran[ran["key"].fillna(0).astype(int) == 0]
    ran = ran[~ran["intervention"].map(lambda k: getattr(REGISTRY.get(k), "control", False))]
    if ran.empty:
        return {}
    return {m: sorted(g.loc[g["pct_of_baseline"] < CUT, "intervention"]) for m, g in ran.groupby("model", sort=False)}


def _fmt(rows: pd.DataFrame) -> str:
    return ", ".join(f"{r.intervention} ({r.pct_of_baseline:.0f} %)" for r in rows.itertuples())


def findings(sig: pd.DataFrame) -> dict[str, str]:
    """Sentences about one model's signature, each computed from its numbers: cuts, moves, controls, n/a (each
    verdict by sinklab.analyses.verdicts; none about cuts or moves when the baseline has no sink)."""
    base = baseline_sink(sig)
    if base.holds is not True:
        return {"no_sink": f"Its first token is no sink on these inputs ({base.numbers}; criterion {base.criterion}), "
                           "so there is nothing to cut or move here."}
    ran = sig[sig["note"].fillna("") == ""]
    ran = ran[ran["intervention"] != "baseline"]
    moves_to = ran[ran["key"].fillna(0).astype(int) != 0]
    at_zero = ran[ran["key"].fillna(0).astype(int) == 0]
    control = at_zero["intervention"].map(lambda k: getattr(REGISTRY.get(k), "control", False))
    wires = at_zero[~control & (at_zero["pct_of_baseline"] < CUT)]
    kept = at_zero[~control & (at_zero["pct_of_baseline"] >= CUT)]
    controls = at_zero[control]
    moved = moves_to[[bool(verdicts.moved(r.pct_of_baseline, int(r.key), base, after=r.sink).holds)
                      for r in moves_to.itertuples()]] if len(moves_to) else moves_to
    out = {}
    if len(wires):
        parts = "; ".join(f"{REGISTRY[r.intervention].wire} ({r.intervention}: {r.pct_of_baseline:.0f} % left)"
                          for r in wires.itertuples())
        out["cuts"] = f"Its sink runs through: {parts}."
    else:
        out["cuts"] = f"No intervention cut its sink below {CUT:.0f} % of baseline."
    if len(kept):
        out["kept"] = f"Left at least {CUT:.0f} % of the sink: {_fmt(kept)}."
    if len(moved):
        k = int(moved["key"].iloc[0])
        out["moves"] = (f"Moved the sink to position {k} (≥ {MOVED:.0f} % of the baseline mass arrived there, a sink of "
                        f"≥ {verdicts.SINK_MIN:g} at k): {_fmt(moved)}.")
    elif len(moves_to):
        out["moves"] = f"Nothing moved the sink elsewhere: at the target, {_fmt(moves_to)} of the baseline."
    bad = controls[(controls["pct_of_baseline"] < KEPT) | (controls["pct_of_baseline"] > 200 - KEPT)]
    if len(controls):
        out["controls"] = ("The controls behaved as controls (within "
                           f"{100 - KEPT:.0f} % of baseline): {_fmt(controls)}." if not len(bad) else
                           f"Some controls moved the sink: {_fmt(bad)} — a control is not automatically a null.")
    na = sig[sig["note"].fillna("") != ""]
    if len(na):
        out["not_applicable"] = "Not applicable here: " + ", ".join(na["intervention"]) + "."
    return out
