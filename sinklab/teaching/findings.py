"""docs/findings-real-models.md, written from a `structural` run's CSVs: what each link of the structural account's
chain does on real weights, with its controls, beside the planted specimen and the circuit paper's published GPT-2
numbers (labelled). Every number in the document is formatted here from the run's tables; nothing is typed in.

    python -m sinklab.teaching.findings RUN_DIR docs/findings-real-models.md

RUN_DIR is what `sinklab report --experiments structural --out RUN_DIR` writes: structural.csv (per model, data seed
and domain), structural_summary.csv (mean and SD across the seeds) and run.json (the command, the plan, the package
versions, each model's identity). `numbers(text)` lists the numbers a document states; tests/integration/
test_findings.py re-derives every one of them from those files.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..analyses import verdicts
from ..analyses.verdicts import CUT, KEPT, MOVED
from ..published.reference import authors_table1

REAL = ("smollm2-135m", "gemma-3-270m")
PLANTED = "textbook-structural"
LINKS = [  # setting label -> (the link it tests, what the structural account predicts)
    ("zero_neurons", "super neurons of the layer where the massive coordinate appears", "cuts the sink"),
    ("zero_random_neurons", "as many random neurons of that layer (control)", "leaves the sink"),
    ("zero_massive", "the massive coordinates at position 0 after that layer", "cuts the sink"),
    ("skip_mlp", "that layer's whole MLP", "cuts the sink"),
    ("rmsnorm", "head-wise RMSNorm in every layer (parity of variances)", "cuts the sink"),
    ("isolate", "position k attends only to itself", "moves the sink to k"),
    ("amplify", "k's attention-output spread × factor", "moves the sink to k"),
]


def numbers(text: str) -> list[str]:
    """The numbers a document states in its prose and tables (not in code spans, links or the header lines that
    name versions and SHA-256s)."""
    body = re.sub(r"`[^`]*`", "", text)
    body = re.sub(r"\]\([^)]*\)", "]", body)
    body = "\n".join(l for l in body.splitlines() if not l.startswith(("Versions:", "Models:", "<!--")))
    return re.findall(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?", body)


@dataclass
class _Doc:
    lines: list[str] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)


def pct(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:.0f} %"


def pm(mean: float, se: float) -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.0f} ± {se:.1f} %" if not pd.isna(se) else f"{mean:.0f} %"


def _title(model: str, run: dict) -> str:
    return run.get("models", {}).get(model, {}).get("display", model)


def _verdict(label: str, rows: pd.DataFrame, base: float, n_tokens: int, note: str = "") -> tuple[str, str]:
    """(holds / does not hold / not run, the numbers) for one link on one model's pooled ("all") summary rows, by
    sinklab.analyses.verdicts (base: the model's baseline sink, for "has a sink" and "a sink of its own at k")."""
    r = rows[rows["label"] == label]
    if r.empty:
        return "not run", note or "no row"
    has = verdicts.has_sink(base, n_tokens)
    word = {True: "holds", False: "does not hold", None: "does not apply"}
    if label in ("isolate", "amplify"):
        best = r.loc[r["pct_at_k_mean"].idxmax()]
        pct_k = float(best["pct_at_k_mean"])
        v = verdicts.moved(pct_k, int(rows.attrs.get("k", 5)), has, after=pct_k / 100 * base)
        what = (f"{pct(pct_k)} of the baseline sink arrives at k, a sink of {pct_k / 100 * base:.2f} there "
                f"({pct(best['pct_of_baseline_mean'])} stays at 0)")
        if label == "amplify":
            what += f", most at factor {best['setting'].split(':')[1]}"
        return word[v.holds], what
    if label == "zero_random_neurons":
        lo = float(r["pct_of_baseline_mean"].min())
        return word[verdicts.kept(lo, has).holds], f"{pct(lo)} left by the lowest of {len(r)} draws"
    m = float(r["pct_of_baseline_mean"].mean())
    return word[verdicts.cut(m, has).holds], f"{pct(m)} of the baseline sink left"


def _story(m: str, title: str, s: pd.DataFrame, f: pd.DataFrame, notes: dict, k: int) -> str:
    """A few plain sentences about one model, every number from its rows."""
    a = s[s["domain"] == "all"].set_index("setting")

    def p(setting: str, col: str = "pct_of_baseline") -> str:
        return pct(a.loc[setting, f"{col}_mean"]) if setting in a.index else "n/a"

    layer = f["found_layer"].dropna().astype(int).mode()
    coord = f["coord"].dropna().astype(int).mode()
    neurons = sorted({n for x in f["neurons"].fillna("").astype(str) for n in x.split()}, key=int)
    out = [f"On {title}, position 0's coordinate {coord.iloc[0]} becomes massive after layer {layer.iloc[0]} "
           f"(about {f['magnitude'].mean():,.0f})."]
    if neurons:
        out.append(f"Super neurons {', '.join(neurons)} of that layer write it: zeroing them leaves "
                   f"{p('zero_neurons')} of the sink, while zeroing as many random neurons of the same layer leaves "
                   f"{p('zero_random_neurons:0')} (first draw); skipping the whole MLP of that layer leaves "
                   f"{p('skip_mlp')}.")
    else:
        out.append("The finder sees no super neuron in that layer (no unit both active mainly at position 0 and "
                   f"writing a massive coordinate there); skipping that layer's whole MLP leaves {p('skip_mlp')} of the "
                   "sink.")
    out.append(f"Zeroing the massive coordinates at position 0 right after that layer leaves {p('zero_massive')}"
               + (f" and raises the cross-entropy by {a.loc['zero_massive', 'ce_change_mean']:.2f} nats"
                  if "zero_massive" in a.index else "") + ".")
    out.append(f"Isolating position k = {k} brings {p('isolate', 'pct_at_k')} of the baseline sink to k while "
               f"{p('isolate')} stays at 0; head-wise RMSNorm leaves {p('rmsnorm')}.")
    return " ".join(out)


def _shown(run_dir: Path) -> str:
    """The run directory as the command names it: relative to the repository when inside it."""
    root = Path(__file__).resolve().parents[2]
    try:
        return run_dir.resolve().relative_to(root).as_posix()
    except ValueError:
        return run_dir.as_posix()


def write(run_dir: str | Path) -> str:
    """The findings document (markdown) from the `structural` run in `run_dir`."""
    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    table = pd.read_csv(run_dir / "structural.csv")
    summ = pd.read_csv(run_dir / "structural_summary.csv")
    eff = table[table["part"] == "effect"]
    summ = summ[summ["part"] == "effect"].copy()
    for c in ("pct_of_baseline", "pct_at_k", "ce_change"):
        summ[f"{c}_se"] = summ[f"{c}_sd"] / summ["n_seeds"].clip(lower=1) ** 0.5
    models = [m for m in (*REAL, PLANTED) if m in set(eff["model"])]
    d = _Doc()
    d.add("# Findings: the structural account of attention sinks, tested on real weights", "",
          "<!-- generated by sinklab.teaching.findings from a `structural` run: do not edit by hand -->", "",
          f"Generated by: `{run['command']}` then `python -m sinklab.teaching.findings {_shown(run_dir)} "
          "docs/findings-real-models.md`.", "",
          "Versions: " + ", ".join(f"{k} {v}" for k, v in run["versions"].items()) + ".",
          "Models: " + "; ".join(f"{m} = {info.get('display', m)}" + (f" (GGUF SHA-256 {info['sha256']})"
                                                                       if info.get("sha256") else "")
                                  for m, info in run["models"].items()) + ".", "",
          f"Plan: {run['n']} inputs per domain ({', '.join(run['domains'])}), data seeds "
          f"{', '.join(map(str, run['seeds']))}, {run['n_tokens']} tokens per input, sink = the {run['metric']} metric "
          "(attention from the second half of the queries to position 0, middle layers). A number is the mean over the "
          "data seeds ± its standard error, as % of the same inputs' baseline sink; the domains are pooled as their "
          "mean per seed.", "")
    d.add("## The question", "",
          "The structural-origin paper explains the first-token sink by a chain: position 0 attends only to itself, "
          "so its attention output is one value vector (a variance discrepancy); FFN *super neurons* turn that into a "
          "few *massive* residual coordinates at position 0; keys built from them draw every query's attention. "
          "It reports no code and its referee asked for ablations with controls. Here each link is cut on two real "
          "trained language models, beside a control, and beside the planted specimen built to obey the account.", "")
    d.add("## What the finder sees", "",
          "| model | baseline sink | massive coordinate appears after layer (runs) | coordinate (runs) | its magnitude "
          "at position 0 | super neurons found (runs) |", "|---|---|---|---|---|---|")
    for m in models:
        f = eff[(eff["model"] == m) & (eff["domain"] != "all") & (eff["setting"] == "baseline")]
        runs = len(f)
        layers = f["found_layer"].dropna().astype(int).value_counts()
        coords = f["coord"].dropna().astype(int).value_counts()
        neurons = pd.Series([n for x in f["neurons"].fillna("").astype(str) for n in x.split()]).value_counts()
        d.add(f"| {_title(m, run)} | {f['sink'].mean():.2f} | "
              + (", ".join(f"{l} ({c} of {runs})" for l, c in layers.items()) or "never") + " | "
              + ", ".join(f"{c} ({k} of {runs})" for c, k in coords.items()) + " | "
              + f"{f['magnitude'].mean():,.0f} | "
              + (", ".join(f"{n} ({k} of {runs})" for n, k in neurons.items()) or "none") + " |")
    d.add("", "(A run is one model × domain × data seed. The massive coordinate appears where position 0 first holds "
          "half its largest magnitude; the rules are in docs/research.md.)", "")
    d.add("## Each link cut, beside its control", "")
    if (run_dir / "structural.png").exists():  # the run's own figure (the document sits beside the run's folder)
        d.add(f"![Each link cut, all domains pooled: % of the baseline sink left at position 0, mean ± SD over the "
              f"seeds]({run_dir.name}/structural.png)", "")
    for m in models:
        s = summ[summ["model"] == m]
        d.add(f"### {_title(m, run)}", "",
              "| link cut | " + " | ".join(run["domains"]) + " | all domains | CE change (all, nats) |",
              "|---|" + "---|" * (len(run["domains"]) + 2))
        for setting in dict.fromkeys(s["setting"]):
            if setting == "baseline":
                continue
            rows = s[s["setting"] == setting].set_index("domain")
            cells = []
            for dom in (*run["domains"], "all"):
                if dom not in rows.index:
                    cells.append("n/a")
                    continue
                r = rows.loc[dom]
                col = "pct_at_k" if r["label"] in ("isolate", "amplify") else "pct_of_baseline"
                cells.append(pm(r[f"{col}_mean"], r[f"{col}_se"]) + (" at k" if col == "pct_at_k" else ""))
            ce = rows.loc["all", "ce_change_mean"] if "all" in rows.index else float("nan")
            d.add(f"| {setting} | " + " | ".join(cells) + f" | {'n/a' if pd.isna(ce) else f'{ce:+.2f}'} |")
        notes = eff[(eff["model"] == m) & (eff["note"].fillna("").astype(str) != "")].drop_duplicates("setting")
        for r in notes.itertuples():
            d.add("", f"Not run: {r.setting}: {r.note}")
        d.add("")
    d.add("## Where the structural paper's claims hold on real weights", "",
          f"A cut *holds* when at most {CUT:.0f} % of the sink is left, a control when it keeps at least {KEPT:.0f} % "
          f"(every draw), a move when at least {MOVED:.0f} % of the baseline sink arrives at k and makes a sink of at "
          f"least {verdicts.SINK_MIN:g} there; all domains pooled (sinklab.analyses.verdicts).", "",
          "| link | prediction | " + " | ".join(_title(m, run) for m in models) + " |",
          "|---|---|" + "---|" * len(models))
    pooled = summ[summ["domain"] == "all"]
    notes = {m: dict(zip(g["setting"], g["note"])) for m, g in
             eff[eff["note"].fillna("").astype(str) != ""].groupby("model")}
    for label, what, predicted in LINKS:
        cells = []
        for m in models:
            rows = pooled[pooled["model"] == m]
            rows.attrs["k"] = run.get("structural_k", 5)
            base = float(eff[(eff["model"] == m) & (eff["setting"] == "baseline") & (eff["domain"] != "all")]["sink"].mean())
            v, said = _verdict(label, rows, base, run["n_tokens"], notes.get(m, {}).get(label, ""))
            cells.append(f"{v}: {said}")
        d.add(f"| {what} | {predicted} | " + " | ".join(cells) + " |")
    d.add("", "## What it shows, model by model", "")
    for m in models:
        f = eff[(eff["model"] == m) & (eff["domain"] != "all") & (eff["setting"] == "baseline")]
        d.add(_story(m, _title(m, run), summ[summ["model"] == m], f, notes.get(m, {}), run.get("structural_k", 5)), "")
    t = authors_table1()
    t = t[t["domain"] == "all"].set_index("intervention")["sink"]
    d.add("## For comparison: GPT-2 small, published (not computed here)", "",
          f"The circuit paper's authors published for GPT-2 small (300 inputs, 40 tokens): baseline sink "
          f"{t['baseline']:.2f}; without any block's MLP (their (g); GPT-2's super neurons are in the first) "
          f"{pct(100 * t['g'] / t['baseline'])} of it is left; zeroing the key weights' rows at its three massive "
          f"coordinates (their (i)) leaves {pct(100 * t['i'] / t['baseline'])}. GPT-2's route adds a learned query "
          "bias and position embeddings that neither real model here has.", "")
    d.add("## Caveats", "",
          "- The real models' weights are 4-bit GGUF files dequantized to float32: the numbers are these quantized "
          "models', not the original weights'.",
          "- The inputs are sinklab's offline corpora (original passages, generated math problems, HumanEval prompts), "
          "not the papers' datasets.",
          "- Gemma 3's tokenizer prepends <bos>, so its position 0 is always that token; SmolLM2's inputs start with "
          "their first word, as the circuit paper's do.", "")
    return "\n".join(d.lines) + "\n"


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit("usage: python -m sinklab.teaching.findings RUN_DIR OUT.md")
    Path(argv[1]).write_text(write(argv[0]))


if __name__ == "__main__":
    main()
