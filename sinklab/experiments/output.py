"""Write a run: one CSV per experiment (per seed) and its summary (mean ± SD across seeds), published
numbers in their own CSVs, errors.csv, jobs.csv, figures (PNG / SVG) and report.md."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..interventions import with_role
from ..analyses import bands
from .plan import EXPERIMENTS
from ..published.tables import AUTHORS, AUTHORS_DEFINITIONS, EXT, EXT_DEFINITIONS

FORMATS = ("png", "svg")


def _num(v, digits: int = 4) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "–"
    if f == int(f) and abs(f) >= 1000:
        return str(int(f))
    return f"{f:.1f}" if abs(f) >= 100 else f"{f:.3f}" if abs(f) >= 1 else f"{f:.{digits}f}"


def md_table(df: pd.DataFrame, columns: list[str] | None = None, max_rows: int = 60) -> str:
    """A GitHub-markdown table of `df` (numbers rounded), at most max_rows rows."""
    if df is None or df.empty:
        return "(no rows)\n"
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.head(max_rows).iterrows():
        lines.append("| " + " | ".join(_num(r[c]) for c in cols) + " |")
    if len(df) > max_rows:
        lines.append(f"\n({len(df) - max_rows} more rows in the CSV)")
    return "\n".join(lines) + "\n"


def _pm(df: pd.DataFrame, value: str) -> pd.Series:
    m, s = df[f"{value}_mean"], df[f"{value}_sd"]
    return m.map(lambda x: _num(x)) + s.map(lambda x: "" if pd.isna(x) else f" ± {_num(x)}")


SHOW = {  # experiment -> (key columns, value columns) of the summary shown in report.md
    "table1": (["model", "domain", "intervention", "title"], ["sink", "pct_of_baseline", "ce_change"]),
    "combined": (["model", "domain", "intervention"], ["sink", "pct_of_baseline", "ce_change"]),
    "cost": (["model", "domain", "intervention"], ["ce_change", "reduction_pct"]),
    "dose": (["model", "domain", "curve", "alpha"], ["sink", "pct_of_baseline"]),
    "relocation": (["model", "domain", "target"], ["ratio", "net_ratio", "moved_to_target", "baseline_at_0"]),
    "lengths": (["model", "n_tokens", "intervention"], ["sink", "pct_of_baseline"]),
    "regimes": (["model", "regime", "intervention"], ["sink", "pct_of_baseline"]),
    "pathways": (["model", "domain", "measure"], ["value"]),
    "emergence": (["model", "revision", "step"], ["sink", "epe_max", "alignment_heads", "alignment_concat"]),
}
LABELS_NOTE = ("sinklab runs every label through the same points on every family; what it MEANS there is declared by "
               "the intervention (sinklab.interventions.meanings)")


def _summary_md(e: str, s: pd.DataFrame, n_seeds: int) -> str:
    keys, values = SHOW[e]
    if e == "emergence":
        values = values + sorted(c[:-5] for c in s.columns if c.startswith("pct_") and c.endswith("_mean"))
    if e in ("table1", "combined", "cost", "dose", "relocation", "pathways") and "domain" in s:
        shown = "all" if "all" in set(s["domain"]) else s["domain"].iloc[0]
        s = s[s["domain"] == shown]
    view = s[[k for k in keys if k in s.columns]].copy()
    for v in values:
        if f"{v}_mean" in s.columns:
            view[v if n_seeds == 1 else f"{v} (mean ± SD, {n_seeds} seeds)"] = _pm(s, v) if n_seeds > 1 else \
                s[f"{v}_mean"].map(_num)
    if e == "cost" and "on_frontier_share" in s.columns:
        view["on frontier"] = s["on_frontier_share"].map(lambda x: "yes" if x >= 0.5 else "")
    return md_table(view, max_rows=80)


def meanings_markdown(table: pd.DataFrame | None = None) -> str:
    """The per-family meanings of every registered intervention (sinklab.interventions.meanings()) as a
    markdown table; a family's cell reads "= GPT-2" where its text is GPT-2's. docs/research.md holds it."""
    from ..interventions import meanings

    t = meanings() if table is None else table
    families = [c for c in t.columns if c not in ("label", "title")]
    first = families[0]
    lines = ["| label | title | " + " | ".join(families) + " |", "|" + "---|" * (len(families) + 2)]
    for _, r in t.iterrows():
        cells = [str(r[first])] + [f"= {first}" if r[f] == r[first] else str(r[f]) for f in families[1:]]
        lines.append(f"| {r['label']} | {r['title']} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _labels_block(res) -> list[str]:
    """'What the labels mean on <family>' for every non-GPT-2 family of the run (read on its first model)."""
    from ..model.families import TYPICAL
    from .tables import title

    if res.meanings is None or res.meanings.empty or res.info.empty:
        return []
    from .jobs import labels_of

    used = set()
    for e in res.plan.experiments:
        for name in res.plan.settings_for(e):
            used |= labels_of(name)
    lines = []
    info = res.info.drop_duplicates("model")
    for family, g in info.groupby("family", sort=False):
        if family == "gpt2":
            continue
        model = g["model"].iloc[0]
        m = res.meanings[(res.meanings["model"] == model) & res.meanings["label"].isin(used)]
        if m.empty:
            continue
        fam = TYPICAL[family].title if family in TYPICAL else family
        lines += [f"### What the labels mean on {fam} (read on {model})", "", LABELS_NOTE + ":", ""]
        for r in m.itertuples():
            what = r.meaning if r.applies else f"**not applicable**: {r.meaning}"
            lines.append(f"- {r.label} ({title(r.label)}): {what}")
        lines.append("")
    return lines


def _band_flags(res, e: str, pub: pd.DataFrame) -> list[str]:
    """A warning per (model, source) whose published band differs from the band computed here."""
    out = []
    if res.info.empty or "band_start" not in pub:
        return out
    band = res.info.drop_duplicates("model").set_index("model")
    for (model, src), g in pub.groupby(["model", "source"], sort=False):
        if model not in band.index:
            continue
        a, b = int(band.loc[model, "band_start"]), int(band.loc[model, "band_stop"])
        pa, pb = int(g["band_start"].iloc[0]), int(g["band_stop"].iloc[0])
        if (a, b) != (pa, pb) and e != "delta":
            out.append(f"> **Band differs**: {model} was computed here on layers [{a}, {b}) (band "
                       f"{res.plan.band!r}); the rows {src.removeprefix('published by ')} published use [{pa}, {pb}). "
                       "The numbers are not over the same layers" + (" (pass --band extension to match)."
                                                                     if "extension" in src else "."))
    return out


def _delta_md(res, t: pd.DataFrame, pub: pd.DataFrame | None) -> list[str]:
    """Per model: position 0's p10 / p50 / p90 and the other positions' largest p90, per layer; the published
    ones beside (labelled) for a model that is GPT-2 small. The full table is in delta.csv."""
    lines = []
    for model, g in t.groupby("model", sort=False):
        dom = "all" if "all" in set(g["domain"]) else g["domain"].iloc[0]
        g = g[(g["domain"] == dom) & (g["seed"] == g["seed"].iloc[0])]
        view = _delta_view(g)
        p = None if pub is None else pub[pub["model"] == model]
        if p is not None and len(p):
            pv = _delta_view(p).add_prefix("published ").rename(columns={"published layer": "layer"})
            view = view.merge(pv, on="layer", how="left")
            src = p["source"].iloc[0].removeprefix("published by ")
            lines.append(f"{model} (domain {dom}, seed {g['seed'].iloc[0]}); columns \"published …\" are {src}, "
                         f"{p['reference_model'].iloc[0]}, 300 inputs (reference numbers, not computed here):")
        else:
            lines.append(f"{model} (domain {dom}, seed {g['seed'].iloc[0]}):")
        lines += ["", md_table(view, max_rows=80), ""]
    return lines


def _delta_view(d: pd.DataFrame) -> pd.DataFrame:
    first = d[d["position"] == 0].set_index("layer")[["p10", "p50", "p90"]].add_prefix("pos0 ")
    other = d[d["position"] > 0].groupby("layer")["p90"].max().rename("other p90 max")
    v = first.join(other).reset_index()
    v["pos0 p10 > other p90"] = v["pos0 p10"] > v["other p90 max"]
    return v


def markdown(res) -> str:
    from ..report import to_markdown
    from .tables import not_run

    plan = res.plan
    lines = [f"# sinklab experiments: {', '.join(plan.models)}", "",
             f"Experiments: {', '.join(plan.experiments)}. Data seeds: {', '.join(map(str, plan.seeds))} "
             f"(summaries: mean ± SD across seeds). Inputs: {plan.n} per domain/regime, {plan.n_tokens} tokens "
             f"unless the experiment varies it. Metric: {plan.metric}. Engine: {res.engine}.", "",
             f"W_k coordinates: {plan.key_coords.describe()}.", ""]
    info = res.info.drop_duplicates("model") if len(res.info) else res.info
    lines.append(f"Layer band: {bands.describe(plan.band)}.")
    for _, r in info.iterrows():
        ident = f"; it is {r['published_as']}: published numbers beside" if r.get("published_as") else ""
        coords = f"; (i) zeroes W_k rows {r['i_coords']}" if isinstance(r.get("i_coords"), str) else ""
        lines.append(f"- {r['model']}: {r['family']}, {r['n_layer']} layers → band [{r['band_start']}, "
                     f"{r['band_stop']}), {r['n_positions']} positions, {r.get('dtype', 'float32')}{coords}{ident}")
    lines.append("")
    lines += _labels_block(res)
    for e in plan.experiments:
        lines += [f"## {e}", "", EXPERIMENTS[e] + ".", ""]
        t, s = res.tables.get(e), res.summaries.get(e)
        if t is None or t.empty:
            lines += ["No results (see what did not run, below).", ""]
            continue
        pub = res.published.get(e)
        if e == "delta":
            lines += _delta_md(res, t, pub) + [""]
            continue
        if e == "table1" and len(plan.seeds) == 1:
            for model in dict.fromkeys(t["model"]):
                tm = t[t["model"] == model].copy()
                inf = res.info[(res.info["model"] == model) & res.info["regime"].isin(plan.domains)]
                sources = {r["regime"]: r["source"] for _, r in inf.drop_duplicates("regime").iterrows()}
                md = to_markdown(tm, model, sources, plan.metric)
                lines += [md.replace("# sinklab report:", "### Table 1:"), ""]
        else:
            lines += [_summary_md(e, s, len(plan.seeds)), ""]
        if e == "cost":
            movers = ", ".join(with_role("moves the sink"))
            lines += ["Reduction = 100 (1 − sink at position 0 / the baseline's): how much of the sink at the first "
                      f"token each setting removes (for {movers} too, whose `sink` column is the attention at their "
                      "target position).", ""]
        if pub is not None and len(pub):
            for src in dict.fromkeys(pub["source"]):
                p = pub[pub["source"] == src].drop(columns=["source"])
                lines += [f"Published by {src.removeprefix('published by ')} (reference numbers, not computed here; "
                          f"band {', '.join(dict.fromkeys(p['band']))}):", "",
                          md_table(p.drop(columns=["band", "band_start", "band_stop"], errors="ignore"), max_rows=80), ""]
            lines += _band_flags(res, e, pub)
            defined = {EXT: EXT_DEFINITIONS, AUTHORS: AUTHORS_DEFINITIONS}
            if e in ("table1", "cost", "combined") and set(pub["source"]) & set(defined):
                theirs = "; ".join(f"{'the extension' if src == EXT else 'the authors'}: {defined[src]}"
                                   for src in dict.fromkeys(pub["source"]) if src in defined)
                lines.append(f"> Definitions: this run's {plan.key_coords.describe()}; {theirs}.")
            lines.append("")
    lines += ["## not run", ""]
    if res.errors.empty:
        lines += ["Nothing: every job and setting ran.", ""]
    else:
        nr = not_run(res.errors, models=True)
        lines += [f"{len(res.errors)} job(s) or setting(s) did not run, for {len(nr)} reason(s); everything else was "
                  "computed (one row per job and setting in errors.csv).", "", md_table(nr, max_rows=100), ""]
    return "\n".join(lines) + "\n"


def write(res, out: str | Path, formats=FORMATS) -> Path:
    """Write every table, figure and report.md of a run into `out`; returns the directory."""
    from . import figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for e, t in res.tables.items():
        if t is None or t.empty:
            continue
        t.to_csv(out / f"{e}.csv", index=False)
        s = res.summaries.get(e)
        if s is not None and len(s):
            s.to_csv(out / f"{e}_summary.csv", index=False)
        if e in res.published:
            res.published[e].to_csv(out / f"published_{e}.csv", index=False)
        if formats:
            ch = figures.chart(e, s, res.published.get(e))
            if ch is not None:
                figures.save(ch, out / e, formats)
    if "table1" in res.tables and len(res.tables["table1"]):
        res.tables["table1"].to_csv(out / "table.csv", index=False)  # the Table-1 report's file name
    res.errors.to_csv(out / "errors.csv", index=False)
    res.jobs.to_csv(out / "jobs.csv", index=False)
    if len(res.examples):
        res.examples.to_csv(out / "examples.csv", index=False)
    (out / "report.md").write_text(markdown(res))
    return out
