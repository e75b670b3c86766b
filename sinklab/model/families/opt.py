"""OPT: OPTForCausalLM. Learned positions read at row position + 2, Linear q/k/v/out with biases, LayerNorm, ReLU;
pre-LN checkpoints without the project_in/out of OPT-350m only."""
from __future__ import annotations

from ...errors import BadInput
from .base import LinearFamily, Traits


class OPT(LinearFamily):
    """OPTForCausalLM: learned positions at row position + 2, q/k/v biases, pre-LN checkpoints only."""

    model_type = "opt"
    hf_class = "OPTForCausalLM"
    config_class = "OPTConfig"
    typical = Traits("opt", "OPT", "learned", 2, query_bias=True, scaled=True)
    small = dict(num_hidden_layers=3, num_attention_heads=4, hidden_size=64, ffn_dim=128, max_position_embeddings=64,
                 word_embed_proj_dim=64)
    pos_offset = 2
    modules = {"embed": "model.decoder.embed_tokens", "ln1": "self_attn_layer_norm", "ln2": "final_layer_norm",
               "ln_final": "model.decoder.final_layer_norm", "mlp_in": "fc1", "act": "activation_fn", "mlp_out": "fc2"}

    def __init__(self, model):
        super().__init__(model)
        c = model.config
        if not c.do_layer_norm_before:
            raise BadInput("this OPT checkpoint applies its layer norms after attention (do_layer_norm_before="
                           "False, as OPT-350m does); sinklab reads pre-LN OPT models only (OPT-125m, 1.3b, ...)")
        if c.word_embed_proj_dim != c.hidden_size:
            raise BadInput(f"this OPT checkpoint projects its {c.word_embed_proj_dim}-dim embeddings to "
                           f"{c.hidden_size} (project_in/out, as OPT-350m does); sinklab supports OPT models "
                           "without that projection only")
        self.dec = model.model.decoder
        self.blocks = self.dec.layers

    @classmethod
    def scale(cls, cfg, layer):
        return (cfg.hidden_size // cfg.num_attention_heads) ** -0.5

    def _proj(self, l):
        a = self.blocks[l].self_attn
        return a.q_proj, a.k_proj, a.v_proj, a.out_proj

    def pos_table(self):
        return self.dec.embed_positions.weight[self.pos_offset:]

    def epe_parameters(self):
        b = self.blocks[0]
        return [self.dec.embed_positions.weight, *b.fc1.parameters(), *b.fc2.parameters(),
                *b.final_layer_norm.parameters()]
