"""The pages' widget defaults, and the request each page makes when opened with them (the server's warm-up).

A page reads its defaults here (e.g. `defaults.EPE["k_sigma"]`); `default_requests` lists the lesson call each page
makes with them, so in server mode (Config.server) `warm` queues every page's default view at the first request, at
the lowest priority, and a class opening the same link hits the cache. tests/integration/test_app_serving.py opens
every page after the warm-up and checks that nothing more was computed: a page whose defaults changed without this
file fails it.
"""
from __future__ import annotations

from typing import Callable

import models
import serving
from serving.scheduler import WARMUP
from sinklab.interventions import make
from sinklab.model.loading import BUNDLED, REAL
from sinklab.teaching import lessons

LAYER = 5  # the layer shown first (Start, Decomposition, Interventions), capped at the model's last
EPE = dict(k_sigma=3.0, n=12)  # EPE (k_sigma also on γ and alignment)
INTERVENTION = "b"  # the Interventions page's first intervention
DOMAINS = dict(n=10, target=1, n_max=100)  # Across domains (n's slider: 2 .. n_max)
FILL_STEP = 5  # inputs per domain each of the warm-up's Across domains fills adds (see fill_requests)
ORIGIN = dict(position=5, factor=4.0)  # Structural origin (position capped at the prompt's last)
COMPARE = dict(n=8, target=5, factor=5.0)  # the Compare page's slider defaults
CURVES = dict(n=4, seeds=2, domain="nl")  # the Length and dose page's widget defaults
CURVE_DEFAULT = 128  # the Length and dose page starts with the offered lengths up to this one


def curve_lengths(n_positions: int) -> list[int]:
    """The Length and dose page's default choice of lengths: those offered up to CURVE_DEFAULT (at least one)."""
    offered = lessons.curve_lengths(n_positions)
    return [T for T in offered if T <= CURVE_DEFAULT] or offered[:1]


def compare_models(s) -> tuple[str, ...]:
    """The Compare page's default models: the current model, every bundled model the server offers, and the first
    real trained model it offers (SmolLM2: the quicker one; Gemma 3 is one click away in the picker)."""
    offered = models.allowlist(s.config)
    real = [r for r in REAL if r in offered][:1]
    return tuple(dict.fromkeys([s.model] + [b for b in BUNDLED if b in offered] + real))


STRUCTURAL = "textbook-structural"  # where the Structural origin page shows the route when a model lacks it


def default_intervention(s) -> str:
    """The Interventions page's first intervention on this model: INTERVENTION if it runs here, else the first that does."""
    runs_here = [k for k in serving.quick(lessons.applicable, s) if k != "a"]  # the baseline has nothing to show
    return INTERVENTION if INTERVENTION in runs_here else (runs_here[0] if runs_here else "a")


def default_requests(s) -> dict[str, list[tuple[Callable, str | tuple[str, ...], dict]]]:
    """url_path -> [(lesson, model or models, kwargs)] that each page requests when opened with default
    settings `s`.

    Must match the pages' widget defaults (tests/integration/test_app_serving.py checks it by opening
    every page after the warm-up and counting computations).
    """
    T = s.used_tokens
    m = s.model
    position = min(ORIGIN["position"], max(1, T - 1))
    origin = dict(prompt=s.prompt, position=position, factor=ORIGIN["factor"], metric=s.metric)
    route = serving.quick(lessons.circuit_routes, s)[1]

    def absent(needs):  # display.route_absent: the positional pages first ask whether their route exists here
        return (lessons.positional_absent, m, dict(prompt=s.prompt, metric=s.metric, needs=needs))

    out = {
        "start": [(lessons.start, m, dict(prompt=s.prompt, metric=s.metric))],
        "circuit": [(lessons.circuit_plan, m, dict(prompt=s.prompt, route=route)),
                    (lessons.circuit_lesson, m, dict(prompt=s.prompt, route=route, cuts=(), metric=s.metric)),
                    (lessons.start, m, dict(prompt=s.prompt, metric=s.metric))],
        "decomposition": [absent(("unrotated",)),
                          (lessons.decomposition, m, dict(prompt=s.prompt, layer=min(LAYER, s.n_layer - 1), head=0))],
        "epe": [absent(("pe",)),
                (lessons.epe_lesson, m, dict(k_sigma=EPE["k_sigma"], ln2=False, n=EPE["n"], n_tokens=s.n_tokens))],
        "gamma": [absent(("pe", "bq")), (lessons.gamma_lesson, m, dict(k_sigma=EPE["k_sigma"], positions=s.n_tokens))],
        "interventions": [(lessons.intervention_lesson, m, dict(setting=make(default_intervention(s)), prompt=s.prompt,
                                                                 metric=s.metric))],
        "domains": [(lessons.domains_lesson, m, dict(n=DOMAINS["n"], n_tokens=s.n_tokens, target=DOMAINS["target"],
                                                     metric=s.metric))],
        "origin": [(lessons.origin_beside_planted, (m, STRUCTURAL), origin) if m != STRUCTURAL and STRUCTURAL in
                   models.allowlist(s.config) else (lessons.origin_lesson, m, origin)],
        "compare": [(lessons.compare_lesson, compare_models(s), dict(n_tokens=s.n_tokens, **COMPARE))],
        "curves": [(lessons.curves_lesson, m, dict(n=CURVES["n"], lengths=tuple(curve_lengths(s.info.n_positions)),
                                                   seeds=tuple(range(CURVES["seeds"])), domain=CURVES["domain"],
                                                   n_tokens=s.n_tokens))],
    }
    return out


def fill_requests(s) -> list[tuple[Callable, str, dict]]:
    """The warm-up's work after the default views: Across domains' per-input rows for n = 15, 20, … up to the
    operator's fill_n (SINKLAB_FILL_N, at most the slider's n_max), each request computing only the inputs the one
    before lacked (lessons.fill_domains; sinklab.experiments.memo keeps them), so a class asking for many different
    n waits for its views to be assembled, not for the model. Small steps keep one job short (~7 s on SmolLM2)."""
    top = min(s.config.fill_n, DOMAINS["n_max"])
    ns = list(range(DOMAINS["n"] + FILL_STEP, top + 1, FILL_STEP))
    if top > DOMAINS["n"] and (not ns or ns[-1] != top):
        ns.append(top)
    return [(lessons.fill_domains, s.model, dict(n=n, since=prev, n_tokens=s.n_tokens, target=DOMAINS["target"],
                                                 metric=s.metric))
            for prev, n in zip([DOMAINS["n"], *ns], ns)]


def warm(s) -> int:
    """Queue every page's default view for settings `s` once per server, then the Across domains fills
    (fill_requests), all at the lowest priority. Returns #queued."""
    sched = serving.pool(s.config.workers, s.config.timeout)
    with sched._lock:
        if s.model in sched.warmed:
            return 0
        sched.warmed.add(s.model)
    n = 0
    for requests in [*default_requests(s).values(), fill_requests(s)]:
        for fn, model, kwargs in requests:
            key, task = serving.request(fn, model, s.config, **kwargs)
            if not sched.cached(key)[0]:
                sched.submit(key, task, WARMUP)
                n += 1
    return n
