"""A new family in one file (tests/unit/model/test_family_extension.py imports it): Microsoft's Phi
(PhiForCausalLM). Attention and MLP in parallel, reading ONE shared layer norm of the block input; partial rotary;
q/k/v and the output projection with biases; an LM head with a bias. Nothing else in sinklab is edited."""
from __future__ import annotations

from sinklab.model.families import LinearFamily, Traits


class Phi(LinearFamily):
    """PhiForCausalLM: parallel attention + MLP on one input_layernorm, partial rotary, biased projections."""

    model_type = "phi"
    hf_class = "PhiForCausalLM"
    config_class = "PhiConfig"
    typical = Traits("phi", "Phi", "rotary", 0, query_bias=True, scaled=True, parallel=True)
    small = dict(num_hidden_layers=3, num_attention_heads=4, hidden_size=64, intermediate_size=128,
                 max_position_embeddings=64, partial_rotary_factor=0.5)
    rotary = True
    parallel = True  # the MLP reads the block input (through the same norm as attention)
    modules = {"embed": "model.embed_tokens", "ln1": "input_layernorm", "ln2": "input_layernorm",
               "ln_final": "model.final_layernorm", "mlp_in": "mlp.fc1", "act": "mlp.activation_fn",
               "mlp_out": "mlp.fc2"}

    def __init__(self, model):
        super().__init__(model)
        self.m = model.model
        self.blocks = self.m.layers

    @classmethod
    def scale(cls, cfg, layer):
        return (cfg.hidden_size // cfg.num_attention_heads) ** -0.5

    def rotary_angles(self, pos_ids, like, layer=0):
        return self.m.rotary_emb(like, pos_ids)  # [batch, pos, d_rot]: the first half of each head rotates

    def _proj(self, l):
        a = self.blocks[l].self_attn
        return a.q_proj, a.k_proj, a.v_proj, a.dense
