"""Every supported family: sinklab.run equals the HF eager forward (fp32, right padding), records the same
names, loads from a directory, and keeps its dtype rules; unsupported variants are refused clearly."""
from __future__ import annotations

import pytest
import torch

import sinklab
from helpers import assert_unchanged, snapshot
from sinklab.model import families, layout
from sinklab.model.families import random_model
from sinklab.model.names import POINTS, act_name

VARIANTS = [
    ("gpt2", {}),
    ("gpt2", dict(n_embd=48, n_head=4)),  # d_head 12: a scale that is not a power of two
    ("gpt2", dict(scale_attn_by_inverse_layer_idx=True)),
    ("gpt_neo", {}),  # global and local (window 5) layers, no scaling, no q/k/v bias
    ("gpt_neo", dict(hidden_size=48, num_heads=4, window_size=3)),
    ("opt", {}),
    ("opt", dict(hidden_size=48, word_embed_proj_dim=48, num_attention_heads=4, enable_bias=False)),
    ("llama", {}),  # grouped-query attention, 4 query heads on 2 kv heads
    ("llama", dict(attention_bias=True, head_dim=8)),  # head_dim != hidden / heads
    ("llama", dict(rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0})),
    ("qwen2", {}),  # GQA, q/k/v biases, sliding-window layers after the first
    ("qwen2", dict(num_key_value_heads=4, use_sliding_window=False)),
    ("gpt_neox", {}),  # Pythia's block: attention and MLP in parallel, rotary on a quarter of each head
    ("gpt_neox", dict(use_parallel_residual=False, rotary_pct=1.0, attention_bias=False)),  # sequential, full rotary
]


def _id(v):
    t, kw = v
    return t + "".join(f"-{k}{v}" for k, v in kw.items() if not isinstance(v, dict)) + ("-rope" if any(
        isinstance(x, dict) for x in kw.values()) else "")


def padded_batch(seed=3, T=17, vocab=101):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (3, T), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0
    mask[2, 4:] = 0
    return ids, mask


@pytest.mark.parametrize("variant", VARIANTS, ids=_id)
def test_matches_hf_eager_with_right_padding(variant):
    model_type, kw = variant
    model = random_model(model_type, **kw)
    before = snapshot(model)
    ids, mask = padded_batch()
    with torch.no_grad():
        ref = model(ids, attention_mask=mask, output_attentions=True)
    tr = sinklab.run(model, ids, mask)
    valid = mask.bool()
    torch.testing.assert_close(tr.logits[valid], ref.logits[valid], atol=1e-5, rtol=0)
    fam = families.of(model)
    assert len(ref.attentions) == fam.n_layer
    for l in range(fam.n_layer):
        got, want = tr.pattern(l), ref.attentions[l]  # [batch, head, q, k]
        rows = valid[:, None, :, None].expand_as(got)
        torch.testing.assert_close(got[rows], want[rows], atol=1e-5, rtol=0)
        pad_keys = (valid[:, None, :, None] & ~valid[:, None, None, :]).expand_as(got)  # real query, padding key
        assert torch.all(got[pad_keys] == 0), "padding keys got attention"
        w = fam.window(l)
        if w is not None:  # a local layer: nothing beyond the window
            q, k = torch.meshgrid(torch.arange(17), torch.arange(17), indexing="ij")
            far = (q - k >= w)[None, None] & valid[:, None, :, None]  # real queries, keys beyond the window
            assert torch.all(got[far.expand_as(got)] == 0)
    assert_unchanged(model, before)
    # the test is not vacuous: attention is neither uniform nor one-hot
    p = tr.pattern(1)[0, :, -1]
    assert 0.05 < p.max() < 0.9999


@pytest.mark.parametrize("model_type", list(families.SMALL))
def test_same_names_shapes_and_residual_sums(model_type):
    model = random_model(model_type)
    fam = families.of(model)
    tr = sinklab.run(model, torch.arange(10))
    H, K, dh = fam.n_head, fam.n_kv_head, fam.d_head
    assert tr.family == model_type
    assert tr["q", 0].shape == (1, 10, H, dh)
    assert tr["k", 0].shape == tr["v", 0].shape == (1, 10, K, dh)
    assert tr["z", 0].shape == (1, 10, H, dh)
    assert tr["attn_scores", 1].dtype == torch.float32
    assert torch.equal(tr["hook_pos_ids"], torch.arange(10)[None])
    for name, point in POINTS.items():  # every point the family has is recorded, and only those
        assert (act_name(name, 0 if point.per_layer else None) in tr) == point.exists(fam.rotary), name
    for l in range(fam.n_layer):
        torch.testing.assert_close(tr["resid_post", l], tr["resid_mid", l] + tr["mlp_out", l])
        torch.testing.assert_close(tr["resid_mid", l], tr["resid_pre", l] + tr["attn_out", l])
        # the MLP's input: the block's input when attention and MLP run in parallel (GPT-NeoX), else resid_mid
        torch.testing.assert_close(tr["ln2", l], fam.ln2(l, tr["resid_pre" if fam.parallel else "resid_mid", l]))
    assert fam.parallel == (model_type == "gpt_neox")
    x = tr["ln1", 1]  # q and k from the typed views, before the rotation (TL's hook_q / hook_k)
    w = families.attn_weights(model, 1)
    q = (x @ w.W_Q + (w.b_Q if w.b_Q is not None else 0)).view(1, 10, H, dh)
    k = w.to_kv((x @ w.W_K + (w.b_K if w.b_K is not None else 0)).view(1, 10, H, dh))
    torch.testing.assert_close(tr["q", 1], q, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tr["k", 1], k, atol=1e-5, rtol=1e-5)
    assert (("rot_q", 1) in tr) == (("rot_k", 1) in tr) == fam.rotary
    if fam.rotary:  # after QK-norm (Gemma 3) and the rotation (TL's hook_rot_q / hook_rot_k): what the scores are made of
        cos, sin = fam.rotary_angles(tr["hook_pos_ids"], x, 1)
        q, k = fam.qk_norm(1, q, k)
        q, k = layout.rotate(q, cos, sin), layout.rotate(k, cos, sin)
        torch.testing.assert_close(tr["rot_q", 1], q, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(tr["rot_k", 1], k, atol=1e-5, rtol=1e-5)
    scores = q.transpose(1, 2) @ layout.repeat_kv(k, H).permute(0, 2, 3, 1) * fam.attn_scale(1)
    allow = layout.allowed(10, torch.ones(1, 10), fam.window(1))
    torch.testing.assert_close(tr["attn_scores", 1], scores.masked_fill(~allow, torch.finfo(torch.float32).min),
                               atol=1e-5, rtol=1e-5)
    z = (tr["pattern", 1] @ layout.repeat_kv(tr["v", 1], H).transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(tr["z", 1], z, atol=1e-5, rtol=1e-5)  # [batch, pos, head, d_head]
    # the MLP as a pure function equals its recorded output
    torch.testing.assert_close(fam.mlp(1, tr["ln2", 1]), tr["mlp_out", 1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_type", list(families.SMALL))
def test_typed_views_reproduce_the_hf_projections(model_type):
    model = random_model(model_type)
    fam = families.of(model)
    x = torch.randn(2, 5, fam.d_model)
    w = fam.attn_weights(2)
    q, k, v = fam.qkv(2, x)  # the HF modules' own projections
    b = lambda t: 0 if t is None else t  # noqa: E731
    assert w.W_Q.shape == w.W_K.shape == w.W_V.shape == (fam.d_model, fam.n_head * fam.d_head)
    torch.testing.assert_close(x @ w.W_Q + b(w.b_Q), q.flatten(-2))
    torch.testing.assert_close(layout.repeat_kv(k, fam.n_head).flatten(-2), x @ w.W_K + b(w.b_K))
    torch.testing.assert_close(layout.repeat_kv(v, fam.n_head).flatten(-2), x @ w.W_V + b(w.b_V))
    assert (w.b_Q is None) == (model_type in ("gpt_neo", "llama", "gemma3_text"))
    assert families.mlp_out_rows(model, 0).shape[1] == fam.d_model
    assert families.mlp_in_columns(model, 0).shape[0] == fam.d_model


def test_scale_per_family():
    assert families.attn_scale(random_model("gpt_neo"), 0) == 1.0
    assert families.attn_scale(random_model("opt").config, 1) == 0.25
    assert families.attn_scale(random_model("llama", head_dim=8), 0) == 8 ** -0.5


@pytest.mark.parametrize("model_type", list(families.SMALL))
def test_loading_each_family_from_a_directory(tmp_path, model_type):
    from sinklab.model.bytetok import byte_tokenizer

    model = random_model(model_type, vocab_size=257)
    model.save_pretrained(tmp_path)
    byte_tokenizer().save_pretrained(tmp_path)
    lm = sinklab.load_model(str(tmp_path))
    assert lm.info.family == model_type and lm.model.config._attn_implementation == "eager"
    fam = families.of(model)
    assert (lm.info.n_layer, lm.info.n_head, lm.info.d_model) == (fam.n_layer, fam.n_head, fam.d_model)
    ids = torch.arange(12)
    torch.testing.assert_close(sinklab.run(lm.model, ids).logits, sinklab.run(model, ids).logits)


def test_unsupported_model_type_names_the_supported_ones(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    BertForMaskedLM(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(sinklab.BadInput) as err:
        sinklab.load_model(str(tmp_path))
    for t in ("'bert'", "gpt2", "gpt_neo", "opt", "llama", "qwen2"):
        assert t in str(err.value)
    with pytest.raises(sinklab.BadInput, match="gpt2, gpt_neo, opt, llama, qwen2"):
        sinklab.run(BertForMaskedLM(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                               intermediate_size=64, vocab_size=50)), torch.arange(4))


@pytest.mark.parametrize("kw,match", [
    (dict(do_layer_norm_before=False), "after attention.*pre-LN"),
    (dict(word_embed_proj_dim=32), "project_in/out"),
])
def test_opt_variants_outside_the_common_case_are_refused(tmp_path, kw, match):
    from sinklab.model.bytetok import byte_tokenizer

    model = random_model("opt", vocab_size=257, **kw)
    with pytest.raises(sinklab.BadInput, match=match):
        sinklab.run(model, torch.arange(5))
    model.save_pretrained(tmp_path)
    byte_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(sinklab.BadInput, match=match):
        sinklab.load_model(str(tmp_path))


# ------------------------------------------------------------------------------ what is computed
@pytest.mark.parametrize("model_type", ["gpt2", "llama"])
def test_lm_head_and_later_blocks_are_skipped_when_not_asked(monkeypatch, model_type):
    model = random_model(model_type)
    cls = type(families.of(model))
    ran: list = []
    real_ln1, real_unembed = cls.ln1, cls.unembed
    monkeypatch.setattr(cls, "ln1", lambda self, l, x: ran.append(l) or real_ln1(self, l, x))
    monkeypatch.setattr(cls, "unembed", lambda self, x: ran.append("head") or real_unembed(self, x))
    ids = torch.arange(9)
    full = sinklab.run(model, ids)
    assert ran == [0, 1, 2, "head"]
    ran.clear()
    tr = sinklab.run(model, ids, names=["blocks.1.attn.hook_pattern"])
    assert ran == [0, 1] and set(tr.cache) == {"blocks.1.attn.hook_pattern"}
    assert torch.equal(tr.pattern(1), full.pattern(1))
    ran.clear()
    tr = sinklab.run(model, ids, names=lambda n: n.endswith("hook_pattern"))
    assert ran == [0, 1, 2] and "logits" not in tr
    ran.clear()
    tr = sinklab.run(model, ids, stop_at_layer=2)
    assert ran == [0, 1] and "logits" not in tr and "blocks.2.hook_resid_pre" not in tr
    assert torch.equal(tr["resid_post", 1], full["resid_post", 1])
    ran.clear()
    tr = sinklab.run(model, ids, names=["ln_final.hook_normalized"])
    assert ran == [0, 1, 2, "head"]
    with pytest.raises(sinklab.BadInput, match="stop_at_layer"):
        sinklab.run(model, ids, stop_at_layer=4)


# ------------------------------------------------------------------------------ dtypes (the GPU path, on CPU)
@pytest.mark.parametrize("model_type", ["gpt2", "gpt_neo", "opt", "llama", "qwen2"])
def test_half_precision_computes_scores_and_softmax_in_fp32(model_type):
    model = random_model(model_type)
    ids, mask = padded_batch()
    fp32 = sinklab.run(model, ids, mask)
    with torch.no_grad():
        ref32 = model(ids, attention_mask=mask)
    half = model.to(torch.bfloat16)
    try:
        tr = sinklab.run(half, ids, mask)
        with torch.no_grad():
            ref = half(ids, attention_mask=mask)
    finally:
        model.float()
    assert tr["attn_scores", 1].dtype == torch.float32  # scores and softmax in fp32 ...
    assert tr.pattern(1).dtype == torch.bfloat16  # ... the pattern weighs the values in the model's dtype
    assert tr["resid_post", 1].dtype == tr.logits.dtype == torch.bfloat16
    assert torch.isfinite(tr.logits).all()
    valid = mask.bool()
    err = lambda a, b: float((a[valid].float() - b[valid].float()).abs().max())  # noqa: E731
    # at least as close to the fp32 forward as HF's own bf16 eager forward is, and close to the latter
    assert err(tr.logits, fp32.logits) <= 1.25 * err(ref.logits, ref32.logits) + 0.02
    assert err(tr.logits, ref.logits) < 0.2
    p, p32 = tr.pattern(1).float(), fp32.pattern(1)
    assert (p - p32)[valid[:, None, :, None].expand_as(p)].abs().max() < 0.06
