"""EPE, γ, Δ, the alignment and the score decomposition on every family: computed where defined, and a
NotApplicable saying why where not; the Δ percentile table computed like the authors' published one."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sinklab
from sinklab.analyses import decomposition as dc
from sinklab.analyses import epe, gamma
from sinklab.model import families
from sinklab.published import reference
from sinklab.model.families import random_model
from sinklab.interventions import NotApplicable

FAMS = list(families.SMALL)


def padded_trace(model, T=15):
    ids = torch.randint(0, 101, (3, T), generator=torch.Generator().manual_seed(5))
    mask = torch.ones_like(ids)
    mask[2, 9:] = 0
    return sinklab.run(model, ids, mask)


@pytest.fixture(scope="module")
def models():
    return {t: random_model(t) for t in FAMS}


@pytest.fixture(scope="module")
def traces(models):
    return {t: padded_trace(m) for t, m in models.items()}


# ------------------------------------------------------------------------------ EPE
@pytest.mark.parametrize("t", ["gpt2", "gpt_neo", "opt"])
@pytest.mark.parametrize("ln2", [False, True])
def test_epe_uses_the_family_table_and_first_mlp(models, t, ln2):
    m = models[t]
    with torch.no_grad():
        if t == "opt":
            b = m.model.decoder.layers[0]
            p = m.model.decoder.embed_positions.weight[2:]  # OPT: row i + 2 is position i
            x = b.final_layer_norm(p) if ln2 else p
            want = b.fc2(b.activation_fn(b.fc1(x))) + p
        else:
            b = m.transformer.h[0]
            p = m.transformer.wpe.weight
            want = b.mlp(b.ln_2(p) if ln2 else p) + p
    torch.testing.assert_close(epe.epe(m, ln2=ln2), want)
    assert len(epe.massive_coords(m, top=3)) == 3


@pytest.mark.parametrize("t", ["gpt2", "gpt_neo", "opt"])
def test_epe_validation_runs_on_learned_tables(models, traces, t):
    df = epe.epe_validation(traces[t], models[t])
    assert len(df) == int(traces[t].mask.sum()) and df["cosine"].between(-1, 1).all()


@pytest.mark.parametrize("t", ["llama", "qwen2"])
def test_epe_and_everything_built_on_it_refuse_rotary_models(models, traces, t):
    m = models[t]
    for call in (lambda: epe.epe(m), lambda: epe.massive_coords(m), lambda: epe.epe_validation(traces[t], m),
                 lambda: families.pos_embed(m)):
        with pytest.raises(NotApplicable, match="rotary"):
            call()
    assert not families.has_position_embeddings(m)


# ------------------------------------------------------------------------------ decomposition, Δ, γ
@pytest.mark.parametrize("t", ["gpt2", "gpt_neo", "opt"])
def test_decomposition_holds_on_non_rotary_families(models, traces, t):
    check = dc.decomposition_check(traces[t], models[t])
    assert (check["max_sum_error"] < 1e-4).all() and (check["max_prob_error_terms_1_3"] < 1e-5).all(), check
    terms = dc.score_terms(traces[t], models[t], 1)
    if t == "gpt_neo":  # no biases: only the content-content term
        assert torch.all(terms[1:] == 0)
    else:
        assert terms[2].abs().max() > 0


@pytest.mark.parametrize("t", ["llama", "qwen2"])
def test_decomposition_and_delta_refuse_rotary_models(models, traces, t):
    for call in (lambda: dc.score_terms(traces[t], models[t], 0), lambda: dc.decomposition_check(traces[t], models[t]),
                 lambda: dc.delta(traces[t], models[t]), lambda: gamma.gamma(models[t], 0),
                 lambda: gamma.alignment(models[t], 5)):
        with pytest.raises(NotApplicable, match="rotary"):
            call()


@pytest.mark.parametrize("call", [lambda m, tr: dc.delta(tr, m), lambda m, tr: gamma.gamma(m, 0),
                                  lambda m, tr: gamma.gamma_table(m), lambda m, tr: gamma.alignment(m, 5)])
def test_quantities_of_the_query_bias_refuse_gpt_neo(models, traces, call):
    with pytest.raises(NotApplicable, match="no query bias"):
        call(models["gpt_neo"], traces["gpt_neo"])


def test_delta_and_gamma_on_opt_are_the_scaled_term_3(models, traces):
    m, tr = models["opt"], traces["opt"]
    layer, h = 2, 3
    df = dc.delta(tr, m, (layer, layer + 1))
    got = df[(df.example == 0) & (df["head"] == h)].sort_values("position")["delta"].to_numpy()
    want = tr["ln1", layer][0] @ gamma.gamma(m, layer, h)  # [pos]
    torch.testing.assert_close(torch.tensor(got), want, atol=1e-5, rtol=1e-5)
    term3 = dc.score_terms(tr, m, layer)[2, 0, h, -1]
    torch.testing.assert_close(term3, want * families.attn_scale(m, layer), atol=1e-5, rtol=1e-5)
    assert len(gamma.gamma_table(m)) == families.of(m).n_layer * len(epe.massive_coords(m))


# ------------------------------------------------------------------------------ the alignment (Fig. 2)
@pytest.mark.parametrize("t", ["gpt2", "opt"])
def test_alignment_per_head_and_over_concatenated_heads(models, t):
    m = models[t]
    heads = gamma.alignment_heads(m, positions=6)
    fam = families.of(m)
    assert len(heads) == fam.n_layer * fam.n_head * 6
    w = families.attn_weights(m, 1)
    e = epe.epe(m)[:6]
    h = 2
    sl = w.head_slice(h)
    want = torch.nn.functional.cosine_similarity(e @ w.W_K[:, sl], w.b_Q[sl][None], dim=-1)
    got = heads[(heads.layer == 1) & (heads["head"] == h)].sort_values("position")["cosine"].to_numpy()
    np.testing.assert_allclose(got, want.numpy(), atol=1e-6)
    mean = gamma.alignment(m, positions=6, over="heads")
    np.testing.assert_allclose(mean["cosine"], heads.groupby(["layer", "position"])["cosine"].mean().to_numpy(),
                               atol=1e-7)
    concat = gamma.alignment(m, positions=6)
    want = torch.nn.functional.cosine_similarity(e @ w.W_K, w.b_Q[None], dim=-1)
    np.testing.assert_allclose(concat[concat.layer == 1]["cosine"], want.numpy(), atol=1e-6)
    assert list(mean.columns) == list(concat.columns) == ["layer", "position", "cosine", "first"]
    with pytest.raises(sinklab.BadInput, match="over"):
        gamma.alignment(m, over="sum")


# ------------------------------------------------------------------------------ the authors' Δ table
@pytest.mark.parametrize("t", ["gpt2", "opt"])
def test_delta_percentiles_computed_like_the_authors(models, t):
    m = models[t]
    ids = torch.randint(0, 101, (4, 10), generator=torch.Generator().manual_seed(9))
    tr = sinklab.run(m, ids)
    table = dc.delta_percentiles_authors(tr, m)
    published = reference.delta_percentiles()
    assert list(table.columns) == list(published.columns)
    fam = families.of(m)
    assert len(table) == fam.n_layer * 10 and table["layer"].min() == 0 == published["layer"].min()
    # the authors' code, re-done in numpy: bq_k [S, L, H, P], min over positions subtracted, pooled over S and H
    data = np.stack([np.stack([(tr["ln1", l] @ torch.stack([gamma.gamma(m, l, h) for h in range(fam.n_head)]).T)
                               .permute(0, 2, 1).numpy() for l in range(fam.n_layer)], 1)])[0]  # [S, L, H, P]
    data = data - data.min(axis=3, keepdims=True)
    for l, pos in [(0, 0), (1, 4), (fam.n_layer - 1, 9)]:
        vals = data[:, l, :, pos].ravel()
        row = table[(table.layer == l) & (table.position == pos)].iloc[0]
        np.testing.assert_allclose([row.p10, row.p50, row.p90, row["mean"], row["std"]],
                                   [np.percentile(vals, 10), np.percentile(vals, 50), np.percentile(vals, 90),
                                    vals.mean(), vals.std()], rtol=1e-5, atol=1e-5)
    assert (table["p10"] >= 0).all()  # min-normalised
