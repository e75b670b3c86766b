"""Weight layout and the small pure functions of a forward pass, written once for every family.

Every weight is read in ONE convention: y = x @ W + b with W of shape [in, out] (HF's GPT-2 Conv1D
layout; a torch Linear's weight is read transposed, as a view). Pure math on tensors and modules: nothing
here looks a model's family up. The family-specific part (which module holds which weight, positions,
norms, MLP, scale) is in sinklab/model/families/, which also has the model-level views
(`families.attn_weights(model, layer)`, `families.pos_embed(model)`, ...).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AttnWeights:
    """One layer's query/key/value weights, heads concatenated (x @ W), every family alike.

    K and V are given per QUERY head: under grouped-query attention (n_kv_head < n_head) each
    key/value head is repeated for the query heads that share it (a copy; otherwise views).
    A bias the family does not have is None (GPT-Neo and Llama have no q/k/v biases).
    """

    W_Q: torch.Tensor  # [d_model, n_head * d_head]
    W_K: torch.Tensor  # [d_model, n_head * d_head]
    W_V: torch.Tensor  # [d_model, n_head * d_head]
    b_Q: torch.Tensor | None  # [n_head * d_head]
    b_K: torch.Tensor | None  # [n_head * d_head]
    b_V: torch.Tensor | None  # [n_head * d_head]
    n_head: int
    n_kv_head: int | None = None  # None: as many as query heads

    @property
    def d_head(self) -> int:
        return self.W_Q.shape[1] // self.n_head

    @property
    def group(self) -> int:
        """Query heads sharing one key/value head (1 without grouped-query attention)."""
        return self.n_head // (self.n_kv_head or self.n_head)

    def heads(self, w: torch.Tensor) -> torch.Tensor:
        """[d_model, n_head * d_head] -> [head, d_model, d_head] (TransformerLens's W_Q layout)."""
        return w.reshape(w.shape[0], self.n_head, self.d_head).permute(1, 0, 2)

    def head_bias(self, b: torch.Tensor | None) -> torch.Tensor:
        """[n_head * d_head] -> [head, d_head]; zeros for an absent bias."""
        if b is None:
            return self.W_Q.new_zeros(self.n_head, self.d_head)
        return b.reshape(self.n_head, self.d_head)

    def head_slice(self, head: int) -> slice:
        """Columns of head `head` in the concatenated layout."""
        return slice(head * self.d_head, (head + 1) * self.d_head)

    def to_kv(self, t: torch.Tensor) -> torch.Tensor:
        """[..., head, d_head] in query-head layout -> [..., kv_head, d_head] (one head per group)."""
        if self.group == 1:
            return t
        return t.unflatten(-2, (-1, self.group))[..., 0, :]


def packed_qkv(t: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GPT-2's c_attn packs q | k | v along the last axis (weight, bias or output): [..., 3d] -> 3 views [..., d]"""
    return t[..., :d], t[..., d:2 * d], t[..., 2 * d:]


def per_query_head(w: torch.Tensor | None, n_head: int, n_kv_head: int) -> torch.Tensor | None:
    """Repeat each key/value head's columns for its query heads. [..., n_kv_head * d_head] -> [..., n_head * d_head]"""
    if w is None or n_head == n_kv_head:
        return w
    dh = w.shape[-1] // n_kv_head
    return w.unflatten(-1, (n_kv_head, dh)).repeat_interleave(n_head // n_kv_head, dim=-2).flatten(-2)


def gpt2_scale(cfg, layer: int) -> float:
    """GPT-2's factor: 1/sqrt(d_head) if scale_attn_weights, / (layer + 1) if scale_attn_by_inverse_layer_idx."""
    s = 1.0 / math.sqrt(cfg.n_embd // cfg.n_head) if cfg.scale_attn_weights else 1.0
    if getattr(cfg, "scale_attn_by_inverse_layer_idx", False):
        s /= layer + 1
    return s


def allowed(T: int, mask: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """Causal (and sliding-window: key > query - window) and padding mask, True where a query may attend.

    mask [batch, pos] -> [batch, 1, query_pos, key_pos]"""
    causal = torch.ones(T, T, dtype=torch.bool, device=mask.device).tril()  # [query_pos, key_pos]
    if window is not None:
        causal = causal.triu(-(window - 1))
    return causal[None, None] & mask[:, None, None, :].bool()


def masked_softmax(scores: torch.Tensor, allow: torch.Tensor) -> torch.Tensor:
    """softmax over keys of scores where allowed. [batch, head, query_pos, key_pos]"""
    return torch.softmax(scores.masked_fill(~allow, torch.finfo(scores.dtype).min), dim=-1)


def layer_norm(ln, x: torch.Tensor) -> torch.Tensor:
    """A LayerNorm module applied as a function. [..., d_model]"""
    return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def rms_norm(norm, x: torch.Tensor) -> torch.Tensor:
    """An RMSNorm module (Llama/Qwen2) as a function, computed in fp32 like HF's. [..., d_model]"""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * h.to(x.dtype)


def gemma_rms_norm(norm, x: torch.Tensor) -> torch.Tensor:
    """Gemma's RMSNorm as a function: x / rms(x) * (1 + w), in fp32, cast back (as HF's). [..., d]"""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + norm.eps)
    return (h * (1.0 + norm.weight.float())).type_as(x)


def conv1d(conv, x: torch.Tensor) -> torch.Tensor:
    """HF Conv1D: x @ W + b with W of shape [in, out]. [..., in] -> [..., out]"""
    return torch.addmm(conv.bias, x.reshape(-1, x.shape[-1]), conv.weight).view(*x.shape[:-1], -1)


def linear(lin, x: torch.Tensor) -> torch.Tensor:
    """A torch Linear (weight [out, in], bias or None) as a function. [..., in] -> [..., out]"""
    return F.linear(x, lin.weight, lin.bias)


def rotate(t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding (HF's rotate_half convention). t [batch, pos, head, d_head]; cos, sin [batch, pos, d_rot].

    d_rot < d_head (partial rotary, GPT-NeoX): the first d_rot dimensions of each head are rotated, the rest
    pass unchanged."""
    d_rot = cos.shape[-1]
    if d_rot < t.shape[-1]:
        return torch.cat((rotate(t[..., :d_rot], cos, sin), t[..., d_rot:]), dim=-1)
    c, s = cos[:, :, None], sin[:, :, None]
    half = t.shape[-1] // 2
    rotated = torch.cat((-t[..., half:], t[..., :half]), dim=-1)
    return t * c + rotated * s


def repeat_kv(t: torch.Tensor, n_head: int) -> torch.Tensor:
    """Grouped-query attention: [batch, pos, kv_head, d_head] -> [batch, pos, head, d_head]"""
    group = n_head // t.shape[2]
    return t if group == 1 else t.repeat_interleave(group, dim=2)


def mlp(block, x: torch.Tensor) -> torch.Tensor:
    """A GPT-2 block's MLP as a pure function of x (other families: families.of(model).mlp). [..., d_model]"""
    return conv1d(block.mlp.c_proj, block.mlp.act(conv1d(block.mlp.c_fc, x)))
