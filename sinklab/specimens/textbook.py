"""The "textbook" model: a small GPT-2 with the attention-sink circuit planted by construction.

Built deterministically in code at load time (no weight file): generic GPT-2-like random weights
from a fixed seed, then the circuit of the paper written in by hand:

1. Position 0 (the papers' "position 1") gets a large position embedding p_0 = a * r along a fixed
   "trigger" direction r (zero mean, zero on the massive coordinates, |p_0| = sqrt(d_model), so layer
   norm leaves it unchanged). Every other input (token embeddings, p_1, p_2, ..., the first block's
   attention output) has exactly no component along r.
2. Two "super neurons" of the first block's MLP read r (c_fc column = w * r, bias -b): they fire
   strongly on p_0 and sit at GELU(-b) ~ 0 everywhere else. Their down-projection rows
   (mlp.c_proj rows) are channel-sparse: non-zero on two of the three massive coordinates each,
   so EPE_0 = MLP1(p_0) + p_0 carries massive values on exactly those three coordinates.
   Generic writes to the massive coordinates (token and position embeddings, every attention and
   MLP output) are damped ("dormant channels"), so they stand out only at position 0.
3. In the wired layers, chosen heads get a query bias b_Q,h = beta * u_h and key-weight rows
   W_k[m, h] = kappa * sign_m * u_h at the massive coordinates m, so gamma_h = W_k,h b_Q,h is large
   exactly there, with the sign of position 0's (layer-normed) massive values. The source-agnostic
   shift Delta_j = b_Q W_k^T x_j is then large at j = 0 only: a sink. One head per wired
   layer is left generic.

Generic weights use GPT-2's init (std 0.02, residual projections 0.02/sqrt(2 n_layer)), except the
query/key weights (std QK_STD = 0.1, nearer a trained GPT-2's) so that content attention varies.
Everything is planted, nothing is learned: the model is an LM-shaped network (tied unembedding)
whose predictions are meaningless.
"""
from __future__ import annotations

import math

import torch

from ..model import families
from ..model.bytetok import byte_tokenizer

ROUTE = "positional"  # the sink route planted (sinklab.analyses.circuit.WIRING)
SUMMARY = "Planted GPT-2: sink from the first position embedding → super neurons → massive coords → b_Q·W_k"
SEED = 20240917
N_LAYER = 6
N_HEAD = 4
D_MODEL = 64
N_POSITIONS = 128
VOCAB = 257  # 256 bytes + <|endoftext|>

MASSIVE = (13, 29, 47)  # the massive coordinates of EPE_0
SIGNS = (1.0, -1.0, 1.0)  # sign of each massive value
SUPER = (71, 190)  # super neurons of h[0].mlp (indices of its hidden units)
# channel-sparse down-projection rows: share of each massive value each super neuron writes
SUPER_ROWS = ((1.0, 0.5, 0.0), (0.0, 0.5, 1.0))
MASSIVE_VALUE = 60.0  # |EPE_0| at the massive coordinates
TRIGGER_GAIN = 2.0  # super-neuron input weight along r
TRIGGER_BIAS = 6.0  # super-neuron threshold: GELU(-6) ~ 0 when r is absent
DORMANT = 0.25  # scale of generic writes into the massive coordinates
STD = 0.02  # GPT-2 init scale
QK_STD = 0.1  # scale of the generic query/key weights (larger: livelier content attention)
# wired heads: layer -> {head: Delta at position 0 (scaled logit units)}
WIRED = {
    1: {0: 6.0, 1: 7.0, 3: 5.5},
    2: {0: 7.5, 2: 6.0, 3: 6.5},
    3: {1: 6.5, 2: 7.0, 3: 5.5},
    4: {0: 5.5, 1: 6.5, 2: 7.5},
    5: {0: 6.0, 1: 6.0, 2: 6.0, 3: 6.0},
}
KAPPA = 0.4  # |W_k| rows at the massive coordinates (per head, along u_h)


def gelu_new(x: float) -> float:
    """GPT-2's tanh GELU on a Python float (to size planted weights)."""
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt2_config(d_model: int, n_layer: int, n_head: int, n_positions: int = N_POSITIONS, vocab: int = VOCAB):
    """A byte-level GPT-2 config for a planted specimen: no dropout, tied embeddings, eager attention."""
    from transformers import GPT2Config

    cfg = GPT2Config(vocab_size=vocab, n_positions=n_positions, n_embd=d_model, n_layer=n_layer,
                     n_head=n_head, n_inner=4 * d_model, activation_function="gelu_new",
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=vocab - 1, eos_token_id=vocab - 1, pad_token_id=vocab - 1,
                     tie_word_embeddings=True)
    cfg._attn_implementation = "eager"
    return cfg


def fill_generic(model, g: torch.Generator, qk_std: float, pos_std: float | None) -> None:
    """Generic GPT-2-like weights for every parameter, from the generator, in a fixed order.

    qk_std: scale of the W_Q | W_K columns; pos_std: scale of the position embeddings (None: all zero)."""
    cfg = model.config
    resid_std = STD / math.sqrt(2 * cfg.n_layer)
    for name, p in model.named_parameters():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
            p.fill_(1.0)
        elif ".ln_" in name or name.startswith("transformer.ln_f"):
            p.zero_()
        elif name == "transformer.wpe.weight":
            if pos_std is None:
                p.zero_()  # no position embeddings
            else:
                p.copy_(torch.randn(p.shape, generator=g) * pos_std)
        elif name.endswith("c_proj.weight"):
            p.copy_(torch.randn(p.shape, generator=g) * resid_std)
        elif name.endswith(".bias"):
            p.copy_(torch.randn(p.shape, generator=g) * (STD / 2))
        else:
            p.copy_(torch.randn(p.shape, generator=g) * STD)
    for layer in range(cfg.n_layer):  # the W_Q | W_K columns at their own scale
        w = families.attn_weights(model, layer)  # views: writing them writes the model
        w.W_Q.mul_(qk_std / STD)
        w.W_K.mul_(qk_std / STD)


def _plant(model, g: torch.Generator) -> None:
    tf = model.transformer
    d, H = D_MODEL, N_HEAD
    dh = d // H
    M = list(MASSIVE)
    signs = torch.tensor(SIGNS)

    # trigger direction r: zero mean, zero on the massive coordinates, unit norm
    r = torch.randn(d, generator=g)
    r[M] = 0.0
    free = torch.ones(d, dtype=torch.bool)
    free[M] = False
    r[free] -= r[free].mean()
    r /= r.norm()

    def drop_r(w: torch.Tensor) -> None:  # rows of w (vectors in d_model) lose their r component
        w -= (w @ r)[:, None] * r[None]

    # embeddings: no r component anywhere, dormant massive channels, then p_0 = a r
    drop_r(tf.wte.weight)
    tf.wte.weight[:, M] *= DORMANT
    drop_r(tf.wpe.weight)
    tf.wpe.weight[:, M] *= DORMANT
    a = math.sqrt(d)  # |p_0|; per-coordinate std 1, so ln_2(p_0) = p_0 and raw/ln_2 EPE agree
    tf.wpe.weight[0] = a * r

    for block in tf.h:
        block.attn.c_proj.weight[:, M] *= DORMANT
        block.attn.c_proj.bias[M] *= DORMANT
        block.mlp.c_proj.weight[:, M] *= DORMANT
        block.mlp.c_proj.bias[M] *= DORMANT
    # the first attention layer never writes along r (so only p_0 can trigger the super neurons)
    h0 = tf.h[0]
    h0.attn.c_proj.weight -= (h0.attn.c_proj.weight @ r)[:, None] * r[None]
    h0.attn.c_proj.bias -= (h0.attn.c_proj.bias @ r) * r
    # generic first-block MLP neurons do not read r (keeps the EPE clean)
    h0.mlp.c_fc.weight -= r[:, None] * (r @ h0.mlp.c_fc.weight)[None]

    # super neurons: fire on r only; channel-sparse down-projection rows on the massive coordinates
    act = gelu_new(TRIGGER_GAIN * a - TRIGGER_BIAS)
    for n, share in zip(SUPER, SUPER_ROWS):
        h0.mlp.c_fc.weight[:, n] = TRIGGER_GAIN * r
        h0.mlp.c_fc.bias[n] = -TRIGGER_BIAS
        row = torch.zeros(d)
        row[M] = torch.tensor(share) * signs * MASSIVE_VALUE / act
        h0.mlp.c_proj.weight[n] = row

    wire_sink_heads(model, WIRED, M, SIGNS, g)


def wire_sink_heads(model, wired: dict[int, dict[int, float]], massive, signs, g: torch.Generator) -> None:
    """Plant sink heads: in layer l, head h gets b_Q,h = beta u_h and W_k,h rows KAPPA sign_m u_h at the massive
    coordinates m (u_h a random unit vector), so gamma_h = W_k,h b_Q,h is large exactly there; beta makes the
    shift b_Q W_k^T x = Delta (wired[l][h], scaled logits) where x carries the massive values."""
    M = list(massive)
    signs = torch.tensor(signs)
    x_massive = math.sqrt(model.config.n_embd / len(M))  # |x[m]| after ln_1 where the massive values dominate
    for layer, heads in wired.items():
        w = families.attn_weights(model, layer)  # views: writing them writes the model
        dh = w.d_head
        for h, delta in heads.items():
            u = torch.randn(dh, generator=g)
            u /= u.norm()
            beta = delta * math.sqrt(dh) / (KAPPA * x_massive * len(M))
            sl = w.head_slice(h)
            w.b_Q[sl] = beta * u  # b_Q,h
            w.W_K[M, sl] = KAPPA * signs[:, None] * u[None]  # W_k,h rows at the massive coordinates


def build_textbook():
    """-> (GPT2LMHeadModel in eval mode, byte tokenizer, meta with the planted ground truth)."""
    from transformers import GPT2LMHeadModel


    model = GPT2LMHeadModel(gpt2_config(D_MODEL, N_LAYER, N_HEAD))
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        fill_generic(model, g, QK_STD, pos_std=STD / 2)
        _plant(model, g)
    model.tie_weights()
    model.eval()
    meta = {
        "massive_coords": list(MASSIVE),
        "kind": "planted",
        "route": ROUTE,
        "tokens": "bytes",
        "predictions_meaningful": False,
        "position_embeddings": True,
        "super_neurons": [[0, n] for n in SUPER],
        "summary": SUMMARY,
        "wired_layers": sorted(WIRED),
        "wired_heads": {str(l): sorted(h) for l, h in WIRED.items()},
        "seed": SEED,
        "description": (
            "Textbook GPT-2 (byte-level, {L} layers, d_model {d}, {H} heads) with the attention-sink "
            "circuit planted by hand, not learned: p_0 triggers super neurons {sn} of the first MLP, "
            "whose channel-sparse down-projections write massive values on coordinates {m} of EPE_0; "
            "in layers {wl} the query bias b_Q and the key rows W_k at those coordinates are aligned so "
            "gamma = b_Q W_k^T is large there, which makes position 0 a sink. All other weights are "
            "random (GPT-2 init scale, seed {seed})."
        ).format(L=N_LAYER, d=D_MODEL, H=N_HEAD, sn=list(SUPER), m=list(MASSIVE),
                 wl=sorted(WIRED), seed=SEED),
    }
    return model, byte_tokenizer(), meta
