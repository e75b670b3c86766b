"""Dose interventions of the extension's dose-response grid that sinklab's registry lacks.

ScaleKeyRows ("scale_wk") is registered like every intervention (it subclasses (i), so it picks the same
rows: the massive EPE_0 coordinates, or `coords`/`n`), but declares in_signature=False: it is a dose,
not one of the signature's cuts, so sinklab.report leaves it out of Table 1.

InterpolatePE is deliberately NOT registered (no label): the extension's "identity" interpolation of the
first position embedding, p_0 <- p_1 + α (p_0 - p_1) (α = 0 is intervention (c), α = 1 the identity, α > 1
extrapolates past p_0); only the dose experiment builds it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import layout
from ..interventions import Intervention, ZeroKeyCoords, param


@dataclass(frozen=True, kw_only=True)
class ScaleKeyRows(ZeroKeyCoords, label="scale_wk", title="Scale W_k at massive coords", in_signature=False):
    """Scale the rows of the key weight W_k at the massive EPE_0 coordinates by α (α = 0 is (i), α = 1 changes
    nothing, α > 1 amplifies them).

    Formula: k <- k - (1 - alpha) x[:, c] W_k[c].
    Wire: W_k at the massive coordinates (a dose)
    Try this: Sweep α from 0 to 1.5: does the sink grow smoothly with the massive rows of W_k?
    On rotary models: scales the rows of W_k at the coordinates you pass (coords): a rotary model has no EPE
        to pick them from; the rows' contribution is scaled before the rotation
    """

    alpha: float = param(0.5, "α: scale of the selected W_k rows", 0.0, 2.0, 0.05)

    def apply(self, point, layer, t, model, inputs):
        zeroed = super().apply(point, layer, t, model, inputs)  # t - x[:, c] W_k[c] (as (i), every family)
        return t + (1.0 - self.alpha) * (zeroed - t)


@dataclass(frozen=True, kw_only=True)
class InterpolatePE(Intervention, title="Interpolate PE_0 -> PE_1", points={"pos_embed"},
                    needs_position_embeddings=True):
    """The first position embedding moved toward the second: p_1 + α (p_0 - p_1).

    Formula: p_0 <- p_1 + alpha (p_0 - p_1) at the position embeddings.
    On rotary models: not applicable: a rotary model has no position embedding to interpolate

    Unregistered: only the dose experiment builds it.
    """

    alpha: float = param(1.0, "α: 0 = p_1 (intervention c), 1 = p_0 (identity)", 0.0, 2.0, 0.05)

    def apply(self, point, layer, t, model, inputs):
        p1 = layout.pos_embed(model)[1]
        t = t.clone()
        t[:, 0] = p1 + self.alpha * (t[:, 0] - p1)
        return t
