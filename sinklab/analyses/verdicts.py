"""The one definition of every verdict sinklab states: "has a sink", "cut", "moved to k", "kept", "does not apply".

Pages, notebooks, claims, Compare's findings, report tables and the findings document all call these, so two
places can never disagree on the same numbers. Each returns a Verdict with the numbers and the criterion in words.

    v = verdicts.has_sink(score=0.53, n_tokens=40)        # Verdict(holds=True, ...)
    verdicts.cut(pct=18.0, baseline=v).holds              # True: at most CUT % of the sink is left
    verdicts.cut(pct=18.0, baseline=verdicts.has_sink(0.04, 40)).holds   # None: no sink to cut

holds is True / False, or None when the verdict does not apply (no real baseline sink, a declared no-op, an
intervention that cannot run on the model): "does not apply" is never shown as a result.
"""
from __future__ import annotations

from dataclasses import dataclass

SINK_MIN = 0.3  # a sink: at least this share of the second-half queries' attention on the key ...
SINK_VS_UNIFORM = 5.0  # ... and at least this many times what equal attention to every earlier token gives it
CUT = 50.0  # % of the baseline sink at most left by a cut
MOVED = 40.0  # % of the baseline sink (at position 0) that must arrive at k for the sink to have moved there
KEPT = 90.0  # % of the baseline sink a control (or an intervention that leaves the sink) keeps at least
MASSIVE_MIN_RATIO = 10.0  # a massive coordinate: at least this many times the median coordinate (sinklab.analyses.origin)
GAMMA_MIN_Z = 3.0  # a large |γ| in a claim: at least this many std above its layer's mean (the spec's table marks 2)


@dataclass(frozen=True)
class Verdict:
    """A verdict on numbers: holds (True / False / None = does not apply), the numbers and the criterion."""

    what: str  # "has a sink", "cut", "moved to k = 5", "kept", ...
    holds: bool | None
    numbers: str
    criterion: str

    @property
    def applies(self) -> bool:
        return self.holds is not None

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "–"}[self.holds]


def uniform_share(n_tokens: int) -> float:
    """The paper metric if every second-half query spread its attention evenly over the keys it sees."""
    qs = range(n_tokens // 2, n_tokens)
    return sum(1.0 / (i + 1) for i in qs) / max(1, len(qs))


def has_sink(score: float, n_tokens: int, key: int = 0) -> Verdict:
    """A sink at `key`: its paper-metric share >= SINK_MIN and >= SINK_VS_UNIFORM x the uniform share."""
    u = uniform_share(n_tokens)
    holds = score >= SINK_MIN and score >= SINK_VS_UNIFORM * u
    return Verdict("has a sink" if key == 0 else f"has a sink at k = {key}", bool(holds),
                   f"{score:.2f} of the second-half queries' attention on position {key} (equal attention would give "
                   f"{u:.2f})", f"≥ {SINK_MIN:g} and ≥ {SINK_VS_UNIFORM:g}× equal attention")


def does_not_apply(what: str, reason: str) -> Verdict:
    return Verdict(what, None, reason, "does not apply")


def _gate(what: str, baseline: Verdict | None) -> Verdict | None:
    if baseline is not None and baseline.holds is not True:
        return does_not_apply(what, f"there is no sink to {what.split()[0]} here ({baseline.numbers})")
    return None


def cut(pct: float, baseline: Verdict | None = None) -> Verdict:
    """An intervention cut the sink: at most CUT % of the baseline sink is left (gated on a real baseline sink)."""
    return _gate("cut", baseline) or Verdict("cut", bool(pct <= CUT), f"{pct:.0f} % of the baseline sink left",
                                             f"≤ {CUT:.0f} % left")


def kept(pct: float, baseline: Verdict | None = None) -> Verdict:
    """The sink stayed (a control, or a wire that does not carry it): at least KEPT % is left, at most 200 - KEPT."""
    return _gate("keep", baseline) or Verdict("kept", bool(KEPT <= pct <= 200 - KEPT),
                                              f"{pct:.0f} % of the baseline sink left",
                                              f"{KEPT:.0f}–{200 - KEPT:.0f} % left")


def moved(pct_at_k: float, k: int, baseline: Verdict | None = None, after: float | None = None) -> Verdict:
    """The sink moved to k: at least MOVED % of the baseline sink (at position 0) arrives at k (and, when `after`
    is given, k then has a sink of its own: after >= SINK_MIN)."""
    g = _gate("move", baseline)
    if g:
        return g
    holds = pct_at_k >= MOVED and (after is None or after >= SINK_MIN)
    return Verdict(f"moved to k = {k}", bool(holds), f"{pct_at_k:.0f} % of the baseline sink arrives at position {k}",
                   f"≥ {MOVED:.0f} % of the baseline sink at k" + (f" and ≥ {SINK_MIN:g} there" if after is not None
                                                                  else ""))
