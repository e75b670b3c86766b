"""GPT-Neo: GPTNeoForCausalLM. As GPT-2's modules (wte/wpe, ln_1/ln_2/ln_f, c_fc/c_proj), but Linear q/k/v/out
projections without biases, no 1/sqrt(d_head) scaling, and alternating global / local (windowed) layers."""
from __future__ import annotations

from .base import LinearFamily, Traits
from .gpt2 import _GPT2Modules


class GPTNeo(_GPT2Modules, LinearFamily):
    """GPTNeoForCausalLM: no q/k/v bias, no 1/sqrt(d_head) scaling, alternating global/local layers."""

    model_type = "gpt_neo"
    hf_class = "GPTNeoForCausalLM"
    config_class = "GPTNeoConfig"
    typical = Traits("gpt_neo", "GPT-Neo", "learned", 0, query_bias=False, scaled=False)
    small = dict(num_layers=4, num_heads=4, hidden_size=64, max_position_embeddings=64, window_size=5,
                 attention_types=[[["global", "local"], 2]])
    random_std = 0.1  # its scores are not scaled: smaller weights keep the attention far from one-hot

    @classmethod
    def scale(cls, cfg, layer):
        return 1.0

    def window(self, l):
        return self.cfg.window_size if self.cfg.attention_layers[l] == "local" else None

    def _proj(self, l):
        a = self.blocks[l].attn.attention
        return a.q_proj, a.k_proj, a.v_proj, a.out_proj
