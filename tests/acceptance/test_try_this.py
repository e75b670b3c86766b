"""Every "Try this" is doable and true on the model it is shown for (issue 21.4).

A page shows its Try-this question only when the question's premise holds on the model on screen (claims.TryThis);
otherwise it shows why not and where it holds. This test builds each page's view with the page's defaults
(app/defaults.py) on every bundled and real model and, where the premise holds, acts on the control the question
names — the slider value, the layer range, the other intervention — and checks what the question takes for
granted: the control exists with the range the question needs, and the effect it presupposes is there (a kσ on
the slider where exactly one coordinate is massive, a layer where Δ towers, a t where half the sink is gone, an
n that breaks the sink, a factor that moves it). Where the premise fails, the text must say so and point
elsewhere.
"""
from __future__ import annotations

import numpy as np
import pytest

import sinklab
from sinklab.analyses import verdicts
from sinklab.inputs.corpora import example_prompts
from sinklab.interventions import REGISTRY, Context, NotApplicable, make, ordered
from sinklab.model import epe as epe_model
from sinklab.model.loading import BUNDLED, REAL
from sinklab.teaching import claims, lessons

pytestmark = pytest.mark.slow  # every page's view on five models

MODELS = [*BUNDLED, *REAL]
EPE_SLIDER = (1.0, 8.0, 0.5)  # app/lesson_pages/4_epe.py: kσ's range and step
FACTOR_SLIDER = (0.0, 20.0, 0.5)  # app/lesson_pages/8_origin.py: the amplify factor's range and step
LAYER = 5  # app/defaults.LAYER


@pytest.fixture(scope="module", params=MODELS)
def lm(request):
    return sinklab.load_model(request.param)


def _not_shown(t: claims.TryThis) -> None:
    """A question whose premise fails is replaced by why, and where it holds."""
    assert t.premise.holds is not True
    assert t.text != t.question and t.premise.statement in t.text, t.text


def _pct(view) -> float:
    s = view.summary.set_index("run")
    return 100 * float(s.loc["after", "sink_first"]) / float(s.loc["before", "sink_first"])


def _ctx(lm, T: int) -> Context:
    return Context.of(lm.model, T)


def _grid(low: float, high: float, step: float) -> np.ndarray:
    return np.round(np.arange(low, high + step / 2, step), 6)


def test_start(lm):
    v = lessons.start(lm)
    t = claims.start_try(v)
    if not t.premise.holds:
        return _not_shown(t)
    examples = example_prompts()
    assert {"code", "math"} <= set(examples), "the question sends the learner to the code and math examples"
    for text in (examples["code"], examples["math"]):
        assert lessons.start(lm, lessons.Prompt(text=text)).score >= 0
    plain = lessons.encode(lm, lessons.Prompt(prepend_bos=False)).ids
    with_bos = lessons.encode(lm, lessons.Prompt(prepend_bos=True)).ids
    assert with_bos[0] != plain[0] and (with_bos[1:] == plain[:len(with_bos) - 1]).all(), \
        "the BOS toggle puts one token in front of the same prompt"
    assert lessons.start(lm, lessons.Prompt(prepend_bos=True)).score >= 0


def test_decomposition(lm):
    layer = min(LAYER, lm.info.n_layer - 1)
    try:
        v = lessons.decomposition(lm, layer=layer, head=0)
    except NotApplicable:
        return  # rotary: the page shows why the decomposition does not apply, and no question
    t = claims.decomposition_try(v)
    if not t.premise.holds:
        return _not_shown(t)
    b = v.by_layer
    towers = b[b["first"] > 2 * b["other_max"].clip(lower=1e-9)]
    first = int(towers["layer"].min())
    head = int(towers[towers["layer"] == first]["head"].iloc[0])
    assert 0 <= first < lm.info.n_layer  # on the layer slider
    moved = lessons.decomposition(lm, layer=first, head=head).delta.set_index("position")["delta_norm"]
    assert moved.loc[0] > 2 * moved.drop(index=0).max(), "at that layer and head Δ_0 towers in the page's Δ chart"


def test_epe(lm):
    try:
        v = lessons.epe_lesson(lm, n=3)
    except NotApplicable:
        return  # the page shows "does not apply" instead (test_one_truth checks it says so)
    t = claims.epe_try(v, 3.0, k_max=EPE_SLIDER[1])
    if not t.premise.holds:
        return _not_shown(t)
    grid = [k for k in _grid(*EPE_SLIDER) if k >= 3.0]
    sets = {float(k): epe_model.massive_coords(lm.model, k_sigma=float(k)) for k in grid}
    assert len(sets[3.0]) == len(v.massive) >= 1, "the question counts the page's massive set"
    empty = [k for k, c in sets.items() if not c]
    assert empty, f"raising kσ on the slider {EPE_SLIDER} never empties the massive set ({t.question})"
    # the answer exists on the slider: each step either keeps the set or drops some of it, until it is empty
    sizes = [len(sets[k]) for k in grid]
    assert sizes == sorted(sizes, reverse=True)


def test_gamma(lm):
    try:
        v = lessons.gamma_lesson(lm)
    except NotApplicable:
        return
    sink = claims.start(lessons.start(lm))[0]
    t = claims.gamma_try(v, sink)
    if not sink.holds:
        assert t.premise.statement.startswith("The first token is an attention sink"), t.text
    if not t.premise.holds:
        return _not_shown(t)
    first = v.alignment[v.alignment["position"] == 0].set_index("layer")["cosine"]
    peak = int(first.idxmax())
    assert f"layer {peak}" in t.question
    assert REGISTRY["b"].per_layer, "the question uses (b)'s layer range"
    view = lessons.intervention_lesson(lm, make("b", layers=(peak, peak + 1)))
    assert _pct(view) < 100, "removing b_Q in the peak layer alone takes some of the sink away"


def _intervention_views(lm):
    T = lessons.encode(lm, lessons.Prompt()).ids.shape[0]
    runs = lessons.applicable(lm, T)
    found = lessons.found_layer(lm)
    for label in ordered():
        if label == "a" or label not in runs:
            continue
        cls = REGISTRY[label]
        start = {"layer": found} if "layer" in cls.params() and cls.route == "structural" and found is not None else {}
        try:  # as the page opens it: a one-layer structural cut starts in the finder's layer
            v = lessons.intervention_lesson(lm, make(label, **start))
        except NotApplicable:
            continue  # refused on this input: the page shows why, and no question
        yield label, v, claims.intervention_try(label, claims.intervention(v, label)[0]), T, runs


def test_interventions(lm):
    """Each intervention's Try-this names a control the Interventions page has, and what it presupposes holds."""
    for label, v, t, T, runs in _intervention_views(lm):
        cls = REGISTRY[label]
        if not t.premise.holds:
            _not_shown(t)
            continue
        params = cls.params()
        ctx = _ctx(lm, T)
        if label in ("b", "scale_wk"):
            low, high = params["alpha"][1].bounds(ctx)
            assert low <= 0 and high >= (1.5 if label == "scale_wk" else 1), (label, low, high)
            assert 90 <= _pct(lessons.intervention_lesson(lm, make(label, alpha=1.0))) <= 110, \
                f"({label}) at α = 1 is the model itself: the sweep starts from the full sink"
        elif label in ("d", "e"):
            other = "e" if label == "d" else "d"
            assert other in runs, f"({label})'s question compares it with ({other}), which does not run here"
        elif label in ("g", "rmsnorm"):
            for layers in ((0, 1), (1, lm.info.n_layer)):
                assert np.isfinite(_pct(lessons.intervention_lesson(lm, make(label, layers=layers))))
        elif label == "i":
            low, high = params["n"][1].bounds(ctx)
            broke = [n for n in range(max(1, int(low)), min(int(high), 16) + 1)
                     if _pct(lessons.intervention_lesson(lm, make("i", n=n))) <= verdicts.CUT]
            assert broke, "no n on the slider breaks the sink, yet the question asks how many must go"
            assert "j" in runs and "n" in REGISTRY["j"].params(), "(j) with the same n is the question's control"
        elif label == "transplant":
            low, high = params["other"][1].bounds(ctx)
            assert high > low, "the target position can be moved"
        elif label == "interpolate":
            low, high = params["t"][1].bounds(ctx)
            assert low <= 0 and high >= 1
            assert _pct(v) <= 50, "at t = 1 half the sink is gone: the question's fraction exists"
        elif label == "isolate":
            low, high = params["position"][1].bounds(ctx)
            assert high > low
        elif label == "amplify":
            low, high = params["factor"][1].bounds(ctx)
            default = params["factor"][0].default
            assert low <= 1 <= high and low <= default <= high, "the factor sweep starts at 1 and reaches the move"
        elif label == "zero_neurons":
            assert "zero_random_neurons" in runs, "its control runs here"
        elif label == "zero_random_neurons":
            assert "seed" in params, "a few seeds"


def test_curves(lm):
    v = lessons.curves_lesson(lm, n=2, lengths=tuple(lessons.curve_lengths(lm.info.n_positions)[:2]), seeds=(0,))
    t = claims.curves_try(v)
    if not t.premise.holds:
        return _not_shown(t)
    kinds = set(v.dose["curve"]) if "curve" in v.dose else set(v.dose["intervention"])
    assert len(kinds) >= 2, f"the question compares the b_Q curve with the W_k curve; the page has {kinds}"
    assert v.lengths["n_tokens"].nunique() >= 2, "the question compares the shortest and longest length"


def test_origin(lm):
    T = lessons.encode(lm, lessons.Prompt()).ids.shape[0]
    v = lessons.origin_lesson(lm, position=min(5, T - 1))
    t = claims.origin_try(v)
    if not t.premise.holds:
        return _not_shown(t)
    k = T // 2  # "a middle position"
    moved = []
    for factor in _grid(*FACTOR_SLIDER)[2::4]:  # 1, 3, 5, ... 19: "step by step"
        s = lessons.origin_lesson(lm, position=k, factor=float(factor)).moves_summary.set_index("intervention")
        base = verdicts.has_sink(float(s.loc["baseline", "sink_first"]), T)
        at_k = float(s.loc["amplify", "sink_at_k"])
        if verdicts.moved(100 * at_k / float(s.loc["baseline", "sink_first"]), k, base, after=at_k).holds:
            moved.append(float(factor))
            break
    assert moved, f"no amplify factor on the slider {FACTOR_SLIDER} makes position {k} collect the sink"
