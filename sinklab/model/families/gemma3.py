"""Gemma 3 (text): Gemma3ForCausalLM. Llama's layout plus QK-norm, post-norms, a scaled embedding, (1 + w) RMSNorms,
GeGLU and per-layer-type rotary angles (sliding and global layers)."""
from __future__ import annotations

from .. import layout
from ...errors import BadInput
from .base import Traits
from .llama import Rotary


class Gemma3(Rotary):
    """Gemma3ForCausalLM (text): as Llama, plus QK-norm, post-norms, a scaled embedding and per-type rotary angles.

    - the token embedding is multiplied by sqrt(d_model) (HF's scaled embedding module: hook_embed includes it);
    - every RMSNorm multiplies by (1 + w), computed in fp32 (layout.gemma_rms_norm);
    - q and k are RMS-normalised per head (q_norm, k_norm) after hook_q / hook_k and before the rotation;
    - the attention output and the MLP output are each normalised (post_attention_layernorm,
      post_feedforward_layernorm) before they join the residual stream: hook_attn_out and hook_mlp_out hold
      what is added (as TransformerLens records them); ln2 is the pre_feedforward_layernorm;
    - scores are scaled by query_pre_attn_scalar^-0.5; sliding-window layers see the last `sliding_window`
      keys and use their own rotary base (config.layer_types picks each layer's kind);
    - the MLP is GeGLU: gelu_tanh(x W_gate) * (x W_up).
    Attention-logit and final-logit soft-capping (Gemma 2) and bidirectional attention are refused.
    """

    model_type = "gemma3_text"
    hf_class = "Gemma3ForCausalLM"
    config_class = "Gemma3TextConfig"
    typical = Traits("gemma3_text", "Gemma 3", "rotary", 0, query_bias=False, scaled=True, qk_norm=True,
                     post_norms=True)
    small = dict(num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=1, hidden_size=64, head_dim=32,
                 intermediate_size=96, max_position_embeddings=64, sliding_window=5,
                 layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
                 query_pre_attn_scalar=32)
    modules = {"embed": "model.embed_tokens", "ln1": "input_layernorm", "ln2": "pre_feedforward_layernorm",
               "ln_final": "model.norm", "mlp_in": "mlp.gate_proj", "act": "mlp.act_fn", "mlp_out": "mlp.down_proj"}
    norm = staticmethod(layout.gemma_rms_norm)

    def __init__(self, model):
        super().__init__(model)
        c = model.config
        for what in ("attn_logit_softcapping", "final_logit_softcapping"):
            if getattr(c, what, None) is not None:
                raise BadInput(f"this Gemma checkpoint soft-caps its logits ({what}={getattr(c, what)}); sinklab reads "
                               "Gemma 3 models without soft-capping only")
        if getattr(c, "use_bidirectional_attention", False):
            raise BadInput("this Gemma checkpoint attends bidirectionally; sinklab reads causal language models only")

    @classmethod
    def scale(cls, cfg, layer):
        return cfg.query_pre_attn_scalar ** -0.5

    @classmethod
    def meaning_note(cls, points, t):
        if points & {"q", "k"}:
            return (f" On {t.title} the change is made before the QK-norm (an RMSNorm of each head's q and k), which "
                    "rescales what remains.")
        return ""

    def rope_key(self, layer):
        return self.cfg.layer_types[layer]

    def rotary_angles(self, pos_ids, like, layer=0):
        return self.m.rotary_emb(like, pos_ids, self.cfg.layer_types[layer])

    def qk_norm(self, l, q, k):
        a = self.blocks[l].self_attn
        return self.norm(a.q_norm, q), self.norm(a.k_norm, k)

    def attn_out(self, l, z):
        return self.norm(self.blocks[l].post_attention_layernorm, layout.linear(self._proj(l)[3], z))

    def mlp_out(self, l, post):
        return self.norm(self.blocks[l].post_feedforward_layernorm, layout.linear(self.part(l, "mlp_out"), post))
