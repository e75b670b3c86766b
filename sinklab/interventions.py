"""Interventions as data: frozen dataclasses that `sinklab.run` applies at named points.

Labels a-j follow the circuit paper (see ../shared/spec/circuit.md); `transplant`,
`isolate` and `amplify` come from the draft paper and the structural-origin paper.
Layer ranges are 0-indexed, [start, stop). Positions are 0-indexed (the papers' "position 1" is position 0).

Every family (sinklab.model.families) runs every intervention through the same points; what it MEANS there
is declared by each class's `meaning(traits)` and tabulated by `meanings()`: (b) is a declared no-op
without a query bias (GPT-Neo, Llama); on rotary models (Llama, Qwen2) (c) and interpolate do not
apply, (d) = (e) = transplant swap the rotary position ids (the extension's choice), (h) sets every
position id to 0 (sinklab's reading), (i)/(j) need explicit coordinates; OPT's table is read at +2.

A new intervention is one class in one place: subclass `Intervention`, declare its label, title and
the `points` it acts at as class keywords, its learner-facing texts in its docstring (description,
'Wire:', 'Try this:'), its parameters as `param(...)` fields (label, range, step and help declared once,
validated at construction) and `apply`. It then appears in `catalogue()`, in the report's signature and
on the app's Interventions page with its controls (see `Intervention` for the form).
"""
from __future__ import annotations

import dataclasses
import inspect
import itertools
import numbers
import re
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from . import checks
from .model import families, finder
from .model.epe import epe, massive_coords
from .errors import BadInput
from .model.families import NotApplicable, Traits
from .model.forward import Edit, run
from .model.names import POINTS, act_name

REGISTRY: dict[str, type["Intervention"]] = {}  # label -> class, filled by Intervention.__init_subclass__
PAPER = tuple("abcdefghij")  # the ten interventions of the circuit paper, in order


@dataclass(frozen=True)
class Meaning:
    """What an intervention does on one family: whether it applies, and in words (why not, if it does not)."""

    applies: bool
    text: str


@dataclass(frozen=True)
class Context:
    """What parameter ranges may depend on: the model's shape and the sequence length."""

    n_layer: int
    n_head: int
    d_model: int
    n_positions: int
    n_tokens: int
    d_mlp: int | None = None  # MLP hidden units per layer (None: not known, e.g. before a model is loaded)

    @classmethod
    def of(cls, model, n_tokens: int) -> "Context":
        f = families.of(model)
        return cls(n_layer=f.n_layer, n_head=f.n_head, d_model=f.d_model, n_positions=f.n_positions,
                   n_tokens=n_tokens, d_mlp=f.mlp_in_columns(0).shape[1])


Bound = float | int | Callable[[Context], float]


@dataclass(frozen=True)
class Param:
    """How one parameter is described and bounded. Bounds may depend on the Context (model, length)."""

    label: str
    low: Bound
    high: Bound
    step: float | None = None  # None: an integer parameter
    help: str = ""
    none_label: str | None = None  # optional parameters: what None means (a slider's 0)
    target: bool = False  # the key position this intervention is about
    widget: bool = True  # False: set from code only (e.g. a coordinate list)
    kind: str = ""  # "int", "float", "bool" or "ints" (a tuple of ints): read from the field's annotation

    @property
    def is_int(self) -> bool:
        return self.kind == "int"

    def check_type(self, what: str, value: Any) -> None:
        """Raise BadInput unless value has this parameter's kind (None allowed where none_label says what it means)."""
        if value is None and self.none_label is not None:
            return
        ok = {"int": _is_int, "float": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
              "bool": lambda v: isinstance(v, (bool, np.bool_)),
              "ints": lambda v: isinstance(v, tuple) and all(_is_int(c) for c in v)}[self.kind](value)
        if not ok:
            want = {"int": "an integer", "float": "a number", "bool": "True or False",
                    "ints": "a tuple of integers"}[self.kind]
            raise BadInput(f"{what} must be {want}; got {value!r}")

    def bounds(self, ctx: Context | None) -> tuple[float, float] | None:
        """(low, high) for this context; None if a bound needs a context and none is given."""
        out = []
        for b in (self.low, self.high):
            if callable(b):
                if ctx is None:
                    return None
                b = b(ctx)
            out.append(b)
        return out[0], out[1]


def param(default: Any, label: str, low: Bound, high: Bound, step: float | None = None, help: str = "",
          none_label: str | None = None, target: bool = False, widget: bool = True):
    """A dataclass field described once: its default and its Param (label, range, step, help)."""
    return dataclasses.field(default=default, metadata={"param": Param(label, low, high, step, help, none_label,
                                                                       target, widget)})


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


_KINDS = {"int": "int", "float": "float", "bool": "bool", "tuple[int,...]": "ints"}


def _kind(annotation: Any) -> str | None:
    """'int' / 'float' / 'bool' / 'ints' from a parameter's annotation (a string or a type; '| None' allowed)."""
    a = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or str(annotation)
    a = a.replace("typing.", "").replace(" ", "").replace("|None", "").replace("None|", "")
    if a.startswith("Optional[") and a.endswith("]"):
        a = a[len("Optional["):-1]
    return _KINDS.get(a)


def _described(cls) -> None:
    """Give every parameter declared in cls's body its kind, and check its declaration (at class definition)."""
    notes = cls.__dict__.get("__annotations__", {})
    for name, ann in notes.items():
        text = ann if isinstance(ann, str) else str(ann)
        if "ClassVar" in text:
            continue
        f = cls.__dict__.get(name, dataclasses.MISSING)
        if not (isinstance(f, dataclasses.Field) and "param" in f.metadata):
            raise TypeError(f"{cls.__name__}.{name}: declare every parameter with param(default, label, low, high, "
                            "step, help) so that its controls and checks come from one place")
        kind = _kind(ann)
        if kind is None:
            raise TypeError(f"{cls.__name__}.{name}: a parameter is an int, float, bool or tuple[int, ...] "
                            f"(optionally | None); got {text}")
        p = dataclasses.replace(f.metadata["param"], kind=kind)
        if kind == "float" and not p.step:
            raise TypeError(f"{cls.__name__}.{name}: a float parameter needs a step (its slider's resolution)")
        if kind in ("bool", "ints") and p.widget:
            raise TypeError(f"{cls.__name__}.{name}: a {kind} parameter has no slider; declare it with widget=False")
        if f.default is not None:
            p.check_type(f"{cls.__name__}.{name}'s default", f.default)
            bounds = p.bounds(None)
            values = f.default if kind == "ints" else (f.default,)
            if bounds is not None and kind != "bool" and not all(bounds[0] <= v <= bounds[1] for v in values):
                raise TypeError(f"{cls.__name__}.{name}: the default {f.default!r} is outside {bounds[0]}..{bounds[1]}")
        setattr(cls, name, dataclasses.field(default=f.default, metadata={**f.metadata, "param": p}))


def _tokens_last(ctx: Context) -> int:
    return ctx.n_tokens - 1


_DECLARED = {"label": str, "title": str, "points": frozenset, "per_layer": bool, "fixed_layer": int,
             "needs": frozenset, "needs_position_embeddings": bool, "control": bool, "in_signature": bool,
             "route": str}
ROUTES = ("", "positional", "structural")  # the sink account an intervention tests ("" = none, the baseline)
_SECTIONS = {"Formula": "formula", "Wire": "wire", "Try this": "try_this",  # docstring section -> attribute
             "On rotary models": "on_rotary"}
NOT_APPLICABLE = "not applicable: "  # an on_rotary text refusing the family
_SECTION = re.compile(rf"^({'|'.join(_SECTIONS)}):\s*(.*)$", re.IGNORECASE)
_SECTION_OF = {k.lower(): v for k, v in _SECTIONS.items()}


def read_docstring(doc: str) -> dict[str, str]:
    """An intervention's docstring -> its texts: the first paragraph is `description`; a line starting
    'Formula:', 'Wire:', 'Try this:' or 'On rotary models:' opens that section, which runs to the next blank
    line or section."""
    lines = [line.strip() for line in inspect.cleandoc(doc).splitlines()]
    first = list(itertools.takewhile(lambda line: bool(line) and not _SECTION.match(line), lines))
    out = {"description": " ".join(first)}
    current = None
    for line in lines[len(first):]:
        m = _SECTION.match(line)
        if m:
            current = _SECTION_OF[m.group(1).lower()]
            out[current] = m.group(2)
        elif current and line:
            out[current] += " " + line
        else:
            current = None  # a blank line ends a section; later paragraphs are notes for developers
    return out


@dataclass(frozen=True, kw_only=True)
class Intervention(Edit):
    """Base class. A subclass is declared in its class statement and its docstring:

        @dataclass(frozen=True, kw_only=True)
        class ScaleValues(Intervention, label="v", title="Scale values", points={"v"}, per_layer=True):
            \"\"\"Multiply every value vector by a factor (the learner-facing description).

            Wire: the values            (optional: the part of a mechanism it cuts)
            Try this: Scale them to 0.  (optional: a question for the learner)
            On rotary models: ...       (optional: its meaning there; "not applicable: why" refuses them)
            \"\"\"

            factor: float = param(1.0, "factor", 0.0, 2.0, 0.1)

    Keywords: label (registers it), title, points (short names of sinklab.model.names.POINTS), per_layer (acts in
    every layer of `layers`, [start, stop), None = all; otherwise once, at an embedding, or at `fixed_layer`
    only, and takes no layer range), fixed_layer, needs (side inputs `apply` reads, each offered by every
    point), needs_position_embeddings, control (no mechanism predicts it to change the sink), in_signature
    (False: a dose or a tool, left out of the standard signature). Unset keywords, and the docstring sections
    a subclass does not write, are inherited from the parent class.
    meaning(traits): what it does on a family (sinklab.model.families.Traits); `check` refuses it where it
    does not apply. `meanings()` tabulates every intervention over every family.
    """

    label: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    formula: ClassVar[str] = ""
    wire: ClassVar[str] = ""  # the part of a sink mechanism it cuts (or, for a control, what it changes)
    try_this: ClassVar[str] = ""  # a question the learner can answer with this intervention's controls
    on_rotary: ClassVar[str] = ""  # what it means on Llama / Qwen2 ("not applicable: why" refuses them)
    points: ClassVar[frozenset] = frozenset()
    per_layer: ClassVar[bool] = False
    fixed_layer: ClassVar[int | None] = None
    needs: ClassVar[frozenset] = frozenset()
    needs_position_embeddings: ClassVar[bool] = False
    control: ClassVar[bool] = False
    in_signature: ClassVar[bool] = True
    route: ClassVar[str] = "positional"
    layers: tuple[int, int] | None = None

    def __init_subclass__(cls, **declared):
        unknown = set(declared) - set(_DECLARED)
        if unknown:
            raise TypeError(f"{cls.__name__} declares unknown keywords {sorted(unknown)}; valid: {', '.join(_DECLARED)}")
        super().__init_subclass__()
        for key, value in declared.items():
            setattr(cls, key, frozenset(value) if _DECLARED[key] is frozenset else value)
        if cls.__dict__.get("__doc__"):
            for key, value in read_docstring(cls.__doc__).items():
                setattr(cls, key, value)
        _described(cls)
        bad = set(cls.points) - set(POINTS)
        if bad:
            raise TypeError(f"{cls.__name__}.points has unknown points {sorted(bad)}; valid: {', '.join(POINTS)}")
        if (cls.needs or cls.per_layer or cls.fixed_layer is not None) and not cls.points:
            raise TypeError(f"{cls.__name__} declares needs / per_layer / fixed_layer but no points to act at")
        if cls.route not in ROUTES:
            raise TypeError(f"{cls.__name__}.route must be one of {ROUTES}; got {cls.route!r}")
        for p in cls.points:
            missing = set(cls.needs) - POINTS[p].side_inputs
            if missing:
                raise TypeError(f"{cls.__name__} needs {sorted(missing)} at point {p!r}, which offers "
                                f"{sorted(POINTS[p].side_inputs) or 'no side inputs'}")
        if cls.per_layer and not all(POINTS[p].per_layer for p in cls.points):
            raise TypeError(f"{cls.__name__} is per_layer but acts at a point outside the layers")
        label = declared.get("label")
        if label:
            if label in REGISTRY and REGISTRY[label].__qualname__ != cls.__qualname__:
                raise TypeError(f"intervention label {label!r} is taken by {REGISTRY[label].__name__}")
            REGISTRY[label] = cls

    def __post_init__(self):
        if self.layers is not None:
            if not self.per_layer:
                raise BadInput(f"{self.title} acts {self._where()}; it takes no layer range")
            object.__setattr__(self, "layers", checks.layer_range(self.layers, None, f"{self.title}: layers"))
        self.validate(None)

    # ------------------------------------------------------------------ parameters
    @classmethod
    def params(cls) -> dict[str, tuple[dataclasses.Field, Param]]:
        """name -> (dataclass field, Param) for every described parameter, in declaration order."""
        return {f.name: (f, f.metadata["param"]) for f in dataclasses.fields(cls) if "param" in f.metadata}

    def validate(self, ctx: Context | None) -> None:
        """Raise BadInput if a parameter has the wrong type or is outside its declared range (with ctx None,
        only the bounds that need no context: a range depending on the model is checked when it runs)."""
        for name, (_, p) in self.params().items():
            value, what = getattr(self, name), f"{self.title}: {name}"
            p.check_type(what, value)
            if value is None or p.kind == "bool":
                continue
            bounds = p.bounds(ctx)
            for v in (value if p.kind == "ints" else (value,)):
                if bounds is not None:
                    checks.in_range(what, v, *bounds)
                elif not callable(p.low):
                    checks.at_least(what, v, p.low)

    @classmethod
    def role(cls) -> str:
        """'baseline' (acts nowhere), 'control', 'moves the sink' (it has a target position) or 'cuts a wire'."""
        if not cls.points:
            return "baseline"
        if cls.control:
            return "control"
        return "moves the sink" if any(p.target for _, p in cls.params().values()) else "cuts a wire"

    @classmethod
    def meaning(cls, t: Traits) -> Meaning:
        """What this intervention does on a family with traits `t`: the description, or on rotary models the
        'On rotary models:' section of its docstring (override for other family-dependent meanings)."""
        if t.positions == "rotary" and cls.on_rotary:
            return Meaning(not cls.on_rotary.startswith(NOT_APPLICABLE), cls.on_rotary.removeprefix(NOT_APPLICABLE))
        return Meaning(True, cls.description)

    @classmethod
    def family_meaning(cls, t: Traits) -> Meaning:
        """meaning(t), with what a family's own structure adds to it, declared in its family file
        (Family.meaning_note; Gemma 3: a change to q or k is made before the QK-norm, which rescales what remains)."""
        m = cls.meaning(t)
        family = families.BY_TYPE.get(t.family)
        note = family.meaning_note(cls.points, t) if m.applies and family is not None else ""
        return Meaning(True, m.text + note) if note else m

    def check(self, model, n_tokens: int) -> None:
        """Raise BadInput / NotApplicable if this intervention cannot run on `model` with n_tokens tokens."""
        fam = families.of(model)
        if self.layers is not None:
            checks.layer_range(self.layers, fam.n_layer, f"{self.title}: layers")
        self.validate(Context.of(model, n_tokens))
        m = self.family_meaning(fam.traits())
        if not m.applies:
            raise NotApplicable(f"{self.title} does not apply to {fam.title}: {m.text}")
        if self.needs_position_embeddings and not fam.rotary and not families.has_position_embeddings(model):
            raise NotApplicable(f"{self.title} is defined through the position embeddings, and this model has "
                                "none (all zero): it does not apply here")

    def check_inputs(self, model, ids: torch.Tensor, mask: torch.Tensor) -> None:
        """Raise NotApplicable if this intervention has nothing to act on for these inputs (ids, mask [batch, pos]);
        e.g. no super neuron to zero on this prompt. Called before a forward and by a sweep (a "not run" row)."""

    def _where(self) -> str:
        if self.fixed_layer is not None:
            return f"in layer {self.fixed_layer} only"
        return "on the embeddings" if not self.per_layer else "per layer"

    def active(self, layer: int | None) -> bool:
        if layer is None:  # a point before the first layer (embeddings, position ids)
            return True
        if self.fixed_layer is not None:
            return layer == self.fixed_layer
        return layer is None or self.layers is None or self.layers[0] <= layer < self.layers[1]

    def apply(self, point: str, layer: int | None, t: torch.Tensor, model, inputs: dict) -> torch.Tensor:
        return t

    def acting_points(self, rotary: bool) -> frozenset:
        """The points where `apply` can change anything on a rotary / non-rotary model (default: all `points`)."""
        return self.points

    def start(self, n_layer: int, rotary: bool = False) -> tuple[int, int]:
        """Where it first acts, in forward order: (layer, 0) at the layer's attention half, (layer, 1) at its MLP
        half, (-1, 0) at the embeddings, (n_layer, 0) after the last block. Everything computed before that
        point is the same with or without it (what sinklab.model.forward.run(start=...) relies on)."""
        stages = {POINTS[p].stage for p in self.acting_points(rotary)}
        if "embed" in stages:
            return (-1, 0)
        if not stages & {"attn", "mlp"}:
            return (n_layer, 0)
        first = self.fixed_layer if self.fixed_layer is not None else (self.layers or (0, n_layer))[0]
        return (first, 0 if "attn" in stages else 1)

    def target(self) -> int:
        """The key position whose attention this intervention is about (0 = the first token)."""
        for name, (_, p) in self.params().items():
            if p.target:
                return int(getattr(self, name))
        return 0


@dataclass(frozen=True, kw_only=True)
class Baseline(Intervention, label="a", title="Baseline", route=""):
    """No intervention."""


@dataclass(frozen=True, kw_only=True)
class ScaleQueryBias(Intervention, label="b", title="No query bias", points={"q"}, per_layer=True):
    """Scale the query bias b_Q by alpha in every chosen layer (alpha = 0 removes it).

    Formula: q <- q - (1 - alpha) b_Q (before the rotation on rotary models).
    Wire: the query bias b_Q
    Try this: Drag α from 1 down to 0: does the sink fade gradually or collapse at once?
    """

    alpha: float = param(0.0, "α: scale of b_Q (0 removes it, 1 leaves it)", 0.0, 1.5, 0.05)

    @classmethod
    def meaning(cls, t):
        if not t.query_bias:  # a declared no-op is "does not apply", never a 100 % result
            return Meaning(False, f"{t.title} has no query bias b_Q, so there is nothing to scale (a no-op"
                                  + ("; the extension reports it as 100 %" if t.family == "gpt_neo" else "") + ")")
        if t.positions == "rotary":
            return Meaning(True, cls.description + " The bias is scaled where it is added, before the rotation.")
        return Meaning(True, cls.description)

    def apply(self, point, layer, t, model, inputs):
        w = families.attn_weights(model, layer)
        if w.b_Q is None:
            return t
        return t - (1.0 - self.alpha) * w.head_bias(w.b_Q)  # [batch, pos, head, d_head] - [head, d_head]


@dataclass(frozen=True, kw_only=True)
class RemoveFirstPE(Intervention, label="c", title="Remove first PE", points={"pos_embed"},
                    needs_position_embeddings=True):
    """The first position receives the second position's embedding instead of its own.

    Wire: the first position's embedding p_0
    Try this: Compare the sink after (c) with the baseline: is the first position's embedding needed?
    On rotary models: not applicable: position is a rotation of q and k, not an added embedding, so there is
        no first position embedding to replace (the extension: no additive-PE analogue)
    """

    @classmethod
    def meaning(cls, t):
        if t.pos_offset and t.positions != "rotary":
            return Meaning(True, f"the first position receives the second position's embedding (table row "
                                 f"{t.pos_offset + 1}) instead of its own (row {t.pos_offset}; {t.title}'s table is "
                                 f"offset by {t.pos_offset})")
        return super().meaning(t)

    def apply(self, point, layer, t, model, inputs):
        t = t.clone()
        t[:, 0] = families.pos_embed(model)[1]
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


def _swap_ids(t: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """Position ids with columns a and b exchanged. t: [batch, pos]"""
    t = t.clone()
    t[:, [a, b]] = t[:, [b, a]]
    return t


def _unit(v: torch.Tensor) -> torch.Tensor:
    """v / |v|, or the zero vector when v = 0 (a model without position embeddings)."""
    n = v.norm()
    return v / n if n > 0 else torch.zeros_like(v)


@dataclass(frozen=True, kw_only=True)
class SwapEPE(Intervention, label="d", title="Swap EPE", points={"mlp_out", "pos_ids"}, fixed_layer=0,
              needs_position_embeddings=True):
    """After the first block's MLP, move the EPE_0 component of the first token onto the second token's EPE_1
    direction, and the second token's onto EPE_0 (a swap of the first two positions' EPE directions).

    Formula: alpha = <mlp_out_0, e_0>; mlp_out_0 += alpha (e_1 - e_0), mlp_out_1 += alpha (e_0 - e_1), e_j = EPE_j/|EPE_j|.
    Wire: the EPE_0 direction after the first MLP
    Try this: Compare (d) with its control (e): which directions carry the sink, EPE's or the raw PE's?
    On rotary models: swaps the rotary position ids of position 0 and position `other`: each is rotated as if it stood at the other's place (the extension's choice; on rotary models (d) = (e) = transplant)
    """

    other: int = param(1, "Swap partner position", 1, _tokens_last, widget=False,
                       help="0-indexed position whose direction is exchanged with position 0's.")

    @classmethod
    def meaning(cls, t):
        if t.pos_offset and t.positions != "rotary":
            return Meaning(True, f"{cls.description} ({t.title}: p_i is row i + {t.pos_offset} of the table.)")
        return super().meaning(t)

    def _directions(self, model):
        e = epe(model)
        return _unit(e[0]), _unit(e[self.other])

    def acting_points(self, rotary):
        return frozenset({"pos_ids"} if rotary else {"mlp_out"})

    def apply(self, point, layer, t, model, inputs):
        rotary = families.of(model).rotary
        if point == "pos_ids":
            return _swap_ids(t, 0, self.other) if rotary else t
        if rotary:
            return t
        e_1, e_o = self._directions(model)
        return _swap_directions(t, e_1, e_o, 0, self.other, 1.0, both=True)


@dataclass(frozen=True, kw_only=True)
class SwapPE(SwapEPE, label="e", title="Swap PE", needs_position_embeddings=True, control=True):
    """As Swap EPE, but along the raw position embeddings p_0, p_1 (control: the sink stays).

    Formula: as Swap EPE with e_j = p_j/|p_j| (the raw position embeddings).
    Wire: the raw position-embedding directions
    Try this: Compare (e) with (d): does swapping the raw position embeddings move the sink?
    """

    def _directions(self, model):
        p = families.pos_embed(model)
        return _unit(p[0]), _unit(p[self.other])


@dataclass(frozen=True, kw_only=True)
class Transplant(SwapEPE, label="transplant", title="Transplant EPE_0"):
    """Swap the EPE_0 component of position 0 with the EPE component of the target position: the sink should follow
    EPE_0 to the target.

    Formula: alpha = <mlp_out_0, e_0>; mlp_out_0 += alpha (e_k - e_0), mlp_out_k += alpha (e_0 - e_k) for the target
        k = `other`, e_j = EPE_j/|EPE_j|.
    Wire: EPE_0, moved to the target
    Try this: Move the target position: does the sink follow EPE_0 wherever it goes?
    """

    other: int = param(1, "Target position (receives EPE_0)", 1, _tokens_last, target=True,
                       help="0-indexed position that receives the first position's EPE component.")


@dataclass(frozen=True, kw_only=True)
class InterpolateEPE(Intervention, label="interpolate", title="Interpolate EPE_0 -> EPE_1", points={"mlp_out"},
                     fixed_layer=0, needs_position_embeddings=True):
    """Replace a fraction t of position 0's EPE_0 component by the EPE_1 direction.

    Formula: alpha = <mlp_out_0, e_0>; mlp_out_0 += t alpha (e_toward - e_0), e_j = EPE_j/|EPE_j| (a dose).
    Wire: the EPE_0 direction (a dose)
    Try this: Raise t in small steps: at which fraction has the sink lost half its weight?
    On rotary models: not applicable: there is no EPE direction to move on a rotary model (no learned position
        table)
    """

    t: float = param(1.0, "t: fraction of EPE_0 moved toward EPE_1", 0.0, 1.0, 0.05)
    toward: int = param(1, "EPE_j moved toward", 1, lambda c: c.n_positions - 1, widget=False,
                        help="The position j whose EPE direction replaces part of EPE_0 (1 = EPE_1).")

    def apply(self, point, layer, t, model, inputs):
        e = epe(model)
        return _swap_directions(t, _unit(e[0]), _unit(e[self.toward]), 0, self.toward, self.t, both=False)


@dataclass(frozen=True, kw_only=True)
class NullifyBOS(Intervention, label="f", title="Nullify first token", points={"embed"}, control=True):
    """Zero the first token's embedding and keep its position embedding (control).

    Wire: the first token's identity
    Try this: Does the sink depend on WHICH token comes first? Compare (f) with the baseline.
    """

    def apply(self, point, layer, t, model, inputs):
        t = t.clone()
        t[:, 0] = 0
        return t


@dataclass(frozen=True, kw_only=True)
class SkipMLP(Intervention, label="g", title="No MLP", points={"mlp_out"}, per_layer=True):
    """Skip the MLP of every chosen block (its output is zero).

    Wire: the MLPs
    Try this: Skip only layer 0's MLP (layer range 0–1), then only later ones: which MLP matters?
    """

    def apply(self, point, layer, t, model, inputs):
        return torch.zeros_like(t)


@dataclass(frozen=True, kw_only=True)
class NoPE(Intervention, label="h", title="No PE", points={"pos_embed", "pos_ids"}, needs_position_embeddings=True):
    """Remove the position embeddings of every position.

    Wire: all position embeddings
    Try this: Without any position embedding, is there still a sink? What would create one?
    On rotary models: every rotary position id is set to 0: q and k are not rotated at all (sinklab's reading
        of 'no PE' for rotary models; the extension reports (h) on Qwen2.5 without saying how it was done)
    """

    def apply(self, point, layer, t, model, inputs):
        if point == "pos_ids":
            return torch.zeros_like(t) if families.of(model).rotary else t
        return torch.zeros_like(t)


@dataclass(frozen=True, kw_only=True)
class ZeroKeyCoords(Intervention, label="i", title="Zero W_k at massive coords", points={"k"}, per_layer=True,
                    needs={"x"}):
    """Zero the rows of the key weight W_k at massive coordinates: where EPE_0 is massive, or the ones passed (coords).

    Formula: k <- k - x[:, c] W_k[c] for the chosen input coordinates c.
    Wire: W_k at the massive coordinates
    Try this: Set n to 1, 2, 3…: how many massive coordinates must go before the sink breaks?
    On rotary models: zeroes the rows of W_k at the coordinates you pass (coords): a rotary model has no EPE
        to pick them from; the rows' contribution is removed before the rotation

    coords: explicit coordinates (duplicates ignored); else the `n` largest |EPE_0| coordinates if n is given,
    else the mean + k_sigma * std rule. A model without position embeddings has no EPE: pass coords (e.g. a
    planted specimen's `meta["massive_coords"]`).
    """

    coords: tuple[int, ...] | None = param(None, "W_k coordinates", 0, lambda c: c.d_model - 1, widget=False,
                                           none_label="chosen from EPE_0")
    n: int | None = param(None, "n: W_k coordinates to zero", 1, lambda c: min(64, c.d_model),
                          none_label="the massive ones (mean + kσ·std rule)",
                          help="Zero the n largest |EPE_0| coordinates; 0 on the slider = the kσ rule.")
    k_sigma: float = param(3.0, "kσ of the massive-coordinate rule", 0.0, 50.0, 0.5, widget=False)

    def __post_init__(self):
        if self.coords is not None:
            if not isinstance(self.coords, (tuple, list)) or not all(_is_int(c) for c in self.coords):
                raise BadInput(f"{self.title}: coords must be a tuple of integers; got {self.coords!r}")
            if not self.coords:
                raise BadInput(f"{self.title}: coords must name at least one coordinate (None: chosen from EPE_0)")
            object.__setattr__(self, "coords", tuple(sorted({int(c) for c in self.coords})))  # each zeroed once
        super().__post_init__()

    def _needs_epe(self) -> bool:
        return self.coords is None

    def check(self, model, n_tokens):
        super().check(model, n_tokens)
        fam = families.of(model)
        if self._needs_epe() and fam.rotary:
            raise NotApplicable(f"{self.title} picks its coordinates from EPE_0, and {fam.title} is a rotary model "
                                "without position embeddings: pass the coordinates explicitly (coords=...)")
        if self._needs_epe() and not families.has_position_embeddings(model):
            raise NotApplicable(f"{self.title} picks its coordinates from EPE_0, and this model has no position "
                                "embeddings: pass the coordinates explicitly (a planted specimen lists them in "
                                "its metadata as massive_coords)")
        if self._needs_epe() and self.n is None and not massive_coords(model, k_sigma=self.k_sigma):
            raise NotApplicable(f"{self.title}: no EPE_0 coordinate exceeds mean + {self.k_sigma:g}σ on this model, so "
                                "there is nothing to zero; pick the top n coordinates (n=...) or pass coords=...")

    def chosen(self, model, layer: int | None = None) -> tuple[int, ...]:
        """The zeroed coordinates (in `layer`: they depend on it only for (j) re-drawn per layer)."""
        if self.coords is not None:
            return self.coords
        return massive_coords(model, k_sigma=self.k_sigma, top=self.n)

    def apply(self, point, layer, t, model, inputs):
        c = list(self.chosen(model, layer))
        if not c:
            return t
        w = families.attn_weights(model, layer)
        removed = (inputs["x"][..., c] @ w.W_K[c]).unflatten(-1, (w.n_head, w.d_head))  # [batch, pos, head, d_head]
        return t - w.to_kv(removed)  # [batch, pos, kv_head, d_head], before any rotation


@dataclass(frozen=True, kw_only=True)
class ZeroRandomKeyCoords(ZeroKeyCoords, label="j", title="Zero W_k at random coords", control=True):
    """Zero the rows of W_k at as many random coordinates as (i) uses, excluding the massive ones (control; seeded;
    one draw for every layer, or re-drawn per layer over all coordinates with per_layer_draw).

    Wire: W_k at random coordinates
    Try this: Use the same n as for (i): does zeroing as many random coordinates break the sink?
    On rotary models: zeroes the rows of W_k at random coordinates: as many as the coords you pass, excluding
        them, or n re-drawn in every layer (per_layer_draw); a rotary model has no EPE to pick massive
        coordinates from
    """

    n: int | None = param(None, "n: random W_k coordinates to zero", 1, lambda c: min(64, c.d_model),
                          none_label="as many as (i)'s massive ones",
                          help="How many random rows of W_k to zero (never the massive ones); 0 on the "
                               "slider = as many as (i) zeroes.")
    seed: int = param(0, "seed of the random draw", 0, 10 ** 6, widget=False)
    per_layer_draw: bool = param(False, "re-draw the coordinates in every layer", 0, 1, widget=False,
                                 help="False: one draw for all layers, never a massive coordinate (sinklab's "
                                      "default). True: a new draw in every layer from (seed, layer), over all "
                                      "coordinates, so it may hit massive ones (the authors' and the extension's "
                                      "way).")

    def _needs_epe(self) -> bool:
        return self.coords is None and not (self.per_layer_draw and self.n is not None)

    def chosen(self, model, layer: int | None = None):
        """The random coordinates (layer None with per_layer_draw: layer 0's draw)."""
        d = families.of(model).d_model
        if self.per_layer_draw:
            count = self.n if self.n is not None else len(ZeroKeyCoords.chosen(self, model))
            pool = torch.arange(d)  # every coordinate, the massive ones included
            g = torch.Generator().manual_seed(self.seed * 100_003 + (layer or 0))
        else:
            massive = ZeroKeyCoords.chosen(self, model)
            count = len(massive) if self.n is None else self.n
            pool = torch.tensor([i for i in range(d) if i not in set(massive)])
            g = torch.Generator().manual_seed(self.seed)
        return tuple(sorted(int(i) for i in pool[torch.randperm(len(pool), generator=g)[:count]]))


@dataclass(frozen=True, kw_only=True)
class IsolatePosition(Intervention, label="isolate", title="Isolate position k", points={"attn_scores"},
                      per_layer=True, route="structural"):
    """Change the attention mask so position k attends only to itself, like the first token does; the structural
    account predicts a sink at k.

    Wire: aggregation: k made to attend only to itself
    Try this: Isolate a few different positions k: does a sink appear at k on this model?
    """

    position: int = param(1, "Target position k", 1, _tokens_last, target=True,
                          help="0-indexed position made to attend only to itself.")

    def apply(self, point, layer, t, model, inputs):
        k = self.position
        t = t.clone()  # [batch, head, query_pos, key_pos]
        keep = t[:, :, k, k].clone()
        t[:, :, k, :] = torch.finfo(t.dtype).min
        t[:, :, k, k] = keep
        return t


@dataclass(frozen=True, kw_only=True)
class AmplifyVariance(Intervention, label="amplify", title="Amplify variance at k", points={"z"}, per_layer=True,
                      route="structural"):
    """Multiply the spread of position k's per-head attention output by a factor (its variance by factor^2),
    mimicking a single-value first token.

    Formula: z_k <- mean(z_k) + factor (z_k - mean(z_k)) per head, at position k in the chosen layers.
    Wire: the variance of k's attention output
    Try this: Raise the factor step by step: does position k start to collect attention, and from which factor?
    """

    position: int = param(1, "Target position k", 1, _tokens_last, target=True,
                          help="0-indexed position whose attention output is amplified.")
    factor: float = param(4.0, "Variance factor", 0.0, 20.0, 0.5,
                          help="Multiplies the spread of z_k around its mean (its variance by factor²).")

    def apply(self, point, layer, t, model, inputs):
        k = self.position
        t = t.clone()  # [batch, pos, head, d_head]
        zk = t[:, k]
        mu = zk.mean(-1, keepdim=True)
        t[:, k] = mu + self.factor * (zk - mu)
        return t


@dataclass(frozen=True, kw_only=True)
class HeadRMSNorm(Intervention, label="rmsnorm", title="Head-wise RMSNorm", points={"z"}, per_layer=True,
                  route="structural"):
    """RMS-normalise each head's attention output per position (rescaled to the head's average RMS) before the output
    projection; restores parity.

    Formula: z_{t,h} <- z_{t,h} * mean_t rms(z_{.,h}) / rms(z_{t,h}): equal RMS across positions per head.
    Wire: the variance discrepancy between positions (head-wise RMSNorm)
    Try this: Apply it to layer 0 only, then to the later layers only: where does parity matter?
    """

    def apply(self, point, layer, t, model, inputs):
        rms = t.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()  # [batch, pos, head, 1]
        return t * rms.mean(1, keepdim=True) / rms


# ---------------------------------------------------------------- the structural chain's links, one layer at a time
def _last_layer(ctx: Context) -> int:
    return ctx.n_layer - 1


def _last_neuron(ctx: Context) -> int:
    return (ctx.d_mlp or 10 ** 9) - 1


def _layer_output(model, ids: torch.Tensor, mask: torch.Tensor, layer: int, names: tuple[str, ...]) -> dict:
    """A plain forward of the inputs up to block `layer` (inclusive), keeping `names` of that layer."""
    keep = [act_name(n, layer) for n in names]
    tr = run(model, ids, mask, names=keep, stop_at_layer=layer + 1)
    return {n: tr[n, layer] for n in names}


class _OneLayer(Intervention):
    """Acts in one layer, chosen by its `layer` parameter (not a range)."""

    def active(self, layer):
        return layer is None or layer == self.layer

    def start(self, n_layer, rotary=False):
        stages = {POINTS[p].stage for p in self.acting_points(rotary)}
        return (self.layer, 0 if "attn" in stages else 1)

    def _where(self) -> str:
        return f"in layer {self.layer} only"

    def validate(self, ctx):
        super().validate(ctx)
        for name in ("neurons", "coords"):
            v = getattr(self, name, None)
            if v is not None and len(set(v)) != len(v):
                raise BadInput(f"{self.title}: {name} must not repeat an id; got {v}")
            if v is not None and not v:
                raise BadInput(f"{self.title}: {name} is empty; omit it to use the finder's")


_MLP_UNITS = {  # what the MLP's hidden units (the down-projection's inputs) are on each family
    "gpt2": "GPT-2's GELU(c_fc) outputs, the inputs of c_proj",
    "gpt_neo": "GPT-Neo's GELU(c_fc) outputs, the inputs of c_proj",
    "opt": "OPT's ReLU(fc1) outputs, the inputs of fc2",
    "llama": "Llama's SiLU(gate)·up products, the inputs of down_proj",
    "qwen2": "Qwen2's SiLU(gate)·up products, the inputs of down_proj",
    "gemma3_text": "Gemma 3's GELU(gate)·up products, the inputs of down_proj (before the post-feedforward norm, "
                   "which rescales what the MLP still writes)",
}


@dataclass(frozen=True, kw_only=True)
class ZeroNeurons(_OneLayer, label="zero_neurons", title="Zero super neurons", points={"post"}, route="structural",
                  in_signature=False):
    """Zero MLP hidden units of one layer at every position (the down-projection's inputs): by default that layer's
    super neurons, found on the prompt by sinklab.origin's finder (at most `top` of them).

    Formula: post[:, :, n] <- 0 for n in neurons, in layer `layer`.
    Wire: the FFN super neurons that write the massive coordinate
    Try this: Zero the super neurons of the layer where the massive coordinate appears: does the sink drop, and does
        its control (the same number of random neurons) leave it?
    """

    layer: int = param(0, "layer", 0, _last_layer, help="0-indexed layer whose MLP units are zeroed.")
    neurons: tuple[int, ...] | None = param(None, "neurons", 0, _last_neuron, widget=False,
                                            none_label="the layer's super neurons found on the prompt",
                                            help="MLP hidden units to zero; omitted: the finder's super neurons.")
    top: int = param(2, "at most this many found neurons", 1, 16,
                     help="How many of the finder's super neurons to zero (largest write at position 0 first).")

    @classmethod
    def meaning(cls, t):
        return Meaning(True, f"{cls.description} The units are {_MLP_UNITS.get(t.family, 'the MLP hidden units')}.")

    def _rows(self, model):
        return families.of(model).mlp_out_rows(self.layer).detach()

    def chosen(self, model, ids, mask) -> list[tuple[int, ...]]:
        """Per example, the zeroed units (the given neurons, or the finder's on these inputs)."""
        if self.neurons is not None:
            return [self.neurons] * ids.shape[0]
        out = _layer_output(model, ids, mask, self.layer, ("post", "mlp_out"))
        return finder.found_neurons(out["post"], out["mlp_out"], mask.to(out["post"].device), self._rows(model),
                                    self.top)

    def check_inputs(self, model, ids, mask):
        if self.neurons is None and not all(self.chosen(model, ids, mask)):
            raise NotApplicable(f"{self.title}: the finder sees no super neuron in layer {self.layer} on this input "
                                "(none active mainly at position 0 and writing a massive coordinate there); pass "
                                "neurons=... to zero chosen units")

    def apply(self, point, layer, t, model, inputs):
        t = t.clone()  # [batch, pos, d_mlp]
        if self.neurons is not None:
            t[:, :, list(self.neurons)] = 0
            return t
        fam = families.of(model)
        found = finder.found_neurons(t, fam.mlp_out(self.layer, t), inputs["mask"], self._rows(model), self.top)
        for e, ns in enumerate(found):
            t[e, :, list(ns)] = 0
        return t


@dataclass(frozen=True, kw_only=True)
class ZeroRandomNeurons(_OneLayer, label="zero_random_neurons", title="Zero random neurons", points={"post"},
                        route="structural", control=True, in_signature=False):
    """Zero as many random MLP hidden units of the same layer, never one of the finder's super neurons (the control
    of Zero super neurons; seeded).

    Formula: post[:, :, n] <- 0 for n in a seeded draw of n units of layer `layer`, excluding its super neurons.
    Wire: random MLP units of the same layer
    Try this: Zero as many random neurons as super neurons, for a few seeds: does the sink stay?
    """

    layer: int = param(0, "layer", 0, _last_layer, help="0-indexed layer whose MLP units are zeroed.")
    n: int = param(2, "n: random units to zero", 1, 64, help="How many units (never a super neuron).")
    seed: int = param(0, "seed of the random draw", 0, 10 ** 6, widget=False)

    @classmethod
    def meaning(cls, t):
        return Meaning(True, f"{cls.description} The units are {_MLP_UNITS.get(t.family, 'the MLP hidden units')}.")

    def drawn(self, d_mlp: int, excluded: set[int]) -> tuple[int, ...]:
        """The first n units of a permutation seeded by (seed, layer) that are not excluded, sorted."""
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.layer)
        out = [int(i) for i in torch.randperm(d_mlp, generator=g) if int(i) not in excluded][: self.n]
        return tuple(sorted(out))

    def chosen(self, model, ids, mask) -> list[tuple[int, ...]]:
        """Per example, the zeroed units (never one the finder flags on these inputs)."""
        out = _layer_output(model, ids, mask, self.layer, ("post", "mlp_out"))
        rows = families.of(model).mlp_out_rows(self.layer).detach()
        flags = finder.super_mask(out["post"], out["mlp_out"], mask.to(out["post"].device), rows)
        return [self.drawn(rows.shape[0], set(torch.nonzero(f).flatten().tolist())) for f in flags]

    def apply(self, point, layer, t, model, inputs):
        fam = families.of(model)
        rows = fam.mlp_out_rows(self.layer).detach()
        flags = finder.super_mask(t, fam.mlp_out(self.layer, t), inputs["mask"], rows)
        t = t.clone()  # [batch, pos, d_mlp]
        for e in range(t.shape[0]):
            t[e, :, list(self.drawn(rows.shape[0], set(torch.nonzero(flags[e]).flatten().tolist())))] = 0
        return t


@dataclass(frozen=True, kw_only=True)
class ZeroMassive(_OneLayer, label="zero_massive", title="Zero massive coordinates", points={"resid_post"},
                  route="structural", in_signature=False):
    """Zero the massive coordinates of position 0's residual stream after one block (by default the ones the
    finder's rule flags there, per input).

    Formula: r_0[c] <- 0 for c in coords, after block `layer` (hook_resid_post).
    Wire: the massive coordinates at position 0
    Try this: Zero the massive coordinates right after they appear: does the sink survive without them?
    """

    layer: int = param(0, "layer", 0, _last_layer, help="0-indexed block after which position 0 is edited.")
    coords: tuple[int, ...] | None = param(None, "coords", 0, lambda c: c.d_model - 1, widget=False,
                                           none_label="the massive ones by the finder's rule",
                                           help="Residual coordinates to zero at position 0.")

    def chosen(self, model, ids, mask) -> list[tuple[int, ...]]:
        """Per example, the zeroed coordinates (the given ones, or those the massive rule flags after the block)."""
        if self.coords is not None:
            return [self.coords] * ids.shape[0]
        r = _layer_output(model, ids, mask, self.layer, ("resid_post",))["resid_post"]
        flags = finder.massive_mask(r, mask.to(r.device))
        return [tuple(torch.nonzero(f).flatten().tolist()) for f in flags]

    def check_inputs(self, model, ids, mask):
        if self.coords is None and not all(self.chosen(model, ids, mask)):
                raise NotApplicable(f"{self.title}: no coordinate of position 0 is massive after block {self.layer} on "
                                f"this input (none >= mean + {finder.K_SIGMA:g}σ, >= {finder.MIN_RATIO:g}× the median "
                                f"and >= {finder.MIN_OTHERS:g}× the other positions'); pass coords=... to zero "
                                "chosen ones")

    def apply(self, point, layer, t, model, inputs):
        t = t.clone()  # [batch, pos, d_model]
        if self.coords is not None:
            t[:, 0, list(self.coords)] = 0
            return t
        for e, f in enumerate(finder.massive_mask(t, inputs["mask"])):
            t[e, 0, f] = 0
        return t


# ---------------------------------------------------------------- doses of the extension's dose-response grid
# ScaleKeyRows ("scale_wk") subclasses (i), so it picks the same rows; in_signature=False keeps this dose out of the
# signature (Table 1). InterpolatePE has no label: it is the extension's "identity" interpolation of p_0.
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

    Unregistered (no label): only the dose experiment (sinklab.experiments) builds it.
    """

    alpha: float = param(1.0, "α: 0 = p_1 (intervention c), 1 = p_0 (identity)", 0.0, 2.0, 0.05)

    def apply(self, point, layer, t, model, inputs):
        p1 = families.pos_embed(model)[1]
        t = t.clone()
        t[:, 0] = p1 + self.alpha * (t[:, 0] - p1)
        return t


def make(name: str, **params) -> Intervention:
    """Build an intervention by label ('a'..'j', 'transplant', ...) with keyword parameters, validated now."""
    if name not in REGISTRY:
        raise BadInput(f"unknown intervention {name!r}; valid: {', '.join(REGISTRY)}")
    cls = REGISTRY[name]
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = set(params) - valid
    if unknown:
        raise BadInput(f"{cls.title} takes {sorted(valid)}; unknown: {sorted(unknown)}")
    if params.get("layers") is not None:
        params["layers"] = checks.layer_range(params["layers"], None, f"{cls.title}: layers")
    try:
        return cls(**params)
    except TypeError as e:
        raise BadInput(f"{cls.title}: {e}") from None


def ordered() -> list[str]:
    """Every registered label in story order: the paper's (a)-(j) first, then the others as registered."""
    return sorted(REGISTRY, key=lambda k: (k not in PAPER, list(REGISTRY).index(k)))


def with_role(role: str) -> list[str]:
    """The registered labels with this role() ('cuts a wire', 'control', 'moves the sink'), in story order."""
    return [k for k in ordered() if REGISTRY[k].role() == role]


def roles_text() -> str:
    """Which registered interventions cut a wire of which route, which are controls and which move the sink,
    in one sentence built from their declarations (role(), route)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for k in ordered():
        c = REGISTRY[k]
        groups.setdefault((c.role(), c.route), []).append(f"({k})" if k in PAPER else c.title)
    listed = lambda names: ", ".join(names)  # noqa: E731
    verb = lambda names, one, many: one if len(names) == 1 else many  # noqa: E731
    parts = [f"{listed(g)} {verb(g, 'cuts', 'cut')} a wire of the {r} route" for r in ROUTES
             if (g := groups.get(("cuts a wire", r)))]
    controls = [n for r in ROUTES for n in groups.get(("control", r), [])]
    if controls:
        parts.append(f"{listed(controls)} {'is a control' if len(controls) == 1 else 'are controls'}")
    movers = [(r, groups[("moves the sink", r)]) for r in ROUTES if ("moves the sink", r) in groups]
    if movers:
        n = sum(len(g) for _, g in movers)
        parts.append(f"{'; '.join(f'{listed(g)} ({r})' for r, g in movers)} "
                     f"{'tries' if n == 1 else 'try'} to move the sink to another position")
    return "; ".join(parts) + "."


def _describe_param(name: str, p: Param) -> str:
    low, high = (b if not callable(b) else "…" for b in (p.low, p.high))
    return f"{name} ({p.kind} {low}..{high})" if p.kind != "bool" else f"{name} (bool)"


def catalogue() -> "pd.DataFrame":
    """One row per registered intervention (story order): label, title, role, route, description, parameters
    (name, kind and range; "layers" where it acts per layer), per_layer, points, in_signature."""
    import pandas as pd

    rows = []
    for k in ordered():
        c = REGISTRY[k]
        params = [_describe_param(n, p) for n, (_, p) in c.params().items()] + (["layers"] if c.per_layer else [])
        rows.append({"label": k, "title": c.title, "role": c.role(), "route": c.route, "description": c.description,
                     "parameters": ", ".join(params), "per_layer": c.per_layer, "points": ", ".join(sorted(c.points)),
                     "in_signature": c.in_signature})
    return pd.DataFrame(rows)


def standard_settings(target: int = 1, factor: float | None = None, seed: int = 0,
                      coords: tuple[int, ...] | None = None) -> dict[str, Intervention | None]:
    """Every registered intervention with its defaults (the signature): baseline first, then b, c, ..., then
    the rest; target-position parameters set to `target`. coords: (i)/(j)'s coordinates where EPE is absent."""
    out: dict[str, Intervention | None] = {"baseline": None}
    for label in ordered():
        cls = REGISTRY[label]
        if cls is Baseline or not cls.in_signature:
            continue
        kw: dict[str, Any] = {}
        for name, (_, p) in cls.params().items():
            if p.target:
                kw[name] = target
        names = {f.name for f in dataclasses.fields(cls)}
        if "seed" in names:
            kw["seed"] = seed
        if factor is not None and "factor" in names:
            kw["factor"] = factor
        if coords is not None and "coords" in names:
            kw["coords"] = tuple(coords)
        out[label] = cls(**kw)
    return out


def signature_names() -> tuple[str, ...]:
    """The signature's setting names, baseline first: every registered intervention but those declaring
    in_signature = False (a dose or a tool), in story order (what standard_settings builds)."""
    return tuple(standard_settings())


def planted_coords(lm) -> tuple[int, ...] | None:
    """(i)/(j)'s coordinates on a loaded model without position embeddings (no EPE to pick them from): its
    ground truth (meta["massive_coords"]) when it has one, else None (they pick from EPE_0)."""
    if not families.has_position_embeddings(lm.model) and lm.meta and lm.meta.get("massive_coords"):
        return tuple(lm.meta["massive_coords"])
    return None


def signature_settings(lm, target: int = 1, factor: float | None = None, seed: int = 0) -> dict:
    """The signature on a loaded model: standard_settings with the target position of those that move the sink,
    amplify's factor (None: its default) and (i)/(j)'s coordinates from planted_coords."""
    return standard_settings(target=target, factor=factor, seed=seed, coords=planted_coords(lm))


def meanings(model=None) -> "pd.DataFrame":
    """What every registered intervention does per family, declared by its class.

    Without a model: one row per intervention, one column per family (GPT-2, GPT-Neo, OPT, Llama, Qwen2;
    their published checkpoints' traits), "not applicable: why" where it is refused. With a model: label,
    title, applies, meaning for that checkpoint.
    """
    import pandas as pd

    if model is not None:
        t = families.of(model).traits()
        return pd.DataFrame([{"label": k, "title": c.title, "applies": (m := c.family_meaning(t)).applies, "meaning": m.text}
                             for k, c in REGISTRY.items()])
    rows = []
    for k, c in REGISTRY.items():
        row = {"label": k, "title": c.title}
        for t in families.TYPICAL.values():
            m = c.family_meaning(t)
            row[t.title] = m.text if m.applies else f"not applicable: {m.text}"
        rows.append(row)
    return pd.DataFrame(rows)


def describe(name: str) -> str:
    """Title of a setting name used by standard_settings ('baseline', 'b', 'transplant', ...)."""
    return "Baseline" if name == "baseline" else REGISTRY[name].title


