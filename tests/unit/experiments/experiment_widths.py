"""A new experiment in one file (tests/unit/experiments/test_registry.py imports it): nothing else in sinklab is
edited, yet it runs in plans, `sinklab report` (flag, help, CSVs, figure, report.md) and ex.widths(...)."""
from __future__ import annotations

import pandas as pd

from sinklab.analyses import metrics
from sinklab.experiments import figures
from sinklab.experiments.experiment import Experiment, Option
from sinklab.model.forward import run
from sinklab.model.names import is_point


class Widths(Experiment, name="widths"):
    """the baseline sink over the first w layers, for each band width w (a test experiment)"""

    options = (Option("widths", (1, 2), "band widths of the widths experiment", kind=int, low=1),)
    keys = ("model", "domain", "width")
    values = ("sink",)
    per_seed = ("n",)
    shown = ("model", "domain", "width", "sink")

    def settings(self, plan):
        return ("baseline",)

    def measure(self, job, lm, ids, band, batch_size):
        tr = run(lm.model, ids, names=lambda n: is_point(n, "pattern"))
        return pd.DataFrame([{"example": i, "width": w, "sink": float(v)} for w in job.option("widths")
                             for i, v in enumerate(metrics.sink_score(tr, layers=(0, w)))])

    def table(self, raw, plan):
        rows = raw.measured.get(self.name)
        if rows is None or rows.empty:
            return pd.DataFrame()
        g = rows.rename(columns={"regime": "domain"}).groupby(["model", "seed", "domain", "width"], sort=False)["sink"]
        return pd.DataFrame({"n": g.count(), "sink": g.mean()}).reset_index()

    def figure(self, summary, published):
        s = summary.assign(intervention="width " + summary["width"].astype(str))
        return figures.bars(s, "intervention", "sink_mean", "sink_sd", "model", "domain",
                            "Baseline sink over the first w layers", "sink")
