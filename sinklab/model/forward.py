"""The transparent forward: reads the weights, never writes them, records every intermediate.

One loop for every supported family (GPT-2, GPT-Neo, OPT, Llama, Qwen2, Gemma 3): what differs between them
is read through the family's adapter (sinklab.model.families).

Every intermediate has a TransformerLens-style name built by `sinklab.model.names.act_name` (the table of
names, shapes and differences from TransformerLens is in sinklab/model/names.py). `Trace[name]` or
`Trace[short_name, layer]` returns it. Interventions are frozen dataclasses (sinklab.interventions)
applied at these points; each example of a batch may carry its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch

from .. import checks
from . import families, layout
from ..errors import BadInput
from .names import POINTS, act_name

Names = Callable[[str], bool] | Iterable[str] | None
NEG = torch.finfo(torch.float32).min  # the masked score (scores are fp32)


@dataclass
class Trace:
    """Every recorded intermediate of one batched forward, by name."""

    ids: torch.Tensor  # [batch, pos]
    mask: torch.Tensor  # [batch, pos] 1 = real token, 0 = padding
    n_layer: int
    n_head: int
    cache: dict[str, torch.Tensor] = field(default_factory=dict)
    family: str = "gpt2"  # model_type of the model that produced it
    windows: tuple[int | None, ...] | None = None  # each layer's sliding window (None: global): what the metrics
    #                                                leave out (sinklab.analyses.metrics)

    def __getitem__(self, key: str | tuple[str, int]) -> torch.Tensor:
        """trace["blocks.3.attn.hook_pattern"] or trace["pattern", 3]."""
        name = act_name(*key) if isinstance(key, tuple) else key
        try:
            return self.cache[name]
        except KeyError:
            raise KeyError(f"{name!r} was not recorded; recorded: {sorted(self.cache)[:8]} ...") from None

    def __contains__(self, key) -> bool:
        return (act_name(*key) if isinstance(key, tuple) else key) in self.cache

    @property
    def logits(self) -> torch.Tensor:
        return self["logits"]

    def pattern(self, layer: int) -> torch.Tensor:
        """Attention probabilities of one layer. [batch, head, query_pos, key_pos]"""
        return self["pattern", layer]

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


class Edit:
    """What `run` applies at its named points. sinklab.interventions.Intervention is one (the forward knows no
    more of interventions than this): it declares `points` (short names of sinklab.model.names.POINTS) and
    `title`, and implements check(model, n_tokens) (raise BadInput where it cannot run), check_inputs(model, ids,
    mask) (raise BadInput when these inputs give it nothing to act on), active(layer), apply(point, layer, tensor,
    model, inputs) -> tensor (inputs["mask"]: [batch, pos] is always there) and start(n_layer, rotary) -> (layer,
    half)."""

    points: frozenset = frozenset()
    title: str = ""

    def check_inputs(self, model, ids, mask) -> None:
        """Raise BadInput when these inputs give it nothing to act on (default: never)."""


def _as_tuple(item) -> tuple:
    """None / Edit / sequence of Edits -> tuple of Edits."""
    if item is None:
        return ()
    if isinstance(item, Edit):
        return (item,)
    if isinstance(item, (list, tuple)) and all(isinstance(i, Edit) for i in item):
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

    def __init__(self, model, per_example: list[tuple], keep: Callable[[str], bool], device,
                 mask: torch.Tensor | None = None):
        self.model = model
        self.keep = keep
        self.mask = mask  # [batch, pos]: offered to every intervention as inputs["mask"]
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

    def __call__(self, point: str, layer: int | None, tensor: torch.Tensor, **inputs: torch.Tensor):
        """Apply the interventions acting at `point` (in `layer`), record the result under its name."""
        if point in self.points:
            for ivs, index in self.groups:
                active = [iv for iv in ivs if point in iv.points and iv.active(layer)]
                if not active:
                    continue
                sub = tensor if index is None else tensor.index_select(0, index)
                inputs = {**inputs, "mask": self.mask} if self.mask is not None else inputs
                sub_inputs = inputs if index is None else {k: t.index_select(0, index) for k, t in inputs.items()}
                for iv in active:
                    sub = iv.apply(point, layer, sub, self.model, sub_inputs)
                tensor = sub if index is None else tensor.index_copy(0, index, sub)
        name = POINTS[point].template.format(l=layer)
        if self.keep(name):
            self.cache[name] = tensor
        return tensor


def _extent(n_layer: int, keep: Callable[[str], bool], points: set, stop_at_layer: int | None) -> tuple[int, bool]:
    """(blocks to run, whether to run the final norm and LM head). Blocks run up to the last layer with a
    kept name (all if the final outputs are wanted), never past stop_at_layer: later blocks cannot change
    earlier values, so skipping them changes nothing that is kept."""
    head = keep("logits") or keep(POINTS["ln_final"].template) or bool(points & {"ln_final", "logits"})
    if stop_at_layer is not None:
        checks.in_range("stop_at_layer", stop_at_layer, 1, n_layer)
        return stop_at_layer, head and stop_at_layer == n_layer
    if head:
        return n_layer, True
    layer_points = [p for p, pt in POINTS.items() if pt.per_layer]
    for l in reversed(range(n_layer)):
        if any(keep(POINTS[p].template.format(l=l)) for p in layer_points):
            return l + 1, False
    return 0, False


def _check_start(A, start, resid, per_example: list[tuple], shape: tuple) -> None:
    """A resumed forward: `start` inside the model, `resid` of the right shape, no intervention acting earlier."""
    if not (isinstance(start, tuple) and len(start) == 2 and start[1] in (0, 1)):
        raise BadInput(f"start must be (layer, 0 or 1); got {start!r}")
    checks.layer(start[0], A.n_layer, what="start layer")
    if start[1] == 1 and A.parallel:
        raise BadInput(f"{A.title} runs attention and MLP in parallel (the MLP reads the block input): a forward "
                       f"resumes at a block's start, (layer, 0); got {tuple(start)}")
    if resid is None or tuple(resid.shape) != shape:
        raise BadInput(f"start needs resid of shape {shape} (the residual stream at the start point); got "
                       f"{None if resid is None else tuple(resid.shape)}")
    for ivs in set(per_example):
        for iv in ivs:
            if iv.start(A.n_layer, A.rotary) < tuple(start):
                raise BadInput(f"{iv.title} acts before the resumed point {tuple(start)}: run it from the start")


def run(model, ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
        interventions=None, per_example=None, names: Names = None, stop_at_layer: int | None = None,
        start: tuple[int, int] | None = None, resid: torch.Tensor | None = None) -> Trace:
    """Transparent forward of a supported causal LM (sinklab.model.families). ids: [batch, pos] (right-padded) -> Trace.

    interventions: None, one Intervention, or a sequence of them composed, on every example.
    per_example: optional list with one entry (None / Intervention / sequence) per example.
    names: which intermediates to keep (default all). Blocks after the last layer holding a kept name,
    and the final norm and LM head unless "logits" or "ln_final.hook_normalized" is kept, are not run.
    stop_at_layer: run blocks 0..stop_at_layer-1 only (final norm and logits only if it is n_layer).
    start, resid: resume a forward at a shared prefix (exact): start = (layer, 0) begins at the layer with
    resid = its hook_resid_pre, (layer, 1) at its MLP half with resid = its hook_resid_mid, both as recorded
    by a run without interventions on the same ids; nothing before `start` is computed or recorded, and every
    intervention must act at or after it (Intervention.start).
    Never writes the model's parameters. Scores and softmax are computed in fp32 whatever the model's
    dtype; the pattern is cast back to the model's dtype before it weighs the values (as HF's eager).
    """
    A = families.of(model)
    if ids.dim() == 1:
        ids = ids[None]
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise BadInput(f"ids must be [batch, pos] with pos >= 1; got shape {tuple(ids.shape)}")
    batch, T = ids.shape
    if T > A.n_positions:
        raise BadInput(f"{T} tokens exceed the model's {A.n_positions} positions; truncate the prompt")
    device = model.lm_head.weight.device
    ids = ids.to(device)
    mask = torch.ones_like(ids) if attention_mask is None else attention_mask.to(device)
    per_example = _normalise_interventions(interventions, per_example, batch)
    for ivs in set(per_example):
        for iv in ivs:
            iv.check(model, T)
            iv.check_inputs(model, ids, mask)
    if start is not None:
        _check_start(A, start, resid, per_example, (batch, T, A.d_model))
    keep = _name_filter(names)
    hook = _Hooks(model, per_example, keep, device, mask)
    n_run, head = _extent(A.n_layer, keep, hook.points, stop_at_layer)
    H, dh = A.n_head, A.d_head
    allow_by_window: dict[int | None, torch.Tensor] = {}

    with torch.inference_mode():
        if start is None:
            tok = hook("embed", None, A.embed(ids))  # [batch, pos, d_model]
            pos_ids = hook("pos_ids", None, A.position_ids(batch, T, device))  # [batch, pos]
        else:  # resumed: the embeddings are in `resid` already; no intervention acts on them
            tok, pos_ids = resid.to(device), A.position_ids(batch, T, device)
        angles: dict = {}  # rope key -> (cos, sin), each [batch, pos, d_head]: rotary families only
        if A.rotary:
            resid = tok  # position enters only as the rotation of q and k
        else:
            resid = tok if start is not None else tok + hook("pos_embed", None, A.pos_embed(pos_ids))  # [batch, pos, d_model]
        first, mlp_half = start or (0, 0)

        for l in range(first, n_run):
            block_in = resid  # a parallel block's MLP reads it (GPT-NeoX): hook_resid_pre, as changed there
            if not (l == first and mlp_half):  # (resuming at layer `first`'s MLP half skips its attention)
                w = A.window(l)
                if w not in allow_by_window:
                    allow_by_window[w] = layout.allowed(T, mask, w)  # [batch, 1, query_pos, key_pos]
                allow = allow_by_window[w]
                resid = block_in = hook("resid_pre", l, resid)
                x = hook("ln1", l, A.ln1(l, resid))  # [batch, pos, d_model]
                q, k, v = A.qkv(l, x)  # q [batch, pos, head, d_head]; k, v [batch, pos, kv_head, d_head]
                q = hook("q", l, q, x=x)
                k = hook("k", l, k, x=x)
                v = hook("v", l, v, x=x)
                q, k = A.qk_norm(l, q, k)  # QK-norm families (Gemma 3) only; identity elsewhere
                if A.rotary:  # rotary: position enters here, as a rotation of q and k
                    key = A.rope_key(l)
                    if key not in angles:
                        angles[key] = A.rotary_angles(pos_ids, tok, l)
                    cos, sin = angles[key]
                    q = hook("rot_q", l, layout.rotate(q, cos, sin))
                    k = hook("rot_k", l, layout.rotate(k, cos, sin))
                k_all, v_all = layout.repeat_kv(k, H), layout.repeat_kv(v, H)  # [batch, pos, head, d_head]
                scores = (q.transpose(1, 2).float() @ k_all.permute(0, 2, 3, 1).float()) * A.attn_scale(l)  # [batch, head, query_pos, key_pos] fp32
                scores = hook("attn_scores", l, scores.masked_fill(~allow, NEG))
                pattern = hook("pattern", l, torch.softmax(scores, dim=-1).to(v.dtype))  # [batch, head, query_pos, key_pos]
                z = hook("z", l, (pattern @ v_all.transpose(1, 2)).transpose(1, 2))  # [batch, pos, head, d_head]
                attn_out = hook("attn_out", l, A.attn_out(l, z.reshape(batch, T, H * dh)))  # [batch, pos, d_model]
                resid = resid + attn_out
            resid = hook("resid_mid", l, resid)
            x2 = hook("ln2", l, A.ln2(l, block_in if A.parallel else resid))  # parallel: the MLP reads the block input
            pre = hook("pre", l, A.mlp_in(l, x2))  # [batch, pos, d_mlp]
            post = hook("post", l, A.mlp_act(l, pre, x2))  # [batch, pos, d_mlp]
            mlp_out = hook("mlp_out", l, A.mlp_out(l, post))  # [batch, pos, d_model]
            resid = hook("resid_post", l, resid + mlp_out)

        if head:
            final = hook("ln_final", None, A.ln_final(resid))  # [batch, pos, d_model]
            hook("logits", None, A.unembed(final))  # [batch, pos, vocab]
    return Trace(ids=ids, mask=mask, n_layer=A.n_layer, n_head=H, cache=hook.cache, family=A.name,
                 windows=tuple(A.window(l) for l in range(A.n_layer)))
