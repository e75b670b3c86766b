"""One job = one (model, revision, data seed, regime, length): its inputs, ONE batched sweep of every setting the
requested experiments need, and what each of them measures besides (Experiment.measure).

Jobs are independent and small to ship (plain fields), so sinklab.experiments.engine can run them in-process or
on Dask workers: `job.run(lm)` runs it on a loaded model (the engine loads `job.model_key()` through the
per-process cache of sinklab.model.loading). What a job returns is a dict of tidy DataFrames, each row labelled
with the job's identity columns (JOB_COLUMNS): "examples" (the sweep), "skipped", "info", "meanings", and one
table per experiment that measures something of its own, under the experiment's name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from ..analyses import bands
from ..analyses.effects import runnable, sweep
from ..analyses.metrics import hidden_key_layers
from ..errors import BadInput
from ..inputs.regimes import check_length, make_inputs
from ..interventions import meanings
from ..model import families
from ..model.forward import Trace
from ..model.tokens import prepends_bos
from ..published import reference
from .experiment import REGISTRY
from .memo import CHUNK
from .settings import KeyCoords, resolve_setting, signature

JOB_COLUMNS = ["model", "revision", "seed", "regime", "n_tokens"]
# Whether the forward records each layer's sliding window in its traces (Trace.windows), which is what lets
# sinklab.analyses.metrics leave the hidden (layer, query) pairs out of the sink score.
WINDOWS_RECORDED = "windows" in getattr(Trace, "__dataclass_fields__", {})
PATTERN_BUDGET = 384 * 2 ** 20  # bytes of recorded attention patterns per batch (sets the batch at long lengths)
DTYPES = ("float32", "float16", "bfloat16")


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
    band: str = bands.DEFAULT
    metric: str = "paper"
    source: str = "auto"
    target: int = 1
    keys: tuple[int, ...] = ()
    ce: bool = False
    batch_size: int = 32
    device: str | None = None
    dtype: str = "float32"
    key_coords: KeyCoords = KeyCoords()
    experiments: tuple[str, ...] = ()  # the experiments it serves: each may measure something of its own
    factor: float | None = None  # amplify's factor in the signature (None: its default)
    options: tuple[tuple[str, Any], ...] = ()  # the plan's experiment options (what a measure may read)
    bos: str = "no"  # the model's BOS token first: no (the paper's convention), yes, auto (as its tokenizer does)

    def identity(self) -> dict:
        return {"model": self.model, "revision": self.revision or "", "seed": self.seed, "regime": self.regime,
                "n_tokens": self.n_tokens}

    def label(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.model}{rev} seed={self.seed} {self.regime} T={self.n_tokens}"

    def option(self, name: str):
        """An experiment option of the plan this job came from (Experiment.measure reads its own)."""
        return dict(self.options)[name]

    def model_key(self) -> tuple[str, str | None, str | None, str]:
        """(spec, revision, device, dtype): what sinklab.model.loading.load_cached loads for this job."""
        return self.model, self.revision, self.device, self.dtype

    def run(self, lm, memo=None) -> dict[str, pd.DataFrame]:
        """This job on the loaded model `lm` (see run_job)."""
        return run_job(self, lm, memo=memo)


def _chosen(iv, lm) -> str:
    """The W_k coordinates (i) zeroes on this model, in words (or why it does not run)."""
    if iv is None:
        return "(i) not in the signature"
    try:
        iv.check(lm.model, 2)
        return ", ".join(map(str, iv.chosen(lm.model)))
    except BadInput as e:
        return f"none: {e}"


def bos_id(tokenizer, bos: str) -> int | None:
    """The token the inputs start with under `bos` (no / yes / auto, sinklab.experiments.plan.BOS), or None.
    yes: the tokenizer's BOS token, else its end-of-text token (GPT-2's <|endoftext|>, as the spec's option);
    auto: the BOS token only where the model's own tokenizer puts it first (Gemma's <bos>; GPT-2's: none)."""
    if bos == "no" or (bos == "auto" and not prepends_bos(tokenizer)):
        return None
    tid = getattr(tokenizer, "bos_token_id", None)
    tid = tid if tid is not None else getattr(tokenizer, "eos_token_id", None)
    if tid is None:
        raise BadInput("--bos yes: this model's tokenizer has neither a BOS nor an end-of-text token to put first")
    return int(tid)


def with_bos(ids, tid: int | None):
    """The inputs with token `tid` at position 0 and their last token dropped (the same length), or unchanged."""
    if tid is None:
        return ids
    return torch.cat([torch.full_like(ids[:, :1], tid), ids[:, :-1]], dim=1)


def hidden_layers_note(lm, band: tuple[int, int], n_tokens: int, keys=(0,)) -> str:
    """In words, the band's layers whose sliding window hides a measured key from second-half queries at this
    length, and what the score does with them (sinklab.analyses.metrics: those queries are left out, a layer
    none of them sees is left out of the band's mean); "" where every band layer sees every key."""
    fam = families.of(lm.model)
    windows = tuple(fam.window(l) for l in range(band[0], band[1]))
    parts = []
    for k in dict.fromkeys(keys):
        some, every = hidden_key_layers(windows, n_tokens, k)
        if some or every:
            name = "the first token" if k == 0 else f"position {k}"
            shown = ([f"{band[0] + l} (from all of them)" for l in every] +
                     [f"{band[0] + l} (from some)" for l in some])
            parts.append(f"{name} is outside the sliding window (of {windows[(every or some)[0]]} keys) of "
                         f"second-half queries in band layer(s) {', '.join(shown)}")
    if not parts:
        return ""
    treated = ("those queries are left out of the sink score, and a layer where none sees the key is left out of "
               "the band's mean" if WINDOWS_RECORDED else
               "this sinklab's forward does not record its windows, so their zeros are averaged into the score")
    return "; ".join(parts) + f" ({treated})"


def _batch_for(lm, band: tuple[int, int], n_tokens: int, requested: int, ce: bool) -> int:
    per_example = (band[1] - band[0]) * lm.info.n_head * n_tokens * n_tokens * 4
    if ce:
        per_example += n_tokens * lm.info.vocab_size * 4 * 2
    return max(1, min(requested, PATTERN_BUDGET // max(per_example, 1)))


def _memo_sweep(memo, job: Job, lm, ids: torch.Tensor, settings: dict, band: tuple[int, int], batch: int):
    """The sweep's examples on `ids` [n, pos], each (setting, input) row taken from `memo` (sinklab.experiments.memo)
    when present and computed when not (CHUNK inputs per turn of the context's compute lock, smallest index first);
    (examples, skipped)."""
    context = (job.metric, band, tuple(job.keys), job.ce, job.target, job.key_coords, job.factor, job.n_tokens,
               job.bos, job.dtype, job.device)
    ok, skipped = runnable(lm.model, settings, ids.shape[1], ids)
    if not ok:
        raise BadInput("none of the interventions applies to this model: " + "; ".join(skipped.values()))
    keys = [memo.key_of(row) for row in ids]
    have = {name: memo.get(context, name, keys) for name in ok}  # no lock: a job with every input never waits

    def missing() -> list[int]:
        return sorted({i for rows in have.values() for i, r in enumerate(rows) if r is None})

    while missing():
        with memo.computing(context):  # concurrent jobs with overlapping inputs compute each input once
            for name in have:  # what others computed while this job waited
                gaps = [i for i, r in enumerate(have[name]) if r is None]
                for i, r in zip(gaps, memo.get(context, name, [keys[i] for i in gaps], count=False)):
                    have[name][i] = r
            chunk = missing()[:CHUNK]  # the smallest indices first: the inputs that smaller n share
            if not chunk:
                break
            sw = sweep(lm.model, ids[chunk], ok, metric=job.metric, batch_size=batch, layers=band, keys=job.keys,
                       ce=job.ce, per_layer=False)
            skipped.update(sw.skipped)
            for name, grp in sw.examples.groupby("intervention", sort=False):
                rows = grp.to_dict("records")
                at = [chunk[int(r["example"])] for r in rows]  # the example's index among all of ids
                memo.put(context, name, [keys[i] for i in at], rows)
                for i, r in zip(at, rows):
                    have[name][i] = r
            for name in skipped:  # a setting the sweep could not run has no rows to wait for
                have.pop(name, None)
    records = [{**have[name][i], "example": i} for name in ok if name in have for i in range(len(keys))]
    return pd.DataFrame(records), skipped


def run_job(job: Job, lm, memo=None) -> dict[str, pd.DataFrame]:
    """Inputs, sweep and measurements of one job on a loaded model. Raises BadInput for a job that cannot run
    at all (length past the positions, band outside the model, no inputs); settings that cannot run are
    returned in the 'skipped' table (with the experiments whose measurement does not apply) and the rest still
    run.

    memo: an InputMemo of lm's model (sinklab.experiments.memo.memo_for): the sweep reuses the rows of inputs it
    has seen in the same scoring context and computes only the others."""
    info = lm.info
    band = bands.resolve(job.band, info.n_layer)
    check_length(job.n_tokens, info.n_positions, job.model)
    for k in (job.target, *job.keys):
        if not 1 <= k < job.n_tokens:
            raise BadInput(f"key position {k} is outside 1..{job.n_tokens - 1} at length {job.n_tokens}")
    missing = [e for e in job.experiments if e not in REGISTRY]
    if missing:
        raise BadInput(f"experiments {missing} are not defined in this process: import the module that defines "
                       "them (on a Dask cluster: on every worker too)")
    drawn, source = make_inputs(lm.tokenizer, info.vocab_size, job.regime, job.n, job.n_tokens, job.seed, job.source)
    first = bos_id(lm.tokenizer, job.bos)
    ids = with_bos(drawn, first)
    base = signature(lm, job.target, key_coords=job.key_coords, factor=job.factor)
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
        if memo is None:
            sw = sweep(lm.model, ids, settings, metric=job.metric, batch_size=batch, layers=band, keys=job.keys,
                       ce=job.ce, per_layer=False)
            examples, more = sw.examples, sw.skipped
        else:
            examples, more = _memo_sweep(memo, job, lm, ids, settings, band, batch)
        skipped.update(more)
        out["examples"] = examples.rename(columns={"intervention": "setting"}).assign(**ident)
    out["skipped"] = pd.DataFrame({"setting": list(skipped), "reason": list(skipped.values())}).assign(**ident)
    out["info"] = pd.DataFrame([{**ident, "name": info.name, "family": info.family, "n_layer": info.n_layer,
                                 "n_head": info.n_head, "d_model": info.d_model, "n_positions": info.n_positions,
                                 "vocab_size": info.vocab_size, "dtype": info.dtype, "device": info.device,
                                 "published_as": reference.identify(lm, job.model) or "", "band": job.band,
                                 "band_start": band[0], "band_stop": band[1], "metric": job.metric,
                                 "inputs": int(ids.shape[0]), "source": source,
                                 "key_coords": job.key_coords.describe(), "i_coords": _chosen(base.get("i"), lm),
                                 "bos": "" if first is None else lm.tokenizer.convert_ids_to_tokens(first),
                                 "hidden_key": hidden_layers_note(lm, band, job.n_tokens,
                                                                  (0, job.target, *job.keys))}])
    out["meanings"] = meanings(lm.model).assign(model=job.model)
    not_here = {}
    for name in job.experiments:  # where a measurement is not defined (rotary models, no b_Q), only it is lost
        try:
            exp = REGISTRY[name]  # an experiment with a BOS option of its own puts its BOS itself (structural)
            rows = exp.measure(job, lm, drawn if exp.own_bos else ids, band, batch)
        except BadInput as e:
            not_here[name] = str(e)
            continue
        if rows is not None:
            out[name] = rows.assign(**ident)
    if not_here:
        more = pd.DataFrame({"setting": list(not_here), "reason": list(not_here.values())}).assign(**ident)
        out["skipped"] = pd.concat([out["skipped"], more], ignore_index=True)
    return out
