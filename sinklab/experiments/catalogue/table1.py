"""The paper's Table 1 on any model: every signature intervention over the three domains and pooled."""
from __future__ import annotations

import pandas as pd

from ...interventions import describe, signature_names
from ...published import beside
from .. import figures, tables
from ..experiment import Experiment


def _fmt(x: float, se: float) -> str:
    return f"{x:.4f} ± {se:.4f}"


def _cell(row) -> str:
    if row["n"] == 0 or pd.isna(row["sink"]):
        return "n/a"
    return f"{_fmt(row['sink'], row['se'])} ({row['pct_of_baseline']:.1f}%)"


def table_markdown(table: pd.DataFrame, model_name: str, sources: dict[str, str], metric: str,
                   published: pd.DataFrame | None = None) -> str:
    """Table 1 shape: one row per intervention, one column per domain, mean ± se (% of baseline); interventions
    that did not run (a `note` column, if any) listed with the reason; the authors' numbers beside if given."""
    domains = list(dict.fromkeys(table["domain"]))
    lines = [f"# sinklab report: {model_name}", "",
             f"Sink metric: {metric} (attention to the intervention's key; positions count from 0, the first "
             "token is position 0).", "",
             "| intervention | key | " + " | ".join(domains) + " | CE change (all) |",
             "|---|---|" + "---|" * len(domains) + "---|"]
    for name in dict.fromkeys(table["intervention"]):
        rows = table[table["intervention"] == name].set_index("domain")
        cells = [_cell(rows.loc[d]) for d in domains]
        key = "–" if pd.isna(rows["key"].iloc[0]) else int(rows["key"].iloc[0])
        ce = rows.loc["all", "ce_change"] if "all" in rows.index else rows["ce_change"].mean()
        ce_txt = "n/a" if pd.isna(ce) else f"{ce:+.3f}"
        lines.append(f"| {name}: {describe(name)} | {key} | " + " | ".join(cells) + f" | {ce_txt} |")
    notes = table[table["note"].astype(bool)].drop_duplicates("intervention") if "note" in table else table.iloc[:0]
    if len(notes):
        lines += ["", "Not applicable on this model:"] + [f"- {r.intervention}: {r.note}" for r in notes.itertuples()]
    lines += ["", "Sources:"] + [f"- {d}: {s}" for d, s in sources.items()]
    if published is not None:
        lines += ["", "Published by the circuit paper's authors for GPT-2 small (reference, not computed here):", "",
                  "| intervention | " + " | ".join(dict.fromkeys(published["domain"])) + " |",
                  "|---|" + "---|" * published["domain"].nunique()]
        for name in dict.fromkeys(published["intervention"]):
            rows = published[published["intervention"] == name].set_index("domain")
            lines.append(f"| {name} | " + " | ".join(_fmt(r.sink, r.se) for r in rows.itertuples()) + " |")
    return "\n".join(lines) + "\n"


class Table1(Experiment, name="table1"):
    """every signature intervention over the three domains (the paper's Table 1), per model"""

    ce = True
    keys = ("model", "domain", "intervention", "title")
    values = ("sink", "pct_of_baseline", "ce", "ce_change")
    per_seed = ("key", "n", "se", "first")
    shown = ("model", "domain", "intervention", "title", "sink", "pct_of_baseline", "ce_change")
    pooled_only = True
    published = beside.table1_rows
    states_definitions = True
    also_written_as = ("table.csv",)

    def settings(self, plan):
        return signature_names()

    def table(self, raw, plan):
        s = tables.by_domain(raw.examples, plan, self.settings(plan))
        return tables.finish(s, tables.BASE_COLS) if len(s) else s

    def figure(self, summary, published):
        return figures.pct_bars(self.name, summary, published)

    def markdown(self, res, table, summary, published):
        plan = res.plan
        if len(plan.seeds) != 1:
            return super().markdown(res, table, summary, published)
        lines = []
        for model in dict.fromkeys(table["model"]):
            tm = table[table["model"] == model].copy()
            inf = res.info[(res.info["model"] == model) & res.info["regime"].isin(plan.domains)]
            sources = {r["regime"]: r["source"] for _, r in inf.drop_duplicates("regime").iterrows()}
            md = table_markdown(tm, model, sources, plan.metric)
            lines += [md.replace("# sinklab report:", "### Table 1:"), ""]
        return lines
