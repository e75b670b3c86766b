"""The transparent GPT-2 forward: reads the weights, never writes them, records every intermediate.

Names (TransformerLens style, l = 0-indexed layer):
    hook_embed, hook_pos_embed                           [batch, pos, d_model]
    blocks.{l}.hook_resid_pre                            [batch, pos, d_model]
    blocks.{l}.ln1.hook_normalized  (= x, the attn input) [batch, pos, d_model]
    blocks.{l}.attn.hook_q / hook_k / hook_v             [batch, pos, d_model]  (heads concatenated)
    blocks.{l}.attn.hook_scores   (scaled, pre-mask)     [batch, head, query_pos, key_pos]
    blocks.{l}.attn.hook_pattern  (probabilities)        [batch, head, query_pos, key_pos]
    blocks.{l}.attn.hook_z        (per-head output)      [batch, pos, head, d_head]
    blocks.{l}.hook_attn_out      (after c_proj)         [batch, pos, d_model]
    blocks.{l}.hook_resid_mid                            [batch, pos, d_model]
    blocks.{l}.ln2.hook_normalized                       [batch, pos, d_model]
    blocks.{l}.mlp.hook_pre / hook_post (before/after act) [batch, pos, d_mlp]
    blocks.{l}.hook_mlp_out                              [batch, pos, d_model]
    blocks.{l}.hook_resid_post                           [batch, pos, d_model]
    ln_final.hook_normalized                             [batch, pos, d_model]
    logits                                               [batch, pos, vocab]

Interventions are frozen dataclasses (see sinklab.interventions) applied at these names;
each example of a batch may carry its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F

from .errors import BadInput

Names = Callable[[str], bool] | Iterable[str] | None


@dataclass
class Trace:
    """Every recorded intermediate of one batched forward, by name."""

    ids: torch.Tensor  # [batch, pos]
    mask: torch.Tensor  # [batch, pos] 1 = real token, 0 = padding
    n_layer: int
    n_head: int
    cache: dict[str, torch.Tensor] = field(default_factory=dict)

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self.cache[name]
        except KeyError:
            raise KeyError(f"{name!r} was not recorded; recorded: {sorted(self.cache)[:8]} ...") from None

    def __contains__(self, name: str) -> bool:
        return name in self.cache

    @property
    def logits(self) -> torch.Tensor:
        return self["logits"]

    def pattern(self, layer: int) -> torch.Tensor:
        """Attention probabilities of one layer. [batch, head, query_pos, key_pos]"""
        return self[f"blocks.{layer}.attn.hook_pattern"]

    def patterns(self) -> torch.Tensor:
        """All layers stacked. [layer, batch, head, query_pos, key_pos]"""
        return torch.stack([self.pattern(l) for l in range(self.n_layer)])


def _name_filter(names: Names) -> Callable[[str], bool]:
    if names is None:
        return lambda n: True
    if callable(names):
        return names
    keep = set(names)
    return keep.__contains__


def _as_tuple(item) -> tuple:
    """None / Intervention / sequence of Interventions -> tuple of Interventions."""
    from .interventions import Intervention

    if item is None:
        return ()
    if isinstance(item, Intervention):
        return (item,)
    if isinstance(item, (list, tuple)) and all(isinstance(i, Intervention) for i in item):
        return tuple(item)
    raise BadInput(f"not an intervention or a sequence of interventions: {item!r}")


def _normalise_interventions(interventions, per_example, batch: int) -> list[tuple]:
    """One tuple of interventions per example: the shared ones, then the example's own."""
    shared = _as_tuple(interventions)
    if per_example is None:
        return [shared] * batch
    if len(per_example) != batch:
        raise BadInput(f"per_example has {len(per_example)} entries for a batch of {batch}")
    return [shared + _as_tuple(item) for item in per_example]


class _Hooks:
    """Applies each example group's interventions at a named point, then records the value."""

    def __init__(self, model, per_example: list[tuple], keep: Callable[[str], bool], device):
        self.model = model
        self.keep = keep
        self.cache: dict[str, torch.Tensor] = {}
        groups: dict[tuple, list[int]] = {}
        for i, ivs in enumerate(per_example):
            groups.setdefault(ivs, []).append(i)
        batch = len(per_example)
        self.groups = []  # (interventions, index tensor or None for the whole batch)
        for ivs, idx in groups.items():
            if not ivs:
                continue
            index = None if len(idx) == batch else torch.tensor(idx, device=device)
            self.groups.append((ivs, index))
        self.points = {p for ivs, _ in self.groups for iv in ivs for p in iv.points}

    def __call__(self, point: str, layer: int | None, tensor: torch.Tensor, name: str | None = None,
                 **inputs: torch.Tensor):
        if point in self.points:
            for ivs, index in self.groups:
                active = [iv for iv in ivs if point in iv.points and iv.active(layer)]
                if not active:
                    continue
                sub = tensor if index is None else tensor.index_select(0, index)
                sub_inputs = inputs if index is None else {k: t.index_select(0, index) for k, t in inputs.items()}
                for iv in active:
                    sub = iv.apply(point, layer, sub, self.model, sub_inputs)
                tensor = sub if index is None else tensor.index_copy(0, index, sub)
        if name is not None and self.keep(name):
            self.cache[name] = tensor
        return tensor


def _layer_norm(ln, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def _conv1d(conv, x: torch.Tensor) -> torch.Tensor:
    """HF Conv1D: x @ W + b with W of shape [in, out]."""
    return torch.addmm(conv.bias, x.reshape(-1, x.shape[-1]), conv.weight).view(*x.shape[:-1], -1)


def run(model, ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
        interventions=None, per_example=None, names: Names = None) -> Trace:
    """Transparent forward of a GPT2LMHeadModel. ids: [batch, pos] (right-padded) -> Trace.

    interventions: None, one Intervention, or a sequence of them composed, on every example.
    per_example: optional list with one entry (None / Intervention / sequence) per example.
    names: which intermediates to keep (default all). Never writes the model's parameters.
    """
    tf = model.transformer
    cfg = model.config
    if ids.dim() == 1:
        ids = ids[None]
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise BadInput(f"ids must be [batch, pos] with pos >= 1; got shape {tuple(ids.shape)}")
    batch, T = ids.shape
    if T > cfg.n_positions:
        raise BadInput(f"{T} tokens exceed the model's {cfg.n_positions} positions; truncate the prompt")
    device = tf.wte.weight.device
    ids = ids.to(device)
    mask = torch.ones_like(ids) if attention_mask is None else attention_mask.to(device)
    per_example = _normalise_interventions(interventions, per_example, batch)
    for ivs in set(per_example):
        for iv in ivs:
            iv.check(cfg, T)
    hook = _Hooks(model, per_example, _name_filter(names), device)
    H, d = cfg.n_head, cfg.n_embd
    dh = d // H

    with torch.inference_mode():
        tok = hook("embed", None, tf.wte(ids), "hook_embed")  # [batch, pos, d_model]
        pos_ids = torch.arange(T, device=device)
        pos = hook("pos_embed", None, tf.wpe(pos_ids)[None].expand(batch, T, d), "hook_pos_embed")
        resid = tok + pos  # [batch, pos, d_model]

        causal = torch.ones(T, T, dtype=torch.bool, device=device).tril()  # [query_pos, key_pos]
        allowed = causal[None, None] & mask[:, None, None, :].bool()  # [batch, 1, query_pos, key_pos]
        neg = torch.finfo(resid.dtype).min

        for l, block in enumerate(tf.h):
            p = f"blocks.{l}."
            resid = hook("resid_pre", l, resid, p + "hook_resid_pre")
            x = hook("ln1", l, _layer_norm(block.ln_1, resid), p + "ln1.hook_normalized")
            q, k, v = _conv1d(block.attn.c_attn, x).split(d, dim=-1)  # each [batch, pos, d_model]
            q = hook("q", l, q, p + "attn.hook_q")
            k = hook("k", l, k, p + "attn.hook_k", x=x)
            v = hook("v", l, v, p + "attn.hook_v")
            qh = q.view(batch, T, H, dh).transpose(1, 2)  # [batch, head, pos, d_head]
            kh = k.view(batch, T, H, dh).transpose(1, 2)
            vh = v.view(batch, T, H, dh).transpose(1, 2)
            scale = (1.0 / math.sqrt(dh)) if cfg.scale_attn_weights else 1.0
            if getattr(cfg, "scale_attn_by_inverse_layer_idx", False):
                scale /= l + 1
            scores = hook("scores", l, (qh @ kh.transpose(-1, -2)) * scale,
                          p + "attn.hook_scores")  # [batch, head, query_pos, key_pos]
            pattern = torch.softmax(scores.masked_fill(~allowed, neg), dim=-1)
            pattern = hook("pattern", l, pattern, p + "attn.hook_pattern")  # [batch, head, q, k]
            z = (pattern @ vh).transpose(1, 2)  # [batch, pos, head, d_head]
            z = hook("z", l, z, p + "attn.hook_z")
            attn_out = hook("attn_out", l, _conv1d(block.attn.c_proj, z.reshape(batch, T, d)),
                            p + "hook_attn_out")  # [batch, pos, d_model]
            resid = hook("resid_mid", l, resid + attn_out, p + "hook_resid_mid")
            x2 = hook("ln2", l, _layer_norm(block.ln_2, resid), p + "ln2.hook_normalized")
            pre = hook("mlp_pre", l, _conv1d(block.mlp.c_fc, x2), p + "mlp.hook_pre")  # [batch, pos, d_mlp]
            post = hook("mlp_post", l, block.mlp.act(pre), p + "mlp.hook_post")
            mlp_out = hook("mlp_out", l, _conv1d(block.mlp.c_proj, post), p + "hook_mlp_out")
            resid = hook("resid_post", l, resid + mlp_out, p + "hook_resid_post")

        final = hook("ln_final", None, _layer_norm(tf.ln_f, resid), "ln_final.hook_normalized")
        logits = hook("logits", None, model.lm_head(final), "logits")  # [batch, pos, vocab]
    return Trace(ids=ids, mask=mask, n_layer=cfg.n_layer, n_head=H, cache=hook.cache)
