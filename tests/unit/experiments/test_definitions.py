"""The reproduction's definitions, on synthetic numbers (no model): the cost frontier's tolerance and what may be on
it, the band names, the circuit authors' (j) draw, and sliding-window layers in the sink score."""
from __future__ import annotations

import random
import warnings

import pandas as pd
import pytest
import torch

from sinklab.analyses import bands, metrics
from sinklab.errors import BadInput
from sinklab.experiments import KeyCoords, Plan
from sinklab.experiments.catalogue.cost import CE_TOL, REDUCTION_TOL, frontier
from sinklab.experiments.settings import authors_draw
from sinklab.model.forward import Trace
from sinklab.model.names import act_name


# ------------------------------------------------------------------------------------------ the cost frontier
def _group(rows):
    return pd.DataFrame(rows, columns=["intervention", "reduction_pct", "ce_change"])


def test_settings_equal_to_float_noise_are_one_point_of_the_frontier():
    """(d) and transplant@1 are the same edit; computed in different batches they differ by ~2e-8. Whichever is
    a hair ahead, both have the same status (before: one of them was 'dominated', flipping between runs)."""
    for eps in (2e-8, -2e-8):
        g = _group([("baseline", 0.0, 0.0), ("d", 93.8, 0.938), ("transplant", 93.8 + eps, 0.938 - abs(eps)),
                    ("c", 97.0, 3.757), ("b", 55.6, 1.605), ("i", 35.0, 0.257)])
        status = frontier(g).tolist()
        assert status == ["", "on", "on", "on", "dominated", "on"], (eps, status)


def test_the_tolerance_is_small_and_a_real_difference_still_dominates():
    g = _group([("d", 93.8, 0.938), ("transplant", 93.8 + 10 * REDUCTION_TOL, 0.938 - 10 * CE_TOL)])
    assert frontier(g).tolist() == ["dominated", "on"]
    assert REDUCTION_TOL < 0.05 and CE_TOL < 0.0005  # below what report.md shows (0.1 %, 0.001 nats)


def test_settings_that_raise_the_sink_or_remove_nothing_are_never_on_the_frontier():
    """However cheap: a setting that raises the sink at position 0 (a negative reduction) at a CE gain, or removes
    nothing at no cost, would be 'on' a plain Pareto front; here they are flagged instead."""
    g = _group([("baseline", 0.0, 0.0), ("f", -4.7, -0.37), ("e", 0.0005, 0.0), ("b", 22.0, 0.30),
                ("x", float("nan"), 0.1)])
    assert frontier(g).tolist() == ["", "raises", "none", "on", "n/a"]


# ------------------------------------------------------------------------------------------ band names
def test_band_names_say_what_they_are_and_the_default_is_the_metrics_own():
    assert bands.DEFAULT == "drop-quarter" and Plan(models=("textbook",)).band == "drop-quarter"
    for L in (3, 6, 12, 24, 36):
        assert bands.resolve("drop-quarter", L) == metrics.paper_layers(L)  # the app's layers: one truth
    assert bands.resolve("drop-3", 6) == (3, 5) and bands.resolve("drop-3", 24) == (3, 23)
    assert {b: bands.resolve(b, 12) for b in bands.BANDS} == {b: (3, 11) for b in bands.BANDS}
    assert "drop-quarter [1, 5) of 6 layers" == bands.describe("drop-quarter", 6)


def test_old_band_names_still_work_and_paper_says_it_is_deprecated():
    with pytest.warns(FutureWarning, match="'paper' is deprecated.*drop-quarter"):
        assert bands.check_spec("paper") == "drop-quarter"
    with pytest.warns(FutureWarning):
        assert Plan(models=("textbook",), band="paper").band == "drop-quarter"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # extension is the extension's name for drop-3: no warning
        assert bands.check_spec("extension") == "drop-3" and bands.resolve("extension", 24) == (3, 23)
        assert bands.describe("extension", 12) == "drop-3 [3, 11) of 12 layers"
    with pytest.raises(BadInput, match="drop-quarter, drop-3, authors"):
        bands.check_spec("quarter")


# ------------------------------------------------------------------------------------------ the authors' (j)
def test_the_authors_draw_is_random_seed_then_randint_layer_after_layer():
    """Their code: random.seed(seed) once (per input), then in every layer, from layer 0, n × randint(0, d - 1)."""
    random.seed(42)
    theirs = [[random.randint(0, 767) for _ in range(3)] for _ in range(12)]
    assert [authors_draw(42, 768, 3, layer) for layer in range(12)] == [tuple(sorted(set(t))) for t in theirs]
    assert authors_draw(42, 768, 3, 0) == (25, 114, 654)


def test_a_coordinate_drawn_twice_is_zeroed_once():
    random.seed(3)
    theirs = [[random.randint(0, 3) for _ in range(3)] for _ in range(20)]
    repeated = [layer for layer, t in enumerate(theirs) if len(set(t)) < 3]
    assert repeated  # with 4 coordinates, some layer draws one twice
    assert all(authors_draw(3, 4, 3, layer) == tuple(sorted(set(theirs[layer]))) for layer in repeated)


def test_the_authors_draw_is_an_option_and_says_so():
    k = KeyCoords(j_authors=True, j_seed=42)
    assert "circuit authors' draw" in k.check().describe() and "seed 42" in k.describe()
    assert "sinklab's per-layer draw" in KeyCoords(j_per_layer=True, j_seed=42).describe()
    assert Plan(models=("textbook",), j_authors=True, j_seed=42).key_coords == k
    with pytest.raises(BadInput, match="j_authors"):
        KeyCoords(j_authors="yes").check()


def test_explicit_coordinates_are_stated_once_each():
    k = KeyCoords(coords=(447, 138, 138, 378))
    assert k.coords == (138, 378, 447) and "the coordinates 138, 378, 447;" in k.describe()


# ------------------------------------------------------------------------------------------ sliding windows
def _trace(patterns: torch.Tensor, windows=None) -> Trace:
    """A trace holding `patterns` [layer, batch, head, query, key] (and, if given, each layer's window)."""
    L, B, H, T, _ = patterns.shape
    tr = Trace(ids=torch.zeros(B, T, dtype=torch.long), mask=torch.ones(B, T, dtype=torch.long), n_layer=L,
               n_head=H, cache={act_name("pattern", l): patterns[l] for l in range(L)}, family="gpt_neo")
    if windows is not None:
        tr.windows = tuple(windows)  # what the forward records (Trace.windows)
    return tr


def _causal(L=3, B=2, H=2, T=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(L, B, H, T, T, generator=g)
    return s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf")).softmax(-1)


def test_a_trace_without_windows_is_scored_exactly_as_before():
    p = _causal()
    tr = _trace(p)
    sel = torch.zeros(8, dtype=torch.bool)
    sel[4:] = True  # the second half
    col = p[..., 0].float()
    w = sel.float()[None, None, None, :]
    before = ((col * w).sum(-1) / w.sum(-1).clamp(min=1)).permute(1, 0, 2)  # the formula before windows
    assert torch.equal(metrics.attention_to(tr, 0), before)
    assert torch.equal(metrics.sink_score(tr, 0, layers=(0, 3)), before.mean((1, 2)))
    assert torch.equal(metrics.attention_to(_trace(p, (None, 100, None)), 0), before)  # windows that hide nothing


def test_queries_whose_window_hides_the_key_are_left_out():
    """Layer 1 has a window of 3: key 0 is hidden from queries 3..7, i.e. from every second-half query (4..7): the
    layer drops out (NaN), and the band's score is the mean of layers 0 and 2. Layer 2 (window 6) hides it from
    queries 6, 7 only: its value is the mean over queries 4, 5."""
    T = 8
    p = _causal(T=T)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    for l, w in ((1, 3), (2, 6)):  # the forward's mask: key j seen by query i iff j > i - w
        p[l] = p[l].masked_fill(~allowed.triu(-(w - 1)), 0.0)
        p[l] = p[l] / p[l].sum(-1, keepdim=True)
    tr = _trace(p, (None, 3, 6))
    a = metrics.attention_to(tr, 0)  # [batch, layer, head]
    assert torch.allclose(a[:, 0], p[0, :, :, 4:, 0].mean(-1))
    assert a[:, 1].isnan().all()
    assert torch.allclose(a[:, 2], p[2, :, :, 4:6, 0].mean(-1))
    assert torch.allclose(metrics.sink_score(tr, 0, layers=(0, 3)), torch.stack([a[:, 0], a[:, 2]], 1).mean((1, 2)))
    assert metrics.sink_score(tr, 0, layers=(1, 2)).isnan().all()  # no layer of the band sees the key: n/a
    gu = metrics.sink_score(tr, 0, metric="gu", layers=(0, 3))  # Gu's rule: the share among the layers that see it
    assert ((gu >= 0) & (gu <= 1)).all()
    plain = metrics.sink_score(_trace(p), 0, layers=(0, 3))  # the masked zeros averaged in: what windows undo
    assert (plain < metrics.sink_score(tr, 0, layers=(0, 3))).all()
    per_layer = metrics.per_layer(tr, 0)
    assert per_layer.set_index("layer")["value"].isna().tolist() == [False, True, False]


def test_which_band_layers_hide_the_key():
    windows = (None, 256, None, 256)
    assert metrics.hidden_key_layers(windows, 40, 0) == ((), ())  # the paper's 40 tokens: nothing hidden
    assert metrics.hidden_key_layers(windows, 512, 0) == ((), (1, 3))  # GPT-Neo at 512: half the band
    assert metrics.hidden_key_layers(windows, 300, 0) == ((1, 3), ())  # queries 150..255 still see it
    assert metrics.hidden_key_layers(windows, 300, 1) == ((1, 3), ())
