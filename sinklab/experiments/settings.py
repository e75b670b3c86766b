"""Setting names: the small language an experiment names what each job runs in, resolved per model.

    baseline, b, c, ..., transplant, ...   the signature's interventions (sinklab.interventions.signature_settings:
                                           every registered intervention but those declaring in_signature = False)
    b∧c, b∧i∧d                             those composed (a tuple: all act in the same forward)
    transplant@k                           the transplant to position k
    dose:b:α / dose:scale_wk:α / dose:pe:α scale b_Q, scale the selected W_k rows, interpolate PE_0 -> PE_1

How (i), (j) and scale_wk pick their W_k coordinates is a job's `key_coords` (KeyCoords: explicit
coordinates, the top n of |EPE_0|, or the mean + kσ rule; (j) one draw, re-drawn per layer, or the circuit
authors' exact draw, seeded).
"""
from __future__ import annotations

import dataclasses
import math
import random
import re
from dataclasses import dataclass

from .. import checks
from ..errors import BadInput
from ..interventions import (REGISTRY, InterpolatePE, ScaleKeyRows, ZeroKeyCoords, ZeroRandomKeyCoords, make,
                             planted_coords, signature_names, signature_settings)
from ..model import families

AND = "∧"
DOSE_CURVES = {"b": "scale b_Q", "scale_wk": "scale selected W_k rows", "pe": "interpolate PE_0 → PE_1"}


def authors_draw(seed: int, d_model: int, count: int, layer: int) -> tuple[int, ...]:
    """(j)'s coordinates in `layer` as the circuit authors' code draws them (intervention_analysis.py,
    intervention (j)): Python's `random.seed(seed)` once per input, then in every layer, in order from layer 0,
    `count` × `random.randint(0, d_model - 1)` over all coordinates (massive ones included). A coordinate drawn
    twice in a layer is zeroed once (their `wk[:, idx] = 0`), so a layer may zero fewer than `count` rows."""
    rng = random.Random(seed)  # the same Mersenne Twister stream as random.seed(seed) + random.randint
    draws = [[rng.randint(0, d_model - 1) for _ in range(count)] for _ in range(layer + 1)]
    return tuple(sorted(set(draws[layer])))


@dataclass(frozen=True, kw_only=True)
class AuthorsRandomKeyCoords(ZeroRandomKeyCoords):
    # (j) with the circuit authors' exact draw (authors_draw): unregistered (its label and texts are (j)'s), built
    # by KeyCoords(j_authors=True) for `sinklab report --j-authors`.

    def chosen(self, model, layer: int | None = None):
        """The coordinates the authors' code zeroes in `layer` (None: layer 0)."""
        count = self.n if self.n is not None else len(ZeroKeyCoords.chosen(self, model))
        return authors_draw(self.seed, families.of(model).d_model, count, layer or 0)


@dataclass(frozen=True)
class KeyCoords:
    """How (i), (j) and scale_wk choose the rows of W_k they act on (plain values: ships with a job).

    coords: explicit coordinates (they win; each once, in increasing order); top: the `top` largest |EPE_0|
    coordinates; else the mean + k_sigma·std rule (None: the intervention's default, 3). (j) zeroes as many
    random coordinates: one draw for every layer, never a massive one (default); re-drawn in every layer from a
    torch generator seeded by (j_seed, layer) over all coordinates (j_per_layer: sinklab's per-layer draw); or
    the circuit authors' exact draw (j_authors: Python's random.seed(j_seed), then randint(0, d_model - 1) per
    coordinate, layer after layer: authors_draw)."""

    coords: tuple[int, ...] | None = None
    top: int | None = None
    k_sigma: float | None = None
    j_per_layer: bool = False
    j_seed: int = 0
    j_authors: bool = False

    def __post_init__(self):
        if self.coords is not None and not isinstance(self.coords, (str, int)):
            try:  # a coordinate given twice is zeroed once: say it once (report.md, run.json)
                object.__setattr__(self, "coords", tuple(sorted(set(self.coords))))
            except TypeError:
                pass  # not comparable: check() refuses it

    def check(self) -> "KeyCoords":
        """Validate without a model (a coordinate past the model's width is refused when the job runs)."""
        if self.coords is not None and self.top is not None:
            raise BadInput("pass either explicit coordinates (--coords) or the top n (--i-top), not both")
        if self.k_sigma is not None and (self.coords is not None or self.top is not None):
            raise BadInput("--i-ksigma sets the mean + kσ rule, which explicit --coords or --i-top replace: pass one")
        if self.coords is not None:
            if isinstance(self.coords, (str, int)) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                               for c in self.coords):
                raise BadInput(f"coords must be integers; got {self.coords!r}")
            if not self.coords:
                raise BadInput("coords must name at least one coordinate")
            for c in self.coords:
                checks.at_least("coords", c, 0)
        params = REGISTRY["j"].params()
        if self.top is not None:
            if isinstance(self.top, bool) or not isinstance(self.top, int):
                raise BadInput(f"i_top (--i-top) must be an integer; got {self.top!r}")
            checks.at_least("i_top (--i-top)", self.top, params["n"][1].low)
        if self.k_sigma is not None:
            p = params["k_sigma"][1]
            checks.in_range("i_k_sigma (--i-ksigma)", self.k_sigma, p.low, p.high)
        p = params["seed"][1]
        if isinstance(self.j_seed, bool) or not isinstance(self.j_seed, int):
            raise BadInput(f"j_seed (--j-seed) must be an integer; got {self.j_seed!r}")
        checks.in_range("j_seed (--j-seed)", self.j_seed, p.low, p.high)
        if not isinstance(self.j_authors, bool):
            raise BadInput(f"j_authors (--j-authors) must be True or False; got {self.j_authors!r}")
        return self

    def apply(self, iv):
        """`iv` with these definitions if it picks W_k coordinates ((i), (j), scale_wk), else unchanged."""
        if not isinstance(iv, ZeroKeyCoords):
            return iv
        names = {f.name for f in dataclasses.fields(iv)}
        kw = {}
        if self.coords is not None:
            kw.update(coords=tuple(self.coords), n=None)
        elif self.top is not None:
            kw.update(coords=None, n=self.top)
        if self.k_sigma is not None:
            kw["k_sigma"] = float(self.k_sigma)
        kw.update(seed=self.j_seed, per_layer_draw=self.j_per_layer or self.j_authors)
        kw = {k: v for k, v in kw.items() if k in names}
        if self.j_authors and type(iv) is ZeroRandomKeyCoords:
            return AuthorsRandomKeyCoords(**{**{f.name: getattr(iv, f.name) for f in dataclasses.fields(iv)}, **kw})
        return dataclasses.replace(iv, **kw)

    def describe(self) -> str:
        """In words, for report.md."""
        k = self.k_sigma if self.k_sigma is not None else REGISTRY["i"].params()["k_sigma"][0].default
        i = (f"(i): the coordinates {', '.join(map(str, self.coords))}" if self.coords is not None else
             f"(i): the top {self.top} |EPE_0| coordinates" if self.top is not None else
             f"(i): the EPE_0 coordinates above mean + {k:g}σ (a planted model without position embeddings: "
             "its planted massive coordinates)")
        j = ("the circuit authors' draw: Python's random.seed(seed), then randint(0, d_model − 1) per coordinate, "
             "layer after layer, over all coordinates" if self.j_authors else
             "re-drawn in every layer over all coordinates (sinklab's per-layer draw)" if self.j_per_layer else
             "one draw for every layer, never a chosen (i) coordinate")
        return f"{i}; (j): as many random coordinates, {j}, seed {self.j_seed}"


def signature(lm, target: int, seed: int = 0, key_coords: KeyCoords = KeyCoords(),
              factor: float | None = None) -> dict:
    """The signature's settings on this model (sinklab.interventions.signature_settings), (i)/(j) with the job's
    coordinate definitions."""
    settings = signature_settings(lm, target=target, factor=factor, seed=seed)
    return {k: key_coords.apply(v) for k, v in settings.items()}


def title(setting: str) -> str:
    """A readable title for a setting name."""
    if setting == "baseline":
        return "Baseline"
    if setting in REGISTRY:
        return REGISTRY[setting].title
    if AND in setting:
        return " + ".join(title(p) for p in setting.split(AND))
    if setting.startswith("transplant@"):
        return f"Transplant EPE_0 to position {setting.split('@')[1]}"
    if setting.startswith("dose:"):
        _, curve, alpha = setting.split(":")
        return f"{DOSE_CURVES.get(curve, curve)}, α = {alpha}"
    return setting


SETTING_FORMS = f"combinations joined with {AND} (or +), transplant@k, dose:<{'|'.join(DOSE_CURVES)}>:<α>"
_TRANSPLANT = re.compile(r"transplant@(-?\d+)")
_DOSE = re.compile(r"dose:(\w+):(.*)")


def _parts(name: str) -> list[str] | None:
    """The parts of a combination (joined with ∧ or +), or None for a single setting."""
    for sep in (AND, "+"):
        if sep in name:
            return [p.strip() for p in name.split(sep)]
    return None


def _dose(name: str) -> tuple[str, float] | None:
    """(curve, α) of a 'dose:<curve>:<α>' setting, None for another form; BadInput for a malformed one."""
    m = _DOSE.fullmatch(name)
    if m is None:
        return None
    if m.group(1) not in DOSE_CURVES:
        raise BadInput(f"unknown dose curve {m.group(1)!r} in {name!r}; choose from {', '.join(DOSE_CURVES)}")
    try:
        alpha = float(m.group(2))
    except ValueError:
        raise BadInput(f"the dose α of {name!r} must be a number; got {m.group(2)!r}") from None
    if not math.isfinite(alpha):
        raise BadInput(f"the dose α of {name!r} must be finite; got {m.group(2)!r}")
    return m.group(1), alpha


def labels_of(name: str) -> set[str]:
    """The registered intervention labels a setting name uses: 'b∧c' -> {b, c}, 'transplant@3' -> {transplant},
    'dose:b:0.5' -> {b}, 'dose:scale_wk:1' -> {scale_wk} (the unregistered PE interpolation: none)."""
    parts = _parts(name)
    if parts is not None:
        return set().union(*(labels_of(p) for p in parts))
    if _TRANSPLANT.fullmatch(name):
        return {"transplant"}
    m = _DOSE.fullmatch(name)
    label = m.group(1) if m else name
    return {label} if label in REGISTRY else set()


def check_setting(name: str) -> str:
    """Refuse a setting name that no model could resolve (before any job runs), listing the valid ones."""
    labels = signature_names()
    if not isinstance(name, str) or not name.strip():
        raise BadInput(f"setting names must be non-empty strings; got {name!r}")
    if name in labels:
        return name
    parts = _parts(name)
    if parts is not None:
        for p in parts:
            check_setting(p)
        return name
    m = _TRANSPLANT.fullmatch(name)
    if m:
        checks.at_least(f"the target k of {name!r}", int(m.group(1)), 1)
        return name
    if _dose(name) is not None:
        return name
    raise BadInput(f"unknown intervention {name!r}; valid: {', '.join(k for k in labels if k != 'baseline')}, "
                   f"{SETTING_FORMS}")


def resolve_setting(name: str, lm, target: int, base: dict, key_coords: KeyCoords = KeyCoords()):
    """The intervention(s) a setting name stands for on this model (BadInput if it cannot be built)."""
    if name in base:
        return base[name]
    parts = _parts(name)
    if parts is not None:
        out = []
        for p in parts:
            iv = resolve_setting(p, lm, target, base, key_coords)
            out.extend(() if iv is None else iv if isinstance(iv, tuple) else (iv,))
        return tuple(out)
    m = _TRANSPLANT.fullmatch(name)
    if m:
        return make("transplant", other=int(m.group(1)))
    dose = _dose(name)
    if dose is not None:
        curve, alpha = dose
        if curve == "b":
            try:
                return make("b", alpha=alpha)
            except BadInput as e:
                raise BadInput(f"{e} (sinklab's (b) declares α in its range; the dose grid asks for {alpha})") from None
        if curve == "scale_wk":
            return key_coords.apply(ScaleKeyRows(alpha=alpha, coords=planted_coords(lm)))
        return InterpolatePE(alpha=alpha)  # curve "pe"
    raise BadInput(f"unknown setting {name!r}; valid: {', '.join(base)}, {SETTING_FORMS}")
