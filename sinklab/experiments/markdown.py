"""Markdown for report.md: numbers rounded for reading, tables, an experiment's summary (its shown columns)."""
from __future__ import annotations

import math

import pandas as pd


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


def summary_markdown(exp, s: pd.DataFrame, n_seeds: int, extra: dict | None = None) -> str:
    """An experiment's summary as a markdown table: its `shown` columns (values as mean ± SD across seeds; a
    shown name ending in * stands for every value column with that prefix, in name order), the pooled domain
    only if it declares pooled_only; extra: {column: function(summary) -> its cells} appended."""
    keys, values = [], []
    for c in exp.shown:
        if c.endswith("*"):
            values += sorted(x[:-5] for x in s.columns if x.startswith(c[:-1]) and x.endswith("_mean"))
        elif c in exp.keys or c in exp.carried:
            keys.append(c)
        else:
            values.append(c)
    if exp.pooled_only and "domain" in s:
        shown = "all" if "all" in set(s["domain"]) else s["domain"].iloc[0]
        s = s[s["domain"] == shown]
    view = s[[k for k in keys if k in s.columns]].copy()
    for v in values:
        if f"{v}_mean" in s.columns:
            view[v if n_seeds == 1 else f"{v} (mean ± SD, {n_seeds} seeds)"] = _pm(s, v) if n_seeds > 1 else \
                s[f"{v}_mean"].map(_num)
    for column, cells in (extra or {}).items():
        view[column] = cells(s)
    return md_table(view, max_rows=80)
