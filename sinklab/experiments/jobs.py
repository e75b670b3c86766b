"""One job = one (model, revision, data seed, regime, length): its inputs, ONE batched sweep of every
setting the requested experiments need, and the extras (pathway split, model statistics).

Jobs are independent and small to ship (plain fields), so sinklab.experiments.engine can run them in-process or
on Dask workers; a job loads its model through the engine's per-worker cache. What a job returns is a
dict of tidy DataFrames, each row labelled with the job's identity columns (JOB_COLUMNS).

Setting names are a small language resolved per model (`resolve_setting`):

    baseline, b, c, ..., transplant, ...   the signature's interventions (sinklab.report.signature_settings)
    b∧c, b∧i∧d                             those composed (a tuple: all act in the same forward)
    transplant@k                           the transplant to position k
    dose:b:α / dose:scale_wk:α / dose:pe:α scale b_Q, scale the selected W_k rows, interpolate PE_0 -> PE_1

How (i), (j) and scale_wk pick their W_k coordinates is the job's `key_coords` (KeyCoords: explicit
coordinates, the top n of |EPE_0|, or the mean + kσ rule; (j) one draw or re-drawn per layer, seeded).
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

import pandas as pd
import torch

from .. import checks
from ..model import families
from ..errors import BadInput
from ..interventions import InterpolatePE, ScaleKeyRows
from ..analyses import bands
from ..inputs.regimes import check_length, make_inputs

JOB_COLUMNS = ["model", "revision", "seed", "regime", "n_tokens"]
AND = "∧"
DOSE_CURVES = {"b": "scale b_Q", "scale_wk": "scale selected W_k rows", "pe": "interpolate PE_0 → PE_1"}
PATTERN_BUDGET = 384 * 2 ** 20  # bytes of recorded attention patterns per batch (sets the batch at long lengths)
DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class KeyCoords:
    """How (i), (j) and scale_wk choose the rows of W_k they act on (plain values: ships with a job).

    coords: explicit coordinates (they win); top: the `top` largest |EPE_0| coordinates; else the
    mean + k_sigma·std rule (None: the intervention's default, 3). (j) zeroes as many random coordinates:
    one draw for every layer, never a massive one (default), or re-drawn in every layer from
    (j_seed, layer) over all coordinates (j_per_layer: the authors' and the extension's way)."""

    coords: tuple[int, ...] | None = None
    top: int | None = None
    k_sigma: float | None = None
    j_per_layer: bool = False
    j_seed: int = 0

    def check(self) -> "KeyCoords":
        """Validate without a model (a coordinate past the model's width is refused when the job runs)."""
        from .. import checks
        from ..interventions import REGISTRY

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
        return self

    def apply(self, iv):
        """`iv` with these definitions if it picks W_k coordinates ((i), (j), scale_wk), else unchanged."""
        from ..interventions import ZeroKeyCoords

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
        kw.update(seed=self.j_seed, per_layer_draw=self.j_per_layer)
        return dataclasses.replace(iv, **{k: v for k, v in kw.items() if k in names})

    def describe(self) -> str:
        """In words, for report.md."""
        from ..interventions import REGISTRY

        k = self.k_sigma if self.k_sigma is not None else REGISTRY["i"].params()["k_sigma"][0].default
        i = (f"(i): the coordinates {', '.join(map(str, self.coords))}" if self.coords is not None else
             f"(i): the top {self.top} |EPE_0| coordinates" if self.top is not None else
             f"(i): the EPE_0 coordinates above mean + {k:g}σ (a planted model without position embeddings: "
             "its planted massive coordinates)")
        j = ("re-drawn in every layer over all coordinates" if self.j_per_layer else
             "one draw for every layer, never a chosen (i) coordinate")
        return f"{i}; (j): as many random coordinates, {j}, seed {self.j_seed}"


@dataclass(frozen=True)
class Job:
    """Everything one unit of work needs; plain values only (picklable, hashable)."""

    model: str
    seed: int
    regime: str
    n_tokens: int
    settings: tuple[str, ...] = ("baseline",)
    revision: str | None = None
    n: int = 100
    band: str = "paper"
    metric: str = "paper"
    source: str = "auto"
    target: int = 1
    keys: tuple[int, ...] = ()
    pathways: bool = False
    model_stats: bool = False
    delta: bool = False
    ce: bool = False
    batch_size: int = 32
    device: str | None = None
    dtype: str = "float32"
    key_coords: KeyCoords = KeyCoords()
    experiments: tuple[str, ...] = field(default=(), compare=False)

    def identity(self) -> dict:
        return {"model": self.model, "revision": self.revision or "", "seed": self.seed, "regime": self.regime,
                "n_tokens": self.n_tokens}

    def label(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.model}{rev} seed={self.seed} {self.regime} T={self.n_tokens}"

    def run(self) -> dict[str, pd.DataFrame]:
        from .engine import load_cached

        lm = load_cached(self.model, self.revision, self.device, self.dtype)
        return run_job(self, lm)


# ------------------------------------------------------------------------------------------ settings
def _coords(lm):
    if not families.has_position_embeddings(lm.model) and lm.meta and lm.meta.get("massive_coords"):
        return tuple(lm.meta["massive_coords"])
    return None


def _chosen(iv, lm) -> str:
    """The W_k coordinates (i) zeroes on this model, in words (or why it does not run)."""
    if iv is None:
        return "(i) not in the signature"
    try:
        iv.check(lm.model, 2)
        return ", ".join(map(str, iv.chosen(lm.model)))
    except BadInput as e:
        return f"none: {e}"


def signature(lm, target: int, seed: int = 0, key_coords: KeyCoords = KeyCoords()) -> dict:
    """The signature's settings on this model, (i)/(j) with the job's coordinate definitions."""
    from ..report import signature_settings

    return {k: key_coords.apply(v) for k, v in signature_settings(lm, target=target, seed=seed).items()}


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
    from ..interventions import REGISTRY

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
    from .plan import signature_names

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
    from ..interventions import make

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
            return key_coords.apply(ScaleKeyRows(alpha=alpha, coords=_coords(lm)))
        return InterpolatePE(alpha=alpha)  # curve "pe"
    raise BadInput(f"unknown setting {name!r}; valid: {', '.join(base)}, {SETTING_FORMS}")


# ------------------------------------------------------------------------------------------ the job
def _batch_for(lm, band: tuple[int, int], n_tokens: int, requested: int, ce: bool) -> int:
    per_example = (band[1] - band[0]) * lm.info.n_head * n_tokens * n_tokens * 4
    if ce:
        per_example += n_tokens * lm.info.vocab_size * 4 * 2
    return max(1, min(requested, PATTERN_BUDGET // max(per_example, 1)))


def run_job(job: Job, lm) -> dict[str, pd.DataFrame]:
    """Inputs, sweep and extras of one job on a loaded model. Raises BadInput for a job that cannot run
    at all (length past the positions, band outside the model, no inputs); settings that cannot run are
    returned in the 'skipped' table and the rest still run."""
    from ..published import reference
    from ..analyses.effects import sweep
    from ..interventions import meanings

    info = lm.info
    band = bands.resolve(job.band, info.n_layer)
    check_length(job.n_tokens, info.n_positions, job.model)
    for k in (job.target, *job.keys):
        if not 1 <= k < job.n_tokens:
            raise BadInput(f"key position {k} is outside 1..{job.n_tokens - 1} at length {job.n_tokens}")
    ids, source = make_inputs(lm.tokenizer, info.vocab_size, job.regime, job.n, job.n_tokens, job.seed, job.source)
    base = signature(lm, job.target, key_coords=job.key_coords)
    settings, skipped = {}, {}
    for name in dict.fromkeys(job.settings):
        try:
            settings[name] = resolve_setting(name, lm, job.target, base, job.key_coords)
        except BadInput as e:
            skipped[name] = str(e)
    ident = job.identity()
    out: dict[str, pd.DataFrame] = {}
    batch = _batch_for(lm, band, job.n_tokens, job.batch_size, job.ce)
    if settings:
        sw = sweep(lm.model, ids, settings, metric=job.metric, batch_size=batch, layers=band, keys=job.keys,
                   ce=job.ce, per_layer=False)
        skipped.update(sw.skipped)
        out["examples"] = sw.examples.rename(columns={"intervention": "setting"}).assign(**ident)
    out["skipped"] = pd.DataFrame({"setting": list(skipped), "reason": list(skipped.values())}).assign(**ident)
    out["info"] = pd.DataFrame([{**ident, "name": info.name, "family": info.family, "n_layer": info.n_layer,
                                 "n_head": info.n_head, "d_model": info.d_model, "n_positions": info.n_positions,
                                 "vocab_size": info.vocab_size, "dtype": info.dtype, "device": info.device,
                                 "published_as": reference.identify(lm, job.model) or "", "band": job.band,
                                 "band_start": band[0], "band_stop": band[1], "metric": job.metric,
                                 "inputs": int(ids.shape[0]), "source": source,
                                 "key_coords": job.key_coords.describe(), "i_coords": _chosen(base.get("i"), lm)}])
    out["meanings"] = meanings(lm.model).assign(model=job.model)
    extra_skips = {}
    if job.pathways:  # where the split is not defined (rotary models, no b_Q), only this part is lost
        try:
            out["pathways"] = pathways(lm, ids, band, batch).assign(**ident)
        except BadInput as e:
            extra_skips["pathways"] = str(e)
    if job.delta:
        try:
            out["delta"] = delta_values(lm, ids, batch).assign(**ident)
        except BadInput as e:
            extra_skips["delta"] = str(e)
    if job.model_stats:
        out["stats"] = pd.DataFrame([{**ident, **model_stats(lm, band)}])
    if extra_skips:
        more = pd.DataFrame({"setting": list(extra_skips), "reason": list(extra_skips.values())}).assign(**ident)
        out["skipped"] = pd.concat([out["skipped"], more], ignore_index=True)
    return out


# ------------------------------------------------------------------------------------------ pathway split
def _second_half_mean(p: torch.Tensor, mask: torch.Tensor, key: int = 0) -> torch.Tensor:
    """Mean over heads and second-half queries of p[..., key] (as sinklab.analyses.metrics' paper metric). [batch]"""
    from ..model.forward import Trace
    from ..analyses.metrics import sink_score
    from ..model.names import act_name

    view = Trace(ids=mask, mask=mask, n_layer=1, n_head=p.shape[1], cache={act_name("pattern", 0): p})
    return sink_score(view, key=key, metric="paper", layers=(0, 1))


def pathways(lm, ids: torch.Tensor, band: tuple[int, int], batch_size: int = 32) -> pd.DataFrame:
    """Per example: attention to position 0 with the full score, the content term only (T1), the b_Q term
    only (T3) (softmax counterfactuals over the same keys), and the Δ share |T3| / (|T1| + |T3|) of the
    key-0 score; all means over second-half queries, heads and the band's layers.

    T2 and T4 are constant along the keys, so they cancel in the softmax: "full" = softmax(T1 + T3) = the
    model's own pattern. Defined where sinklab.analyses.decomposition is and the model has a query bias: on rotary
    models, and without b_Q (GPT-Neo, Llama: T3 = 0, "bias only" would be uniform attention), NotApplicable.
    """
    from ..analyses.decomposition import attention_from_terms, score_terms
    from ..model.forward import run
    from ..model.names import act_name

    fam = families.of(lm.model)
    fam.require("The two-pathway split", unrotated=True, query_bias=True)
    a, b = band
    names = {act_name("ln1", l) for l in range(a, b)} | {act_name("pattern", l) for l in range(a, b)}
    rows = []
    for start in range(0, ids.shape[0], batch_size):
        chunk = ids[start: start + batch_size]
        tr = run(lm.model, chunk, names=names)
        dev = tr.mask.device
        acc = {k: torch.zeros(chunk.shape[0]) for k in ("full", "content_only", "bias_only", "delta_share")}  # CPU
        T = chunk.shape[1]
        second = (torch.arange(T, device=dev) >= T // 2).float()[None, None, :]  # [1, 1, query]
        for l in range(a, b):
            terms = score_terms(tr, lm.model, l)  # [4, batch, head, query, key]
            w = fam.window(l)
            acc["full"] += _second_half_mean(tr.pattern(l).float(), tr.mask).cpu()
            acc["content_only"] += _second_half_mean(attention_from_terms(terms, tr.mask, (0,), w), tr.mask).cpu()
            acc["bias_only"] += _second_half_mean(attention_from_terms(terms, tr.mask, (2,), w), tr.mask).cpu()
            t1, t3 = terms[0, ..., 0].abs().float(), terms[2, ..., 0].abs().float()  # [batch, head, query]
            share = t3 / (t1 + t3).clamp(min=1e-12)
            acc["delta_share"] += ((share * second).sum(-1) / second.sum(-1)).mean(-1).cpu()
        for j in range(chunk.shape[0]):
            rows.append({"example": start + j, **{k: float(v[j]) / (b - a) for k, v in acc.items()}})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ Δ percentiles
def delta_values(lm, ids: torch.Tensor, batch_size: int = 32) -> pd.DataFrame:
    """The per-head Δ = b_{Q,h} W_{k,h}^T x_j of every example, layer, head and position, each (example, layer,
    head) slice shifted so its minimum over positions is 0 (the authors' normalisation): the raw material of
    their percentile table (tables.delta pools it). Columns: example, layer, head, position, delta_norm.
    NotApplicable without a query bias or on rotary models (sinklab.analyses.decomposition.delta)."""
    from ..analyses.decomposition import delta
    from ..model.forward import run
    from ..model.names import act_name

    names = {act_name("ln1", l) for l in range(lm.info.n_layer)}
    frames = []
    for start in range(0, ids.shape[0], batch_size):
        tr = run(lm.model, ids[start: start + batch_size], names=names)
        d = delta(tr, lm.model)[["example", "layer", "head", "position", "delta_norm"]]
        frames.append(d.assign(example=d["example"] + start).astype(
            {"example": "int32", "layer": "int16", "head": "int16", "position": "int16", "delta_norm": "float32"}))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------ model statistics
def model_stats(lm, band: tuple[int, int]) -> dict:
    """What the emergence experiment tracks besides the sink: EPE_0's largest |value|, its top-3 massive
    coordinates, and the b_Q–EPE_0-key alignment averaged over the band's layers, two ways:
    alignment_heads = the mean over heads of cos(b_Q^h, EPE_0 W_k^h) (the circuit paper's Fig. 2), and
    alignment_concat = cos(b_Q, EPE_0 W_k) over the concatenated heads (one d_model-long cosine per layer).
    NaN (with a note) where a quantity is not defined on the model."""
    from ..analyses.epe import epe, massive_coords
    from ..analyses.gamma import alignment

    out = {"epe_max": math.nan, "top3_coords": "", "alignment_heads": math.nan, "alignment_concat": math.nan,
           "stats_note": ""}
    notes = []
    try:
        out["epe_max"] = float(epe(lm.model)[0].abs().max())
        out["top3_coords"] = " ".join(str(c) for c in massive_coords(lm.model, top=3))
    except BadInput as e:
        notes.append(str(e))
    try:
        for over in ("heads", "concat"):
            al = alignment(lm.model, positions=1, over=over)
            al = al[(al["position"] == 0) & al["layer"].between(band[0], band[1] - 1)]
            out[f"alignment_{over}"] = float(al["cosine"].mean())
    except BadInput as e:
        notes.append(str(e))
    out["stats_note"] = " | ".join(notes)
    return out


def step_of(revision: str | None, order: int) -> int:
    """The training step a revision name or checkpoint directory names (its last integer), else its order."""
    if revision:
        tail = revision.rstrip("/").split("/")[-1]
        nums = re.findall(r"\d+", tail)
        if nums:
            return int(nums[-1])
    return order
