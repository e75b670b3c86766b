"""zero_neurons / zero_random_neurons / zero_massive against plain-HF hook implementations (random GPT-2, Llama,
Gemma 3, and SmolLM2's real weights): the same attentions to 1e-5; the control never picks a super neuron; bad
layers, ids and inputs are refused with a reason."""
from __future__ import annotations

import pytest
import torch

import sinklab
from sinklab.model import families
from sinklab.model.families import random_model
from sinklab.interventions import NotApplicable, make

FAMS = ["gpt2", "llama", "gemma3_text"]
IDS = torch.randint(0, 101, (2, 12), generator=torch.Generator().manual_seed(3))


def down_proj(model, layer):
    """The module whose input is the MLP's hidden units (GPT-2's c_proj, Llama's / Gemma's down_proj)."""
    fam = families.of(model)
    return fam.part(layer, "mlp_out")


def decoder_layer(model, layer):
    return families.of(model).blocks[layer]


def hf_attentions(model, ids, mask=None, pre=None, post=None):
    """HF eager attentions with a forward-pre-hook (module, fn) and/or a forward hook (module, fn) installed."""
    handles = []
    if pre:
        handles.append(pre[0].register_forward_pre_hook(lambda m, args: (pre[1](args[0]),) + args[1:]))
    if post:
        def out_hook(m, args, out):
            if isinstance(out, tuple):
                return (post[1](out[0]),) + out[1:]
            return post[1](out)
        handles.append(post[0].register_forward_hook(out_hook))
    try:
        with torch.no_grad():
            return model(ids, attention_mask=mask, output_attentions=True).attentions
    finally:
        for h in handles:
            h.remove()


def zero_units(units):
    def f(x):
        x = x.clone()
        x[..., list(units)] = 0
        return x
    return f


def zero_first(coords):
    def f(h):
        h = h.clone()
        h[:, 0, list(coords)] = 0
        return h
    return f


def assert_same_attentions(tr, atts, mask=None):
    for l, a in enumerate(atts):
        got = tr.pattern(l)
        if mask is not None:
            rows = mask.bool()[:, None, :, None].expand_as(got)
            got, a = got[rows], a[rows]
        torch.testing.assert_close(got, a, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def models():
    return {t: random_model(t) for t in FAMS}


@pytest.mark.parametrize("t", FAMS)
def test_zero_neurons_equals_zeroing_the_down_projection_inputs(models, t):
    m = models[t]
    iv = make("zero_neurons", layer=1, neurons=(3, 17, 40))
    tr = sinklab.run(m, IDS, interventions=iv)
    assert_same_attentions(tr, hf_attentions(m, IDS, pre=(down_proj(m, 1), zero_units((3, 17, 40)))))
    assert torch.all(tr["post", 1][..., [3, 17, 40]] == 0)
    assert not torch.equal(tr["post", 2], sinklab.run(m, IDS)["post", 2])  # it changed what follows


@pytest.mark.parametrize("t", FAMS)
def test_zero_massive_equals_zeroing_position_0_after_the_block(models, t):
    m = models[t]
    tr = sinklab.run(m, IDS, interventions=make("zero_massive", layer=0, coords=(5, 9)))
    assert_same_attentions(tr, hf_attentions(m, IDS, post=(decoder_layer(m, 0), zero_first((5, 9)))))
    base = sinklab.run(m, IDS)
    assert torch.equal(tr["resid_post", 0][:, 1:], base["resid_post", 0][:, 1:])  # only position 0 is edited


@pytest.mark.parametrize("t", FAMS)
def test_the_random_control_equals_its_drawn_units(models, t):
    m = models[t]
    iv = make("zero_random_neurons", layer=2, n=4, seed=7)
    drawn = iv.chosen(m, IDS, torch.ones_like(IDS))
    assert all(len(d) == 4 for d in drawn)
    tr = sinklab.run(m, IDS[:1], interventions=iv)
    assert_same_attentions(tr, hf_attentions(m, IDS[:1], pre=(down_proj(m, 2), zero_units(drawn[0]))))
    assert make("zero_random_neurons", layer=2, n=4, seed=7).chosen(m, IDS, torch.ones_like(IDS)) == drawn
    assert make("zero_random_neurons", layer=2, n=4, seed=8).chosen(m, IDS, torch.ones_like(IDS)) != drawn


@pytest.mark.parametrize("kw,match", [
    (dict(layer=3), "layer"), (dict(layer=-1), "layer"), (dict(layer=0, neurons=(1, 1)), "repeat"),
    (dict(layer=0, neurons=(96,)), "neurons"), (dict(layer=0, neurons=()), "empty")])
def test_bad_layers_and_neuron_ids_are_refused(models, kw, match):
    with pytest.raises(sinklab.BadInput, match=match):
        sinklab.run(models["llama"], IDS, interventions=make("zero_neurons", **kw))


def test_found_neurons_and_massive_coords_are_refused_where_there_are_none(models):
    """A random model has no super neuron and no massive coordinate: a refusal with the reason, never a no-op."""
    m = models["llama"]
    with pytest.raises(NotApplicable, match="no super neuron in layer 1"):
        sinklab.run(m, IDS, interventions=make("zero_neurons", layer=1))
    with pytest.raises(NotApplicable, match="no coordinate of position 0 is massive after block 1"):
        sinklab.run(m, IDS, interventions=make("zero_massive", layer=1))
    from sinklab.analyses import effects

    ok, skipped = effects.runnable(m, {"zn": make("zero_neurons", layer=1), "a": None}, 12, IDS)
    assert set(ok) == {"a"} and "no super neuron" in skipped["zn"]


# ------------------------------------------------------------------------------ on SmolLM2's real weights
TEXTS = ["The quick brown fox jumps over the lazy dog near the river bank.",
         "def add(a, b):\n    return a + b\n\nprint(add(2, 3))"]


@pytest.fixture(scope="module")
def real(smollm2):
    toks = [sinklab.tokenize(smollm2.tokenizer, t, max_tokens=24) for t in TEXTS]
    ids, mask = sinklab.batch(toks)
    return smollm2.model, ids, mask


def test_found_super_neurons_on_smollm2_equal_a_plain_hf_hook(real):
    m, ids, mask = real
    iv = make("zero_neurons", layer=11)
    found = iv.chosen(m, ids, mask)
    assert found == [(1229, 1487)] * 2  # largest write first
    tr = sinklab.run(m, ids, mask, interventions=iv)
    assert_same_attentions(tr, hf_attentions(m, ids, mask, pre=(down_proj(m, 11), zero_units((1229, 1487)))), mask)


def test_the_control_never_picks_a_super_neuron_on_smollm2(real):
    m, ids, mask = real
    for seed in range(30):
        for drawn in make("zero_random_neurons", layer=11, n=2, seed=seed).chosen(m, ids, mask):
            assert not {1229, 1487} & set(drawn)
    # a draw as large as the pool: every unit but the excluded ones
    assert make("zero_random_neurons", layer=11, n=8, seed=0).drawn(10, {3, 4}) == (0, 1, 2, 5, 6, 7, 8, 9)


def test_zero_massive_on_smollm2_zeroes_coordinate_507_after_layer_11(real):
    m, ids, mask = real
    iv = make("zero_massive", layer=11)
    assert iv.chosen(m, ids, mask) == [(507,)] * 2
    tr = sinklab.run(m, ids, mask, interventions=iv)
    assert_same_attentions(tr, hf_attentions(m, ids, mask, post=(decoder_layer(m, 11), zero_first((507,)))), mask)
