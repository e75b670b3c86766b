"""Per-family adapters: where one architecture keeps each weight, and its choices, read by ONE forward loop.

    fam = families.of(model)              # GPT2 / GPTNeo / OPT / Rotary / Qwen2 / Gemma3 / GPTNeoX, checked on construction
    fam.attn_weights(3).W_K               # [d_model, n_head * d_head], x @ W, every family alike
    families.attn_weights(model, 3).b_Q   # the same, from the model

An adapter exposes: the dimensions, the embeddings and the position handling (a learned absolute
table read at position + offset, or rotary angles), the two norms of a block and the final one, the
q/k/v and output projections, the MLP in three steps, the attention scale and the local-attention
window, and whether attention and MLP run in parallel. forward.py runs one loop over these; the model-level views
below (attn_weights, pos_embed, has_position_embeddings, attn_scale, ...) look the adapter up.

One file per family (gpt2.py, gpt_neo.py, opt.py, llama.py, qwen2.py, gemma3.py, gpt_neox.py): defining its class
registers it (base.py). A new family is one new file in this folder (loaded with the others, after them), or in any
module the program imports.

Family      model_type   positions                 q/k/v bias      norm       MLP       scale         notes
GPT-2       gpt2         learned, offset 0         yes             LayerNorm  GELU      1/sqrt(d_h)   every size, distilgpt2
GPT-Neo     gpt_neo      learned, offset 0         none            LayerNorm  GELU      1 (none)      local layers: window
OPT         opt          learned, offset 2         yes (config)    LayerNorm  ReLU      1/sqrt(d_h)   pre-LN only, no project_in/out
Llama       llama        rotary                    none (config)   RMSNorm    SwiGLU    1/sqrt(d_h)   grouped-query attention
Qwen2       qwen2        rotary                    q/k/v yes       RMSNorm    SwiGLU    1/sqrt(d_h)   GQA; sliding layers if set
Gemma 3     gemma3_text  rotary (per layer type)   none            RMSNorm    GeGLU     query_pre_    QK-norm, post-norms, scaled
                                                                   (1 + w)              attn_scalar   embeddings, sliding/global
GPT-NeoX    gpt_neox     rotary (partial)          yes (config)    LayerNorm  GELU      1/sqrt(d_h)   parallel attention + MLP
                                                                                                      (use_parallel_residual)

What is defined where (the rest raise NotApplicable, saying why): EPE and everything built on it
(massive coordinates, γ tables, the b_Q–EPE alignment, (d)/(e)/(i)/(j) defaults) needs a learned
position table; γ, Δ and the alignment need a query bias and un-rotated q/k; the four-term score
decomposition is defined on un-rotated q/k, i.e. for non-rotary families (GPT-Neo: terms 2-4 are 0).
So: all of it on GPT-2 and OPT; EPE and the decomposition on GPT-Neo; none of it on the rotary families.
"""
from __future__ import annotations

import importlib
import pkgutil

import torch

from ...errors import BadInput
from .base import (BY_TYPE, CONFIGS, FAMILIES, HF_CLASSES, SMALL, SUPPORTED, TYPICAL, Family, LinearFamily,
                   NotApplicable, Traits, register, unregister)
# the built-in families, in the order the tables list them (each registers itself when its class is defined)
from .gpt2 import GPT2
from .gpt_neo import GPTNeo
from .opt import OPT
from .llama import Rotary
from .qwen2 import Qwen2
from .gemma3 import Gemma3
from .gpt_neox import GPTNeoX

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")  # a family file dropped in this folder registers itself

__all__ = ["Family", "LinearFamily", "Traits", "NotApplicable", "register", "unregister", "of", "family_class",
           "random_model", "BY_TYPE", "FAMILIES", "SUPPORTED", "HF_CLASSES", "CONFIGS", "TYPICAL", "SMALL",
           "attn_weights", "mlp_out_rows", "mlp_in_columns", "pos_embed", "has_position_embeddings", "attn_scale",
           "GPT2", "GPTNeo", "OPT", "Rotary", "Qwen2", "Gemma3", "GPTNeoX"]


def family_class(cfg) -> type[Family]:
    """The adapter class of a config's model_type; BadInput naming the supported types otherwise."""
    t = getattr(cfg, "model_type", None)
    if t not in BY_TYPE:
        titles = ", ".join(TYPICAL[s].title for s in SUPPORTED)
        raise BadInput(f"{t!r} models are not supported; sinklab reads these model types: "
                       f"{', '.join(SUPPORTED)} (GPT-2 of every size and distilgpt2; {titles})")
    return BY_TYPE[t]


def of(model) -> Family:
    """The adapter of `model` (a *ForCausalLM of a supported family)."""
    return family_class(model.config)(model)


# ------------------------------------------------------------------------------ model-level views
def attn_weights(model, layer: int):
    """Layer `layer`'s W_Q, W_K, W_V, b_Q, b_K, b_V (a layout.AttnWeights; views where the layout allows,
    GPT-2: always views)."""
    return of(model).attn_weights(layer)


def mlp_out_rows(model, layer: int) -> torch.Tensor:
    """The MLP's down-projection, one row per hidden neuron. [d_mlp, d_model]"""
    return of(model).mlp_out_rows(layer)


def mlp_in_columns(model, layer: int) -> torch.Tensor:
    """The MLP's up-projection (the gate for SwiGLU), one column per hidden neuron. [d_model, d_mlp]"""
    return of(model).mlp_in_columns(layer)


def pos_embed(model) -> torch.Tensor:
    """The learned position embeddings, row i = position i (OPT's offset of 2 removed). [n_positions, d_model]

    Raises NotApplicable on a rotary model (no position table)."""
    return of(model).pos_table()


def has_position_embeddings(model) -> bool:
    """True for a learned table that is not all zero; False for a "NoPE" model and for rotary models."""
    fam = of(model)
    return (not fam.rotary) and bool(fam.pos_table().abs().max() > 0)


def attn_scale(model_or_config, layer: int) -> float:
    """The factor multiplying q k^T: 1/sqrt(d_head), 1 for GPT-Neo, (GPT-2 option) / (layer + 1)."""
    cfg = getattr(model_or_config, "config", model_or_config)
    return family_class(cfg).scale(cfg, layer)


# ------------------------------------------------------------------------------ tests
def random_model(model_type: str, seed: int = 0, vocab_size: int = 101, weight_std: float | None = None,
                 **overrides):
    """A randomly initialised model of a supported family, eval mode, eager attention, no gradients.

    Weights ~ N(0, weight_std) (the family's random_std: 0.2; 0.1 for GPT-Neo, whose scores are not scaled),
    biases ~ N(0, 0.1), norm gains ~ 1 + N(0, 0.1): attention far from uniform, yet not one-hot, and every
    term of the forward matters. `overrides` go to the config (over the family's `small` one). For tests and
    benchmarks (no hub needed).
    """
    import transformers  # here, not at the top: only tests and benchmarks build random models

    cls = family_class(type("C", (), {"model_type": model_type}))  # the supported-types message
    std = weight_std if weight_std is not None else cls.random_std
    torch.manual_seed(seed)
    cfg = getattr(transformers, CONFIGS[model_type])(
        **{**SMALL[model_type], "vocab_size": vocab_size, "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0,
           **overrides})
    cfg._attn_implementation = "eager"
    model = getattr(transformers, HF_CLASSES[model_type])(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name or ".ln" in name:  # layer-norm / RMSNorm gains and biases
                p.copy_(1 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            elif p.dim() == 1:
                p.copy_(0.1 * noise)
            else:
                p.copy_(std * noise)
    for p in model.parameters():
        p.requires_grad_(False)
    return model
