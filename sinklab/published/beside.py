"""Each experiment's published rows (<experiment>_rows(), declared by the experiment as its `published`), banded,
and matched to the computed models they stand beside (for_models; identity: sinklab.published.reference.identify).

A computed model gets a published model's rows only when it IS that model: loaded as its hub id (gpt2,
EleutherAI/gpt-neo-125M, facebook/opt-125m, Qwen/Qwen2.5-0.5B, ...), or a local directory whose config
names it, with the family and shape confirming. A random model of GPT-2 small's shape is not GPT-2 small.

Every table here carries a `source` column ("published by ...") and the layer band the numbers were
measured in (`band`, `band_start`, `band_stop`, resolved on the published model's depth), and is returned
separately from the computed tables: published numbers are never mixed into computed columns. The
extension's numbers are copied from ../shared/reference/extension/README.md (their
Complete_Results_Synthesis.md); the authors' tables come from sinklab.published.reference. The extension's conventions:
300 inputs (100 per domain), 40 tokens, band [3, L-1), 3 data seeds; (j) re-drawn per layer, seed 42.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import pandas as pd

from . import reference
from ..analyses import bands
from ..analyses.stats import percent_of

EXT = reference.EXTENSION
AUTHORS = reference.AUTHORS
BAND_RULE = {EXT: "extension", AUTHORS: "authors"}  # the band rule each source used
EXT_DEFINITIONS = "(i): the model's massive EPE_0 coordinates; (j): as many random ones, re-drawn per layer, seed 42"
AUTHORS_DEFINITIONS = "(i): the top-3 |EPE_0| coordinates; (j): 3 random ones, re-drawn per layer"
GPT2_SMALL = "GPT-2 small"
CRFM = "Stanford-CRFM GPT-2 small runs"


def match(info, spec: str | None = None) -> str | None:
    """The published model a computed model is (its info row's `published_as` when the job recorded it,
    else sinklab.published.reference.identify), or None."""
    got = info.get("published_as") if hasattr(info, "get") else None
    if isinstance(got, str):
        return got or None
    return reference.identify(info, spec)


@lru_cache(maxsize=None)
def _depths() -> dict[str, int]:
    """reference_model -> its number of layers (the published models' table, read once)."""
    m = reference.published_models()
    return {str(k): int(v) for k, v in zip(m["reference_model"], m["n_layer"])}


def _depth(reference_model: str) -> int:
    return _depths()[reference_model]


def _banded(df: pd.DataFrame) -> pd.DataFrame:
    """Add band, band_start, band_stop: the source's band rule resolved on the published model's depth."""
    spans = [bands.resolve(BAND_RULE[s], _depth(m)) for s, m in zip(df["source"], df["reference_model"])]
    return df.assign(band=[f"[{a}, {b})" for a, b in spans], band_start=[a for a, _ in spans],
                     band_stop=[b for _, b in spans])


def _ext(rows, columns) -> pd.DataFrame:
    return _banded(pd.DataFrame(rows, columns=columns).assign(source=EXT))


def table1_rows() -> pd.DataFrame:
    """reference_model, domain, intervention, sink, se, pct_of_baseline, source, band (all the extension's
    models: GPT-2 small/medium/large, GPT-Neo, OPT, Qwen2.5; the authors' GPT-2 small per domain)."""
    t = reference.authors_table1()
    base = t[t["intervention"] == "baseline"].set_index("domain")["sink"]
    a = pd.DataFrame({"reference_model": GPT2_SMALL, "domain": t["domain"], "intervention": t["intervention"],
                      "sink": t["sink"], "se": t["se"],
                      "pct_of_baseline": percent_of(t["sink"], t["domain"].map(base)), "source": AUTHORS})
    e = reference.extension_table1()
    e = pd.DataFrame({"reference_model": e["model"], "domain": "all", "intervention": e["intervention"],
                      "sink": e["sink"], "se": float("nan"), "pct_of_baseline": e["pct_of_baseline"], "source": EXT})
    return _banded(pd.concat([a, e], ignore_index=True))


SIZES = ("GPT-2 small", "GPT-2 medium", "GPT-2 large")


def pathways_rows() -> pd.DataFrame:
    rows = []
    for m, vals in zip(SIZES, ((0.5637, 0.2105, 0.3765, 0.561), (0.5753, 0.3294, 0.2156, 0.450),
                               (0.5015, 0.3234, 0.1364, 0.247))):
        rows += [(m, "all", k, v) for k, v in zip(("full", "content_only", "bias_only", "delta_share"), vals)]
    return _ext(rows, ["reference_model", "domain", "measure", "value"])


def combined_rows() -> pd.DataFrame:
    rows = []
    for combo, vals in {"b∧c": (2.3, 1.6, 3.7), "b∧d": (4.2, 3.5, 2.2), "b∧i": (24.8, 19.1, 31.2)}.items():
        rows += [(m, "all", combo, v) for m, v in zip(SIZES, vals)]
    return _ext(rows, ["reference_model", "domain", "intervention", "pct_of_baseline"])


def relocation_rows() -> pd.DataFrame:
    return _ext([(m, "all", 1, v) for m, v in zip(SIZES, (0.897, 0.922, 0.944))],
                ["reference_model", "domain", "target", "ratio"])


def dose_rows() -> pd.DataFrame:
    alphas = (0, 0.25, 0.5, 0.75, 1, 1.25, 1.5)
    curves = {"b": (0.2506, 0.3224, 0.4112, 0.4898, 0.5637, 0.6350, 0.6958),
              "scale_wk": (0.3672, 0.4222, 0.4739, 0.5212, 0.5637, 0.6017, 0.6355),
              "pe": (0.0167, 0.0256, 0.5665, 0.5653, 0.5637, 0.5632, 0.5627)}
    rows = [(GPT2_SMALL, "all", c, a, v) for c, vals in curves.items() for a, v in zip(alphas, vals)]
    return _ext(rows, ["reference_model", "domain", "curve", "alpha", "sink"])


def lengths_rows() -> pd.DataFrame:
    table = {40: (0.5625, 44.4, 3.0, 6.2, 65.0), 128: (0.5001, 44.8, 1.4, 4.6, 59.3),
             256: (0.4685, 45.7, 0.7, 20.3, 56.2), 512: (0.4468, 42.0, 0.4, 20.3, 51.0),
             1024: (0.4294, 46.6, 0.1, 13.4, 46.6)}
    rows = []
    for T, (a, *pcts) in table.items():
        rows.append((GPT2_SMALL, T, "baseline", a, 100.0))
        rows += [(GPT2_SMALL, T, k, float("nan"), p) for k, p in zip("bcdi", pcts)]
    return _ext(rows, ["reference_model", "n_tokens", "intervention", "sink", "pct_of_baseline"])


def cost_rows() -> pd.DataFrame:
    """ΔCE and the reduction of the sink at position 0 (the extension's a-i and b_Q × 0.5 / × 0.75)."""
    items = {"b": (1.605, 55.6), "c": (3.757, 97.0), "d": (0.938, 93.8), "e": (0.004, 1.2), "f": (0.136, 0.3),
             "g": (9.497, 49.2), "h": (5.536, 81.8), "i": (0.257, 35.0), "dose:b:0.5": (0.188, 27.2),
             "dose:b:0.75": (0.019, 13.2)}
    rows = [(GPT2_SMALL, "all", "baseline", 4.021, 0.0, 0.0)]
    rows += [(GPT2_SMALL, "all", k, float("nan"), dce, red) for k, (dce, red) in items.items()]
    return _ext(rows, ["reference_model", "domain", "intervention", "ce", "ce_change", "reduction_pct"])


def regimes_rows() -> pd.DataFrame:
    table = {"nl": (0.5996, 44.6, 2.3, 6.5, 65.7), "math": (0.5478, 43.1, 2.4, 7.1, 66.0),
             "code": (0.5402, 45.5, 4.2, 5.1, 63.4), "uniform": (0.6020, 55.1, 2.1, 5.7, 68.0),
             "repeated": (0.5325, 57.4, 4.3, 9.9, 72.8)}
    rows = []
    for r, (a, *pcts) in table.items():
        rows.append((GPT2_SMALL, r, "baseline", a, 100.0))
        rows += [(GPT2_SMALL, r, k, float("nan"), p) for k, p in zip("bcdi", pcts)]
    rows.append((GPT2_SMALL, "repeated", "e", float("nan"), 81.3))
    return _ext(rows, ["reference_model", "regime", "intervention", "sink", "pct_of_baseline"])


def emergence_rows() -> pd.DataFrame:
    """The extension's emergence numbers (5 Stanford-CRFM GPT-2-small runs, mean over runs). Their
    "alignment" does not say whether it is per head or over the concatenated heads: measure 'alignment'."""
    sink = {0: 0.034, 400: 0.011, 1000: 0.203, 4000: 0.323, 10000: 0.539, 40000: 0.776, 100000: 0.839,
            400000: 0.897}
    rows = [(CRFM, s, "sink", v) for s, v in sink.items()]
    rows += [(CRFM, 400, "alignment", -0.62), (CRFM, 300000, "alignment", 0.80),
             (CRFM, 40000, "epe_max", 10.2), (CRFM, 400000, "epe_max", 1.36),
             (CRFM, 400000, "pct_c", 100 - 99.3), (CRFM, 400000, "pct_b", 100 - 5.3)]
    return _ext(rows, ["reference_model", "step", "measure", "value"]).assign(
        note="5 Stanford-CRFM GPT-2-small runs, mean over runs")


def delta_rows() -> pd.DataFrame:
    """The authors' per-head Δ = b_Q·k percentiles (min-normalised per slice) for GPT-2 small, every layer."""
    d = reference.delta_percentiles()
    d = d.assign(reference_model=GPT2_SMALL, source=AUTHORS, band="all layers", band_start=0,
                 band_stop=_depth(GPT2_SMALL))
    return d[["reference_model", "layer", "position", "p10", "p50", "p90", "mean", "std", "source", "band",
              "band_start", "band_stop"]]


def for_models(rows: Callable[[], pd.DataFrame], infos: pd.DataFrame) -> pd.DataFrame | None:
    """The published rows (`rows()`: an experiment's declared published function, e.g. table1_rows) for every
    computed model that IS a published one (match), with a `model` column naming the computed model they stand
    beside. None when nothing matches."""
    if rows is None or infos is None or infos.empty:
        return None
    matched = [(info["model"], name) for _, info in infos.drop_duplicates("model").iterrows()
               if (name := match(info, info.get("model"))) is not None]
    if not matched:  # built only when some computed model is a published one
        return None
    frames = []
    pub = rows()
    for model, name in matched:
        found = pub[pub["reference_model"] == name]
        if len(found):
            frames.append(found.assign(model=model))
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    return out[["model"] + [c for c in out.columns if c != "model"]]
