"""One builder for the names of recorded intermediates (TransformerLens's names and meanings).

    act_name("pattern", 3) -> "blocks.3.attn.hook_pattern";  act_name("embed") -> "hook_embed"

Short name      full name                          shape                                  note
embed           hook_embed                         [batch, pos, d_model]
pos_ids         hook_pos_ids                       [batch, pos] (int64)                   sinklab's; position index of each token
pos_embed       hook_pos_embed                     [batch, pos, d_model]                  learned tables only (row pos_id + offset)
resid_pre       blocks.{l}.hook_resid_pre          [batch, pos, d_model]
ln1             blocks.{l}.ln1.hook_normalized     [batch, pos, d_model]                  TL: after the affine; RMSNorm: Llama/Qwen2
q               blocks.{l}.attn.hook_q             [batch, pos, head, d_head]             bias included; before any rotation
k, v            blocks.{l}.attn.hook_k/_v          [batch, pos, kv_head, d_head]          kv_head < head under GQA
rot_q, rot_k    blocks.{l}.attn.hook_rot_q/_rot_k  as q, k                                rotary models only: after the rotation
attn_scores     blocks.{l}.attn.hook_attn_scores   [batch, head, query_pos, key_pos]      scaled, after the mask; always fp32
pattern         blocks.{l}.attn.hook_pattern       [batch, head, query_pos, key_pos]      softmax in fp32, stored in the model's dtype
z               blocks.{l}.attn.hook_z             [batch, pos, head, d_head]
attn_out        blocks.{l}.hook_attn_out           [batch, pos, d_model]
resid_mid       blocks.{l}.hook_resid_mid          [batch, pos, d_model]
ln2             blocks.{l}.ln2.hook_normalized     [batch, pos, d_model]
pre             blocks.{l}.mlp.hook_pre            [batch, pos, d_mlp]                    SwiGLU: the gate projection x W_gate
post            blocks.{l}.mlp.hook_post           [batch, pos, d_mlp]                    SwiGLU: act(pre) * (x W_up)
mlp_out         blocks.{l}.hook_mlp_out            [batch, pos, d_model]
resid_post      blocks.{l}.hook_resid_post         [batch, pos, d_model]
ln_final        ln_final.hook_normalized           [batch, pos, d_model]                  identity for an OPT without final norm
logits          logits                             [batch, pos, vocab]

Differences from TransformerLens: masked score entries hold finfo(float32).min (HF eager's value),
not -inf; ln*.hook_normalized is recorded after the layer norm's affine map (TL records it before
when weights are folded, which sinklab never does); position 0 is the papers' "position 1".
Rotary models (Llama, Qwen2): there is no hook_pos_embed (position enters only as the rotation of
q and k); as in TL, hook_q/hook_k hold q and k before the rotation and hook_rot_q/hook_rot_k after
it (the scores are computed from the rotated ones), so an intervention at q or k acts before the
rotation on every family.
Under grouped-query attention hook_k/hook_v have n_kv_head heads (TL's ungrouped layout repeats them).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput


@dataclass(frozen=True)
class Point:
    """A named point of the forward pass: its full-name template, whether it is per layer, its side inputs,
    its stage: "embed" (before the blocks), "attn" / "mlp" (a block's attention or MLP half), "final", and
    on which models it exists (rotary: True = rotary models only, False = learned position tables only)."""

    template: str
    per_layer: bool
    side_inputs: frozenset = frozenset()
    stage: str = "attn"
    rotary: bool | None = None

    def exists(self, rotary: bool) -> bool:
        return self.rotary is None or self.rotary == rotary


POINTS: dict[str, Point] = {
    "embed": Point("hook_embed", False, stage="embed"),
    "pos_ids": Point("hook_pos_ids", False, stage="embed"),
    "pos_embed": Point("hook_pos_embed", False, stage="embed", rotary=False),
    "resid_pre": Point("blocks.{l}.hook_resid_pre", True),
    "ln1": Point("blocks.{l}.ln1.hook_normalized", True),
    "q": Point("blocks.{l}.attn.hook_q", True, frozenset({"x"})),  # side input x: the normalised block input
    "k": Point("blocks.{l}.attn.hook_k", True, frozenset({"x"})),
    "v": Point("blocks.{l}.attn.hook_v", True, frozenset({"x"})),
    "rot_q": Point("blocks.{l}.attn.hook_rot_q", True, rotary=True),
    "rot_k": Point("blocks.{l}.attn.hook_rot_k", True, rotary=True),
    "attn_scores": Point("blocks.{l}.attn.hook_attn_scores", True),
    "pattern": Point("blocks.{l}.attn.hook_pattern", True),
    "z": Point("blocks.{l}.attn.hook_z", True),
    "attn_out": Point("blocks.{l}.hook_attn_out", True),
    "resid_mid": Point("blocks.{l}.hook_resid_mid", True, stage="mlp"),  # the MLP half starts from it
    "ln2": Point("blocks.{l}.ln2.hook_normalized", True, stage="mlp"),
    "pre": Point("blocks.{l}.mlp.hook_pre", True, stage="mlp"),
    "post": Point("blocks.{l}.mlp.hook_post", True, stage="mlp"),
    "mlp_out": Point("blocks.{l}.hook_mlp_out", True, stage="mlp"),
    "resid_post": Point("blocks.{l}.hook_resid_post", True, stage="mlp"),
    "ln_final": Point("ln_final.hook_normalized", False, stage="final"),
    "logits": Point("logits", False, stage="final"),
}


def act_name(name: str, layer: int | None = None) -> str:
    """The full name of short name `name` in `layer` (None for the model-level points)."""
    if name not in POINTS:
        raise BadInput(f"unknown intermediate {name!r}; valid: {', '.join(POINTS)}")
    point = POINTS[name]
    if point.per_layer != (layer is not None):
        need = "needs a layer" if point.per_layer else "takes no layer"
        raise BadInput(f"intermediate {name!r} {need}")
    return point.template.format(l=layer)


def is_point(full_name: str, name: str) -> bool:
    """Whether `full_name` is short name `name`'s intermediate (in any layer): is_point("blocks.3.attn.hook_pattern",
    "pattern") -> True. For name filters: run(..., names=lambda n: is_point(n, "pattern"))."""
    if name not in POINTS:
        raise BadInput(f"unknown intermediate {name!r}; valid: {', '.join(POINTS)}")
    head, _, tail = POINTS[name].template.partition("{l}")
    if not POINTS[name].per_layer:
        return full_name == head
    middle = full_name[len(head):len(full_name) - len(tail)]
    return full_name.startswith(head) and full_name.endswith(tail) and middle.isdigit()


def layer_names(name: str, n_layer: int) -> list[str]:
    """The full names of a per-layer point in every layer."""
    return [act_name(name, l) for l in range(n_layer)]
