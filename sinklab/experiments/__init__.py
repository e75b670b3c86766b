"""Experiments of the circuit paper's extension as library functions returning tidy DataFrames.

    from sinklab import experiments as ex
    table, summary, published, errors = ex.lengths(["textbook"], lengths=(40, 80), seeds=(0, 1), n=8)
    res = ex.run_plan(ex.Plan(models=("textbook", "sinklab-mini"), experiments=("table1", "dose"), seeds=(0, 1)))
    ex.write(res, "out/")            # CSVs, PNG/SVG figures, report.md, errors.csv

Every experiment runs over several models and data seeds in one plan (summaries: mean ± SD across seeds),
with the sink score's layer band as a parameter (sinklab.analyses.bands: paper, extension, authors, 'A-B'). A
plan expands to independent jobs (one per model, revision, seed, regime, length) run by
sinklab.experiments.engine in-process or on Dask; a failing job or an intervention that does not apply lands in
`errors` and the rest is still computed. Published numbers (sinklab.published.beside) come back beside, in
`published`, for a model that IS a published one (loaded as its hub id, or a directory whose config names it;
family and shape confirm), never in computed columns.

An experiment is one class in one file (catalogue/, see sinklab.experiments.experiment): it appears in
REGISTRY, in `sinklab report --help`, its CSVs, its figure and report.md, and as a function here,
`ex.<name>(models, **options)`.
"""
from __future__ import annotations

from typing import Callable

from . import catalogue  # noqa: F401  (registers the built-in experiments, in their order)
from .catalogue.combined import COMBOS
from .catalogue.cost import COST_EXTRA
from .catalogue.dose import ALPHAS
from .catalogue.lengths import LENGTHS
from .engine import make_engine
from .experiment import REGISTRY, DeclarationError, Experiment, Option
from .jobs import Job, run_job
from .output import write
from .plan import EFFICACY, EXPERIMENTS, Plan
from .results import ExperimentResult, Results, assemble, run_plan
from .settings import KeyCoords

__all__ = ["Plan", "Results", "ExperimentResult", "run_plan", "assemble", "write", "make_engine", "REGISTRY",
           "Experiment", "Option", "DeclarationError", "EXPERIMENTS", "Job", "KeyCoords", "run_job", "ALPHAS",
           "COMBOS", "COST_EXTRA", "EFFICACY", "LENGTHS", "table1", "lengths", "regimes", "combined", "dose",
           "pathways", "relocation", "cost", "emergence", "delta"]


def _one(experiment: str, models, engine=None, **kw) -> ExperimentResult:
    models = (models,) if isinstance(models, str) else tuple(models)
    return run_plan(Plan(models=models, experiments=(experiment,), **kw), engine=engine)[experiment]


def runner(experiment: str) -> Callable[..., ExperimentResult]:
    """`ex.<name>(models, [its first option], engine=None, **plan keywords)`: one experiment over some models,
    its ExperimentResult (e.g. ex.lengths(models, (40, 80)), ex.emergence(model, revisions))."""
    exp = REGISTRY[experiment]

    def run_one(models, *args, engine=None, **kw) -> ExperimentResult:
        if len(args) > 1:
            raise TypeError(f"{experiment}() takes the models and at most one more positional argument")
        if args and exp.options:
            kw[exp.options[0].name] = args[0]
        elif args:
            engine = args[0]
        return _one(experiment, models, engine, **kw)

    run_one.__name__ = run_one.__qualname__ = experiment
    run_one.__doc__ = f"The {experiment} experiment: {exp.description}. Keywords: Plan's and its options " \
                      f"({', '.join(o.name for o in exp.options) or 'none of its own'})."
    return run_one


table1, lengths, regimes, combined, dose, pathways, relocation, cost, emergence, delta = (
    runner(e) for e in ("table1", "lengths", "regimes", "combined", "dose", "pathways", "relocation", "cost",
                        "emergence", "delta"))


def __getattr__(name: str):
    """An experiment defined outside the catalogue (registered later) runs as ex.<its name>(...) too."""
    if name in REGISTRY:
        return runner(name)
    raise AttributeError(f"module 'sinklab.experiments' has no attribute {name!r}")
