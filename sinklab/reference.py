"""The circuit paper authors' published numbers for real GPT-2 small (shown as references only).

Copied from their reproduction code's results/ (see ../shared/reference/gpt2-authors/README.md);
computed on `gpt2` over 300 inputs (100 each of SST-2, GSM8K, HumanEval), 40 tokens, no BOS.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent / "data" / "reference"
DOMAIN = {"sst2": "nl", "gsm8k": "math", "humaneval": "code", "all_datasets": "all"}
GPT2_SMALL = {"n_layer": 12, "n_head": 12, "d_model": 768, "n_positions": 1024, "vocab_size": 50257}


def is_gpt2_small(info) -> bool:
    """True when a ModelInfo has GPT-2 small's shape (the published numbers apply to it only)."""
    return all(getattr(info, k) == v for k, v in GPT2_SMALL.items())


def table1() -> pd.DataFrame:
    """Published paper-metric results. Columns: domain (nl/math/code/all), intervention (a-j), title, n, sink, se."""
    frames = [pd.read_csv(HERE / "dataset_analysis__bos_attention_stats_by_dataset.csv"),
              pd.read_csv(HERE / "dataset_analysis__bos_attention_stats_overall.csv")]
    df = pd.concat(frames, ignore_index=True)
    return pd.DataFrame({
        "domain": df["dataset"].map(DOMAIN),
        "intervention": df["intervention"].str.removeprefix("int_").replace({"a": "baseline"}),
        "title": df["description"], "n": df["n_examples"], "sink": df["mean_bos_attention"], "se": df["stderr"],
    })


def epe_validation() -> pd.DataFrame:
    """Published cos(EPE_i, R_i - O_i) percentiles per position (MLP-only convention): position, p10, p50, p90, mean, std."""
    df = pd.read_csv(HERE / "epe_validation_statistical__epe_validation_percentiles.csv")
    return df.rename(columns=lambda c: c.removeprefix("mlp_"))[["position", "p10", "p50", "p90", "mean", "std"]]


def delta_percentiles() -> pd.DataFrame:
    """Published per-head b_Q·k percentiles: layer (0-indexed), position, p10, p50, p90, mean, std."""
    df = pd.read_csv(HERE / "bias_term_statistical__bq_k_percentiles.csv")
    df["layer"] = df["layer"] - 1
    return df


AUTHORS = "published by the circuit paper's authors (GPT-2 small, their code's results/)"
EXTENSION = ("published by an independent extension (SyedNaveedMahmood/MechanisticAccountofSinks, "
             "Complete_Results_Synthesis.md)")


def massive_coords() -> list[int]:
    """The massive coordinates of EPE_0 the authors report for GPT-2 small (their coordinate-alignment summary)."""
    import re

    text = (HERE / "coord_alignment_statistical__summary.txt").read_text(encoding="utf-8")
    m = re.search(r"Massive indices:\s*\[([\d,\s]+)\]", text)
    if m is None:
        raise ValueError("the authors' coordinate-alignment summary lists no massive indices")
    return [int(x) for x in m.group(1).split(",")]


def extension_table1() -> pd.DataFrame:
    """The extension's cross-model Table 1: model, intervention (baseline, b-j), sink, pct_of_baseline."""
    return pd.read_csv(HERE / "extension_table1.csv")


def published_signatures() -> pd.DataFrame:
    """Every published intervention signature, labelled: source, model, intervention, sink, pct_of_baseline.

    The authors' rows pool their three domains ("all"); the extension's are its Table 1. References only.
    """
    t = table1()
    t = t[t["domain"] == "all"]
    base = float(t.loc[t["intervention"] == "baseline", "sink"].iloc[0])
    authors = pd.DataFrame({"source": AUTHORS, "model": "GPT-2 small", "intervention": t["intervention"].values,
                            "sink": t["sink"].values, "pct_of_baseline": 100 * t["sink"].values / base})
    ext = extension_table1().assign(source=EXTENSION)
    return pd.concat([authors, ext[authors.columns]], ignore_index=True)
