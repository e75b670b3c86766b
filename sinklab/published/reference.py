"""The circuit paper authors' published numbers for real GPT-2 small (shown as references only).

Copied from their reproduction code's results/ (see ../shared/reference/gpt2-authors/README.md);
computed on `gpt2` over 300 inputs (100 each of SST-2, GSM8K, HumanEval), 40 tokens, no BOS.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..analyses.stats import percent_of

HERE = Path(__file__).parent / "data"
DOMAIN = {"sst2": "nl", "gsm8k": "math", "humaneval": "code", "all_datasets": "all"}
SHAPE = ("n_layer", "n_head", "d_model")  # what confirms an identity (with the family)


@lru_cache(maxsize=1)
def _published_models() -> pd.DataFrame:
    df = pd.read_csv(HERE / "published_models.csv", keep_default_na=False)
    df["hub_ids"] = df["hub_ids"].map(lambda s: tuple(x.lower() for x in s.split()))
    df["massive_coords"] = df["massive_coords"].map(lambda s: tuple(int(x) for x in s.split()))
    return df


def published_models() -> pd.DataFrame:
    """The models published numbers belong to: reference_model, family, n_layer, n_head, d_model, hub_ids (a
    tuple of Hugging Face ids, lower case), massive_coords (the extension's, where it lists them), source,
    per_checkpoint ("yes": the references give numbers per training checkpoint, i.e. per revision)."""
    return _published_models().copy()


def _get(x, key: str):
    if isinstance(x, (Mapping, pd.Series)):  # an info row (a Series' own .name is its index label)
        return x.get(key)
    return getattr(x, key, None)


def _info(x):
    """The ModelInfo of a LoadedModel; a ModelInfo or an info row as is."""
    return x if isinstance(x, (Mapping, pd.Series)) else getattr(x, "info", x)


HUB_SOURCES = ("HF cache", "HF hub")  # ModelInfo.source of a model loaded by its hub id


def identify(x, spec: str | None = None) -> str | None:
    """The published model (a reference_model of published_models()) that `x` IS, or None.

    x: a LoadedModel or a ModelInfo (or an info row: name, family and shape). Identity is by the hub id the
    model was loaded as (`spec`, or its ModelInfo's name), from the Hugging Face cache or hub at its main
    revision; the family and the shape (layers, heads, width) must confirm it. Not it: a model of the right
    shape with another name, a local directory (its config's _name_or_path names what it was made FROM, e.g.
    the model it was fine-tuned from), a checkpoint at another revision (except for the training runs whose
    numbers the references give per checkpoint: per_checkpoint)."""
    info = _info(x)
    source = None if isinstance(info, (Mapping, pd.Series)) else _get(info, "source")
    at = ""
    if isinstance(source, str):  # where a loaded model came from
        if not source.startswith(HUB_SOURCES):
            return None
        at = source.partition(", revision ")[2]
    names = {n.strip().rstrip("/").lower() for n in (spec, _get(info, "name")) if isinstance(n, str) and n.strip()}
    family = _get(info, "family")
    for r in _published_models().itertuples():
        if at not in ("", "main") and r.per_checkpoint != "yes":  # its numbers belong to the final checkpoint
            continue
        if names & set(r.hub_ids) and family == r.family and all(
                _get(info, k) is not None and int(_get(info, k)) == getattr(r, k) for k in SHAPE):
            return r.reference_model
    return None


def is_gpt2_small(info) -> bool:
    """True when the model IS GPT-2 small (identify: loaded as gpt2 / openai-community/gpt2 from the HF cache or
    hub, with GPT-2 small's family and shape): the published numbers apply to it only.
    info: a ModelInfo, or a LoadedModel."""
    return identify(info) == "GPT-2 small"


def authors_table1() -> pd.DataFrame:
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
    t = authors_table1()
    t = t[t["domain"] == "all"]
    base = float(t.loc[t["intervention"] == "baseline", "sink"].iloc[0])
    authors = pd.DataFrame({"source": AUTHORS, "model": "GPT-2 small", "intervention": t["intervention"].values,
                            "sink": t["sink"].values, "pct_of_baseline": percent_of(t["sink"].values, base)})
    ext = extension_table1().assign(source=EXTENSION)
    return pd.concat([authors, ext[authors.columns]], ignore_index=True)
