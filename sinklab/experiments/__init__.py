"""Experiments of the circuit paper's extension as library functions returning tidy DataFrames.

    from sinklab import experiments as ex
    table, summary, published, errors = ex.lengths(["textbook"], lengths=(40, 80), seeds=(0, 1), n=8)
    res = ex.run(ex.Plan(models=("textbook", "sinklab-mini"), experiments=("table1", "dose"), seeds=(0, 1)))
    ex.write(res, "out/")            # CSVs, PNG/SVG figures, report.md, errors.csv

Every experiment runs over several models and data seeds in one plan (summaries: mean ± SD across seeds),
with the sink score's layer band as a parameter (bands: paper, extension, authors, 'A-B'). A plan
expands to independent jobs (one per model, revision, seed, regime, length) run by sinklab.experiments.engine
in-process or on Dask; a failing job or an intervention that does not apply lands in `errors` and the
rest is still computed. Published numbers (sinklab.published.tables) come back beside, in
`published`, for a model that IS a published one (loaded as its hub id, or a directory whose config names
it; family and shape confirm), never in computed columns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import pandas as pd

from ..errors import BadInput
from ..analyses import bands
from ..published import tables as _published
from . import tables as _tables
from ..interventions import InterpolatePE, ScaleKeyRows
from .jobs import Job, KeyCoords, run_job
from .plan import ALPHAS, COMBOS, EFFICACY, EXPERIMENTS, LENGTHS, Plan
from ..inputs.regimes import REGIMES, make_inputs

__all__ = ["Plan", "Results", "ExperimentResult", "run", "write", "EXPERIMENTS", "REGIMES", "bands", "Job",
           "KeyCoords", "run_job", "make_inputs", "ScaleKeyRows", "InterpolatePE", "table1", "lengths", "regimes",
           "combined", "dose", "pathways", "relocation", "cost", "emergence", "delta", "ALPHAS", "COMBOS",
           "EFFICACY", "LENGTHS"]


class ExperimentResult(NamedTuple):
    """One experiment's tidy tables: per seed, mean ± SD across seeds, published (labelled), errors."""

    table: pd.DataFrame
    summary: pd.DataFrame
    published: pd.DataFrame | None
    errors: pd.DataFrame


@dataclass
class Results:
    """Everything a plan produced. tables/summaries/published are keyed by experiment name."""

    plan: Plan
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summaries: dict[str, pd.DataFrame] = field(default_factory=dict)
    published: dict[str, pd.DataFrame] = field(default_factory=dict)
    errors: pd.DataFrame = field(default_factory=pd.DataFrame)
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)
    info: pd.DataFrame = field(default_factory=pd.DataFrame)
    jobs: pd.DataFrame = field(default_factory=pd.DataFrame)
    meanings: pd.DataFrame = field(default_factory=pd.DataFrame)  # per model: label, title, applies, meaning
    engine: str = "local"

    def __getitem__(self, experiment: str) -> ExperimentResult:
        return ExperimentResult(self.tables.get(experiment, pd.DataFrame()),
                                self.summaries.get(experiment, pd.DataFrame()),
                                self.published.get(experiment), self.errors)


def _concat(results, name: str) -> pd.DataFrame:
    frames = [r.tables[name] for r in results if r.ok and name in r.tables and len(r.tables[name])]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def assemble(plan: Plan, results) -> Results:
    """Gather the jobs' rows (in job order) into every experiment's tables."""
    from .engine import errors_table

    ex = _concat(results, "examples")
    skipped = _concat(results, "skipped")
    info = _concat(results, "info")
    errors = errors_table(results)
    if len(skipped):
        sk = skipped.assign(job=skipped.apply(lambda r: f"{r['model']}{'@' + r['revision'] if r['revision'] else ''} "
                                                       f"seed={r['seed']} {r['regime']} T={r['n_tokens']}", axis=1),
                            error_type="not run", error=skipped["reason"]).drop(columns="reason")
        errors = pd.concat([errors, sk[errors.columns]], ignore_index=True)
    out = Results(plan=plan, errors=errors, examples=ex, info=info)
    meanings = _concat(results, "meanings")
    out.meanings = meanings.drop_duplicates(["model", "label"]).reset_index(drop=True) if len(meanings) else meanings
    out.jobs = pd.DataFrame([{**r.job.identity(), "experiments": ",".join(r.job.experiments), "ok": r.ok,
                              "seconds": round(r.seconds, 3), "worker": r.worker} for r in results])
    builders: dict[str, Callable[[], pd.DataFrame]] = {
        "table1": lambda: _tables.table1(ex, plan), "combined": lambda: _tables.combined(ex, plan),
        "cost": lambda: _tables.cost(ex, plan), "dose": lambda: _tables.dose(ex, plan),
        "relocation": lambda: _tables.relocation(ex, plan), "lengths": lambda: _tables.lengths(ex, plan),
        "regimes": lambda: _tables.regimes(ex, plan),
        "pathways": lambda: _tables.pathways(_concat(results, "pathways"), plan),
        "emergence": lambda: _tables.emergence(ex, _concat(results, "stats"), plan),
        "delta": lambda: _tables.delta(_concat(results, "delta"), plan),
    }
    for e in plan.experiments:
        t = builders[e]() if len(ex) else pd.DataFrame()
        out.tables[e] = t
        out.summaries[e] = _tables.across_seeds(t)
        pub = _published.for_models(e, info)
        if pub is not None:
            out.published[e] = pub
    return out


def run(plan: Plan, engine=None, progress: Callable[[int, int], None] | None = None, lm=None) -> Results:
    """Run every job of `plan` on `engine` (default: in-process) and assemble the tables.

    lm: a loaded model to run the plan on in this process (no second copy is loaded); the plan then names
    that one model, plan.models == (lm.info.name,), and has no revisions."""
    from .engine import LocalEngine, execute

    if lm is not None:
        if plan.models != (lm.info.name,) or plan.revisions or engine is not None:
            raise BadInput(f"a plan run on the loaded model {lm.info.name!r} names only it (models="
                           f"({lm.info.name!r},)), has no revisions and no engine")
        jobs = plan.jobs()
        results = []
        for i, job in enumerate(jobs):
            results.append(execute(job, lm=lm))
            if progress is not None:
                progress(i + 1, len(jobs))
        res = assemble(plan, results)
        res.engine = "in-process, on the loaded model"
        return res
    engine = engine or LocalEngine()
    results = engine.map(plan.jobs(), progress=progress)
    res = assemble(plan, results)
    res.engine = engine.describe()
    return res


def _one(experiment: str, models, engine=None, **kw) -> ExperimentResult:
    models = (models,) if isinstance(models, str) else tuple(models)
    return run(Plan(models=models, experiments=(experiment,), **kw), engine=engine)[experiment]


def table1(models, engine=None, **kw) -> ExperimentResult:
    """The signature (every registered cut) over the three domains, per model and seed."""
    return _one("table1", models, engine, **kw)


def lengths(models, lengths=LENGTHS, engine=None, **kw) -> ExperimentResult:
    """Sink and effects at each length (% of the same-length baseline). A length past a model's positions
    is an error row for that model; the other lengths still run."""
    return _one("lengths", models, engine, lengths=lengths, **kw)


def regimes(models, regimes=tuple(REGIMES), engine=None, **kw) -> ExperimentResult:
    """Sink and effects per content regime (sinklab.inputs.regimes)."""
    return _one("regimes", models, engine, regimes=regimes, **kw)


def combined(models, combos=COMBOS, engine=None, **kw) -> ExperimentResult:
    """Composed interventions (each combo's parts in one forward) beside their parts."""
    return _one("combined", models, engine, combos=combos, **kw)


def dose(models, alphas=ALPHAS, engine=None, **kw) -> ExperimentResult:
    """Dose-response: scale b_Q, scale the selected W_k rows, interpolate PE_0 -> PE_1, over α."""
    return _one("dose", models, engine, alphas=alphas, **kw)


def pathways(models, engine=None, **kw) -> ExperimentResult:
    """Full, content-only (T1) and bias-only (T3) attention to position 0, and the Δ share."""
    return _one("pathways", models, engine, **kw)


def relocation(models, targets=(1,), engine=None, **kw) -> ExperimentResult:
    """Transplant EPE_0 to each target: mass arriving there / the baseline mass at 0."""
    return _one("relocation", models, engine, targets=targets, **kw)


def cost(models, engine=None, **kw) -> ExperimentResult:
    """ΔCE and sink reduction of every cut (plus b_Q × 0.5, × 0.75), with the Pareto frontier."""
    return _one("cost", models, engine, **kw)


def emergence(models, revisions, engine=None, **kw) -> ExperimentResult:
    """Per checkpoint (HF revision names of the model, or local checkpoint directories of ONE model): sink,
    efficacy of the interventions, EPE_0 max, alignment (per head and concatenated). A revision that cannot
    be loaded is an error row."""
    return _one("emergence", models, engine, revisions=tuple(revisions), **kw)


def delta(models, engine=None, **kw) -> ExperimentResult:
    """The authors' per-head Δ = b_Q·k percentile table (min-normalised, pooled over inputs and heads) per layer
    and position; published beside for GPT-2 small. Not applicable without b_Q or on rotary models."""
    return _one("delta", models, engine, **kw)


from .output import write  # noqa: E402  (needs Results)
