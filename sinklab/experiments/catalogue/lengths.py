"""Length: the sink and each cut's effect at several lengths, on running text (% of the same-length baseline)."""
from __future__ import annotations

from ...inputs.regimes import check_regime
from ...published import beside
from .. import figures, tables
from ..experiment import Experiment, Option
from ..plan import INTERVENTIONS

LENGTHS = (40, 128, 256, 512, 1024)


class Lengths(Experiment, name="lengths"):
    """the sink and the interventions' effects at several lengths (% of the same-length baseline)"""

    options = (Option("lengths", LENGTHS, "lengths experiment", kind=int, low=2),
               Option("length_regime", "text", "content regime of the lengths experiment", many=False,
                      check=check_regime),
               INTERVENTIONS)
    keys = ("model", "regime", "n_tokens", "intervention", "title")
    values = ("sink", "pct_of_baseline")
    per_seed = ("n", "se")
    shown = ("model", "n_tokens", "intervention", "sink", "pct_of_baseline")
    published = beside.lengths_rows

    def units(self, plan):
        return [(None, plan.length_regime, T) for T in plan.lengths]

    def settings(self, plan):
        return ("baseline", *plan.interventions)

    def table(self, raw, plan):
        s = tables.by_regime(raw.examples, self.settings(plan), [plan.length_regime], plan.lengths)
        if s.empty:
            return s
        cols = ["model", "seed", "regime", "n_tokens", "intervention", "title", "n", "sink", "se", "pct_of_baseline"]
        return s.sort_values(["model", "seed", "n_tokens"], kind="stable")[cols].reset_index(drop=True)

    def figure(self, summary, published):
        s = summary[summary["intervention"] != "baseline"]  # 100 % by definition; its own sink is in the table
        p = None if published is None else published[published["intervention"] != "baseline"]
        return figures.lines(s, "n_tokens", "pct_of_baseline_mean", "pct_of_baseline_sd", "intervention",
                             "Length: sink left as % of the same-length baseline (mean ± SD across seeds)", "tokens",
                             "% of baseline", facet="model", pub=p, pub_y="pct_of_baseline", log2_x=True)
