"""One call per lesson (app page / tutorial): everything a step of the walk-through shows, as DataFrames.

Each function takes a LoadedModel and small frozen settings, runs the forward passes it needs and
returns a frozen dataclass of tidy tables. The app caches these calls; the notebooks call them
directly; sinklab.teaching.charts draws them.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from .. import checks
from .. import experiments as ex
from ..analyses import circuit, effects, metrics, origin, structural
from ..analyses import decomposition as dc
from ..analyses.epe import epe_coordinates, epe_validation, massive_coords
from ..analyses.gamma import alignment, gamma_distribution, gamma_table
from ..analyses.stats import percentiles
from ..errors import BadInput
from ..experiments.catalogue.table1 import table_markdown
from ..experiments.memo import memo_for
from ..inputs.corpora import DOMAINS, OZYMANDIAS, load_corpora
from ..inputs.regimes import make_inputs
from ..interventions import REGISTRY, AmplifyVariance, Baseline, Intervention, IsolatePosition, NotApplicable, ordered
from ..model import families, layout
from ..model.forward import Trace, run
from ..model.loading import BUNDLED_DIR, LoadedModel
from ..model.names import is_point
from ..model.tokens import Tokens, tokenize
from ..published.reference import authors_table1, is_gpt2_small, published_signatures
from ..published.reference import epe_validation as published_epe_validation
from . import compare


WAITING = "Running the model…"  # what a page says while a lesson that declares nothing else computes


def waiting(message: str):
    """Declare what a page says while this lesson computes (the app's serving layer reads `fn.waiting`)."""
    def declare(fn):
        fn.waiting = message
        return fn
    return declare


@dataclass(frozen=True)
class Prompt:
    """A prompt and how to tokenise it (paper convention: no BOS, 40 tokens)."""

    text: str = OZYMANDIAS
    n_tokens: int = 40
    prepend_bos: bool = False


def encode(lm: LoadedModel, prompt: Prompt) -> Tokens:
    """Tokenise, truncating to min(n_tokens, the model's positions); at least 2 tokens."""
    checks.in_range("token length", prompt.n_tokens, 2, lm.info.n_positions)
    limit = min(prompt.n_tokens, lm.info.n_positions)
    if not prompt.text or not prompt.text.strip():
        raise BadInput("the prompt is empty: type some text or pick an example")
    return tokenize(lm.tokenizer, prompt.text, max_tokens=limit, prepend_bos=prompt.prepend_bos, min_tokens=2)


_NO_HEAD = ("logits", "ln_final.hook_normalized")  # a view that needs no loss skips the LM head (Gemma's: 262k rows)


def _trace(lm: LoadedModel, prompt: Prompt, interventions=None) -> tuple[Tokens, Trace]:
    """The prompt's tokens and every intermediate of its forward but the final norm and logits."""
    toks = encode(lm, prompt)
    return toks, run(lm.model, toks.ids[None], interventions=interventions, names=lambda n: n not in _NO_HEAD)


def _token_frame(toks: Tokens) -> pd.DataFrame:
    return pd.DataFrame({"position": range(len(toks)), "token": toks.strings})


@dataclass(frozen=True)
class AttentionMaps:
    """Attention probabilities of one example, compact: the chart builder selects what it draws."""

    mean: np.ndarray  # [layer, query_pos, key_pos], averaged over heads
    heads: np.ndarray | None  # [layer, head, query_pos, key_pos], or None when only the mean is kept
    tokens: tuple[str, ...]

    @property
    def n_layer(self) -> int:
        return self.mean.shape[0]

    def weights(self, layer: int, head="mean") -> np.ndarray:
        """[query_pos, key_pos] of one layer, for one head or the head average ('mean')."""
        checks.layer(layer, self.n_layer)
        if str(head) == "mean":
            return self.mean[layer]
        if self.heads is None:
            raise BadInput("only the head average was kept for these maps")
        return self.heads[layer, checks.head(int(head), self.heads.shape[1])]

    def frame(self, layer: int, head="mean") -> pd.DataFrame:
        """Long, causal part: query, key, weight, query_token, key_token."""
        a = self.weights(layer, head)
        q, k = np.tril_indices(a.shape[0])
        tokens = np.asarray(self.tokens, dtype=object)
        return pd.DataFrame({"query": q, "key": k, "weight": a[q, k], "query_token": tokens[q],
                             "key_token": tokens[k]})


def attention_maps(trace: Trace, toks: Tokens, example: int = 0, per_head: bool = True) -> AttentionMaps:
    """The example's attention per layer (head average, and every head if per_head)."""
    A = trace.patterns()[:, example].float().cpu().numpy()  # [layer, head, query_pos, key_pos]
    return AttentionMaps(mean=A.mean(1), heads=A if per_head else None, tokens=tuple(toks.strings))


# ---------------------------------------------------------------- Start
@dataclass(frozen=True)
class StartView:
    tokens: pd.DataFrame  # position, token
    maps: AttentionMaps
    heads: pd.DataFrame  # layer, head, value (attention mass to position 0)
    per_layer: pd.DataFrame  # layer, value, metric
    score: float  # the chosen metric on this prompt
    metric: str
    paper_layers: tuple[int, int]
    truncated_from: int | None


@waiting("Running the model…")
def start(lm: LoadedModel, prompt: Prompt = Prompt(), metric: metrics.Metric = "paper") -> StartView:
    """Attention maps per layer and head, the per-head sink grid and the sink metric per layer."""
    toks, tr = _trace(lm, prompt)
    heads = metrics.sink_table(tr, 0, "gu" if metric == "gu" else "mass")[["layer", "head", "value"]]
    return StartView(tokens=_token_frame(toks), maps=attention_maps(tr, toks), heads=heads,
                     per_layer=metrics.per_layer(tr, 0, metric), score=float(metrics.sink_score(tr, 0, metric)[0]),
                     metric=metric, paper_layers=metrics.paper_layers(lm.info.n_layer),
                     truncated_from=toks.truncated_from)


# ---------------------------------------------------------------- Decomposition
@dataclass(frozen=True)
class DecompositionView:
    terms: pd.DataFrame  # query, key, term, value for the chosen head
    attention: pd.DataFrame  # query, key, weight, source ('model' | 'terms 1+3')
    max_attention_change: float  # max |softmax(terms 1+3) - model attention| over all layers and heads
    max_sum_error: float  # max |sum of four terms - model scores|
    delta: pd.DataFrame  # position, token, delta, delta_norm, delta_scaled (this layer and head)
    pooled: pd.DataFrame  # delta_norm pooled over paper layers, group first/other
    check: pd.DataFrame  # per layer errors
    layer: int
    head: int
    by_layer: pd.DataFrame  # layer, head, first, other_max: delta_norm at position 0 vs the largest elsewhere
    scale: float  # term 3 = delta * scale (1/sqrt(d_head)): the page shows delta_scaled in score units
    paper_layers: tuple[int, int]
    score_range: tuple[float, float]  # the head's allowed scores over every layer (one colour scale)


@waiting("Decomposing the scores…")
def decomposition(lm: LoadedModel, prompt: Prompt = Prompt(), layer: int = 5, head: int = 0) -> DecompositionView:
    """The four score terms of one head, attention without terms 2 and 4, and Delta across positions."""
    checks.layer(layer, lm.info.n_layer)
    checks.head(head, lm.info.n_head)
    toks, tr = _trace(lm, prompt)
    terms = dc.score_terms(tr, lm.model, layer)
    T = len(toks)
    q, k = torch.tril_indices(T, T)
    p13 = dc.attention_from_terms(terms, tr.mask, use=(0, 2))[0, head].cpu()
    model_p = tr.pattern(layer)[0, head].cpu()
    attention = pd.concat([
        pd.DataFrame({"query": q.numpy(), "key": k.numpy(), "weight": model_p[q, k].numpy(), "source": "model"}),
        pd.DataFrame({"query": q.numpy(), "key": k.numpy(), "weight": p13[q, k].numpy(), "source": "terms 1+3"}),
    ], ignore_index=True)
    check = dc.decomposition_check(tr, lm.model)
    every = dc.delta(tr, lm.model)
    d = every[(every["layer"] == layer) & (every["head"] == head)][["position", "delta", "delta_norm"]]
    d = d.reset_index(drop=True)
    d["token"] = d["position"].map(pd.Series(toks.strings))
    scale = families.attn_scale(lm.model.config, layer)
    d["delta_scaled"] = d["delta"] * scale
    g = every.assign(first=every["position"] == 0)
    by_layer = (g[g["first"]].groupby(["layer", "head"])["delta_norm"].max().rename("first").to_frame()
                .join(g[~g["first"]].groupby(["layer", "head"])["delta_norm"].max().rename("other_max"))
                .reset_index())
    pooled = dc.delta_pooled(tr, lm.model)
    pooled["delta_norm_scaled"] = pooled["delta_norm"] * pooled["layer"].map(
        lambda l: families.attn_scale(lm.model.config, int(l)))
    allow = layout.allowed(T, tr.mask)[0, 0]  # [query_pos, key_pos]
    every_scores = torch.stack([tr["attn_scores", l][0, head][allow] for l in range(lm.info.n_layer)])
    return DecompositionView(
        terms=dc.terms_table(tr, lm.model, layer, head), attention=attention,
        max_attention_change=float(check["max_prob_error_terms_1_3"].max()),
        max_sum_error=float(check["max_sum_error"].max()), delta=d, pooled=pooled,
        check=check, layer=layer, head=head, by_layer=by_layer, scale=scale,
        paper_layers=metrics.paper_layers(lm.info.n_layer),
        score_range=(float(every_scores.min()), float(every_scores.max())))


# ---------------------------------------------------------------- EPE
@dataclass(frozen=True)
class EPEView:
    coords: pd.DataFrame  # coord, value, abs_value, massive, threshold
    massive: tuple[int, ...]
    validation: pd.DataFrame  # position, p10, p50, p90, mean, std over the corpus
    n_inputs: int
    source: str
    ln2: bool
    published: pd.DataFrame | None  # authors' numbers (GPT-2 small only)


@waiting("Computing EPE over the corpus…")
def epe_lesson(lm: LoadedModel, k_sigma: float = 3.0, ln2: bool = False, n: int = 30, n_tokens: int = 40,
               seed: int = 42) -> EPEView:
    """EPE_0's coordinates (massive ones flagged) and cos(EPE_i, R_i - O_i) over a mixed corpus."""
    _needs_position_embeddings(lm, "EPE and its massive coordinates")
    ids, source = mixed_corpus(lm, n, n_tokens, seed)
    tr = run(lm.model, ids, names=["hook_embed", "hook_pos_embed"])
    val = percentiles(epe_validation(tr, lm.model, ln2), "position", "cosine")
    return EPEView(coords=epe_coordinates(lm.model, ln2, k_sigma=k_sigma),
                   massive=massive_coords(lm.model, k_sigma=k_sigma, ln2=ln2), validation=val,
                   n_inputs=int(ids.shape[0]), source=source, ln2=ln2,
                   published=published_epe_validation() if is_gpt2_small(lm.info) and not ln2 else None)


def mixed_corpus(lm: LoadedModel, n: int = 30, n_tokens: int = 40, seed: int = 42) -> tuple[torch.Tensor, str]:
    """About n inputs split over the three domains. ([n, n_tokens] ids, source description)"""
    if n < 3:
        raise BadInput(f"n must be at least 3 (one input per domain); got {n}")
    n_tokens = min(n_tokens, lm.info.n_positions)
    corpora = load_corpora(lm.tokenizer, n=max(1, n // 3), n_tokens=n_tokens, seed=seed)
    ids = torch.cat([c.ids for c in corpora.values()])
    return ids, "; ".join(f"{d}: {c.source}" for d, c in corpora.items())


# ---------------------------------------------------------------- γ and alignment
@dataclass(frozen=True)
class GammaView:
    table: pd.DataFrame  # layer, coord, abs_gamma, baseline_mean, baseline_std, baseline_upper, exceeds
    distribution: pd.DataFrame  # layer, head, coord, abs_gamma, massive
    distribution_summary: pd.DataFrame  # massive, mean, std, median
    alignment: pd.DataFrame  # layer, position, cosine, first
    massive: tuple[int, ...]


@waiting("Computing γ and the alignment…")
def gamma_lesson(lm: LoadedModel, k_sigma: float = 3.0, positions: int = 40) -> GammaView:
    """gamma at the massive coordinates vs baseline, the |gamma| distribution, and the b_Q-EPE alignment."""
    _needs_position_embeddings(lm, "γ at EPE_0's massive coordinates and the b_Q–EPE alignment")
    dist = gamma_distribution(lm.model, k_sigma=k_sigma)
    summ = dist.groupby("massive")["abs_gamma"].agg(["mean", "std", "median", "count"]).reset_index()
    return GammaView(table=gamma_table(lm.model, k_sigma=k_sigma), distribution=dist, distribution_summary=summ,
                     alignment=alignment(lm.model, positions=min(positions, lm.info.n_positions)),
                     massive=massive_coords(lm.model, k_sigma=k_sigma))


def _why_no_position_embeddings(lm: LoadedModel) -> str:
    """Why the model has no position embeddings, in words (rotary positions, or an all-zero table)."""
    fam = families.of(lm.model)
    if fam.rotary:
        return (f"{lm.info.display} has none: it is a {fam.title} model with rotary positions (a rotation of q and k "
                "by position), so there is no position table, no p_0 and no EPE")
    return f"{lm.info.display} has none (its table is all zero, a “NoPE” model)"


def _needs_position_embeddings(lm: LoadedModel, what: str) -> None:
    if not families.has_position_embeddings(lm.model):
        raise NotApplicable(
            f"{what} are defined through the position embeddings, and {_why_no_position_embeddings(lm)}: this page "
            "does not apply to it. Its sink comes from another route — see Structural origin — and the positional "
            "route is shown on the textbook specimen.")


@dataclass(frozen=True)
class InsteadView:
    """Why the circuit paper's positional route is absent on a model, and what carries its sink instead (measured)."""

    title: str  # the model's name
    absent: tuple[str, ...]  # the missing parts of the route, each in words
    chain: pd.DataFrame  # origin.chain on the prompt
    found: dict  # origin.emergence: layer, coord, magnitude, peak, super_neurons
    sink: float  # the paper metric on the prompt
    tokens: int


def positional_absent(lm: LoadedModel, prompt: Prompt = Prompt(), metric: metrics.Metric = "paper",
                      needs: tuple[str, ...] = ("pe",)) -> InsteadView | None:
    """None when the model has the parts of the positional route a page `needs` ("pe": a learned position table,
    "bq": a query bias b_Q, "unrotated": un-rotated q and k); otherwise every missing part, and what is there
    instead, measured on the prompt: the structural chain (origin.chain: the massive coordinate at position 0,
    where it appears, the super neurons writing it)."""
    fam = families.of(lm.model)
    missing = {"pe": not families.has_position_embeddings(lm.model), "bq": not fam.has_query_bias,
               "unrotated": fam.rotary}
    for n in needs:
        checks.one_of("needs", n, list(missing))
    if not any(missing[n] for n in needs):
        return None
    said = {"pe": ("position embeddings: none (rotary positions: no position table, no p_0, no EPE)" if fam.rotary
                   else "position embeddings: none (the table is all zero, a “NoPE” model: no p_0, no EPE)"),
            "bq": "a query bias b_Q: none, so γ = b_Q W_kᵀ and the key-only shift Δ are zero",
            "unrotated": "un-rotated q and k: under rotary positions a key's score depends on its distance to the "
                         "query, so the four-term split has no key-only term"}
    absent = [said[k] for k, gone in missing.items() if gone]
    toks, tr = _trace(lm, prompt)
    ch = origin.chain(tr, lm.model, metric=metric)
    return InsteadView(title=lm.info.display, absent=tuple(absent), chain=ch, found=origin.emergence(ch),
                       sink=float(metrics.sink_score(tr, 0, metric)[0]), tokens=len(toks))


# ---------------------------------------------------------------- Interventions
@dataclass(frozen=True)
class InterventionView:
    before: AttentionMaps  # head average only
    after: AttentionMaps
    per_layer: pd.DataFrame  # layer, run, key, value (attention to the key, mean over heads)
    summary: pd.DataFrame  # run, key, sink at key, sink at position 0, ce
    ce_change: float
    key: int
    title: str
    description: str
    published: pd.DataFrame | None = None  # the authors' Table 1 (GPT-2 small only), a labelled reference
    layers: tuple[int, int] | None = None  # the layer range it acted in (None: every layer, or not per layer)


def applicable(lm: LoadedModel, n_tokens: int = 40) -> tuple[str, ...]:
    """The registered interventions that run on this model with their defaults (story order): the Interventions
    page opens on the first of its default that applies. No forward pass (Intervention.check only)."""
    out = []
    for label in ordered():
        try:
            REGISTRY[label]().check(lm.model, min(n_tokens, lm.info.n_positions))
            out.append(label)
        except BadInput:
            continue
    return tuple(out)


@waiting("Finding where position 0's massive coordinate appears…")
def found_layer(lm: LoadedModel, prompt: Prompt = Prompt()) -> int | None:
    """The block after which the finder (sinklab.model.finder) sees position 0's massive coordinate appear on the
    prompt, or None: the Interventions page's first layer for the one-layer structural cuts (zero_neurons, ...).

    >>> lessons.found_layer(sinklab.load_model("textbook-structural"))  # doctest: +SKIP
    0
    """
    ids = encode(lm, prompt).ids[None]  # [1, pos]
    found, _ = structural.find(lm.model, ids, torch.ones_like(ids))
    return found.layer


_KEPT_SIZE = 8  # settings kept per loaded model by each store below
_KEPT_LOCK = threading.Lock()
_BEFORE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> OrderedDict: prompt -> intervention "before"
_ORIGIN_BASE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> OrderedDict: settings -> origin part


def _kept(store: weakref.WeakKeyDictionary, lm: LoadedModel, key, compute: Callable[[], dict]) -> dict:
    """compute(), kept in `store` per loaded model for the last _KEPT_SIZE keys (pure: the weights never change;
    two sessions asking at once may both compute, one result is kept). Callers never write to what it returns; a
    key holds the tokenizer where the result depends on it (one model object may be registered with two)."""
    with _KEPT_LOCK:
        kept = store.setdefault(lm.model, OrderedDict())
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    value = compute()
    with _KEPT_LOCK:
        kept[key] = value
        while len(kept) > _KEPT_SIZE:
            kept.popitem(last=False)
    return value


def _before(lm: LoadedModel, prompt: Prompt) -> dict:
    """The prompt's tokens, its cross-entropy and its attention patterns without intervention (a Trace holding the
    patterns only), kept per loaded model: every intervention on a prompt shares its "before"."""
    def compute() -> dict:
        toks = encode(lm, prompt)
        tr = run(lm.model, toks.ids[None], names=lambda n: is_point(n, "pattern") or n == "logits")
        return dict(toks=toks, ce=effects.cross_entropy(tr.logits, tr.ids).cpu(),  # [1]
                    trace=replace(tr, cache={k: v for k, v in tr.cache.items() if k != "logits"}))
    return _kept(_BEFORE, lm, (prompt, lm.tokenizer), compute)


def _stacked(a: Trace, b: Trace) -> Trace:
    """One Trace of a's and b's examples (the names they share), a's first."""
    return replace(a, ids=torch.cat([a.ids, b.ids]), mask=torch.cat([a.mask, b.mask]),
                   cache={k: torch.cat([a.cache[k], b.cache[k]]) for k in a.cache if k in b.cache})


@waiting("Running the model with and without the intervention…")
def intervention_lesson(lm: LoadedModel, setting: Intervention | tuple, prompt: Prompt = Prompt(),
                        metric: metrics.Metric = "paper") -> InterventionView:
    """Before/after maps, the sink per layer and the cross-entropy change of one (composed) intervention.

        v = intervention_lesson(load_model("textbook"), make("b"))
        v.summary            # run (before, after), key, sink, sink_first, ce
    """
    ivs = (setting,) if isinstance(setting, Intervention) else tuple(setting)
    before = _before(lm, prompt)
    toks = before["toks"]
    after = run(lm.model, toks.ids[None], interventions=ivs,
                names=lambda n: is_point(n, "pattern") or n == "logits")
    ce = torch.cat([before["ce"], effects.cross_entropy(after.logits, after.ids).cpu()])  # [before, after]
    tr = _stacked(before["trace"], after)
    key = effects._target(ivs)
    frames = []
    for k in sorted({0, key}):
        a = metrics.attention_to(tr, k).mean(-1).cpu()  # [run, layer]
        for i, name in enumerate(["before", "after"]):
            frames.append(pd.DataFrame({"layer": range(a.shape[1]), "run": name, "key": k, "value": a[i].numpy()}))
    at_key = metrics.sink_score(tr, key, metric).cpu()
    first = metrics.sink_score(tr, 0, metric).cpu()
    summ = pd.DataFrame({"run": ["before", "after"], "key": key, "sink": at_key.numpy(),
                         "sink_first": first.numpy(), "ce": ce.numpy()})
    titles = " + ".join(iv.title for iv in ivs) or Baseline.title
    return InterventionView(before=attention_maps(tr, toks, 0, per_head=False),
                            after=attention_maps(tr, toks, 1, per_head=False), per_layer=pd.concat(frames, ignore_index=True), summary=summ,
                            ce_change=float(ce[1] - ce[0]), key=key, title=titles,
                            description=" ".join(iv.description for iv in ivs),
                            published=authors_table1() if is_gpt2_small(lm.info) else None,
                            layers=next((iv.layers for iv in ivs if getattr(iv, "layers", None)), None))


# ---------------------------------------------------------------- Across domains
@dataclass(frozen=True)
class DomainsView:
    table: pd.DataFrame  # domain, intervention, title, key, n, sink, se, pct_of_baseline, first, ce, ce_change
    sources: dict
    published: pd.DataFrame | None
    markdown: str


@waiting("Running every intervention")
def domains_lesson(lm: LoadedModel, n: int = 20, n_tokens: int = 40, seed: int = 42, target: int = 1,
                   metric: metrics.Metric = "paper",
                   progress: Callable[[str, float], None] | None = None) -> DomainsView:
    """The Table-1 summary over NL / math / code (and pooled), with the authors' numbers for GPT-2 small: the
    table1 experiment (sinklab.experiments) on the loaded model, a blank row with the reason for every
    intervention that does not apply."""
    table, sources = compare.signature_table(lm, n=n, n_tokens=min(n_tokens, lm.info.n_positions), target=target,
                                             seed=seed, metric=metric, progress=progress)
    published = authors_table1() if is_gpt2_small(lm.info) else None
    return DomainsView(table=table, sources=sources, published=published,
                       markdown=table_markdown(table, lm.info.name, sources, metric, published))


def _sampled(lm: LoadedModel, n: int, n_tokens: int, seed: int) -> dict[str, set[bytes]]:
    """{domain: its n inputs' token ids as bytes}, as the table1 experiment draws them (cheap: the corpora's
    tokenisation is kept)."""
    return {d: {row.numpy().tobytes() for row in make_inputs(lm.tokenizer, lm.info.vocab_size, d, n, n_tokens, seed)[0]}
            for d in DOMAINS}


def fill_domains(lm: LoadedModel, n: int, since: int | None = None, n_tokens: int = 40, seed: int = 42,
                 target: int = 1, metric: metrics.Metric = "paper",
                 progress: Callable[[str, float], None] | None = None) -> dict:
    """Compute (and keep, sinklab.experiments.memo) the per-input rows domains_lesson needs at this n, and at every
    n in (since, n) whose inputs are not among n's, without building a view: what a server's warm-up runs so that a
    class asking for other n finds them computed. (The draw of n inputs is a prefix of a larger draw except where
    Python's random.sample switches algorithm -- at n = 22 for 120 or 164 texts -- hence the check.)

        fill_domains(lm, n=30, since=25)   # {'rows': ..., 'computed': rows this call computed, 'n': [30]}
    """
    n_tokens = min(n_tokens, lm.info.n_positions)
    ns = [n]
    if since is not None:
        top = _sampled(lm, n, n_tokens, seed)
        ns += [k for k in range(max(1, since + 1), n)
               if any(not rows <= top[d] for d, rows in _sampled(lm, k, n_tokens, seed).items())]
    memo = memo_for(lm.model)
    before = memo.stats()["computed"]
    for k in ns:
        compare.signature_table(lm, n=k, n_tokens=n_tokens, target=target, seed=seed, metric=metric,
                                progress=progress)
    after = memo.stats()
    return {"rows": after["rows"], "computed": after["computed"] - before, "n": ns}


# ---------------------------------------------------------------- Structural origin
@dataclass(frozen=True)
class OriginView:
    stats: pd.DataFrame  # layer, position, variance, norm, z_variance, first
    neurons: pd.DataFrame  # the finder's candidates in the emergence layer (origin.layer_neurons), largest write first
    row: pd.DataFrame  # coord, weight, abs_weight of the top super neuron's down-projection
    top_neuron: tuple[int, int]
    moves: pd.DataFrame  # intervention, layer, key, value: attention to position k per layer
    moves_summary: pd.DataFrame  # intervention, sink at k, sink at position 0
    position: int
    chain: pd.DataFrame | None = None  # origin.chain on the prompt: one row per layer
    found: object = None  # structural.Found: emergence layer, coordinate, magnitude, super neurons, massive coords
    cuts: pd.DataFrame | None = None  # structural.measure's effects on the prompt: each link cut, with controls

    def neuron_table(self, top: int | None = None) -> pd.DataFrame:
        """The finder's candidate neurons (largest write at position 0 first; `super` flags the super neurons),
        their coordinates as text "17, 58"."""
        t = self.neurons if top is None else self.neurons.head(top)
        return t.assign(coords=t["coords"].map(lambda c: ", ".join(map(str, c))))




def _moves(moved: Trace, names: list[str], position: int, metric: metrics.Metric) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(attention to position k per layer, sink at k and at 0) of a run with one example per setting name."""
    per_layer = metrics.attention_to(moved, position).mean(-1).cpu()  # [setting, layer]
    moves = pd.concat([pd.DataFrame({"intervention": name, "key": position, "layer": range(per_layer.shape[1]),
                                     "value": per_layer[i].numpy()}) for i, name in enumerate(names)],
                      ignore_index=True)
    summ = pd.DataFrame({"intervention": names, "sink_at_k": metrics.sink_score(moved, position, metric).cpu().numpy(),
                         "sink_first": metrics.sink_score(moved, 0, metric).cpu().numpy()})
    return moves, summ


def _origin_part(lm: LoadedModel, prompt: Prompt, position: int, layers, metric: metrics.Metric) -> dict:
    """Everything on the Structural origin page that the amplification factor does not change, kept per loaded
    model for the last few settings (pure: the weights never change), so that a factor move runs one forward."""
    return _kept(_ORIGIN_BASE, lm, (prompt, lm.tokenizer, position, layers, metric),
                 lambda: _origin_compute(lm, prompt, position, layers, metric))


def _origin_compute(lm: LoadedModel, prompt: Prompt, position: int, layers, metric: metrics.Metric) -> dict:
    toks, tr = _trace(lm, prompt)
    checks.position(position, len(toks), low=1)
    found, chain = structural.found_in(tr, lm.model, metric)
    measured = structural.measure(lm, toks.ids[None], target=position, control_seeds=(0,), metric=metric, ce=False,
                                  moves=False, found=(found, chain))
    layer = found.layer if found.layer is not None else int(chain["abs_first"].idxmax())
    neurons = origin.layer_neurons(tr, lm.model, layer, top=10)
    top = neurons.iloc[0]
    moved = run(lm.model, toks.ids[None].repeat(2, 1), per_example=[None, IsolatePosition(position=position,
                                                                                            layers=layers)],
                names=lambda n: is_point(n, "pattern"))
    part = dict(toks=toks, stats=origin.attention_output_stats(tr), neurons=neurons,
                row=origin.down_projection(lm.model, int(top["layer"]), int(top["neuron"])),
                top_neuron=(int(top["layer"]), int(top["neuron"])), moves=_moves(moved, ["baseline", "isolate"],
                                                                                  position, metric),
                chain=chain, found=found, cuts=measured["effects"])
    return part


@waiting("Running the structural interventions…")
def origin_lesson(lm: LoadedModel, prompt: Prompt = Prompt(), position: int = 5, factor: float = 4.0,
                  layers: tuple[int, int] | None = None, metric: metrics.Metric = "paper") -> OriginView:
    """Attention-output variance per position, super neurons, and the two structural interventions at k.

        v = origin_lesson(load_model("smollm2-135m"), position=5, factor=4.0)
        v.moves_summary          # intervention (baseline, isolate, amplify), sink_at_k, sink_first
    """
    part = _origin_part(lm, prompt, position, None if layers is None else tuple(layers), metric)
    amplified = run(lm.model, part["toks"].ids[None],
                    interventions=[AmplifyVariance(position=position, factor=factor, layers=layers)],
                    names=lambda n: is_point(n, "pattern"))
    (m0, s0), (m1, s1) = part["moves"], _moves(amplified, ["amplify"], position, metric)
    return OriginView(stats=part["stats"], neurons=part["neurons"], row=part["row"], top_neuron=part["top_neuron"],
                      moves=pd.concat([m0, m1], ignore_index=True), moves_summary=pd.concat([s0, s1], ignore_index=True),
                      position=position, chain=part["chain"], found=part["found"], cuts=part["cuts"])


# ---------------------------------------------------------------- Compare specimens
@dataclass(frozen=True)
class CompareView:
    computed: pd.DataFrame  # model, intervention, title, key, n, sink, pct_of_baseline, note
    published: pd.DataFrame  # source, model, intervention, sink, pct_of_baseline (references only)
    findings: dict  # model -> {topic: sentence computed from its numbers}
    errors: dict  # model -> why it could not be compared at all


@waiting("Running every intervention on every model")
def compare_lesson(lms, n: int = 8, n_tokens: int = 40, target: int = 5, factor: float = 5.0, seed: int = 42,
                   progress: Callable[[str, float], None] | None = None) -> CompareView:
    """The intervention signature of every model in `lms` (LoadedModels), the published ones beside them."""
    frames, found, errors = [], {}, {}
    for i, lm in enumerate(lms):
        cb = None if progress is None else (
            lambda d, f, i=i, name=lm.info.name: progress(f"{name} ({d})", (i + f) / len(lms)))
        try:
            sig = compare.signature(lm, n=n, n_tokens=n_tokens, target=target, factor=factor, seed=seed,
                                    progress=cb)
        except BadInput as e:
            errors[lm.info.name] = str(e)
            continue
        sig = sig.assign(n_tokens=min(n_tokens, lm.info.n_positions))
        frames.append(sig)
        found[lm.info.name] = compare.findings(sig)
    computed = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["model", "intervention", "title", "key", "n", "sink", "pct_of_baseline", "note"])
    return CompareView(computed=computed, published=published_signatures(), findings=found, errors=errors)


# ---------------------------------------------------------------- Length and dose
CURVE_LENGTHS = (16, 32, 64, 128, 256, 512, 1024)  # lengths the page offers (bounded by the model's positions)


@dataclass(frozen=True)
class CurvesView:
    lengths: pd.DataFrame  # per seed: model, seed, regime, n_tokens, intervention, title, n, sink, se, pct_of_baseline
    lengths_summary: pd.DataFrame  # across seeds: n_tokens, intervention, sink_mean/_sd, pct_of_baseline_mean/_sd
    dose: pd.DataFrame  # per seed: model, seed, domain, curve, curve_title, alpha, n, sink, se, pct_of_baseline
    dose_summary: pd.DataFrame  # across seeds: curve, alpha, sink_mean/_sd, ...
    published: dict  # "lengths" / "dose" -> the extension's numbers when the model IS GPT-2 small (references)
    errors: pd.DataFrame  # what did not run and why: a length past the positions, a curve that does not apply
    domain: str  # the dose curves' domain
    n_tokens: int  # the dose curves' length
    query_bias: bool  # whether the model has a query bias b_Q (without one, (b) and its dose are no-ops)


def curves_lesson(lm: LoadedModel, n: int = 4, lengths: tuple[int, ...] = (16, 32, 64, 128), seeds=(0, 1),
                  domain: str = "nl", n_tokens: int = 40, progress: Callable[[str, float], None] | None = None
                  ) -> CurvesView:
    """The extension's length curve (sink and each cut's effect, % of the same-length baseline, on running
    text) and its three dose curves (scale b_Q, scale the selected W_k rows, interpolate PE_0 -> PE_1 over
    α in ALPHAS) on the loaded model; mean ± SD across the data seeds (sinklab.experiments)."""
    plan = ex.Plan(models=(lm.info.name,), experiments=("lengths", "dose"), seeds=tuple(seeds), n=n, bos="auto",
                   n_tokens=min(n_tokens, lm.info.n_positions), lengths=tuple(lengths), domains=(domain,))
    res = ex.run_plan(plan, lm=lm, progress=None if progress is None else (
        lambda done, total: progress(f"job {done} of {total}", done / total)))
    return CurvesView(lengths=res.tables["lengths"], lengths_summary=res.summaries["lengths"],
                      dose=res.tables["dose"], dose_summary=res.summaries["dose"], published=dict(res.published),
                      errors=res.errors, domain=domain, n_tokens=plan.n_tokens,
                      query_bias=families.of(lm.model).has_query_bias)


def curve_lengths(n_positions: int) -> list[int]:
    """The lengths the Length and dose page offers on a model: CURVE_LENGTHS up to its positions (at least one)."""
    return [T for T in CURVE_LENGTHS if T <= n_positions] or [n_positions]


def emergence_log(lm: LoadedModel) -> pd.DataFrame | None:
    """The training log shipped beside a model (bundled or local directory), or None if it has none."""
    for folder in (BUNDLED_DIR / lm.info.name, Path(lm.info.name)):
        path = folder / "training_log.csv"
        if folder.is_dir() and path.is_file():
            return pd.read_csv(path)
    return None


# ---------------------------------------------------------------- The circuit in one picture
@waiting("Laying out the route on this model…")
def circuit_plan(lm: LoadedModel, prompt: Prompt = Prompt(), route: str | None = None):
    """The route's wires on this model and prompt, before anything is cut (sinklab.analyses.circuit.Plan)."""
    if route is None:
        planted = (lm.meta or {}).get("route")
        route = planted if planted in circuit.WIRING else circuit.routes_for(lm)[0]
    return circuit.plan(lm, encode(lm, prompt).ids, route)


@waiting("Measuring every wire of the route…")
def circuit_lesson(lm: LoadedModel, prompt: Prompt = Prompt(), route: str | None = None, cuts: tuple[str, ...] = (),
                   metric: metrics.Metric = "paper"):
    """The route's wires measured on this prompt, with `cuts` cut (sinklab.analyses.circuit.CircuitView).

    route None: the model's planted route if known, else positional when it has position embeddings."""
    if route is None:
        planted = (lm.meta or {}).get("route")
        route = planted if planted in circuit.WIRING else circuit.routes_for(lm)[0]
    return circuit.circuit(lm, encode(lm, prompt).ids, route, tuple(cuts), metric)


def circuit_routes(lm: LoadedModel) -> tuple[tuple[str, ...], str]:
    """(the routes the circuit can be drawn with on this model, the default: its planted route if known)."""
    routes = tuple(circuit.routes_for(lm))
    planted = (lm.meta or {}).get("route")
    return routes, planted if planted in routes else routes[0]


# ---------------------------------------------------------------- Structural origin: beside the planted specimen
@waiting("Running the structural interventions…")
def origin_beside_planted(lms, prompt: Prompt, position: int, factor: float, metric: metrics.Metric = "paper"):
    """(origin view of lms[0], the same demonstration on lms[1]) as ONE call: the Structural origin page shows the
    structural route on textbook-structural next to a model that lacks it. k is clamped to the second model's
    prompt length."""
    here, planted = lms
    first = origin_lesson(here, prompt, position=position, factor=factor, metric=metric)
    k = min(position, max(1, len(encode(planted, prompt)) - 1))
    return first, origin_lesson(planted, prompt, position=k, factor=factor, metric=metric)
