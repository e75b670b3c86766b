"""One-command reproduction of the circuit paper's Table 1 (and the structural pair) on any model."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .model import families
from .published import reference
from .analyses.effects import summary, sweep
from .interventions import describe, standard_settings
from .model.loading import LoadedModel


def in_signature(cls) -> bool:
    """False for an intervention class that declares `in_signature = False` (a dose such as sinklab.experiments'
    scale_wk): it stays registered (app, catalogue) but out of the report's signature."""
    return bool(getattr(cls, "in_signature", True))


def signature_settings(lm: LoadedModel, target: int = 1, factor: float | None = None, seed: int = 0) -> dict:
    """Every registered intervention with its defaults on this model, except those declaring
    in_signature = False; a model without position embeddings gets (i)/(j)'s coordinates from its ground
    truth (meta["massive_coords"]) when it has one."""
    from .interventions import REGISTRY

    coords = None
    if not families.has_position_embeddings(lm.model) and lm.meta and lm.meta.get("massive_coords"):
        coords = tuple(lm.meta["massive_coords"])
    out = standard_settings(target=target, factor=factor, seed=seed, coords=coords)
    return {k: v for k, v in out.items() if k == "baseline" or in_signature(REGISTRY[k])}


@dataclass(frozen=True)
class Report:
    """table: per domain (nl/math/code/all) and intervention; examples: per input; sources: per domain."""

    table: pd.DataFrame
    examples: pd.DataFrame
    sources: dict[str, str]
    markdown: str


def _fmt(x: float, se: float) -> str:
    return f"{x:.4f} ± {se:.4f}"


def _cell(row) -> str:
    if row["n"] == 0 or pd.isna(row["sink"]):
        return "n/a"
    return f"{_fmt(row['sink'], row['se'])} ({row['pct_of_baseline']:.1f}%)"


def to_markdown(table: pd.DataFrame, model_name: str, sources: dict[str, str], metric: str,
                published: pd.DataFrame | None = None) -> str:
    """Table 1 shape: one row per intervention, one column per domain, mean ± se (% of baseline)."""
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


def build_report(lm: LoadedModel, n: int = 100, n_tokens: int = 40, seed: int = 42, source: str = "auto",
                 target: int = 1, metric: str = "paper", batch_size: int = 32,
                 progress: Callable[[str, float], None] | None = None, factor: float | None = None,
                 domains=None, band: str | None = None) -> Report:
    """Every standard intervention over the NL / math / code corpora; mean ± se per domain and overall.

    band: the sink score's layer band (sinklab.analyses.bands: paper, extension, authors or 'A-B');
    None = the metric's default layers."""
    from .inputs.corpora import load_corpora

    from .inputs.corpora import DOMAINS

    corpora = load_corpora(lm.tokenizer, domains=domains or DOMAINS, n=n, n_tokens=n_tokens, seed=seed,
                           source=source)
    settings = signature_settings(lm, target=target, factor=factor)
    layers = None
    if band is not None:
        from .analyses.bands import resolve

        layers = resolve(band, lm.info.n_layer)
    tables, examples, skipped = [], [], {}
    for domain, corpus in corpora.items():
        cb = None if progress is None else (lambda f, d=domain: progress(d, f))
        sw = sweep(lm.model, corpus.ids, settings, metric=metric, batch_size=batch_size, progress=cb, layers=layers)
        tables.append(summary(sw).assign(domain=domain))
        examples.append(sw.examples.assign(domain=domain))
        skipped.update(sw.skipped)
    ex = pd.concat(examples, ignore_index=True)
    # the pooled row: examples of all domains together, renumbered so baselines pair up
    pooled = ex.assign(example=ex["domain"] + ":" + ex["example"].astype(str))
    from .analyses.effects import Sweep

    tables.append(summary(Sweep(examples=pooled, layers=pd.DataFrame(), skipped=skipped)).assign(domain="all"))
    table = pd.concat(tables, ignore_index=True)
    table.insert(1, "title", table["intervention"].map(describe))
    sources = {d: c.source for d, c in corpora.items()}
    published = reference.table1() if reference.is_gpt2_small(lm) else None
    md = to_markdown(table, lm.info.name, sources, metric, published)
    return Report(table=table, examples=ex, sources=sources, markdown=md)


def write_report(rep: Report, out: str | Path) -> Path:
    """Write table.csv, examples.csv and report.md into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep.table.to_csv(out / "table.csv", index=False)
    rep.examples.to_csv(out / "examples.csv", index=False)
    (out / "report.md").write_text(rep.markdown)
    return out
