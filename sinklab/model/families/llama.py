"""Llama: LlamaForCausalLM. Rotary positions, RMSNorm, grouped-query attention, SwiGLU; q/k/v biases only if the
config sets attention_bias. `Rotary` is also the base of Qwen2 and Gemma 3."""
from __future__ import annotations

from .. import layout
from .base import LinearFamily, Traits


class Rotary(LinearFamily):
    """LlamaForCausalLM (and the families built like it: Qwen2, Gemma 3): RMSNorm, rotary q/k, grouped-query
    attention, SwiGLU MLP.

    hook_q / hook_k are recorded before the rotation, hook_rot_q / hook_rot_k after it. Qwen2 has q/k/v biases, Llama none (unless its
    config sets attention_bias). Qwen2's sliding-window layers (if its config enables them) are local.
    """

    model_type = "llama"
    hf_class = "LlamaForCausalLM"
    config_class = "LlamaConfig"
    typical = Traits("llama", "Llama", "rotary", 0, query_bias=False, scaled=True)
    small = dict(num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, hidden_size=64,
                 intermediate_size=96, max_position_embeddings=64)
    rotary = True
    modules = {"embed": "model.embed_tokens", "ln1": "input_layernorm", "ln2": "post_attention_layernorm",
               "ln_final": "model.norm", "mlp_in": "mlp.gate_proj", "act": "mlp.act_fn", "mlp_out": "mlp.down_proj"}
    norm = staticmethod(layout.rms_norm)

    def __init__(self, model):
        super().__init__(model)
        self.m = model.model
        self.blocks = self.m.layers

    @staticmethod
    def head_dim(cfg) -> int:
        return getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads

    @classmethod
    def scale(cls, cfg, layer):
        return cls.head_dim(cfg) ** -0.5

    def window(self, l):
        types = getattr(self.cfg, "layer_types", None)
        if types and types[l] == "sliding_attention":
            return self.cfg.sliding_window
        return None

    def rotary_angles(self, pos_ids, like, layer=0):
        return self.m.rotary_emb(like, pos_ids)  # HF's own module: every rope_type it supports

    def _proj(self, l):
        a = self.blocks[l].self_attn
        return a.q_proj, a.k_proj, a.v_proj, a.o_proj

    def mlp_act(self, l, pre, x):
        """act(gate) * up(x): SwiGLU (mlp_in, TransformerLens's hook_pre for gated MLPs, is the gate)."""
        return self.part(l, "act")(pre) * layout.linear(self.blocks[l].mlp.up_proj, x)
