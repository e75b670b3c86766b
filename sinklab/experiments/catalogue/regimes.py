"""Content regimes: the sink and each cut's effect on the domains, running text, random and degenerate tokens."""
from __future__ import annotations

from ...inputs.regimes import REGIMES, check_regime
from ...published import beside
from .. import figures, tables
from ..experiment import Experiment, Option
from ..plan import INTERVENTIONS


class Regimes(Experiment, name="regimes"):
    """content regimes: the domains, random, Zipf, shuffled and repeated tokens"""

    options = (Option("regimes", tuple(REGIMES), "regimes experiment", check=check_regime), INTERVENTIONS)
    keys = ("model", "regime", "intervention", "title")
    values = ("sink", "pct_of_baseline")
    per_seed = ("n", "se")
    shown = ("model", "regime", "intervention", "sink", "pct_of_baseline")
    published = beside.regimes_rows

    def units(self, plan):
        return [(None, r, plan.n_tokens) for r in plan.regimes]

    def settings(self, plan):
        return ("baseline", *plan.interventions)

    def table(self, raw, plan):
        s = tables.by_regime(raw.examples, self.settings(plan), plan.regimes, [plan.n_tokens])
        if s.empty:
            return s
        cols = ["model", "seed", "regime", "intervention", "title", "n", "sink", "se", "pct_of_baseline"]
        return s[cols].reset_index(drop=True)

    def figure(self, summary, published):
        s = summary[summary["intervention"] != "baseline"]
        return figures.bars(s, "intervention", "pct_of_baseline_mean", "pct_of_baseline_sd", "regime", "model",
                            "Content regimes: % of the regime's baseline", "% of baseline", published,
                            "pct_of_baseline")
