"""Combined interventions: several cuts composed in one forward, beside each part alone."""
from __future__ import annotations

from ...errors import BadInput
from ...published import beside
from .. import figures, tables
from ..experiment import Experiment, Option
from ..settings import AND, check_setting

COMBOS = (f"b{AND}c", f"b{AND}d", f"b{AND}i", f"b{AND}i{AND}d")


def _combination(c) -> None:
    if AND not in c:
        raise BadInput(f"a combination joins labels with '{AND}' (e.g. b{AND}c); got {c!r}")
    check_setting(c)


class Combined(Experiment, name="combined"):
    """combined interventions (composed in one forward): b∧c, b∧d, b∧i, b∧i∧d"""

    options = (Option("combos", COMBOS, f"combined experiment (join with {AND} or +)", check=_combination,
                      flag_parse=lambda t: t.replace("+", AND)),)
    ce = True
    keys = ("model", "domain", "intervention", "title")
    values = ("sink", "pct_of_baseline", "ce", "ce_change")
    per_seed = ("key", "n", "se", "first")
    shown = ("model", "domain", "intervention", "sink", "pct_of_baseline", "ce_change")
    pooled_only = True
    published = beside.combined_rows
    states_definitions = True

    def settings(self, plan):
        parts = [p for c in plan.combos for p in c.split(AND)]
        return ("baseline", *dict.fromkeys(parts), *plan.combos)

    def table(self, raw, plan):
        s = tables.by_domain(raw.examples, plan, self.settings(plan))
        return tables.finish(s, tables.BASE_COLS) if len(s) else s

    def figure(self, summary, published):
        return figures.pct_bars(self.name, summary, published)
