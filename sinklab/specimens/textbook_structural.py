"""The "textbook-structural" model: a GPT-2 without position embeddings whose sink is planted by hand
along the structural route (value aggregation -> variance discrepancy -> super neurons -> massive
coordinates -> keys).

Built deterministically in code at load time (no weight file): generic GPT-2-like random weights
from a fixed seed, then the structural-origin paper's causal chain written in by hand. Unlike
`textbook` (sinklab/specimens/textbook.py), where the sink is positional (a planted circuit reading the first
position embedding), this model has NO position embeddings (wpe = 0, a "NoPE" model). The first
position is special only because of the causal mask: it attends to itself alone.

1. The residual stream has four planted parts, all with zero mean over d_model and zero on the
   massive coordinates: a constant direction b, a token subspace T, a noise subspace N, and the rest.
   Every token embedding is c * b + e_t with e_t in T and |e_t| the same for every token
   (|c b| = |e_t| = sqrt(d_model / 2), so the first layer norm leaves the embedding unchanged).
2. Layer 0 is a pure value aggregator. Its query and key weights are zero, so every position
   attends uniformly to all positions up to itself. The value map copies the token part e_t
   isometrically (zero mean within each head) and the output projection writes it into N, so the
   attention output of position i is a_i = G * mean_{j <= i} e_j with |a_0| = NOISE_GAIN * sqrt(d).
   Position 0 averages ONE value vector and keeps the full norm; position i averages i + 1 nearly
   orthogonal vectors, so |a_i| shrinks (about 0.71 |a_0| at i = 1, about 0.2-0.3 |a_0| by i = 30):
   the variance discrepancy.
3. The first block's layer norm turns that norm into a readable coordinate. The b coordinate of
   ln_2(resid_mid_i) is c * sqrt(d) / |e_i + a_i|, which falls as |a_i| rises. Two "super neurons"
   of the first MLP read -b with a bias: they fire exactly when |a_i| >= FIRE_AT * |a_0| (at
   position 0, pre-activation FIRE_PRE) and sit at GELU(very negative) = 0 elsewhere. Their
   down-projection rows (mlp.c_proj rows) are channel-sparse: non-zero on two of the three massive
   coordinates each, so the residual stream of position 0 carries massive values (MASSIVE_VALUE)
   on exactly those three coordinates. Generic writes to the massive coordinates are damped.
   Distinct token value vectors have pairwise cosine <= MAX_TOKEN_COS, so two different first
   tokens never make position 1 fire.
4. In the wired layers, chosen heads get a query bias b_Q,h = beta * u_h and key-weight rows
   W_k[m, h] = kappa * sign_m * u_h at the massive coordinates m, as in `textbook`: the shift
   b_Q W_k^T x_j is large exactly where x_j carries the massive values, so that position is a sink.
   One head per wired layer before the last is left generic.

Consequences, all by construction: isolating position k (it attends only to itself) gives it the
full norm, its own massive values and a sink; amplifying its attention output by a factor f makes
it fire once f |a_k| >= FIRE_AT |a_0|; head-wise RMSNorm equalises the norms so nothing fires and
the sink goes; removing or swapping position embeddings (c, e, h) changes nothing, as there are
none; a run of identical first tokens has identical residual streams (nothing tells the positions
apart) and shares the sink.

Everything is planted, nothing is learned: the model is an LM-shaped network (tied unembedding)
whose predictions are meaningless.
"""
from __future__ import annotations

import math

import torch

from ..model import families
from ..model.bytetok import byte_tokenizer
from .textbook import fill_generic, gelu_new, gpt2_config, wire_sink_heads
# conventions both specimens share: vocabulary, positions, the signs of the massive values and each super neuron's
# share of them, the init scale, the damping of generic writes, the |W_k| rows at the massive coordinates
from .textbook import DORMANT, KAPPA, N_POSITIONS, SIGNS, STD, SUPER_ROWS, VOCAB  # noqa: E402

ROUTE = "structural"  # the sink route planted (sinklab.analyses.circuit.WIRING)
SUMMARY = "Planted NoPE GPT-2: sink from value aggregation → super neurons → massive coords"
SEED = 20250214
N_LAYER, N_HEAD, D_MODEL = 6, 4, 128  # layers, heads, residual width

MASSIVE = (17, 58, 101)  # the massive coordinates of position 0's residual stream
SUPER = ((0, 137), (0, 402))  # super neurons: (layer, hidden unit of h[layer].mlp)
D_TOKEN = 56  # dimension of the token subspace T (and of the value aggregate's subspace N)
EMB_CONST = math.sqrt(D_MODEL / 2)  # |c b|: the constant part of every token embedding
EMB_TOKEN = math.sqrt(D_MODEL / 2)  # |e_t|: the token part
NOISE_GAIN = 3.0  # |a_0| = NOISE_GAIN * sqrt(d_model): layer 0's attention output at position 0
FIRE_AT = 0.92  # the super neurons fire when |a_i| >= FIRE_AT * |a_0|
FIRE_PRE = 4.0  # their pre-activation at position 0
MAX_TOKEN_COS = 0.6  # guard: distinct tokens' value vectors are at most this similar (checked at build)
MASSIVE_VALUE = 400.0  # |massive value| at position 0, per coordinate
QK_STD = 0.07  # scale of the generic query/key weights (livelier content attention)
# wired heads: layer -> {head: Delta at a massive position (scaled logit units)}
WIRED = {1: {0: 6.5, 1: 7.0, 3: 6.0}, 2: {0: 7.5, 2: 6.5, 3: 7.0}, 3: {1: 7.0, 2: 7.5, 3: 6.0},
         4: {0: 6.0, 1: 7.0, 2: 7.5}, 5: {0: 6.5, 1: 6.5, 2: 6.5, 3: 6.5}}


def _orthonormal(g: torch.Generator, n: int, k: int, exclude: torch.Tensor) -> torch.Tensor:
    """k orthonormal random columns in R^n, orthogonal to the orthonormal columns of `exclude`. [n, k]"""
    a = torch.randn(n, k, generator=g)
    for _ in range(2):  # project, orthonormalise, project again (numerically clean)
        a = a - exclude @ (exclude.T @ a)
        a, _ = torch.linalg.qr(a)
    return a


def _aggregate_norm_coordinate(frac: float) -> float:
    """b coordinate of ln_2(resid_mid) when |a_i| = frac * |a_0|: c sqrt(d) / |e + a|."""
    a0 = NOISE_GAIN * math.sqrt(D_MODEL)
    return EMB_CONST * math.sqrt(D_MODEL) / math.sqrt(EMB_CONST ** 2 + EMB_TOKEN ** 2 + (frac * a0) ** 2)


def _plant(model, g: torch.Generator) -> None:
    tf = model.transformer
    d, H, dh = D_MODEL, N_HEAD, D_MODEL // N_HEAD  # width, heads, head width
    M, signs = list(MASSIVE), torch.tensor(SIGNS)  # massive coordinates and the signs of their values

    # residual parts: b, T, N orthonormal, zero mean, zero on the massive coordinates
    eye = torch.eye(d)
    exclude = torch.stack([torch.ones(d) / math.sqrt(d)] + [eye[m] for m in M], 1)
    basis = _orthonormal(g, d, 1 + 2 * D_TOKEN, exclude)
    b, q_t, q_n = basis[:, 0], basis[:, 1:1 + D_TOKEN], basis[:, 1 + D_TOKEN:]

    # token embeddings c b + e_t: |e_t| fixed, so |embedding| = sqrt(d) and ln_1 leaves it unchanged
    e = torch.randn(VOCAB, D_TOKEN, generator=g)
    e = e / e.norm(dim=1, keepdim=True)
    cos = e @ e.T - 2.0 * torch.eye(VOCAB)
    if float(cos.max()) > MAX_TOKEN_COS:  # never with this seed; keeps the guarantee honest
        raise RuntimeError(f"token vectors too similar ({float(cos.max()):.3f}); change SEED")
    tf.wte.weight.copy_(EMB_CONST * b[None] + EMB_TOKEN * e @ q_t.T)

    # layer 0: uniform causal attention; value = isometric copy of e_t (zero mean per head); out -> N
    h0 = tf.h[0]
    w = families.attn_weights(model, 0)  # views: writing them writes the model
    for t in (w.W_Q, w.W_K, w.b_Q, w.b_K, w.b_V):
        t.zero_()
    head_means = torch.zeros(d, H)
    for h in range(H):
        head_means[h * dh:(h + 1) * dh, h] = 1.0 / math.sqrt(dh)
    q_v = _orthonormal(g, d, D_TOKEN, head_means)  # [d_model (value space), D_TOKEN]
    w.W_V.copy_(q_t @ q_v.T)
    v_norm = math.sqrt(d) * EMB_TOKEN / math.sqrt(EMB_CONST ** 2 + EMB_TOKEN ** 2)  # |v_t| after ln_1
    h0.attn.c_proj.weight.copy_(q_v @ q_n.T * (NOISE_GAIN * math.sqrt(d) / v_norm))
    h0.attn.c_proj.bias.zero_()

    # dormant massive channels: generic writes there are damped
    for block in tf.h:
        for lin in (block.attn.c_proj, block.mlp.c_proj):
            lin.weight[:, M] *= DORMANT
            lin.bias[M] *= DORMANT
    # generic first-block MLP neurons do not read b (only the super neurons do)
    h0.mlp.c_fc.weight -= b[:, None] * (b @ h0.mlp.c_fc.weight)[None]

    # super neurons: pre = gain (s_thr - s), s = ln_2(resid_mid) . b, falling as |a_i| rises
    s_thr, s_0 = _aggregate_norm_coordinate(FIRE_AT), _aggregate_norm_coordinate(1.0)
    gain = FIRE_PRE / (s_thr - s_0)
    act = gelu_new(FIRE_PRE)
    for (layer, n), share in zip(SUPER, SUPER_ROWS):
        mlp = tf.h[layer].mlp
        mlp.c_fc.weight[:, n] = -gain * b
        mlp.c_fc.bias[n] = gain * s_thr
        row = torch.zeros(d)
        row[M] = torch.tensor(share) * signs * MASSIVE_VALUE / act
        mlp.c_proj.weight[n] = row

    wire_sink_heads(model, WIRED, M, SIGNS, g)  # sink heads aligned with the massive coordinates, as in textbook


def build_textbook_structural():
    """-> (GPT2LMHeadModel in eval mode, byte tokenizer, meta with the planted ground truth)."""
    from transformers import GPT2LMHeadModel


    model = GPT2LMHeadModel(gpt2_config(D_MODEL, N_LAYER, N_HEAD, N_POSITIONS, VOCAB))
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        fill_generic(model, g, QK_STD, pos_std=None)  # wpe = 0: no position embeddings
        _plant(model, g)
    model.tie_weights()
    model.eval()
    meta = {
        "kind": "planted",
        "route": ROUTE,
        "tokens": "bytes",
        "predictions_meaningful": False,
        "massive_coords": list(MASSIVE),
        "super_neurons": [list(s) for s in SUPER],
        "wired_layers": sorted(WIRED),
        "wired_heads": {str(l): sorted(h) for l, h in WIRED.items()},
        "position_embeddings": False,
        "seed": SEED,
        "description": (
            "Textbook-structural GPT-2 (byte-level, {L} layers, d_model {d}, {H} heads, no position "
            "embeddings) with the structural-origin sink planted by hand, not learned. Layer 0 attends "
            "uniformly, so the first position's attention output is one value vector while later positions "
            "average many and come out smaller (variance discrepancy). Super neurons {sn} of the first MLP "
            "fire only where that output has (nearly) the full norm, and their channel-sparse "
            "down-projections write massive values on coordinates {m}; in layers {wl} the query bias and "
            "the key rows at those coordinates are aligned, which makes the massive position a sink. "
            "Any position that attends only to itself, or whose attention output is amplified enough, "
            "becomes a sink too, and a run of identical first tokens shares it. All other weights are "
            "random (GPT-2 init scale, seed {seed}); the next-token predictions are meaningless."
        ).format(L=N_LAYER, d=D_MODEL, H=N_HEAD, sn=[list(s) for s in SUPER], m=list(MASSIVE),
                 wl=sorted(WIRED), seed=SEED),
        "summary": SUMMARY,
    }
    return model, byte_tokenizer(), meta
