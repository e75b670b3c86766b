"""The Family base class and the registry every family file adds itself to (by defining its class).

A family is one file in this folder: a subclass of Family (or of another family) that declares, in its class
body, its `model_type` (the Hugging Face config's), `hf_class` and `config_class` (the transformers classes it is
loaded and built with), `typical` (the Traits of its published checkpoints: what interventions and analyses
mean there), `small` (a small random config for tests and benchmarks), and implements where its weights live
(`qkv`, `attn_out`, `mlp_in`, `mlp_out`, `attn_weights`, ...). Defining the class registers it; a missing or
wrong declaration raises TypeError when the class is defined. See docs/architecture.md, "Add a family".
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from operator import attrgetter
from typing import ClassVar

import torch

from .. import layout
from ... import checks
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
    parallel: bool = False  # attention and MLP read the same block input and are added together (GPT-NeoX)


# the registry, filled by Family.__init_subclass__ (one entry per model_type, in definition order)
BY_TYPE: dict[str, type["Family"]] = {}
FAMILIES: list[type["Family"]] = []
SUPPORTED: list[str] = []  # the model types sinklab reads
HF_CLASSES: dict[str, str] = {}  # model_type -> the transformers class sinklab loads it with
CONFIGS: dict[str, str] = {}  # model_type -> the transformers config class (random_model)
TYPICAL: dict[str, Traits] = {}  # model_type -> the traits of its published checkpoints (tables made without a model)
SMALL: dict[str, dict] = {}  # model_type -> a small random config (tests, benchmarks: no weights needed)
_DECLARED = {"model_type": str, "hf_class": str, "config_class": str, "typical": Traits, "small": dict}
# what every concrete family implements (a rotary family: rotary_angles instead of pos_table)
_PARTS = ("scale", "qkv", "attn_out", "mlp_in", "mlp_out", "attn_weights", "mlp_out_rows", "mlp_in_columns")


def register(cls: type["Family"]) -> type["Family"]:
    """Add a family class to the registry (its class statement does it: Family.__init_subclass__)."""
    t = cls.model_type
    old = BY_TYPE.get(t)
    if old is not None and old.__qualname__ != cls.__qualname__:
        raise TypeError(f"model_type {t!r} is taken by {old.__name__}")
    if old is None:
        SUPPORTED.append(t)
        FAMILIES.append(cls)
    else:
        FAMILIES[FAMILIES.index(old)] = cls
    BY_TYPE[t], HF_CLASSES[t], CONFIGS[t], TYPICAL[t], SMALL[t] = (cls, cls.hf_class, cls.config_class, cls.typical,
                                                                   cls.small)
    return cls


def unregister(model_type: str) -> None:
    """Remove a family from the registry (tests that define one)."""
    cls = BY_TYPE.pop(model_type)
    FAMILIES.remove(cls)
    SUPPORTED.remove(model_type)
    for table in (HF_CLASSES, CONFIGS, TYPICAL, SMALL):
        table.pop(model_type)


def _check(cls) -> None:
    """A family class's declarations, checked when it is defined."""
    for name, kind in _DECLARED.items():
        value = getattr(cls, name, None)
        if not isinstance(value, kind):
            raise TypeError(f"{cls.__name__} declares model_type {cls.model_type!r}, so it must declare {name} "
                            f"({kind.__name__}); got {value!r}")
    if cls.typical.family != cls.model_type:
        raise TypeError(f"{cls.__name__}.typical describes {cls.typical.family!r}, not its model_type "
                        f"{cls.model_type!r}")
    if cls.typical.positions not in ("learned", "rotary") or (cls.typical.positions == "rotary") != cls.rotary:
        raise TypeError(f"{cls.__name__}: typical.positions is {cls.typical.positions!r} but rotary = {cls.rotary}")
    missing = [p for p in (*_PARTS, "rotary_angles" if cls.rotary else "pos_table")
               if getattr(cls, p) is getattr(Family, p)]
    if missing:
        raise TypeError(f"{cls.__name__} does not implement {', '.join(missing)} (see sinklab.model.families.base."
                        "Family)")


class Family:
    """Base adapter. Subclasses fill the dimensions and the parts; `model` is read, never written.

    A subclass that declares `model_type` is a family and registers itself (see the module docstring)."""

    # declared by each family (a subclass declaring model_type registers itself)
    model_type: ClassVar[str] = ""
    hf_class: ClassVar[str] = ""
    config_class: ClassVar[str] = ""
    typical: ClassVar[Traits | None] = None
    small: ClassVar[dict | None] = None
    random_std: ClassVar[float] = 0.2  # weight scale of random_model (GPT-Neo: 0.1, its scores are not scaled)
    # its choices
    rotary: ClassVar[bool] = False
    pos_offset: ClassVar[int] = 0
    parallel: ClassVar[bool] = False  # attention and MLP both read the block input (GPT-NeoX): ln2 reads resid_pre

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "model_type" in cls.__dict__:
            _check(cls)
            register(cls)

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
        """The model_type: gpt2, gpt_neo, opt, llama, qwen2, gemma3_text, gpt_neox, ..."""
        return self.cfg.model_type

    @property
    def title(self) -> str:
        return TYPICAL[self.name].title

    @property
    def has_query_bias(self) -> bool:
        return True

    def traits(self) -> Traits:
        """This checkpoint's traits (its config may switch a bias on or off, or the parallel block)."""
        return replace(TYPICAL[self.name], query_bias=self.has_query_bias, parallel=self.parallel)

    @classmethod
    def meaning_note(cls, points: frozenset, t: Traits) -> str:
        """What this family's own structure adds to the meaning of an intervention acting at `points` (a sentence
        appended to it; "" for nothing). Gemma 3: a change to q or k is made before the QK-norm."""
        return ""

    def require(self, what: str, learned_positions: bool = False, query_bias: bool = False,
                unrotated: bool = False) -> None:
        """Raise NotApplicable (naming `what` and the reason) unless the model has what `what` is defined on.

        learned_positions also refuses a learned table that is all zero ("NoPE"): p_i = 0 for every i, so
        anything defined through p_i (EPE, its massive coordinates, γ's alignment with them) is meaningless."""
        if learned_positions and self.rotary:
            raise NotApplicable(f"{what} does not apply to {self.title} (rotary): it is defined through a learned "
                                "position table, and a rotary model has none (position enters only as a rotation "
                                "of q and k)")
        if learned_positions and not bool(self.pos_table().abs().max() > 0):
            raise NotApplicable(f"{what} does not apply to this {self.title} model: its position table is all zero "
                                "(no position embeddings), so p_i = 0 at every position and there is no EPE")
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
        if self.rotary:
            self.require("the position-embedding table", learned_positions=True)
        raise NotImplementedError

    def pos_embed(self, pos_ids: torch.Tensor) -> torch.Tensor:
        """[batch, pos] -> [batch, pos, d_model]"""
        return self.pos_table()[pos_ids]

    def rope_key(self, layer: int):
        """Layers with the same key share their rotary angles (Gemma 3: one set per layer type)."""
        return None

    def rotary_angles(self, pos_ids: torch.Tensor, like: torch.Tensor, layer: int = 0):
        """(cos, sin) of `layer`, each [batch, pos, d_rot] (d_rot <= d_head: partial rotary rotates the first
        d_rot dimensions of each head only); rotary families only."""
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


# ------------------------------------------------------------------------------ torch-Linear families
class LinearFamily(Family):
    """Base of the families whose projections are torch Linear modules (weight [out, in], read transposed):
    a subclass names its (q, k, v, out) modules in `_proj`."""

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
        checks.layer(l, self.n_layer)
        q, k, v, _ = self._proj(l)
        H, K = self.n_head, self.n_kv_head
        return layout.AttnWeights(
            W_Q=q.weight.T, W_K=layout.per_query_head(k.weight.T, H, K), W_V=layout.per_query_head(v.weight.T, H, K),
            b_Q=q.bias, b_K=layout.per_query_head(k.bias, H, K), b_V=layout.per_query_head(v.bias, H, K),
            n_head=H, n_kv_head=K)
