"""The textbook model: the planted attention-sink circuit behaves as the circuit paper describes.

Every number here is measured on the model built by `sinklab.specimens.textbook.build_textbook`, with the
paper metric (mean attention to the key from second-half queries, middle layers) on inputs of
exactly 40 byte tokens: English, math, code and random bytes.
"""
from __future__ import annotations

import random
import time

import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: tiny forwards, one thread is fastest)
from sinklab.analyses.epe import epe, massive_coords
from sinklab.interventions import make
from sinklab.analyses.metrics import sink_score
from sinklab.model.tokens import batch, tokenize

TEXTS = (
    "The quick brown fox jumps over the lazy dog while the cat sleeps soundly by the fire.",
    "It was the best of times, it was the worst of times, it was the age of wisdom and folly.",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many in May.",
    "Solve for x: 3x^2 + 2x - 7 = 0, then compute the sum of the roots and their product.",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; } return sum; // the dot product",
)


def _random_texts(n: int = 3, length: int = 64, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [bytes(rng.randrange(256) for _ in range(length)).decode("latin-1") for _ in range(n)]


@pytest.fixture(scope="module")
def setup(textbook):  # `textbook` (tests/conftest.py) is sinklab.load_model("textbook")
    lm = textbook
    toks = [tokenize(lm.tokenizer, t, max_tokens=40) for t in (*TEXTS, *_random_texts())]
    assert all(len(t) == 40 for t in toks)
    ids, mask = batch(toks)
    return lm, ids, mask


def score(setup, iv=None, key: int = 0) -> float:
    lm, ids, mask = setup
    trace = sinklab.run(lm.model, ids, mask, interventions=iv)
    return float(sink_score(trace, key=key, metric="paper").mean())


@pytest.fixture(scope="module")
def baseline(setup) -> float:
    return score(setup)


def test_builds_fast_and_deterministically():
    from sinklab.specimens.textbook import build_textbook

    build_textbook()  # warm the imports
    t = time.perf_counter()
    m1, tok, meta = build_textbook()
    assert time.perf_counter() - t < 1.0
    m2, _, _ = build_textbook()
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    c = m1.config
    assert c.model_type == "gpt2" and c.vocab_size == len(tok) == 257
    assert m1.config._attn_implementation == "eager"
    assert {"massive_coords", "super_neurons", "wired_layers", "description"} <= set(meta)


def test_baseline_has_a_first_position_sink(baseline):
    assert 0.5 <= baseline <= 0.9, baseline


def test_massive_coords_match_ground_truth(setup):
    lm = setup[0]
    truth = set(lm.meta["massive_coords"])
    assert set(massive_coords(lm.model)) == truth
    assert set(massive_coords(lm.model, top=len(truth))) == truth
    assert set(massive_coords(lm.model, ln2=True)) == truth


def test_super_neurons_fire_only_at_position_1_and_write_only_massive_coords(setup):
    lm, ids, mask = setup
    sn, massive = [n for l, n in lm.meta["super_neurons"]], lm.meta["massive_coords"]
    assert all(l == 0 for l, n in lm.meta["super_neurons"])
    trace = sinklab.run(lm.model, ids, mask, names={"blocks.0.mlp.hook_post"})
    post = trace["blocks.0.mlp.hook_post"][..., sn]  # [batch, pos, n_super]
    assert (post[:, 0] > 1.0).all()
    assert post[:, 1:].abs().max() < 1e-3
    rows = lm.model.transformer.h[0].mlp.c_proj.weight[sn]  # [n_super, d_model]
    support = {int(i) for i in rows.abs().sum(0).nonzero()}
    assert support == set(massive)


def test_gamma_is_large_exactly_at_massive_coords_in_wired_layers(setup):
    lm = setup[0]
    d = lm.model.config.n_embd
    massive = lm.meta["massive_coords"]
    others = [i for i in range(d) if i not in massive]
    for layer in lm.meta["wired_layers"]:
        attn = lm.model.transformer.h[layer].attn
        gamma = (attn.c_attn.weight[:, d:2 * d] @ attn.c_attn.bias[:d]).abs()  # [d_model]
        # the spec's table: |gamma| at the massive coordinates vs mean + 3 std over the others
        assert gamma[massive].min() > gamma[others].mean() + 3 * gamma[others].std(), layer
        assert gamma[massive].min() > 5 * gamma[others].mean(), layer


@pytest.mark.parametrize("label", list("bcdghi"))
def test_circuit_interventions_cut_the_sink_by_half(setup, baseline, label):
    value = score(setup, make(label))
    assert value < 0.5 * baseline, (label, value, baseline)


@pytest.mark.parametrize("label", list("efj"))
def test_control_interventions_keep_the_sink(setup, baseline, label):
    value = score(setup, make(label))
    assert abs(value - baseline) < 0.10 * baseline, (label, value, baseline)


@pytest.mark.parametrize("k", [1, 5])
def test_transplant_moves_the_sink(setup, baseline, k):
    iv = make("transplant", other=k)
    assert score(setup, iv, key=k) >= 0.5 * baseline
    assert score(setup, iv, key=0) < 0.5 * baseline
    assert score(setup, key=k) < 0.2 * baseline  # without the transplant, k is no sink


def test_epe_1_validation(setup):
    """Appendix A.1: EPE_1 points along R_1 - O_1, what the first block actually adds at position 1."""
    lm, ids, mask = setup
    model = lm.model
    block = model.transformer.h[0]
    e1 = epe(model)[0]
    tok = model.transformer.wte(ids[:, 0])  # [batch, d_model]
    x = tok + model.transformer.wpe.weight[0]
    with torch.no_grad():
        r = x + block.mlp(x)
        o = tok + block.mlp(tok)
    cos = torch.nn.functional.cosine_similarity(r - o, e1[None], dim=-1)
    assert (cos > 0.99).all(), cos
