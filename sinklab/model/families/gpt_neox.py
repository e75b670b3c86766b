"""GPT-NeoX and Pythia: GPTNeoXForCausalLM. Rotary positions on the first `partial_rotary_factor` of each head's
dimensions, LayerNorm, GELU, q/k/v packed per head in one Linear (query_key_value: [q_h | k_h | v_h] for each head
h), and -- with use_parallel_residual, as every Pythia -- attention and MLP in parallel: both read the block input,
and both outputs are added to it (resid_post = resid_pre + attn_out + mlp_out; the MLP does not see attn_out).

The forward loop runs the parallel block through `parallel`: ln2 reads hook_resid_pre instead of hook_resid_mid
(hook_resid_mid is still recorded: resid_pre + attn_out, what an intervention there changes on its way to
resid_post). An intervention on the MLP side therefore starts where the block starts (a resumed forward cannot
begin at the MLP half: sinklab.analyses.effects resumes such settings at the block's attention half).
"""
from __future__ import annotations

from .. import layout
from ... import checks
from .base import LinearFamily, Traits


class GPTNeoX(LinearFamily):
    """GPTNeoXForCausalLM: partial rotary, packed per-head q/k/v, parallel attention + MLP."""

    model_type = "gpt_neox"
    hf_class = "GPTNeoXForCausalLM"
    config_class = "GPTNeoXConfig"
    typical = Traits("gpt_neox", "GPT-NeoX", "rotary", 0, query_bias=True, scaled=True, parallel=True)
    small = dict(num_hidden_layers=3, num_attention_heads=4, hidden_size=64, intermediate_size=128,
                 max_position_embeddings=64, rotary_pct=0.25, use_parallel_residual=True)
    rotary = True
    modules = {"embed": "gpt_neox.embed_in", "ln1": "input_layernorm", "ln2": "post_attention_layernorm",
               "ln_final": "gpt_neox.final_layer_norm", "mlp_in": "mlp.dense_h_to_4h", "act": "mlp.act",
               "mlp_out": "mlp.dense_4h_to_h"}

    def __init__(self, model):
        super().__init__(model)
        self.m = model.gpt_neox
        self.blocks = self.m.layers
        self.parallel = bool(model.config.use_parallel_residual)

    @classmethod
    def scale(cls, cfg, layer):
        return (cfg.hidden_size // cfg.num_attention_heads) ** -0.5

    @classmethod
    def meaning_note(cls, points, t):
        if t.parallel and points & {"resid_mid", "ln2"}:
            return (f" On {t.title} attention and MLP run in parallel: the MLP reads the block input, so a change at "
                    "resid_mid reaches resid_post but not the MLP.")
        return ""

    def rotary_angles(self, pos_ids, like, layer=0):
        return self.m.rotary_emb(like, pos_ids)  # [batch, pos, d_rot]: layout.rotate leaves the rest of a head

    @property
    def has_query_bias(self) -> bool:
        return self.blocks[0].attention.query_key_value.bias is not None

    def _packed(self, l):
        return self.blocks[l].attention.query_key_value  # out features: per head [q_h | k_h | v_h]

    def qkv(self, l, x):
        b, T, _ = x.shape
        qkv = layout.linear(self._packed(l), x).view(b, T, self.n_head, 3 * self.d_head)  # [batch, pos, head, 3 d_h]
        return qkv.chunk(3, dim=-1)

    def attn_out(self, l, z):
        return layout.linear(self.blocks[l].attention.dense, z)

    def attn_weights(self, l):
        checks.layer(l, self.n_layer)
        lin = self._packed(l)
        H, dh = self.n_head, self.d_head
        w = lin.weight.view(H, 3, dh, -1)  # [head, q/k/v, d_head, d_model]
        W_Q, W_K, W_V = (w[:, i].reshape(H * dh, -1).T for i in range(3))  # [d_model, head * d_head]: copies
        if lin.bias is None:
            b_Q = b_K = b_V = None
        else:
            b = lin.bias.view(H, 3, dh)
            b_Q, b_K, b_V = (b[:, i].reshape(H * dh) for i in range(3))
        return layout.AttnWeights(W_Q=W_Q, W_K=W_K, W_V=W_V, b_Q=b_Q, b_K=b_K, b_V=b_V, n_head=H)
