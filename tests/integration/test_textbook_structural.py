"""The textbook-structural model: a planted NoPE sink behaves as the structural-origin paper describes.

Every number here is measured on `sinklab.load_model("textbook-structural")` with the paper metric
(mean attention to the key from second-half queries, all heads of layers [L//4, L-1)) on inputs of
exactly 40 byte tokens that do not begin with a run of identical tokens. The last test checks the
opposite specimen, `textbook` (a positional sink), against the same interventions.
"""
from __future__ import annotations

import random
import time

import pytest
import torch

import sinklab
from sinklab.analyses import origin
from sinklab.inputs.corpora import OZYMANDIAS, example_prompts
from sinklab.interventions import make
from sinklab.analyses.metrics import attention_to, paper_layers, sink_score

N_TOKENS = 40
OWN_TEXTS = (
    "Pack my box with five dozen liquor jugs, then weigh them twice on the old brass scale.",
    "x = [i * i for i in range(100) if i % 3 == 0]; print(sum(x), len(x), max(x))",
)
ISOLATE_KS = list(range(5, 31))
AMPLIFY_KS = (5, 12, 20, 30)
FACTORS = (1.0, 1.5, 2.0, 3.0, 5.0)
MONOTONE_TOL = 0.005  # past the threshold the sink saturates; later layers jitter it by ~1e-3
RUN_PROMPTS = ("aaaa" + OZYMANDIAS, "\n\n" + OZYMANDIAS, "    def f(x): return x * x + 1  # four spaces first")


def _random_text(seed: int) -> str:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(64)).decode("latin-1")


def texts() -> list[str]:
    return [OZYMANDIAS, *example_prompts().values(), *OWN_TEXTS, _random_text(0)]


@pytest.fixture(scope="module")
def lm():
    torch.set_num_threads(1)  # tiny forwards on a shared CPU: one thread
    return sinklab.load_model("textbook-structural")


def _batch(tokenizer):
    toks = [sinklab.tokenize(tokenizer, t, max_tokens=N_TOKENS) for t in texts()]
    assert all(len(t) == N_TOKENS for t in toks)
    assert all(t.ids[0] != t.ids[1] for t in toks)  # no run of identical first tokens
    ids, mask = sinklab.batch(toks)
    return ids, mask


@pytest.fixture(scope="module")
def ids(lm):
    return _batch(lm.tokenizer)[0]


def sink(model, ids, iv=None, key: int = 0) -> torch.Tensor:
    """Paper-metric sink at `key`, one value per text. [batch]"""
    return sink_score(sinklab.run(model, ids, interventions=iv), key, "paper")


def from_later_queries(trace, key: int) -> torch.Tensor:
    """As the paper metric, but only queries after `key` (an isolated key's own query attends to itself). [batch]"""
    A = trace.patterns()  # [layer, batch, head, query, key]
    a, b = paper_layers(trace.n_layer)
    T = A.shape[-1]
    start = max(T // 2, key + 1)
    return A[a:b, :, :, start:, key].float().mean((0, 2, 3))


@pytest.fixture(scope="module")
def baseline(lm, ids) -> torch.Tensor:
    return sink(lm.model, ids)


# ----------------------------------------------------------------------------- the model itself

def test_meta_is_the_planted_ground_truth(lm):
    meta = lm.meta
    assert set(meta) == {"kind", "route", "tokens", "predictions_meaningful", "massive_coords", "super_neurons",
                         "wired_layers", "wired_heads", "position_embeddings", "seed", "description", "summary"}
    assert meta["kind"] == "planted" and meta["route"] == "structural" and meta["tokens"] == "bytes"
    assert meta["predictions_meaningful"] is False and meta["position_embeddings"] is False
    assert len(meta["massive_coords"]) == 3 and len(set(meta["massive_coords"])) == 3
    assert all(len(s) == 2 for s in meta["super_neurons"])
    a, b = paper_layers(lm.info.n_layer)
    assert set(range(a, b)) <= set(meta["wired_layers"])  # every paper-metric layer is wired
    assert set(meta["wired_heads"]) == {str(l) for l in meta["wired_layers"]}
    assert "planted" in meta["description"] and "not learned" in meta["description"]
    assert "\n" not in meta["summary"]


def test_architecture_nope_tied_eager(lm):
    model, c = lm.model, lm.model.config
    assert c.model_type == "gpt2" and c._attn_implementation == "eager"
    assert c.vocab_size == len(lm.tokenizer) == 257
    assert torch.count_nonzero(model.transformer.wpe.weight) == 0  # no position embeddings
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()  # tied
    assert model.training is False


def test_builds_deterministically():
    from sinklab.specimens.textbook_structural import build_textbook_structural

    m1, _, meta1 = build_textbook_structural()
    m2, _, meta2 = build_textbook_structural()
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert meta1 == meta2


def test_loads_in_under_a_second(lm):
    sinklab.load_model("textbook-structural")  # imports are warm; time a full load
    t = time.perf_counter()
    sinklab.load_model("textbook-structural")
    assert time.perf_counter() - t < 1.0


def test_logits_are_finite(lm, ids):
    trace = sinklab.run(lm.model, ids, names={"logits"})
    assert torch.isfinite(trace.logits).all()


# ----------------------------------------------------------------------------- the sink and its route

def test_sink_at_first_position(baseline):
    assert (baseline >= 0.5).all(), baseline


@pytest.mark.parametrize("k", ISOLATE_KS)
def test_isolating_position_k_creates_a_sink_there(lm, ids, k):
    base = sink(lm.model, ids, key=k)
    trace = sinklab.run(lm.model, ids, interventions=make("isolate", position=k))
    value = sink_score(trace, k, "paper")
    assert (value >= 0.3).all(), (k, value)
    assert (value >= 10 * base).all(), (k, value, base)
    assert (from_later_queries(trace, k) >= 0.3).all()  # not just k's own query attending to itself


@pytest.mark.parametrize("k", AMPLIFY_KS)
def test_amplifying_variance_at_k_creates_a_sink_monotonically(lm, ids, k):
    series = torch.stack([sink(lm.model, ids, make("amplify", position=k, factor=f), key=k) for f in FACTORS])
    assert (series[1:] >= series[:-1] - MONOTONE_TOL).all(), series  # [factor, text]
    assert (series[-1] >= 0.3).all(), series[-1]
    assert (series[0] < 0.05).all()  # factor 1 is the baseline: no sink at k


def test_head_wise_rmsnorm_removes_the_sink(lm, ids, baseline):
    value = sink(lm.model, ids, make("rmsnorm"))
    assert (value <= 0.5 * baseline).all(), (value, baseline)


@pytest.mark.parametrize("label", ["c", "e", "h"])
def test_position_embedding_interventions_do_not_apply(lm, ids, label):
    """Exact no-ops on a model without position embeddings: refused with the reason, never shown as 100 %."""
    from sinklab.interventions import NotApplicable

    with pytest.raises(NotApplicable, match="position embeddings"):
        sinklab.run(lm.model, ids, interventions=make(label))


@pytest.mark.parametrize("what", ["epe", "massive_coords", "gamma_table", "alignment_heads", "alignment"])
def test_quantities_defined_through_p_i_do_not_apply(lm, what):
    """EPE, its massive coordinates and γ's alignment with them are refused on an all-zero position table (p_i = 0
    everywhere), never returned as numbers; the textbook model, whose table is learned, still gets them."""
    from sinklab.analyses import gamma
    from sinklab.interventions import NotApplicable
    from sinklab.model import epe

    fn = getattr(epe, what, None) or getattr(gamma, what)
    with pytest.raises(NotApplicable, match="position table is all zero"):
        fn(lm.model)
    assert len(fn(sinklab.load_model("textbook").model)) > 0


def test_first_attention_output_has_the_largest_norm(lm, ids):
    stats = origin.attention_output_stats(sinklab.run(lm.model, ids))
    l0 = stats[stats["layer"] == 0]
    first = float(l0.loc[l0["position"] == 0, "norm"].iloc[0])
    others = float(l0.loc[l0["position"] > 0, "norm"].mean())
    assert first >= 2.0 * others, (first, others)
    var_first = float(l0.loc[l0["position"] == 0, "variance"].iloc[0])
    assert var_first >= 4.0 * float(l0.loc[l0["position"] > 0, "variance"].mean())


def test_super_neurons_rank_first_and_write_only_massive_coords(lm, ids):
    planted = {tuple(s) for s in lm.meta["super_neurons"]}
    massive = lm.meta["massive_coords"]
    trace = sinklab.run(lm.model, ids)
    table = origin.super_neurons(trace, lm.model).sort_values("score", ascending=False)
    top = {(int(r.layer), int(r.neuron)) for r in table.head(len(planted)).itertuples()}
    assert top == planted
    assert float(table["score"].iloc[len(planted)]) * 100 < float(table["score"].iloc[len(planted) - 1])
    for layer, n in planted:
        row = lm.model.transformer.h[layer].mlp.c_proj.weight[n]  # [d_model]
        assert float(row[massive].pow(2).sum() / row.pow(2).sum()) >= 0.9
        post = trace["post", layer][..., n]  # [batch, pos]
        assert (post[:, 0] > 1.0).all() and post[:, 1:].abs().max() < 1e-3


def test_massive_values_sit_on_the_massive_coords_of_position_0(lm, ids):
    massive = lm.meta["massive_coords"]
    layer = max(l for l, _ in lm.meta["super_neurons"])
    r = sinklab.run(lm.model, ids)["resid_post", layer]  # [batch, pos, d_model]
    top = torch.topk(r[:, 0].abs(), 3).indices  # [batch, 3]
    assert all(set(t.tolist()) == set(massive) for t in top)
    assert r[:, 0, massive].abs().min() > 10 * r[:, 1:, massive].abs().max()


def test_two_different_first_tokens_never_trigger_the_super_neurons(lm):
    """Position 1 averages two value vectors; for distinct tokens that is always well below the threshold."""
    from sinklab.specimens.textbook_structural import FIRE_AT

    model, d = lm.model, lm.info.d_model
    block = model.transformer.h[0]
    x = torch.nn.functional.layer_norm(model.transformer.wte.weight, (d,), block.ln_1.weight, block.ln_1.bias)
    v = x @ block.attn.c_attn.weight[:, 2 * d:]  # [vocab, d_model]: value vectors (bias is 0)
    cos = torch.nn.functional.normalize(v, dim=-1) @ torch.nn.functional.normalize(v, dim=-1).T
    cos.fill_diagonal_(-1.0)
    # |(v_a + v_b) / 2| / |v| = sqrt((1 + cos) / 2) must stay below FIRE_AT
    assert float(((1 + cos.max()) / 2).sqrt()) < FIRE_AT - 0.03
    a, b = divmod(int(cos.argmax()), cos.shape[1])  # the most similar pair, as a prompt
    trace = sinklab.run(model, torch.tensor([[a, b]]))
    for layer, n in lm.meta["super_neurons"]:
        post = trace["post", layer][0, :, n]  # [pos]
        assert float(post[0]) > 1.0 and abs(float(post[1])) < 1e-2 * float(post[0])


@pytest.mark.parametrize("text", RUN_PROMPTS, ids=["aaaa", "newlines", "spaces"])
def test_a_run_of_identical_first_tokens_shares_the_sink(lm, text):
    toks = sinklab.tokenize(lm.tokenizer, text, max_tokens=N_TOKENS)
    run_len = 1
    while toks.ids[run_len] == toks.ids[0]:
        run_len += 1
    assert run_len >= 2
    trace = sinklab.run(lm.model, toks.ids[None])
    # without position embeddings the run's positions are indistinguishable: equal residual streams
    for l in range(lm.info.n_layer):
        r = trace["resid_post", l][0]  # [pos, d_model]
        assert torch.allclose(r[:run_len], r[:1].expand(run_len, -1), rtol=1e-5, atol=1e-4 * float(r.abs().max()))
    shares = torch.tensor([float(sink_score(trace, j, "paper")) for j in range(run_len)])
    assert float(shares.sum()) >= 0.5, shares  # the sink is there, spread over the run
    assert (shares >= 0.8 * shares.mean()).all() and (shares <= 1.2 * shares.mean()).all(), shares
    assert float(shares[0]) < 0.7 * float(shares.sum())  # position 0 does not hold it alone
    assert float(sink_score(trace, run_len, "paper")) < 0.05  # the first different token is no sink


# ----------------------------------------------------------------------------- the opposite specimen

@pytest.fixture(scope="module")
def positional():
    torch.set_num_threads(1)
    lm = sinklab.load_model("textbook")
    return lm, _batch(lm.tokenizer)[0]


def test_textbook_sink_is_positional_not_structural(positional):
    """On `textbook` (sink planted through p_1): isolate / amplify at k make no sink there; (c), (h) remove it."""
    lm, ids = positional
    model = lm.model
    base0 = sink(model, ids)
    for k in ISOLATE_KS:
        base_k = from_later_queries(sinklab.run(model, ids), k)
        value = from_later_queries(sinklab.run(model, ids, interventions=make("isolate", position=k)), k)
        assert ((value < 0.1) | (value < 3 * base_k)).all(), (k, value, base_k)
    for k in AMPLIFY_KS:
        base_k = sink(model, ids, key=k)
        for f in FACTORS:
            value = sink(model, ids, make("amplify", position=k, factor=f), key=k)
            assert ((value < 0.1) | (value < 3 * base_k)).all(), (k, f, value, base_k)
    for label in ("c", "h"):
        value = sink(model, ids, make(label))
        assert (value < 0.5 * base0).all(), (label, value, base0)
