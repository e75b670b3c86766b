"""Write a run: one CSV per experiment (per seed) and its summary (mean ± SD across seeds), published
numbers in their own CSVs, errors.csv, jobs.csv, figures (PNG / SVG) and report.md."""
from __future__ import annotations

import json
import platform
from importlib import metadata

from pathlib import Path

import pandas as pd

from ..analyses import bands
from ..interventions import meanings
from ..model import gguf
from ..model.families import TYPICAL
from ..published.beside import AUTHORS, AUTHORS_DEFINITIONS, EXT, EXT_DEFINITIONS
from . import figures
from .experiment import REGISTRY
from .markdown import md_table
from .settings import labels_of, title
from .tables import not_run

FORMATS = ("png", "svg")
BOS_WORDS = {"no": "the text's own first token, no BOS added (the paper's convention; --bos no)",
             "yes": "the model's BOS token (else its end-of-text token) put first, the last token dropped (--bos yes)",
             "auto": "a BOS token put first where the model's tokenizer adds one, the last token dropped (--bos auto)"}
LABELS_NOTE = ("sinklab runs every label through the same points on every family; what it MEANS there is declared by "
               "the intervention (sinklab.interventions.meanings)")


def meanings_markdown(table: pd.DataFrame | None = None) -> str:
    """The per-family meanings of every registered intervention (sinklab.interventions.meanings()) as a
    markdown table; a family's cell reads "= GPT-2" where its text is GPT-2's. docs/research.md holds it."""
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
    if res.meanings is None or res.meanings.empty or res.info.empty:
        return []
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
        if (a, b) != (pa, pb):
            out.append(f"> **Band differs**: {model} was computed here on layers [{a}, {b}) (band "
                       f"{res.plan.band!r}); the rows {src.removeprefix('published by ')} published use [{pa}, {pb}). "
                       "The numbers are not over the same layers" + (" (pass --band extension to match)."
                                                                     if "extension" in src else "."))
    return out


def published_markdown(res, exp, pub: pd.DataFrame, stated: set | None = None) -> list[str]:
    """The published rows beside an experiment's section: per source (labelled, with its band), a warning where
    its band differs from the run's, and (if the experiment states_definitions) how (i)/(j) were defined — once
    per report: `stated` holds the sources whose definitions an earlier section gave (updated here)."""
    lines = []
    for src in dict.fromkeys(pub["source"]):
        p = pub[pub["source"] == src].drop(columns=["source"])
        lines += [f"Published by {src.removeprefix('published by ')} (reference numbers, not computed here; "
                  f"band {', '.join(dict.fromkeys(p['band']))}):", "",
                  md_table(p.drop(columns=["band", "band_start", "band_stop"], errors="ignore"), max_rows=80), ""]
    lines += _band_flags(res, exp.name, pub)
    defined = {EXT: EXT_DEFINITIONS, AUTHORS: AUTHORS_DEFINITIONS}
    stated = set() if stated is None else stated
    if exp.states_definitions and set(pub["source"]) & set(defined):
        new = [src for src in dict.fromkeys(pub["source"]) if src in defined and src not in stated]
        if new:
            ours = "" if "run" in stated else f"this run's {res.plan.key_coords.describe()}; "
            theirs = "; ".join(f"{'the extension' if src == EXT else 'the authors'}: {defined[src]}" for src in new)
            lines.append(f"> Definitions: {ours}{theirs}.")
            stated.update(["run", *new])
        else:
            lines.append("> Definitions: as stated above.")
    lines.append("")
    return lines


def _model_line(r, plan) -> str:
    """One model's line under 'Layer band': its depth and band, the inputs' first token, where a window hides a
    measured key, the (i) coordinates when the rule chose them (explicit ones are said once, above)."""
    ident = f"; it is {r['published_as']}: published numbers beside" if r.get("published_as") else ""
    coords = r.get("i_coords")
    explicit = plan.key_coords.coords is not None and coords == ", ".join(map(str, plan.key_coords.coords))
    coords = f"; (i) zeroes W_k rows {coords}" if isinstance(coords, str) and not explicit else ""
    bos = f"; BOS {r['bos']} first" if isinstance(r.get("bos"), str) and r.get("bos") else ""
    hidden = r.get("hidden_key")
    hidden = f"; at {r['n_tokens']} tokens {hidden}" if isinstance(hidden, str) and hidden else ""
    return (f"- {r['model']}: {r['family']}, {r['n_layer']} layers → band [{r['band_start']}, {r['band_stop']}), "
            f"{r['n_positions']} positions, {r.get('dtype', 'float32')}{bos}{coords}{hidden}{ident}")


def markdown(res) -> str:
    """report.md: the run, then one section per experiment (its description, its own markdown, the published
    rows beside), then what did not run."""
    plan = res.plan
    stated: set = set()  # whose (i)/(j) definitions a section stated already
    lines = [f"# sinklab experiments: {', '.join(plan.models)}", "",
             f"Experiments: {', '.join(plan.experiments)}. Data seeds: {', '.join(map(str, plan.seeds))} "
             f"(summaries: mean ± SD across seeds). Inputs: {plan.n} per domain/regime, {plan.n_tokens} tokens "
             f"unless the experiment varies it. Metric: {plan.metric}. Engine: {res.engine}.", "",
             f"W_k coordinates: {plan.key_coords.describe()}.", "",
             f"First token: {BOS_WORDS.get(getattr(plan, 'bos', 'no'), plan.bos)}.", ""]
    info = res.info.drop_duplicates("model") if len(res.info) else res.info
    lines.append(f"Layer band: {bands.describe(plan.band)}.")
    for _, r in info.iterrows():
        lines.append(_model_line(r, plan))
    if len(res.info) and "hidden_key" in res.info:  # a model's other lengths (lengths, regimes): each said once
        said = set(zip(info["model"], info["n_tokens"]))
        more = res.info[res.info["hidden_key"].fillna("").astype(bool)].drop_duplicates(["model", "n_tokens"])
        for _, r in more.iterrows():
            if (r["model"], r["n_tokens"]) not in said:
                lines.append(f"  - {r['model']} at {r['n_tokens']} tokens: {r['hidden_key']}")
    lines.append("")
    lines += _labels_block(res)
    for e in plan.experiments:
        exp = REGISTRY[e]
        lines += [f"## {e}", "", exp.description + ".", ""]
        t, s = res.tables.get(e), res.summaries.get(e)
        if t is None or t.empty:
            lines += ["No results (see what did not run, below).", ""]
            continue
        pub = res.published.get(e)
        lines += exp.markdown(res, t, s, pub)
        if exp.published_in_report and pub is not None and len(pub):
            lines += published_markdown(res, exp, pub, stated)
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
        for name in REGISTRY[e].also_written_as:  # table1: table.csv, the Table-1 report's file name
            t.to_csv(out / name, index=False)
    res.errors.to_csv(out / "errors.csv", index=False)
    res.jobs.to_csv(out / "jobs.csv", index=False)
    if len(res.examples):
        res.examples.to_csv(out / "examples.csv", index=False)
    (out / "report.md").write_text(markdown(res))
    (out / "run.json").write_text(json.dumps(run_record(res), indent=1, default=str))
    return out


def run_record(res) -> dict:
    """run.json: the command, the plan, the package versions and each model's identity (a GGUF model's SHA-256)."""
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    p = res.plan
    models = {}
    for m in p.models:
        info = {"display": gguf.PACKAGED[m].display, "sha256": gguf.PACKAGED[m].sha256,
                "packages": list(gguf.PACKAGED[m].distributions), "version": gguf.PACKAGED[m].version} \
            if m in gguf.PACKAGED else {"display": m}
        models[m] = info
    return {"command": res.command or "sinklab report (from Python)",
            "models": models, "seeds": list(p.seeds), "n": p.n, "n_tokens": p.n_tokens, "metric": p.metric,
            "band": p.band, "bos": p.bos, "key_coords": p.key_coords.describe(),
            "experiments": list(p.experiments), "domains": list(p.domains),
            "versions": {"sinklab": version("sinklab"), "python": platform.python_version(), "torch": version("torch"),
                         "transformers": version("transformers"), "gguf": version("gguf"), "pandas": version("pandas")}}
