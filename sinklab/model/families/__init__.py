"""Per-family adapters: where one architecture keeps each weight, and its choices, read by ONE forward loop.

    fam = families.of(model)      # GPT2 / GPTNeo / OPT / Rotary (Llama, Qwen2), checked on construction
    fam.attn_weights(3).W_K       # [d_model, n_head * d_head], x @ W, every family alike

An adapter exposes: the dimensions, the embeddings and the position handling (a learned absolute
table read at position + offset, or rotary angles), the two norms of a block and the final one, the
q/k/v and output projections, the MLP in three steps, the attention scale and the local-attention
window. forward.py runs one loop over these; layout.py's model-level views dispatch here.

Family      model_type   positions                 q/k/v bias      norm       MLP       scale         notes
GPT-2       gpt2         learned, offset 0         yes             LayerNorm  GELU      1/sqrt(d_h)   every size, distilgpt2
GPT-Neo     gpt_neo      learned, offset 0         none            LayerNorm  GELU      1 (none)      local layers: window
OPT         opt          learned, offset 2         yes (config)    LayerNorm  ReLU      1/sqrt(d_h)   pre-LN only, no project_in/out
Llama       llama        rotary                    none (config)   RMSNorm    SwiGLU    1/sqrt(d_h)   grouped-query attention
Qwen2       qwen2        rotary                    q/k/v yes       RMSNorm    SwiGLU    1/sqrt(d_h)   GQA; sliding layers if set
Gemma 3     gemma3_text  rotary (per layer type)   none            RMSNorm    GeGLU     query_pre_    QK-norm, post-norms, scaled
                                                                   (1 + w)              attn_scalar   embeddings, sliding/global

What is defined where (the rest raise NotApplicable, saying why): EPE and everything built on it
(massive coordinates, γ tables, the b_Q–EPE alignment, (d)/(e)/(i)/(j) defaults) needs a learned
position table; γ, Δ and the alignment need a query bias and un-rotated q/k; the four-term score
decomposition is defined on un-rotated q/k, i.e. for non-rotary families (GPT-Neo: terms 2-4 are 0).
So: all of it on GPT-2 and OPT; EPE and the decomposition on GPT-Neo; none of it on Llama/Qwen2/Gemma 3.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from operator import attrgetter
from typing import ClassVar

import torch

from .. import layout
from ...errors import BadInput


class NotApplicable(BadInput):
    """A quantity or intervention is not defined on this model (e.g. EPE on a model without position embeddings)."""


@dataclass(frozen=True)
class Traits:
    """What the meaning of an intervention or analysis depends on, for one family (or one checkpoint)."""

    family: str  # model_type
    title: str
    positions: str  # "learned" or "rotary"
    pos_offset: int  # row of position 0 in the learned table
    query_bias: bool
    scaled: bool  # scores multiplied by 1/sqrt(d_head)
    qk_norm: bool = False  # q and k RMS-normalised per head before the scores (Gemma 3)
    post_norms: bool = False  # each block's attention and MLP outputs normalised before they join the residual


class Family:
    """Base adapter. Subclasses fill the dimensions and the parts; `model` is read, never written."""

    model_types: ClassVar[tuple[str, ...]] = ()
    rotary: ClassVar[bool] = False
    pos_offset: ClassVar[int] = 0

    # dimensions, set by __init__
    n_layer: int
    n_head: int
    n_kv_head: int
    d_model: int
    d_head: int
    n_positions: int
    vocab_size: int

    # where the parts live: "embed" and "ln_final" from the model; "ln1", "ln2", "mlp_in", "act", "mlp_out" from a block
    modules: ClassVar[dict[str, str]] = {}
    norm: ClassVar = staticmethod(layout.layer_norm)  # (module, x) -> normalised x

    def __init__(self, model):
        self.model = model
        self.cfg = c = model.config  # HF's standard names (attribute_map) cover every family's own
        self.n_layer, self.n_head, self.d_model = c.num_hidden_layers, c.num_attention_heads, c.hidden_size
        self.n_kv_head = getattr(c, "num_key_value_heads", None) or self.n_head  # grouped-query attention
        self.d_head = getattr(c, "head_dim", None) or self.d_model // self.n_head
        self.n_positions, self.vocab_size = c.max_position_embeddings, c.vocab_size

    # ------------------------------------------------------------------ description
    @property
    def name(self) -> str:
        """The model_type: gpt2, gpt_neo, opt, llama or qwen2."""
        return self.cfg.model_type

    @property
    def title(self) -> str:
        return TYPICAL[self.name].title

    @property
    def has_query_bias(self) -> bool:
        return True

    def traits(self) -> Traits:
        """This checkpoint's traits (its config may switch a bias on or off)."""
        return replace(TYPICAL[self.name], query_bias=self.has_query_bias)

    def require(self, what: str, learned_positions: bool = False, query_bias: bool = False,
                unrotated: bool = False) -> None:
        """Raise NotApplicable (naming `what` and the reason) unless the model has what `what` is defined on."""
        if learned_positions and self.rotary:
            raise NotApplicable(f"{what} does not apply to {self.title} (rotary): it is defined through a learned "
                                "position table, and a rotary model has none (position enters only as a rotation "
                                "of q and k)")
        if unrotated and self.rotary:
            raise NotApplicable(f"{what} does not apply to {self.title} (rotary): it is defined on un-rotated q "
                                "and k; under rotary embeddings b_Q·k depends on the query-key distance, so there "
                                "is no source-agnostic key-only term")
        if query_bias and not self.has_query_bias:
            raise NotApplicable(f"{what} does not apply to this {self.title} model: it has no query bias b_Q "
                                "(the quantity is identically zero)")

    # ------------------------------------------------------------------ scale and masks
    @classmethod
    def scale(cls, cfg, layer: int) -> float:
        """The factor multiplying q k^T in layer `layer`."""
        raise NotImplementedError

    def attn_scale(self, layer: int) -> float:
        return self.scale(self.cfg, layer)

    def window(self, layer: int) -> int | None:
        """Local attention: a key is seen if key > query - window; None = global causal attention."""
        return None

    # ------------------------------------------------------------------ positions
    def position_ids(self, batch: int, T: int, device) -> torch.Tensor:
        """0..T-1 for every example (right padding). [batch, pos]"""
        return torch.arange(T, device=device)[None].expand(batch, T)

    def pos_table(self) -> torch.Tensor:
        """Learned table, row i = position i (offset removed). [n_positions, d_model]"""
        self.require("the position-embedding table", learned_positions=True)
        raise NotImplementedError

    def pos_embed(self, pos_ids: torch.Tensor) -> torch.Tensor:
        """[batch, pos] -> [batch, pos, d_model]"""
        return self.pos_table()[pos_ids]

    def rope_key(self, layer: int):
        """Layers with the same key share their rotary angles (Gemma 3: one set per layer type)."""
        return None

    def rotary_angles(self, pos_ids: torch.Tensor, like: torch.Tensor, layer: int = 0):
        """(cos, sin) of `layer`, each [batch, pos, d_head]; rotary families only."""
        raise NotApplicable(f"{self.title} has no rotary embeddings")

    def qk_norm(self, l: int, q: torch.Tensor, k: torch.Tensor):
        """q, k after the family's per-head normalisation (identity but for QK-norm families). [b, p, head, d_h]"""
        return q, k

    # ------------------------------------------------------------------ embeddings and norms (declared per family)
    def embed(self, ids):
        """[batch, pos] -> [batch, pos, d_model]"""
        return attrgetter(self.modules["embed"])(self.model)(ids)

    def part(self, l: int, name: str):
        """Block l's module declared under `name` in `modules` (ln1, ln2, mlp_in, act, mlp_out)."""
        return attrgetter(self.modules[name])(self.blocks[l])

    def ln1(self, l, x):
        return self.norm(self.part(l, "ln1"), x)

    def ln2(self, l, x):
        return self.norm(self.part(l, "ln2"), x)

    def ln_final(self, x):
        final = attrgetter(self.modules["ln_final"])(self.model)
        return x if final is None else self.norm(final, x)  # OPT may have none

    # ------------------------------------------------------------------ parts (implemented per family)
    def qkv(self, l, x): raise NotImplementedError  # -> q [b, p, head, d_h], k, v [b, p, kv_head, d_h]
    def attn_out(self, l, z): raise NotImplementedError  # [b, p, head * d_h] -> [b, p, d_model]
    def mlp_in(self, l, x): raise NotImplementedError  # -> pre [b, p, d_mlp]
    def mlp_act(self, l, pre, x): return self._act(l)(pre)  # -> post [b, p, d_mlp]
    def mlp_out(self, l, post): raise NotImplementedError  # -> [b, p, d_model]
    def unembed(self, x): return self.model.lm_head(x)  # [b, p, d_model] -> [b, p, vocab]
    def attn_weights(self, l) -> layout.AttnWeights: raise NotImplementedError
    def mlp_out_rows(self, l) -> torch.Tensor: raise NotImplementedError  # [d_mlp, d_model]
    def mlp_in_columns(self, l) -> torch.Tensor: raise NotImplementedError  # [d_model, d_mlp]
    def _act(self, l): raise NotImplementedError

    def mlp(self, l: int, x: torch.Tensor) -> torch.Tensor:
        """Block l's MLP as a pure function. [..., d_model] -> [..., d_model]"""
        return self.mlp_out(l, self.mlp_act(l, self.mlp_in(l, x), x))

    def epe_parameters(self) -> list[torch.Tensor]:
        """What EPE is computed from (its cache is invalidated when one of these is edited in place)."""
        return [self.pos_table(), *self.block(0).parameters()]

    def block(self, l: int):
        return self.blocks[l]


# ---------------------------------------------------------------------------------------------- GPT-2
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

    model_types = ("gpt2",)

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
        from ... import checks

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


# ------------------------------------------------------------------------------ torch-Linear families
class _Linear(Family):
    """Families whose projections are torch Linear modules (weight [out, in], read transposed)."""

    def _proj(self, l):
        """(q, k, v, out) Linear modules of block l."""
        raise NotImplementedError

    @property
    def has_query_bias(self) -> bool:
        return self._proj(0)[0].bias is not None

    def qkv(self, l, x):
        b, T, _ = x.shape
        q, k, v, _ = self._proj(l)
        return (layout.linear(q, x).view(b, T, self.n_head, self.d_head),
                layout.linear(k, x).view(b, T, self.n_kv_head, self.d_head),
                layout.linear(v, x).view(b, T, self.n_kv_head, self.d_head))

    def attn_out(self, l, z):
        return layout.linear(self._proj(l)[3], z)

    def mlp_in(self, l, x):
        return layout.linear(self.part(l, "mlp_in"), x)

    def _act(self, l):
        return self.part(l, "act")

    def mlp_out(self, l, post):
        return layout.linear(self.part(l, "mlp_out"), post)

    def mlp_out_rows(self, l):
        return self.part(l, "mlp_out").weight.T

    def mlp_in_columns(self, l):
        return self.part(l, "mlp_in").weight.T

    def attn_weights(self, l):
        from ... import checks

        checks.layer(l, self.n_layer)
        q, k, v, _ = self._proj(l)
        H, K = self.n_head, self.n_kv_head
        return layout.AttnWeights(
            W_Q=q.weight.T, W_K=layout.per_query_head(k.weight.T, H, K), W_V=layout.per_query_head(v.weight.T, H, K),
            b_Q=q.bias, b_K=layout.per_query_head(k.bias, H, K), b_V=layout.per_query_head(v.bias, H, K),
            n_head=H, n_kv_head=K)


class GPTNeo(_GPT2Modules, _Linear):
    """GPTNeoForCausalLM: no q/k/v bias, no 1/sqrt(d_head) scaling, alternating global/local layers."""

    model_types = ("gpt_neo",)

    @classmethod
    def scale(cls, cfg, layer):
        return 1.0

    def window(self, l):
        return self.cfg.window_size if self.cfg.attention_layers[l] == "local" else None

    def _proj(self, l):
        a = self.blocks[l].attn.attention
        return a.q_proj, a.k_proj, a.v_proj, a.out_proj



class OPT(_Linear):
    """OPTForCausalLM: learned positions at row position + 2, q/k/v biases, pre-LN checkpoints only."""

    model_types = ("opt",)
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


class Rotary(_Linear):
    """LlamaForCausalLM / Qwen2ForCausalLM: RMSNorm, rotary q/k, grouped-query attention, SwiGLU MLP.

    hook_q / hook_k are recorded before the rotation, hook_rot_q / hook_rot_k after it. Qwen2 has q/k/v biases, Llama none (unless its
    config sets attention_bias). Qwen2's sliding-window layers (if its config enables them) are local.
    """

    model_types = ("llama", "qwen2")
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

    model_types = ("gemma3_text",)
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


FAMILIES: tuple[type[Family], ...] = (GPT2, GPTNeo, OPT, Rotary, Gemma3)
HF_CLASSES = {"gpt2": "GPT2LMHeadModel", "gpt_neo": "GPTNeoForCausalLM", "opt": "OPTForCausalLM",
              "llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM"}
BY_TYPE = {t: f for f in FAMILIES for t in f.model_types}
SUPPORTED = tuple(BY_TYPE)
TYPICAL = {  # the traits of each family's published checkpoints (for tables made without a model)
    "gpt2": Traits("gpt2", "GPT-2", "learned", 0, query_bias=True, scaled=True),
    "gpt_neo": Traits("gpt_neo", "GPT-Neo", "learned", 0, query_bias=False, scaled=False),
    "opt": Traits("opt", "OPT", "learned", 2, query_bias=True, scaled=True),
    "llama": Traits("llama", "Llama", "rotary", 0, query_bias=False, scaled=True),
    "qwen2": Traits("qwen2", "Qwen2", "rotary", 0, query_bias=True, scaled=True),
    "gemma3_text": Traits("gemma3_text", "Gemma 3", "rotary", 0, query_bias=False, scaled=True, qk_norm=True,
                          post_norms=True),
}


def family_class(cfg) -> type[Family]:
    """The adapter class of a config's model_type; BadInput naming the supported types otherwise."""
    t = getattr(cfg, "model_type", None)
    if t not in BY_TYPE:
        raise BadInput(f"{t!r} models are not supported; sinklab reads these model types: "
                       f"{', '.join(SUPPORTED)} (GPT-2 of every size and distilgpt2, GPT-Neo, OPT, Llama, Qwen2, "
                       "Gemma 3)")
    return BY_TYPE[t]


def of(model) -> Family:
    """The adapter of `model` (a *ForCausalLM of a supported family)."""
    return family_class(model.config)(model)


# ---------------------------------------------------------------------------------------------- tests
SMALL = {  # small random configs of every supported family (tests, benchmarks: no weights needed)
    "gpt2": dict(n_layer=3, n_head=4, n_embd=64, n_positions=64),
    "gpt_neo": dict(num_layers=4, num_heads=4, hidden_size=64, max_position_embeddings=64, window_size=5,
                    attention_types=[[["global", "local"], 2]]),
    "opt": dict(num_hidden_layers=3, num_attention_heads=4, hidden_size=64, ffn_dim=128,
                max_position_embeddings=64, word_embed_proj_dim=64),
    "llama": dict(num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, hidden_size=64,
                  intermediate_size=96, max_position_embeddings=64),
    "qwen2": dict(num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, hidden_size=64,
                  intermediate_size=96, max_position_embeddings=64, use_sliding_window=True, sliding_window=5,
                  max_window_layers=1),
    "gemma3_text": dict(num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=1, hidden_size=64,
                        head_dim=32, intermediate_size=96, max_position_embeddings=64, sliding_window=5,
                        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
                        query_pre_attn_scalar=32),
}
_CONFIGS = {"gpt2": "GPT2Config", "gpt_neo": "GPTNeoConfig", "opt": "OPTConfig", "llama": "LlamaConfig",
            "qwen2": "Qwen2Config", "gemma3_text": "Gemma3TextConfig"}


def random_model(model_type: str, seed: int = 0, vocab_size: int = 101, weight_std: float | None = None,
                 **overrides):
    """A randomly initialised model of a supported family, eval mode, eager attention, no gradients.

    Weights ~ N(0, weight_std) (0.2; 0.1 for GPT-Neo, whose scores are not scaled), biases ~ N(0, 0.1),
    norm gains ~ 1 + N(0, 0.1): attention far from uniform, yet not one-hot, and every term of the
    forward matters. `overrides` go to the config. For tests and benchmarks (no hub needed).
    """
    std = weight_std if weight_std is not None else (0.1 if model_type == "gpt_neo" else 0.2)
    import transformers

    if model_type not in _CONFIGS:
        family_class(type("C", (), {"model_type": model_type}))  # the supported-types message
    torch.manual_seed(seed)
    cfg = getattr(transformers, _CONFIGS[model_type])(
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


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh-approximated GELU, fused by torch."""
    return torch.nn.functional.gelu(x, approximate="tanh")
