"""Invariants of the circuit quantities on random GPT-2s (no trained weights needed)."""
from __future__ import annotations

import pytest
import torch

import sinklab
from helpers import random_gpt2
from sinklab.model import families
from sinklab.analyses import decomposition as dc
from sinklab.analyses import effects, epe, gamma
from sinklab import metrics
from sinklab.interventions import make

SHAPES = [dict(n_layer=2, n_head=2, n_embd=32), dict(n_layer=4, n_head=4, n_embd=64),
          dict(n_layer=3, n_head=8, n_embd=64, scale_attn_by_inverse_layer_idx=True)]


@pytest.fixture(params=SHAPES, ids=["L2H2", "L4H4", "L3H8inv"])
def model_and_trace(request):
    model = random_gpt2(**request.param)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, 101, (3, 18), generator=g)
    mask = torch.ones_like(ids)
    mask[2, 12:] = 0
    return model, sinklab.run(model, ids, mask)


def test_four_terms_sum_to_the_model_scores(model_and_trace):
    model, tr = model_and_trace
    check = dc.decomposition_check(tr, model)
    assert (check["max_sum_error"] < 1e-5).all(), check


def test_softmax_of_terms_1_and_3_equals_the_pattern(model_and_trace):
    model, tr = model_and_trace
    check = dc.decomposition_check(tr, model)
    assert (check["max_prob_error_terms_1_3"] < 1e-5).all(), check
    # but dropping term 3 does change it (the check is not vacuous)
    terms = dc.score_terms(tr, model, 1)
    p1 = dc.attention_from_terms(terms, tr.mask, use=(0,))
    assert (p1 - tr.pattern(1)).abs().max() > 1e-4


def test_terms_2_and_4_are_constant_along_keys_and_term_3_along_queries(model_and_trace):
    model, tr = model_and_trace
    t = dc.score_terms(tr, model, 0)
    assert torch.allclose(t[1], t[1][..., :1].expand_as(t[1]))
    assert torch.allclose(t[3], t[3][..., :1, :1].expand_as(t[3]))
    assert torch.allclose(t[2], t[2][..., :1, :].expand_as(t[2]))


def test_delta_equals_bq_wk_x_and_the_scaled_term_3(model_and_trace):
    model, tr = model_and_trace
    d = model.config.n_embd
    H = model.config.n_head
    dh = d // H
    layer = model.config.n_layer - 1
    df = dc.delta(tr, model, (layer, layer + 1))
    x = tr["ln1", layer]
    w = families.attn_weights(model, layer)
    w_k, b_q = w.W_K, w.b_Q
    h = H - 1
    want = x[0] @ w_k[:, h * dh:(h + 1) * dh] @ b_q[h * dh:(h + 1) * dh]  # [pos]
    got = df[(df.example == 0) & (df["head"] == h)].sort_values("position")["delta"].to_numpy()
    torch.testing.assert_close(torch.tensor(got), want.float(), atol=1e-5, rtol=1e-5)
    term3 = dc.score_terms(tr, model, layer)[2, 0, h, -1]  # same for every query
    scale = families.attn_scale(model.config, layer)
    torch.testing.assert_close(term3, want * scale, atol=1e-5, rtol=1e-5)
    # gamma is the same vector: Delta = gamma_h . x
    torch.testing.assert_close(x[0] @ gamma.gamma(model, layer, h), want, atol=1e-5, rtol=1e-5)
    norm = df.groupby(["example", "head"])["delta_norm"].min()
    assert (norm.abs() < 1e-6).all()


def test_gamma_over_heads_sums_to_the_full_gamma(tiny):
    full = gamma.gamma(tiny, 1)
    parts = sum(gamma.gamma(tiny, 1, h) for h in range(tiny.config.n_head))
    torch.testing.assert_close(full, parts, atol=1e-6, rtol=1e-5)


def test_epe_definition_and_validation_at_no_token(tiny):
    e = epe.epe(tiny)
    p = tiny.transformer.wpe.weight
    mlp = tiny.transformer.h[0].mlp
    torch.testing.assert_close(e[3], mlp(p[3][None])[0] + p[3], atol=1e-5, rtol=1e-5)
    # if e_i = 0 then R_i - O_i = EPE_i - MLP(0): with the token embedding zeroed cos is high but defined
    tr = sinklab.run(tiny, torch.arange(6), interventions=make("f"))
    val = epe.epe_validation(tr, tiny)
    assert val.shape[0] == 6 and val["cosine"].between(-1, 1).all()


def test_massive_coords_rule_and_topk(tiny):
    a = epe.epe(tiny)[0].abs()
    top = epe.massive_coords(tiny, top=3)
    assert set(top) == set(torch.topk(a, 3).indices.tolist())
    rule = epe.massive_coords(tiny, k_sigma=0.0)
    assert all(a[c] > a.mean() for c in rule)
    with pytest.raises(sinklab.BadInput):
        epe.massive_coords(tiny, top=0)


def test_paper_layers_rule():
    assert metrics.paper_layers(12) == (3, 11)
    assert metrics.paper_layers(24) == (6, 23)
    assert metrics.paper_layers(6) == (1, 5)
    assert metrics.paper_layers(2) == (0, 2)


def test_attention_to_matches_a_direct_computation(model_and_trace):
    _, tr = model_and_trace
    v = metrics.attention_to(tr, 0)  # [batch, layer, head]
    A = tr.pattern(1)[0]  # [head, q, k] example 0, 18 valid tokens
    torch.testing.assert_close(v[0, 1], A[:, 9:, 0].mean(-1))
    A2 = tr.pattern(1)[2]  # example 2 has 12 valid tokens
    torch.testing.assert_close(v[2, 1], A2[:, 6:12, 0].mean(-1))
    gu = metrics.attention_to(tr, 3, queries="from_key")
    torch.testing.assert_close(gu[0, 1], A[:, 3:, 3].mean(-1))


def test_metric_choice_and_bad_metric(model_and_trace):
    _, tr = model_and_trace
    assert metrics.sink_score(tr, metric="gu").shape == (3,)
    with pytest.raises(sinklab.BadInput, match="metric"):
        metrics.sink_score(tr, metric="nope")
    with pytest.raises(sinklab.BadInput, match="key position"):
        metrics.sink_score(tr, key=99)


def test_cross_entropy_matches_hf_loss(tiny):
    ids = torch.randint(0, 101, (2, 12), generator=torch.Generator().manual_seed(1))
    tr = sinklab.run(tiny, ids)
    with torch.no_grad():
        loss = tiny(ids[:1], labels=ids[:1]).loss
    torch.testing.assert_close(effects.cross_entropy(tr.logits, ids)[0], loss, atol=1e-5, rtol=1e-5)


def test_epe_cache_follows_in_place_weight_edits():
    model = random_gpt2(seed=3)  # a private copy: this test edits it
    before = epe.epe(model)[0].clone()
    with torch.no_grad():
        model.transformer.wpe.weight[0].mul_(2.0)
    assert not torch.allclose(epe.epe(model)[0], before)
