"""sinklab.run equals the HF eager forward, never writes the weights, and is thread-safe."""
from __future__ import annotations

import threading

import pytest
import torch

import sinklab
from helpers import assert_unchanged, random_gpt2, snapshot
from sinklab.interventions import Intervention, NullifyBOS, ScaleQueryBias, SkipMLP, make

SHAPES = [
    dict(n_layer=2, n_head=2, n_embd=32),
    dict(n_layer=3, n_head=4, n_embd=64),
    dict(n_layer=4, n_head=8, n_embd=128, activation_function="gelu"),
    dict(n_layer=2, n_head=4, n_embd=64, scale_attn_by_inverse_layer_idx=True),
]


def hf_forward(model, ids, mask):
    with torch.no_grad():
        return model(ids, attention_mask=mask, output_attentions=True)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
@pytest.mark.parametrize("padded", [False, True])
def test_matches_hf_eager(shape, padded):
    model = random_gpt2(**shape)
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(0, model.config.vocab_size, (3, 17), generator=g)
    mask = torch.ones_like(ids)
    if padded:
        mask[1, 11:] = 0
        mask[2, 4:] = 0
    ref = hf_forward(model, ids, mask)
    tr = sinklab.run(model, ids, mask)
    valid = mask.bool()
    torch.testing.assert_close(tr.logits[valid], ref.logits[valid], atol=1e-5, rtol=0)
    for l in range(model.config.n_layer):
        got, want = tr.pattern(l), ref.attentions[l]  # [batch, head, q, k]
        rows = valid[:, None, :, None].expand_as(got)
        torch.testing.assert_close(got[rows], want[rows], atol=1e-5, rtol=0)
        assert torch.all(got[~valid[:, None, None, :].expand_as(got)] == 0), "padding keys got attention"


def test_records_every_named_intermediate(tiny):
    tr = sinklab.run(tiny, torch.arange(10))
    per_layer = ["hook_resid_pre", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k", "attn.hook_v",
                 "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "hook_attn_out", "hook_resid_mid",
                 "ln2.hook_normalized", "mlp.hook_pre", "mlp.hook_post", "hook_mlp_out", "hook_resid_post"]
    for l in range(tiny.config.n_layer):
        for n in per_layer:
            assert f"blocks.{l}.{n}" in tr
    for n in ["hook_embed", "hook_pos_embed", "ln_final.hook_normalized", "logits"]:
        assert n in tr
    d, H = tiny.config.n_embd, tiny.config.n_head
    assert tr["blocks.0.attn.hook_z"].shape == (1, 10, H, d // H)
    assert tr["blocks.0.mlp.hook_pre"].shape == (1, 10, 4 * d)
    # the residual stream adds up
    torch.testing.assert_close(tr["blocks.1.hook_resid_post"],
                               tr["blocks.1.hook_resid_mid"] + tr["blocks.1.hook_mlp_out"])


def test_names_filter_keeps_only_what_is_asked(tiny):
    tr = sinklab.run(tiny, torch.arange(8), names=["logits", "blocks.0.attn.hook_pattern"])
    assert set(tr.cache) == {"logits", "blocks.0.attn.hook_pattern"}


def test_skip_mlp_changes_only_downstream(tiny):
    ids = torch.arange(12)
    base = sinklab.run(tiny, ids)
    tr = sinklab.run(tiny, ids, interventions=SkipMLP(layers=(1, 2)))
    assert torch.equal(tr["blocks.1.hook_resid_mid"], base["blocks.1.hook_resid_mid"])
    assert torch.all(tr["blocks.1.hook_mlp_out"] == 0)
    assert torch.equal(tr["blocks.0.hook_mlp_out"], base["blocks.0.hook_mlp_out"])
    assert not torch.allclose(tr.logits, base.logits)


def test_zero_query_bias_equals_zeroing_the_weight(tiny):
    ids = torch.arange(12)
    tr = sinklab.run(tiny, ids, interventions=ScaleQueryBias(alpha=0.0))
    edited = random_gpt2()  # same seed: a copy we may edit
    with torch.no_grad():
        for block in edited.transformer.h:
            block.attn.c_attn.bias[: edited.config.n_embd] = 0
    want = sinklab.run(edited, ids)
    torch.testing.assert_close(tr.logits, want.logits, atol=1e-5, rtol=1e-5)
    base = sinklab.run(tiny, ids)
    b_q = tiny.transformer.h[0].attn.c_attn.bias[: tiny.config.n_embd].view(4, 16)  # [head, d_head]
    torch.testing.assert_close(base["blocks.0.attn.hook_q"] - tr["blocks.0.attn.hook_q"], b_q.expand(1, 12, 4, 16))
    assert not torch.equal(tr.logits, base.logits)


def test_per_example_interventions_equal_separate_runs(tiny):
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(0, 101, (4, 15), generator=g)
    per = [None, ScaleQueryBias(alpha=0.0), SkipMLP(), (ScaleQueryBias(alpha=0.0), NullifyBOS())]
    batched = sinklab.run(tiny, ids, per_example=per)
    for i, iv in enumerate(per):
        alone = sinklab.run(tiny, ids[i: i + 1], interventions=iv)
        torch.testing.assert_close(batched.logits[i: i + 1], alone.logits, atol=1e-5, rtol=1e-5)


def test_parameters_bit_identical_after_every_intervention(tiny):
    before = snapshot(tiny)
    ids = torch.arange(20)
    from sinklab.interventions import REGISTRY, InterpolatePE

    explicit = {"zero_neurons": {"neurons": (1, 2)}, "zero_massive": {"coords": (1, 2)}}  # no finder hit on noise
    for iv in [make(label, **explicit.get(label, {})) for label in REGISTRY] + [InterpolatePE(alpha=0.5)]:  # every one, the unregistered too
        sinklab.run(tiny, ids, interventions=iv)
    assert_unchanged(tiny, before)


class _Boom(Intervention):
    points = frozenset({"mlp_out"})

    def apply(self, point, layer, t, model, inputs):
        t.mul_(0)  # tries to write, then fails midway
        raise RuntimeError("boom")


def test_parameters_intact_after_a_run_that_raises(tiny):
    before = snapshot(tiny)
    with pytest.raises(RuntimeError, match="boom"):
        sinklab.run(tiny, torch.arange(9), interventions=(ScaleQueryBias(alpha=0.0), _Boom()))
    assert_unchanged(tiny, before)
    # and the next run is clean
    torch.testing.assert_close(sinklab.run(tiny, torch.arange(9)).logits,
                               sinklab.run(random_gpt2(), torch.arange(9)).logits)


def test_threads_with_different_interventions_match_sequential(tiny):
    ids = torch.arange(16)
    ivs = [None, make("b"), make("c"), make("d"), make("f"), make("g"), make("h"), make("b", alpha=0.5)]
    want = [sinklab.run(tiny, ids, interventions=iv).logits for iv in ivs]
    got: list = [None] * len(ivs)
    errors: list = []

    def work(i):
        try:
            for _ in range(3):
                got[i] = sinklab.run(tiny, ids, interventions=ivs[i]).logits
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(ivs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for w, g_ in zip(want, got):
        assert torch.equal(w, g_)


def test_bad_ids_are_rejected(tiny):
    with pytest.raises(sinklab.BadInput, match="pos >= 1"):
        sinklab.run(tiny, torch.zeros((1, 0), dtype=torch.long))
    with pytest.raises(sinklab.BadInput, match="exceed"):
        sinklab.run(tiny, torch.zeros((1, 65), dtype=torch.long))
    with pytest.raises(sinklab.BadInput, match="per_example"):
        sinklab.run(tiny, torch.zeros((2, 5), dtype=torch.long), per_example=[None])
