"""Run many interventions over many inputs in few batched passes and measure the sink and the LM loss."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import pandas as pd
import torch
import torch.nn.functional as F

from .. import checks
from . import metrics
from ..errors import BadInput
from ..model.families import of as family_of
from ..model.forward import Trace, run
from ..interventions import Intervention
from ..model.names import act_name, is_point

Setting = Intervention | tuple | None


@dataclass(frozen=True)
class Sweep:
    """examples: one row per (intervention, example); layers: per (intervention, layer, key) means."""

    examples: pd.DataFrame  # intervention, example, key, first, target, ce
    layers: pd.DataFrame  # intervention, layer, key, value
    skipped: dict[str, str] = field(default_factory=dict)  # setting -> why it cannot run on this model


def _ivs(setting: Setting) -> tuple:
    return () if setting is None else (setting,) if isinstance(setting, Intervention) else tuple(setting)


def runnable(model, settings: Mapping[str, Setting], n_tokens: int, ids: torch.Tensor | None = None,
             mask: torch.Tensor | None = None) -> tuple[dict, dict[str, str]]:
    """Split settings into those that run on `model` at this length (and on these inputs, if given:
    Intervention.check_inputs) and {name: reason} for the rest."""
    ok, skipped = {}, {}
    for name, s in settings.items():
        try:
            for iv in _ivs(s):
                iv.check(model, n_tokens)
                if ids is not None:
                    iv.check_inputs(model, ids, torch.ones_like(ids) if mask is None else mask)
            ok[name] = s
        except BadInput as e:
            skipped[name] = str(e)
    return ok, skipped


def _target(setting: Setting) -> int:
    targets = {iv.target() for iv in _ivs(setting)} - {0}
    return targets.pop() if len(targets) == 1 else 0


def cross_entropy(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy per example. logits [batch, pos, vocab], ids [batch, pos] -> [batch]"""
    lp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    nll = -lp.gather(-1, ids[:, 1:, None].to(lp.device)).squeeze(-1)  # [batch, pos-1]
    return nll.mean(-1)


def band_view(trace, band: tuple[int, int]):
    """A Trace holding only the patterns of layers [a, b), renumbered 0..b-a-1, so `metrics` can score a
    trace that recorded only the band (exact: the same tensors, no copy)."""

    a, b = band
    cache = {act_name("pattern", i): trace.pattern(a + i) for i in range(b - a)}
    return Trace(ids=trace.ids, mask=trace.mask, n_layer=b - a, n_head=trace.n_head, cache=cache,
                 family=trace.family, windows=None if trace.windows is None else trace.windows[a:b])


def band_score(trace, key: int, metric: metrics.Metric, band: tuple[int, int] | None) -> torch.Tensor:
    """metrics.sink_score over `band` (None: the metric's own default layers). [batch]"""
    if band is None:
        return metrics.sink_score(trace, key=key, metric=metric)
    view = band_view(trace, band)
    return metrics.sink_score(view, key=key, metric=metric, layers=(0, view.n_layer))


def start_of(setting: Setting, n_layer: int, rotary: bool = False) -> tuple[int, int]:
    """Where a setting first changes the forward (Intervention.start; (n_layer, 0) for the baseline)."""
    return min((iv.start(n_layer, rotary) for iv in _ivs(setting)), default=(n_layer, 0))


def _branches(settings: Mapping[str, Setting], n_layer: int, rotary: bool,
              parallel: bool = False) -> dict[str, tuple[int, int]]:
    """{setting: start} for the settings worth resuming from a shared prefix: they act after the first
    block's attention begins, i.e. at least one half-block is shared with the plain forward. parallel (a
    family whose MLP reads the block input): a setting acting at a block's MLP half resumes at its start."""
    out = {}
    for name, s in settings.items():
        st = start_of(s, n_layer, rotary)
        if parallel and st[1] == 1:
            st = (st[0], 0)
        if _ivs(s) and (0, 0) < st < (n_layer, 0):
            out[name] = st
    return out


def sweep(model, ids: torch.Tensor, settings: Mapping[str, Setting], metric: metrics.Metric = "paper",
          batch_size: int = 32, progress: Callable[[float], None] | None = None,
          layers: tuple[int, int] | None = None, keys: tuple[int, ...] = (), ce: bool = True,
          per_layer: bool = True, reuse: bool = True) -> Sweep:
    """Every setting on every input of `ids` [n, pos] (all of equal length), in batches mixing settings.

    The sink is measured at position 0 (`first`) and at the setting's target position (`target`,
    e.g. where a transplant moves the sink). `ce` is the next-token cross-entropy. Settings that do
    not apply to this model or length are left out and listed in `Sweep.skipped` with the reason.

    layers: the layer band [a, b) of the sink score (None: the metric's default, see sinklab.analyses.metrics).
    keys: extra key positions measured for every setting (columns `at_<k>`).
    ce=False: no cross-entropy (column NaN) and no LM head; with per_layer=False too, only the band's
    patterns are kept and the blocks after the band are not run (the scores are exactly the same).
    per_layer: also return the per-layer attention to position 0 (and to each target) in Sweep.layers.
    reuse: settings that first act after the start of block 0 (a layer range, an MLP-side intervention)
    resume from the plain forward's residual stream at that point instead of recomputing the shared
    prefix (the same computation, see forward.run's `start`; the batches are composed differently, so
    numbers agree to float rounding, ~1e-7). Costs the residual stream and the prefix's patterns of one
    input chunk while its resumed settings run.
    """
    if ids.dim() != 2 or ids.shape[0] == 0:
        raise BadInput("no inputs: the corpus is empty")
    if ids.shape[1] < 2:
        raise BadInput(f"inputs need at least 2 tokens; got {ids.shape[1]}")
    if not settings:
        raise BadInput("no interventions to run")
    checks.one_of("metric", metric, list(metrics.METRICS))

    fam = family_of(model)
    n_layer = fam.n_layer
    if layers is not None:
        layers = checks.layer_range(layers, n_layer, "layer band")
    for k in keys:
        checks.position(k, ids.shape[1], what="measured key position")
    settings, skipped = runnable(model, settings, ids.shape[1], ids)
    if not settings:
        raise BadInput("none of the interventions applies to this model: " + "; ".join(skipped.values()))
    if per_layer or layers is None:
        keep = (lambda n: is_point(n, "pattern")) if not ce else (  # noqa: E731
            lambda n: n == "logits" or is_point(n, "pattern"))
    else:
        band_names = {act_name("pattern", l) for l in range(*layers)} | ({"logits"} if ce else set())
        keep = band_names.__contains__
    names = list(settings)
    branches = _branches(settings, n_layer, fam.rotary, fam.parallel) if reuse else {}
    scorer = _Scorer(settings, metric, layers, keys, ce, per_layer)
    n_jobs = len(names) * ids.shape[0]

    def report(done: int) -> None:
        if progress is not None:
            progress(min(1.0, done / n_jobs))

    # With branches: a plain forward of each input chunk (the baseline's own rows, if asked) records the
    # residual stream where the branched settings resume, and they run from there. The rest run from the
    # embeddings, in batches mixing settings.
    plain = next((n for n in names if not _ivs(settings[n]) and n not in branches), None) if branches else None
    rest = [n for n in names if n not in branches and n != plain]
    resume_names = {act_name("resid_pre" if half == 0 else "resid_mid", l) for l, half in branches.values()}
    prefix = {act_name("pattern", l) for l in range(max((l + half for l, half in branches.values()), default=0))}
    stem_names = (lambda n: keep(n) or n in resume_names) if plain is not None else (  # noqa: E731
        lambda n: n in resume_names or (n in prefix and keep(n)))  # without a baseline row: the prefix only
    done = 0
    for c0 in range(0, ids.shape[0] if branches else 0, batch_size):
        inputs = list(range(c0, min(c0 + batch_size, ids.shape[0])))
        stem = run(model, ids[inputs], names=stem_names)
        if plain is not None:
            scorer.add(stem, [(plain, i) for i in inputs], ids[inputs])
            done += len(inputs)
            for name in set(stem.cache) - prefix - resume_names:  # keep only what the resumed runs read
                del stem.cache[name]
        for st in sorted(set(branches.values())):
            group = [n for n in names if branches.get(n) == st]
            jobs = [(n, j) for n in group for j in range(len(inputs))]  # j: index within this input chunk
            resid = stem[act_name("resid_pre" if st[1] == 0 else "resid_mid", st[0])]
            for b0 in range(0, len(jobs), batch_size):
                chunk = jobs[b0: b0 + batch_size]
                rows = torch.tensor([j for _, j in chunk], device=resid.device)
                tr = run(model, stem.ids.index_select(0, rows), per_example=[settings[n] for n, _ in chunk],
                         names=keep, start=st, resid=resid.index_select(0, rows))
                for l in range(st[0] + st[1]):  # the shared prefix's patterns, from the plain forward
                    if keep(act_name("pattern", l)):
                        tr.cache[act_name("pattern", l)] = stem["pattern", l].index_select(0, rows)
                jobs_i = [(n, inputs[j]) for n, j in chunk]
                scorer.add(tr, jobs_i, ids[[i for _, i in jobs_i]])
                done += len(chunk)
                report(done)
        del stem
    jobs = [(name, i) for name in rest for i in range(ids.shape[0])]
    for b0 in range(0, len(jobs), batch_size):
        chunk = jobs[b0: b0 + batch_size]
        batch_ids = ids[[i for _, i in chunk]]
        scorer.add(run(model, batch_ids, per_example=[settings[n] for n, _ in chunk], names=keep), chunk, batch_ids)
        done += len(chunk)
        report(done)
    return scorer.result(names, skipped)


class _Scorer:
    """Turns batched traces into Sweep rows: the sink at 0 and at each setting's target, CE, per-layer means."""

    def __init__(self, settings, metric, layers, keys, ce, per_layer):
        self.settings, self.metric, self.layers, self.keys = settings, metric, layers, keys
        self.ce, self.per_layer = ce, per_layer
        self.rows: list[dict] = []
        self.layer_frames: list[pd.DataFrame] = []

    def add(self, tr, chunk: list[tuple[str, int]], batch_ids: torch.Tensor) -> None:
        """Score trace `tr` whose example j is (setting, input) = chunk[j]."""
        settings = self.settings
        ce_v = cross_entropy(tr.logits, batch_ids).cpu() if self.ce else torch.full((len(chunk),), float("nan"))
        first = band_score(tr, 0, self.metric, self.layers).cpu()
        by_key = {0: first}
        for k in ({_target(settings[n]) for n, _ in chunk} | set(self.keys)) - {0}:
            by_key[k] = band_score(tr, k, self.metric, self.layers).cpu()
        for j, (name, i) in enumerate(chunk):
            k = _target(settings[name])
            row = {"intervention": name, "example": i, "key": k, "first": float(first[j]),
                   "target": float(by_key[k][j]), "ce": float(ce_v[j])}
            for kk in self.keys:
                row[f"at_{kk}"] = float(by_key[kk][j])
            self.rows.append(row)
        if self.per_layer:
            per_layer_first = metrics.attention_to(tr, 0).mean(-1).cpu()  # [batch, layer]
            for k in {_target(settings[n]) for n, _ in chunk} | {0}:
                pl = per_layer_first if k == 0 else metrics.attention_to(tr, k).mean(-1).cpu()
                for j, (name, i) in enumerate(chunk):
                    if _target(settings[name]) == k or k == 0:
                        self.layer_frames.append(pd.DataFrame({"intervention": name, "example": i, "key": k,
                                                               "layer": range(pl.shape[1]), "value": pl[j].numpy()}))

    def result(self, names: list[str], skipped: dict[str, str]) -> Sweep:
        """The Sweep, rows in the order of `names` then inputs (whatever order the batches ran in)."""
        order = {n: i for i, n in enumerate(names)}
        examples = pd.DataFrame(self.rows)
        examples = examples.sort_values(["intervention", "example"], key=lambda c: c.map(order) if c.name ==
                                        "intervention" else c, kind="stable").reset_index(drop=True)
        if self.layer_frames:
            layers_df = pd.concat(self.layer_frames, ignore_index=True)
            layers_df = layers_df.groupby(["intervention", "key", "layer"], as_index=False, sort=False)["value"].mean()
            layers_df = layers_df.sort_values(["intervention", "key", "layer"], key=lambda c: c.map(order) if c.name ==
                                              "intervention" else c, kind="stable").reset_index(drop=True)
        else:
            layers_df = pd.DataFrame(columns=["intervention", "key", "layer", "value"])
        return Sweep(examples=examples, layers=layers_df, skipped=skipped)
