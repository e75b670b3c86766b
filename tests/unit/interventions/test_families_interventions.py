"""Each intervention's declared meaning on each family, checked against HF's own forward of an edited copy
(or with edited position ids / input embeddings) wherever an equivalent edit exists."""
from __future__ import annotations

import pytest
import torch

import sinklab
from sinklab.analyses import epe
from sinklab.model import families
from sinklab.model.families import random_model
from sinklab.interventions import NotApplicable, PAPER, REGISTRY, make, meanings

FAMS = list(families.SMALL)
LEARNED = ["gpt2", "gpt_neo", "opt"]
ROTARY = ["llama", "qwen2", "gemma3_text", "gpt_neox"]
NO_QUERY_BIAS = ("gpt_neo", "llama", "gemma3_text")
T = 12
IDS = torch.randint(0, 101, (2, T), generator=torch.Generator().manual_seed(11))


def hf(model, **kw) -> torch.Tensor:
    with torch.no_grad():
        return model(**kw).logits


def run(model, iv) -> sinklab.Trace:
    return sinklab.run(model, IDS, interventions=iv)


def close(a, b, t: str | None = None):
    """Equal up to float32 rounding; Gemma 3's QK-norm and post-norms amplify rounding about fivefold."""
    tol = 5 if t == "gemma3_text" else 1
    torch.testing.assert_close(a, b, atol=2e-5 * tol, rtol=1e-5 * tol)


def pos_ids(*order) -> torch.Tensor:
    """Position ids 0..T-1 with the first entries replaced by `order`. [batch, pos]"""
    p = torch.arange(T)
    p[: len(order)] = torch.tensor(order)
    return p[None].expand(IDS.shape[0], T)


def edited(model_type: str, edit, **kw):
    """A fresh copy (same seed, same weights) with `edit(fam, layer)` applied to every layer."""
    m = random_model(model_type, **kw)
    fam = families.of(m)
    with torch.no_grad():
        for l in range(fam.n_layer):
            edit(fam, l)
    return m


def _attn(fam, l):
    return fam.blocks[l].attn if fam.name == "gpt2" else fam._proj(l)


def _packed(fam, l, what: str):
    """GPT-NeoX's query_key_value weight or bias as [head, q/k/v, d_head, ...] (a view: writable)."""
    lin = fam.blocks[l].attention.query_key_value
    return getattr(lin, what).view(fam.n_head, 3, fam.d_head, *(() if what == "bias" else (-1,)))


def zero_q_bias(fam, l):
    if fam.name == "gpt2":
        _attn(fam, l).c_attn.bias[: fam.d_model] = 0
    elif fam.name == "gpt_neox":
        _packed(fam, l, "bias")[:, 0] = 0
    else:
        _attn(fam, l)[0].bias.zero_()


def zero_mlp_out(fam, l):
    b = fam.blocks[l]
    lin = {"gpt2": lambda: b.mlp.c_proj, "gpt_neo": lambda: b.mlp.c_proj, "opt": lambda: b.fc2,
           "gpt_neox": lambda: b.mlp.dense_4h_to_h}.get(fam.name, lambda: b.mlp.down_proj)()
    for p in lin.parameters():
        p.zero_()


def zero_pos_table(fam, l):
    if l == 0:
        (fam.dec.embed_positions.weight if fam.name == "opt" else fam.tf.wpe.weight).zero_()


def zero_k_inputs(coords_of):
    def edit(fam, l):
        c = list(coords_of(l))
        if fam.name == "gpt2":
            fam.blocks[l].attn.c_attn.weight[c, fam.d_model: 2 * fam.d_model] = 0
        elif fam.name == "gpt_neox":
            _packed(fam, l, "weight")[:, 1, :, c] = 0
        else:
            _attn(fam, l)[1].weight[:, c] = 0
    return edit


@pytest.fixture(scope="module")
def models():
    return {t: random_model(t) for t in FAMS}


@pytest.fixture(scope="module")
def bases(models):
    return {t: sinklab.run(m, IDS) for t, m in models.items()}


# --------------------------------------------------------------------------------- the declared table
def test_every_intervention_declares_its_meaning_on_every_family():
    table = meanings()
    assert list(table["label"]) == list(REGISTRY)
    assert set(table.columns) == {"label", "title", "GPT-2", "GPT-Neo", "OPT", "Llama", "Qwen2", "Gemma 3",
                                  "GPT-NeoX"}
    row = table.set_index("label")
    for fam in ("GPT-Neo", "Llama", "Gemma 3"):  # a declared no-op does not apply
        assert row.loc["b", fam].startswith("not applicable") and "no query bias" in row.loc["b", fam]
    for fam in ("Llama", "Qwen2", "Gemma 3", "GPT-NeoX"):
        assert row.loc["c", fam].startswith("not applicable")
        assert row.loc["interpolate", fam].startswith("not applicable")
        assert "position ids" in row.loc["d", fam] and "position ids" in row.loc["e", fam]
        assert "position id" in row.loc["h", fam] and "coords" in row.loc["i", fam]
    assert "row 3" in row.loc["c", "OPT"] and "offset by 2" in row.loc["c", "OPT"]
    n_refused = sum(v.startswith("not applicable") for v in row.drop(columns="title").to_numpy().ravel())
    assert n_refused == 2 * len(ROTARY) + 3  # c and interpolate on the rotary families; b without a query bias
    for label in ("i", "j", "scale_wk"):  # acting on k before Gemma's QK-norm: said where it matters
        assert "QK-norm" in row.loc[label, "Gemma 3"] and "QK-norm" not in row.loc[label, "Llama"]


def test_a_checkpoint_reads_its_own_config(models):
    assert not meanings(models["llama"]).set_index("label").loc["b", "applies"]
    assert "no-op" in meanings(models["llama"]).set_index("label").loc["b", "meaning"]
    biased = meanings(random_model("llama", attention_bias=True)).set_index("label")
    assert "rotation" in biased.loc["b", "meaning"]
    assert not meanings(models["qwen2"]).set_index("label").loc["c", "applies"]


# --------------------------------------------------------------------------------- (b)
@pytest.mark.parametrize("t", FAMS)
def test_b_removes_the_query_bias_or_is_refused_without_one(models, bases, t):
    if t in NO_QUERY_BIAS:  # nothing to remove: refused with the reason (never a 100 % result)
        with pytest.raises(NotApplicable, match="no query bias"):
            run(models[t], make("b"))
        return
    tr = run(models[t], make("b"))  # rotary Qwen2 included: the bias is removed before the rotation
    close(tr.logits, hf(edited(t, zero_q_bias), input_ids=IDS))
    assert not torch.allclose(tr.logits, bases[t].logits)


def test_b_on_a_llama_with_biases_matches_zeroing_them():
    m = random_model("llama", attention_bias=True)
    close(run(m, make("b")).logits, hf(edited("llama", zero_q_bias, attention_bias=True), input_ids=IDS))


# --------------------------------------------------------------------------------- (c), (h): the position table
@pytest.mark.parametrize("t", LEARNED)
def test_c_gives_position_0_the_second_row_of_the_table(models, t):
    tr = run(models[t], make("c"))
    close(tr.logits, hf(models[t], input_ids=IDS, position_ids=pos_ids(1)))  # OPT adds its offset itself
    table = models[t].model.decoder.embed_positions.weight if t == "opt" else models[t].transformer.wpe.weight
    assert torch.equal(tr["hook_pos_embed"][0, 0], table[families.of(models[t]).pos_offset + 1])


@pytest.mark.parametrize("t", ROTARY)
@pytest.mark.parametrize("label", ["c", "interpolate"])
def test_c_and_interpolate_do_not_apply_to_rotary_models(models, t, label):
    with pytest.raises(NotApplicable, match="rotary|rotation"):
        run(models[t], make(label))


@pytest.mark.parametrize("t", FAMS)
def test_h_removes_position_information(models, t):
    tr = run(models[t], make("h"))
    if t in ROTARY:  # every position id 0: no rotation
        close(tr.logits, hf(models[t], input_ids=IDS, position_ids=torch.zeros_like(IDS)))
        assert torch.all(tr["hook_pos_ids"] == 0)
    else:
        close(tr.logits, hf(edited(t, zero_pos_table), input_ids=IDS))


# --------------------------------------------------------------------------------- (d), (e), transplant
@pytest.mark.parametrize("t", ROTARY)
@pytest.mark.parametrize("label,other", [("d", 1), ("e", 1), ("transplant", 5)])
def test_swaps_exchange_rotary_position_ids(models, bases, t, label, other):
    kw = {"other": other} if label == "transplant" else {}
    tr = run(models[t], make(label, **kw))
    order = list(range(other + 1))
    order[0], order[other] = other, 0
    close(tr.logits, hf(models[t], input_ids=IDS, position_ids=pos_ids(*order)))
    assert torch.equal(tr["hook_pos_ids"], pos_ids(*order))
    assert torch.equal(tr["hook_embed"], bases[t]["hook_embed"])


@pytest.mark.parametrize("t", LEARNED)
@pytest.mark.parametrize("label", ["d", "e"])
def test_swaps_move_epe_or_pe_directions_after_the_first_mlp(models, bases, t, label):
    m = models[t]
    tr = run(m, make(label))
    assert torch.equal(tr["hook_pos_ids"], bases[t]["hook_pos_ids"])
    vecs = epe.epe(m) if label == "d" else families.of(m).pos_table()  # OPT: rows after the offset
    e1, e2 = vecs[0] / vecs[0].norm(), vecs[1] / vecs[1].norm()
    before, after = bases[t]["blocks.0.hook_mlp_out"][0], tr["blocks.0.hook_mlp_out"][0]
    alpha = before[0] @ e1
    close(after[0], before[0] + alpha * (e2 - e1))
    close(after[1], before[1] + alpha * (e1 - e2))
    assert torch.equal(after[2:], before[2:])


# --------------------------------------------------------------------------------- (f), (g)
@pytest.mark.parametrize("t", FAMS)
def test_f_zeroes_the_first_token_embedding(models, t):
    tr = run(models[t], make("f"))
    emb = families.of(models[t]).embed(IDS).clone()
    emb[:, 0] = 0
    close(tr.logits, hf(models[t], inputs_embeds=emb))


@pytest.mark.parametrize("t", FAMS)
def test_g_skips_every_mlp(models, t):
    close(run(models[t], make("g")).logits, hf(edited(t, zero_mlp_out), input_ids=IDS))


# --------------------------------------------------------------------------------- (i), (j)
@pytest.mark.parametrize("t", FAMS)
def test_i_with_coordinates_equals_zeroing_those_key_weight_rows(models, t):
    coords = (3, 7, 40)
    tr = run(models[t], make("i", coords=coords))
    close(tr.logits, hf(edited(t, zero_k_inputs(lambda l: coords)), input_ids=IDS), t)


@pytest.mark.parametrize("t", ROTARY)
def test_i_and_j_need_explicit_coordinates_on_rotary_models(models, t):
    for label in ("i", "j"):
        with pytest.raises(NotApplicable, match="coords"):
            run(models[t], make(label))
    run(models[t], make("j", coords=(1, 2)))  # excludes the given ones, draws as many
    assert set(make("j", coords=(1, 2)).chosen(models[t])).isdisjoint({1, 2})


@pytest.mark.parametrize("t", LEARNED)
def test_i_picks_the_massive_epe_coordinates_on_learned_tables(models, t):
    iv = make("i", n=3)
    assert iv.chosen(models[t]) == epe.massive_coords(models[t], top=3)
    run(models[t], iv)


@pytest.mark.parametrize("t", ["gpt2", "opt", "qwen2"])
def test_j_redrawn_per_layer(models, t):
    iv = make("j", n=4, per_layer_draw=True, seed=42)
    m = models[t]
    draws = [iv.chosen(m, l) for l in range(families.of(m).n_layer)]
    assert all(len(d) == 4 for d in draws) and len(set(draws)) > 1  # a new draw in each layer ...
    assert draws == [make("j", n=4, per_layer_draw=True, seed=42).chosen(m, l) for l in range(len(draws))]  # seeded
    assert draws != [make("j", n=4, per_layer_draw=True, seed=1).chosen(m, l) for l in range(len(draws))]
    close(run(m, iv).logits, hf(edited(t, zero_k_inputs(lambda l: draws[l])), input_ids=IDS))
    fixed = make("j", n=4, seed=42, coords=(0, 1) if t in ROTARY else None)  # the default: one draw for all layers
    assert len({fixed.chosen(m, l) for l in range(len(draws))}) == 1


def test_j_per_layer_draw_may_hit_massive_coordinates():
    m = random_model("gpt2", n_embd=16, n_head=2)
    massive = set(make("i", n=4).chosen(m))
    hits = [bool(massive & set(make("j", n=4, per_layer_draw=True, seed=s).chosen(m, 0))) for s in range(20)]
    assert any(hits)
    assert not any(massive & set(make("j", n=4, seed=s).chosen(m)) for s in range(20))


# --------------------------------------------------------------------------------- the rest, everywhere
@pytest.mark.parametrize("t", FAMS)
def test_structural_interventions_run_on_every_family(models, bases, t):
    m = models[t]
    tr = run(m, make("isolate", position=4))
    for l in range(families.of(m).n_layer):
        row = tr.pattern(l)[0, :, 4]  # [head, key]
        assert torch.allclose(row[:, 4], torch.ones(row.shape[0])) and torch.all(row[:, :4] == 0)
    amp = run(m, make("amplify", position=3, factor=3.0, layers=(1, 2)))
    torch.testing.assert_close(amp["z", 1][0, 3].var(-1), 9 * bases[t]["z", 1][0, 3].var(-1))
    rms = run(m, make("rmsnorm"))["z", 1][0].pow(2).mean(-1).sqrt()  # [pos, head]
    assert torch.allclose(rms, rms[:1].expand_as(rms), rtol=1e-3)


@pytest.mark.parametrize("t", FAMS)
def test_the_whole_signature_runs_or_is_refused_with_a_reason(models, t):
    from helpers import assert_unchanged, snapshot

    m = models[t]
    before = snapshot(m)
    table = meanings(m).set_index("label")
    for label in [*PAPER[1:], "transplant", "interpolate"]:
        iv = make(label, coords=(1, 2)) if label in ("i", "j") else make(label)
        if table.loc[label, "applies"]:
            run(m, iv)
        else:
            with pytest.raises(NotApplicable) as err:
                run(m, iv)
            assert table.loc[label, "meaning"] in str(err.value)
    assert_unchanged(m, before)


@pytest.mark.parametrize("t", ["opt", "qwen2"])
def test_per_example_interventions_equal_separate_runs(models, t):
    per = [None, make("d"), make("b"), (make("i", coords=(3, 9)), make("h")), make("transplant", other=4)]
    ids = IDS[:1].expand(len(per), T)
    batched = sinklab.run(models[t], ids, per_example=per)
    for i, iv in enumerate(per):
        alone = sinklab.run(models[t], ids[i: i + 1], interventions=iv)
        torch.testing.assert_close(batched.logits[i: i + 1], alone.logits, atol=1e-5, rtol=1e-5)
        assert torch.equal(batched["hook_pos_ids"][i], alone["hook_pos_ids"][0])
