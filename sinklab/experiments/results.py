"""A plan's results: the jobs' rows gathered (in job order) into every experiment's tables, summaries across seeds,
published rows beside (labelled), errors, the jobs' log."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import pandas as pd

from ..errors import BadInput
from ..published import beside
from .engine import LocalEngine, errors_table, execute
from .experiment import REGISTRY, Raw
from .memo import memo_for
from .plan import Plan
from .tables import across_seeds


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
    command: str = ""  # the `sinklab report ...` command line that made it (run.json)

    def __getitem__(self, experiment: str) -> ExperimentResult:
        return ExperimentResult(self.tables.get(experiment, pd.DataFrame()),
                                self.summaries.get(experiment, pd.DataFrame()),
                                self.published.get(experiment), self.errors)


def _concat(results, name: str) -> pd.DataFrame:
    frames = [r.tables[name] for r in results if r.ok and name in r.tables and len(r.tables[name])]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def assemble(plan: Plan, results) -> Results:
    """Gather the jobs' rows (in job order) into every experiment's tables."""
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
    raw = Raw(examples=ex, measured={e: _concat(results, e) for e in plan.experiments})
    for e in plan.experiments:
        exp = REGISTRY[e]
        t = exp.table(raw, plan) if len(ex) else pd.DataFrame()
        out.tables[e] = t
        out.summaries[e] = across_seeds(t, exp)
        pub = beside.for_models(exp.published, info) if exp.published is not None else None
        if pub is not None:
            out.published[e] = pub
    return out


def run_plan(plan: Plan, engine=None, progress: Callable[[int, int], None] | None = None, lm=None,
             reuse_inputs: bool = False) -> Results:
    """Run every job of `plan` on `engine` (default: in-process) and assemble the tables.

    lm: a loaded model to run the plan on in this process (no second copy is loaded); the plan then names
    that one model, plan.models == (lm.info.name,), and has no revisions.
    reuse_inputs (with lm): keep each input's sweep rows in the model's memo (sinklab.experiments.memo) and reuse
    them in later plans on the same model: a larger n computes only the new inputs.

        >>> res = run_plan(Plan(models=("textbook",), experiments=("table1",), n=5), lm=lm, reuse_inputs=True)"""
    if reuse_inputs and lm is None:
        raise BadInput("reuse_inputs needs a loaded model (lm=): the memo lives beside it in this process")
    memo = memo_for(lm.model) if reuse_inputs else None
    if lm is not None:
        if plan.models != (lm.info.name,) or plan.revisions or engine is not None:
            raise BadInput(f"a plan run on the loaded model {lm.info.name!r} names only it (models="
                           f"({lm.info.name!r},)), has no revisions and no engine")
        jobs = plan.jobs()
        results = []
        for i, job in enumerate(jobs):
            results.append(execute(job, lm=lm, memo=memo))
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
