"""GPT-2 (every size, distilgpt2): GPT2LMHeadModel. Learned positions, Conv1D weights (x @ W), c_attn packs
q | k | v, LayerNorm, GELU, scores scaled by 1/sqrt(d_head) (optionally also by 1/(layer + 1))."""
from __future__ import annotations

import torch

from .. import layout
from ... import checks
from .base import Family, Traits


class _GPT2Modules:
    """The embedding and layer-norm modules GPT-2 and GPT-Neo name alike (transformer.wte/wpe, ln_1/ln_2/ln_f)."""

    modules = {"embed": "transformer.wte", "ln1": "ln_1", "ln2": "ln_2", "ln_final": "transformer.ln_f",
               "mlp_in": "mlp.c_fc", "act": "mlp.act", "mlp_out": "mlp.c_proj"}

    def __init__(self, model):
        super().__init__(model)
        self.tf = model.transformer
        self.blocks = self.tf.h

    def pos_table(self):
        return self.tf.wpe.weight


class GPT2(_GPT2Modules, Family):
    """GPT2LMHeadModel: Conv1D weights (x @ W), c_attn packs q | k | v, learned positions (wpe)."""

    model_type = "gpt2"
    hf_class = "GPT2LMHeadModel"
    config_class = "GPT2Config"
    typical = Traits("gpt2", "GPT-2", "learned", 0, query_bias=True, scaled=True)
    small = dict(n_layer=3, n_head=4, n_embd=64, n_positions=64)

    @classmethod
    def scale(cls, cfg, layer):
        return layout.gpt2_scale(cfg, layer)

    def qkv(self, l, x):
        qkv = layout.conv1d(self.blocks[l].attn.c_attn, x)  # [batch, pos, 3 d_model]
        return tuple(t.unflatten(-1, (self.n_head, self.d_head)) for t in layout.packed_qkv(qkv, self.d_model))

    def attn_out(self, l, z):
        return layout.conv1d(self.blocks[l].attn.c_proj, z)

    def mlp_in(self, l, x):
        return layout.conv1d(self.part(l, "mlp_in"), x)

    def _act(self, l):
        if self.model.config.activation_function in ("gelu_new", "gelu_pytorch_tanh"):
            return _gelu_tanh  # the same function as HF's NewGELU (to 5e-7), fused: several times faster
        return self.part(l, "act")

    def mlp_out(self, l, post):
        return layout.conv1d(self.part(l, "mlp_out"), post)

    def attn_weights(self, l):
        checks.layer(l, self.n_layer)
        c = self.blocks[l].attn.c_attn  # weight [d, 3d], bias [3d]
        (W_Q, W_K, W_V), (b_Q, b_K, b_V) = (layout.packed_qkv(t, self.d_model) for t in (c.weight, c.bias))
        return layout.AttnWeights(W_Q=W_Q, W_K=W_K, W_V=W_V, b_Q=b_Q, b_K=b_K, b_V=b_V, n_head=self.n_head)

    def mlp_out_rows(self, l):
        return self.part(l, "mlp_out").weight

    def mlp_in_columns(self, l):
        return self.part(l, "mlp_in").weight

    def epe_parameters(self):
        block = self.blocks[0]
        return [self.tf.wpe.weight, *block.mlp.parameters(), *block.ln_2.parameters()]


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh-approximated GELU, fused by torch."""
    return torch.nn.functional.gelu(x, approximate="tanh")
