"""docs/findings-real-models.md is generated from the committed `structural` run beside it, and every number it states
is re-derived from that run's files: a number typed into the document (or left stale by a new run) fails here."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from sinklab.teaching import findings

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "docs" / "findings-real-models"
DOC = ROOT / "docs" / "findings-real-models.md"

pytestmark = pytest.mark.skipif(not (RUN / "structural.csv").exists(), reason="no committed structural run")


def _formats(x: float) -> set[str]:
    """Every way the generator may print the number x."""
    out = set()
    if pd.isna(x):
        return out
    for fmt in ("{:.0f}", "{:.1f}", "{:.2f}", "{:+.2f}", "{:,.0f}", "{:.3f}", "{:+.3f}", "{:g}"):
        out.add(fmt.format(x))
    return out


def derivable() -> set[str]:
    """The numbers the run's files (and the library's published references and thresholds) can print."""
    run = json.loads((RUN / "run.json").read_text())
    out = set()
    for name in ("structural.csv", "structural_summary.csv"):
        df = pd.read_csv(RUN / name)
        for c in df.columns:
            for v in df[c].dropna().unique():
                if isinstance(v, (int, float)):
                    out |= _formats(float(v))
                else:
                    out |= set(re.findall(r"\d[\d.]*", str(v)))
    s = pd.read_csv(RUN / "structural_summary.csv")
    for c in ("pct_of_baseline", "pct_at_k", "ce_change"):  # standard errors: SD / sqrt(seeds)
        for v in (s[f"{c}_sd"] / s["n_seeds"] ** 0.5).dropna():
            out |= _formats(float(v))
    t = pd.read_csv(RUN / "structural.csv")
    eff = t[(t["part"] == "effect") & (t["domain"] != "all") & (t["setting"] == "baseline")]
    for _, g in eff.groupby("model"):
        out |= _formats(float(g["sink"].mean())) | _formats(float(g["magnitude"].mean())) | _formats(float(len(g)))
        for col in ("found_layer", "coord"):
            out |= {str(int(k)) for k in g[col].dropna().value_counts().values}
        out |= {str(k) for k in pd.Series([n for x in g["neurons"].fillna("").astype(str) for n in x.split()])
                .value_counts().values}
    from sinklab.analyses.verdicts import CUT, KEPT, MOVED
    from sinklab.published.reference import authors_table1

    p = authors_table1()
    p = p[p["domain"] == "all"].set_index("intervention")["sink"]
    out |= _formats(p["baseline"]) | _formats(100 * p["g"] / p["baseline"]) | _formats(100 * p["i"] / p["baseline"])
    out |= _formats(CUT) | _formats(KEPT) | _formats(MOVED)
    out |= {str(x) for x in (*run["seeds"], run["n"], run["n_tokens"], 300, 40)}  # the plan; the authors' n and length
    out |= {"0", "1", "2", "3", "135", "270"}  # the models' names (SmolLM2-135M, Gemma 3 270M) and the word "3" of "Gemma 3"
    return out


def test_the_document_is_what_the_generator_writes_from_the_run():
    assert DOC.read_text() == findings.write(RUN), "stale: run python -m sinklab.teaching.findings (see its header)"


def test_every_number_in_the_document_comes_from_the_run():
    text = DOC.read_text()
    have = derivable()
    missing = [n for n in findings.numbers(text) if n.lstrip("+-−").replace(",", "") not in
               {h.lstrip("+-").replace(",", "") for h in have}]
    assert not missing, f"numbers in the document that the run does not give: {sorted(set(missing))[:20]}"


def test_a_typed_in_number_is_caught():
    """The check is not vacuous: a number the run cannot give is found."""
    have = {h.lstrip("+-").replace(",", "") for h in derivable()}
    assert "31337" not in have
    assert "31337" in findings.numbers("The sink drops to 31337 % here.")
