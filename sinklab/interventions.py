"""Interventions as data: frozen dataclasses that `sinklab.run` applies at named points.

Labels a-j follow the circuit paper (see ../shared/spec/circuit.md); `transplant`,
`isolate` and `amplify` come from the draft paper and the structural-origin paper.
Layer ranges are 0-indexed, [start, stop). Positions are 0-indexed (position 1 = index 0).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch

from .epe import epe, massive_coords
from .errors import BadInput


@dataclass(frozen=True, kw_only=True)
class Intervention:
    """Base class. `points`: where it acts; `layers`: [start, stop) or None for every layer."""

    label: ClassVar[str] = "?"
    title: ClassVar[str] = "?"
    description: ClassVar[str] = ""
    points: ClassVar[frozenset] = frozenset()
    layers: tuple[int, int] | None = None

    def active(self, layer: int | None) -> bool:
        return layer is None or self.layers is None or self.layers[0] <= layer < self.layers[1]

    def check(self, cfg, n_pos: int) -> None:
        """Raise BadInput if a parameter is out of range for this model and sequence length."""
        if self.layers is not None:
            a, b = self.layers
            if not (0 <= a < b <= cfg.n_layer):
                raise BadInput(f"{self.title}: layers must satisfy 0 <= start < stop <= {cfg.n_layer}; got {self.layers}")

    def apply(self, point: str, layer: int | None, t: torch.Tensor, model, inputs: dict) -> torch.Tensor:
        return t

    def target(self) -> int:
        """The key position whose attention this intervention is about (0 = the first token)."""
        return 0


def _check_position(iv, pos: int, n_pos: int, low: int = 0) -> None:
    if not low <= pos < n_pos:
        raise BadInput(f"{iv.title}: position must be in {low}..{n_pos - 1} for {n_pos} tokens; got {pos}")


def _first_mlp_only(iv) -> None:
    if iv.layers is not None:
        raise BadInput(f"{iv.title} acts after the first block's MLP only; it takes no layer range")


def _check_unit(iv, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise BadInput(f"{iv.title}: {name} must be in [0, 1]; got {value}")


@dataclass(frozen=True, kw_only=True)
class Baseline(Intervention):
    label: ClassVar[str] = "a"
    title: ClassVar[str] = "Baseline"
    description: ClassVar[str] = "No intervention."


@dataclass(frozen=True, kw_only=True)
class ScaleQueryBias(Intervention):
    """q <- q - (1 - alpha) b_Q: alpha = 0 is intervention (b)."""

    label: ClassVar[str] = "b"
    title: ClassVar[str] = "No query bias"
    description: ClassVar[str] = "Scale the query bias b_Q by alpha in every chosen layer (alpha = 0 removes it)."
    points: ClassVar[frozenset] = frozenset({"q"})
    alpha: float = 0.0

    def check(self, cfg, n_pos):
        super().check(cfg, n_pos)
        _check_unit(self, "alpha", self.alpha)

    def apply(self, point, layer, t, model, inputs):
        b_q = model.transformer.h[layer].attn.c_attn.bias[: model.config.n_embd]  # [d_model]
        return t - (1.0 - self.alpha) * b_q


@dataclass(frozen=True, kw_only=True)
class RemoveFirstPE(Intervention):
    """Position 1 receives p_2 instead of p_1."""

    label: ClassVar[str] = "c"
    title: ClassVar[str] = "Remove first PE"
    description: ClassVar[str] = "The first position receives the second position's embedding p_2 instead of p_1."
    points: ClassVar[frozenset] = frozenset({"pos_embed"})

    def apply(self, point, layer, t, model, inputs):
        t = t.clone()
        t[:, 0] = model.transformer.wpe.weight[1]
        return t


def _swap_directions(t: torch.Tensor, e_a: torch.Tensor, e_b: torch.Tensor, a: int, b: int,
                     strength: float, both: bool) -> torch.Tensor:
    """t[:, a] += s*alpha(e_b - e_a); t[:, b] += s*alpha(e_a - e_b) with alpha = <t[:, a], e_a>. t: [batch, pos, d]"""
    alpha = (t[:, a] @ e_a)[:, None]  # [batch, 1]
    t = t.clone()
    t[:, a] = t[:, a] + strength * alpha * (e_b - e_a)
    if both:
        t[:, b] = t[:, b] + strength * alpha * (e_a - e_b)
    return t


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm()


@dataclass(frozen=True, kw_only=True)
class SwapEPE(Intervention):
    """After the first MLP, swap the EPE_1 component of position 1 with EPE_{other+1}'s (d)."""

    label: ClassVar[str] = "d"
    title: ClassVar[str] = "Swap EPE"
    description: ClassVar[str] = ("After the first block's MLP, move the EPE_1 component of position 1 "
                                  "to position 2 and vice versa (alpha = <mlp_out_1, EPE_1/|EPE_1|>).")
    points: ClassVar[frozenset] = frozenset({"mlp_out"})
    other: int = 1

    def active(self, layer):
        return layer == 0

    def check(self, cfg, n_pos):
        _first_mlp_only(self)
        _check_position(self, self.other, n_pos, low=1)

    def _directions(self, model):
        e = epe(model)
        return _unit(e[0]), _unit(e[self.other])

    def apply(self, point, layer, t, model, inputs):
        e_1, e_o = self._directions(model)
        return _swap_directions(t, e_1, e_o, 0, self.other, 1.0, both=True)


@dataclass(frozen=True, kw_only=True)
class SwapPE(SwapEPE):
    """As (d) with the raw position-embedding directions p_1, p_2 (a control)."""

    label: ClassVar[str] = "e"
    title: ClassVar[str] = "Swap PE"
    description: ClassVar[str] = "As Swap EPE, but along the raw position embeddings p_1, p_2 (control: the sink stays)."

    def _directions(self, model):
        p = model.transformer.wpe.weight
        return _unit(p[0]), _unit(p[self.other])


@dataclass(frozen=True, kw_only=True)
class Transplant(SwapEPE):
    """Give position `other` the EPE_1 component and position 1 its EPE: the sink moves there."""

    label: ClassVar[str] = "transplant"
    title: ClassVar[str] = "Transplant EPE_1"
    description: ClassVar[str] = ("Swap the EPE_1 component of position 1 with the EPE component of the target "
                                  "position: the sink should follow EPE_1 to the target.")

    def target(self):
        return self.other


@dataclass(frozen=True, kw_only=True)
class InterpolateEPE(Intervention):
    """Move position 1's EPE_1 component toward EPE_{toward+1} by t in [0, 1] (dose-response)."""

    label: ClassVar[str] = "interpolate"
    title: ClassVar[str] = "Interpolate EPE_1 -> EPE_2"
    description: ClassVar[str] = "Replace a fraction t of position 1's EPE_1 component by the EPE_2 direction."
    points: ClassVar[frozenset] = frozenset({"mlp_out"})
    t: float = 1.0
    toward: int = 1

    def active(self, layer):
        return layer == 0

    def check(self, cfg, n_pos):
        _first_mlp_only(self)
        _check_unit(self, "t", self.t)
        if not 1 <= self.toward < cfg.n_positions:
            raise BadInput(f"{self.title}: toward must be in 1..{cfg.n_positions - 1}; got {self.toward}")

    def apply(self, point, layer, t, model, inputs):
        e = epe(model)
        return _swap_directions(t, _unit(e[0]), _unit(e[self.toward]), 0, self.toward, self.t, both=False)


@dataclass(frozen=True, kw_only=True)
class NullifyBOS(Intervention):
    """Zero the first token's embedding e_1, keep p_1 (f)."""

    label: ClassVar[str] = "f"
    title: ClassVar[str] = "Nullify BOS token"
    description: ClassVar[str] = "Zero the first token's embedding e_1 and keep its position embedding (control)."
    points: ClassVar[frozenset] = frozenset({"embed"})

    def apply(self, point, layer, t, model, inputs):
        t = t.clone()
        t[:, 0] = 0
        return t


@dataclass(frozen=True, kw_only=True)
class SkipMLP(Intervention):
    """Skip the MLP in every chosen block (g)."""

    label: ClassVar[str] = "g"
    title: ClassVar[str] = "No MLP"
    description: ClassVar[str] = "Skip the MLP of every chosen block (its output is zero)."
    points: ClassVar[frozenset] = frozenset({"mlp_out"})

    def apply(self, point, layer, t, model, inputs):
        return torch.zeros_like(t)


@dataclass(frozen=True, kw_only=True)
class NoPE(Intervention):
    """No position embeddings at all (h)."""

    label: ClassVar[str] = "h"
    title: ClassVar[str] = "No PE"
    description: ClassVar[str] = "Remove the position embeddings of every position."
    points: ClassVar[frozenset] = frozenset({"pos_embed"})

    def apply(self, point, layer, t, model, inputs):
        return torch.zeros_like(t)


@dataclass(frozen=True, kw_only=True)
class ZeroKeyCoords(Intervention):
    """Zero rows of W_k (input coordinates of x) at the massive coordinates of EPE_1 (i).

    coords: explicit coordinates; else the `n` largest |EPE_1| coordinates if n is given,
    else the mean + k_sigma * std rule.
    """

    label: ClassVar[str] = "i"
    title: ClassVar[str] = "Zero W_k at massive coords"
    description: ClassVar[str] = "Zero the rows of the key weight W_k at the coordinates where EPE_1 is massive."
    points: ClassVar[frozenset] = frozenset({"k"})
    coords: tuple[int, ...] | None = None
    n: int | None = None
    k_sigma: float = 3.0

    def check(self, cfg, n_pos):
        super().check(cfg, n_pos)
        if self.n is not None and not 1 <= self.n <= cfg.n_embd:
            raise BadInput(f"{self.title}: n (number of W_k coordinates) must be in 1..{cfg.n_embd}; got {self.n}")
        if self.coords is not None and not all(0 <= c < cfg.n_embd for c in self.coords):
            raise BadInput(f"{self.title}: coordinates must be in 0..{cfg.n_embd - 1}; got {self.coords}")

    def chosen(self, model) -> tuple[int, ...]:
        if self.coords is not None:
            return tuple(self.coords)
        return massive_coords(model, k_sigma=self.k_sigma, top=self.n)

    def apply(self, point, layer, t, model, inputs):
        c = list(self.chosen(model))
        if not c:
            return t
        d = model.config.n_embd
        w_k = model.transformer.h[layer].attn.c_attn.weight[c, d: 2 * d]  # [n_coords, d_model]
        return t - inputs["x"][..., c] @ w_k  # removes the zeroed rows' contribution


@dataclass(frozen=True, kw_only=True)
class ZeroRandomKeyCoords(ZeroKeyCoords):
    """Zero W_k at as many random coordinates (never the massive ones), seeded (j)."""

    label: ClassVar[str] = "j"
    title: ClassVar[str] = "Zero W_k at random coords"
    description: ClassVar[str] = ("Zero the rows of W_k at as many random coordinates as (i) uses, "
                                  "excluding the massive ones (control; seeded).")
    seed: int = 0

    def chosen(self, model):
        massive = massive_coords(model, k_sigma=self.k_sigma, top=self.n)
        count = len(massive) if self.n is None else self.n
        pool = torch.tensor([i for i in range(model.config.n_embd) if i not in set(massive)])
        g = torch.Generator().manual_seed(self.seed)
        return tuple(sorted(int(i) for i in pool[torch.randperm(len(pool), generator=g)[:count]]))


@dataclass(frozen=True, kw_only=True)
class IsolatePosition(Intervention):
    """Position k attends only to itself (mask change of the structural-origin paper)."""

    label: ClassVar[str] = "isolate"
    title: ClassVar[str] = "Isolate position k"
    description: ClassVar[str] = ("Change the attention mask so position k attends only to itself, like the "
                                  "first token does; the structural account predicts a sink at k.")
    points: ClassVar[frozenset] = frozenset({"scores"})
    position: int = 1

    def check(self, cfg, n_pos):
        super().check(cfg, n_pos)
        _check_position(self, self.position, n_pos)

    def target(self):
        return self.position

    def apply(self, point, layer, t, model, inputs):
        k = self.position
        t = t.clone()  # [batch, head, query_pos, key_pos]
        keep = t[:, :, k, k].clone()
        t[:, :, k, :] = torch.finfo(t.dtype).min
        t[:, :, k, k] = keep
        return t


@dataclass(frozen=True, kw_only=True)
class AmplifyVariance(Intervention):
    """z_k <- mean(z_k) + factor (z_k - mean(z_k)) per head, at position k in the chosen layers."""

    label: ClassVar[str] = "amplify"
    title: ClassVar[str] = "Amplify variance at k"
    description: ClassVar[str] = ("Multiply the spread of position k's per-head attention output by a factor "
                                  "(its variance by factor^2), mimicking a single-value first token.")
    points: ClassVar[frozenset] = frozenset({"z"})
    position: int = 1
    factor: float = 4.0

    def check(self, cfg, n_pos):
        super().check(cfg, n_pos)
        _check_position(self, self.position, n_pos)
        if not 0.0 <= self.factor <= 1000.0:
            raise BadInput(f"{self.title}: factor must be in [0, 1000]; got {self.factor}")

    def target(self):
        return self.position

    def apply(self, point, layer, t, model, inputs):
        k = self.position
        t = t.clone()  # [batch, pos, head, d_head]
        zk = t[:, k]
        mu = zk.mean(-1, keepdim=True)
        t[:, k] = mu + self.factor * (zk - mu)
        return t


@dataclass(frozen=True, kw_only=True)
class HeadRMSNorm(Intervention):
    """z_{t,h} <- z_{t,h} * mean_t rms(z_{.,h}) / rms(z_{t,h}): equal RMS across positions per head."""

    label: ClassVar[str] = "rmsnorm"
    title: ClassVar[str] = "Head-wise RMSNorm"
    description: ClassVar[str] = ("RMS-normalise each head's attention output per position (rescaled to the "
                                  "head's average RMS) before the output projection; restores parity.")
    points: ClassVar[frozenset] = frozenset({"z"})

    def apply(self, point, layer, t, model, inputs):
        rms = t.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()  # [batch, pos, head, 1]
        return t * rms.mean(1, keepdim=True) / rms


CATALOGUE: dict[str, type[Intervention]] = {
    cls.label: cls
    for cls in (Baseline, ScaleQueryBias, RemoveFirstPE, SwapEPE, SwapPE, NullifyBOS, SkipMLP, NoPE,
                ZeroKeyCoords, ZeroRandomKeyCoords, Transplant, InterpolateEPE, IsolatePosition,
                AmplifyVariance, HeadRMSNorm)
}
PAPER = tuple("abcdefghij")  # the ten interventions of the circuit paper, in order


def make(name: str, **params) -> Intervention:
    """Build an intervention by label ('a'..'j', 'transplant', ...) with keyword parameters."""
    if name not in CATALOGUE:
        raise BadInput(f"unknown intervention {name!r}; valid: {', '.join(CATALOGUE)}")
    cls = CATALOGUE[name]
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = set(params) - valid
    if unknown:
        raise BadInput(f"{cls.title} takes {sorted(valid)}; unknown: {sorted(unknown)}")
    if "layers" in params and params["layers"] is not None:
        params["layers"] = tuple(int(x) for x in params["layers"])
    if "coords" in params and params["coords"] is not None:
        params["coords"] = tuple(int(x) for x in params["coords"])
    return cls(**params)


def catalogue() -> "pd.DataFrame":
    """One row per intervention: label, title, description, parameters."""
    import pandas as pd

    return pd.DataFrame([
        {"label": k, "title": c.title, "description": c.description,
         "parameters": ", ".join(f.name for f in dataclasses.fields(c))}
        for k, c in CATALOGUE.items()
    ])


def standard_settings(target: int = 1, factor: float = 4.0, seed: int = 0) -> dict[str, Intervention | None]:
    """The paper's ten (a-j), the transplant to `target`, and the structural pair at `target`."""
    out: dict[str, Intervention | None] = {"baseline": None}
    for label in PAPER[1:]:
        out[label] = make(label, seed=seed) if label == "j" else make(label)
    out["transplant"] = Transplant(other=target)
    out["isolate"] = IsolatePosition(position=target)
    out["amplify"] = AmplifyVariance(position=target, factor=factor)
    return out


def describe(name: str) -> str:
    """Title of a setting name used by standard_settings ('baseline', 'b', 'transplant', ...)."""
    return "Baseline" if name == "baseline" else CATALOGUE[name].title
