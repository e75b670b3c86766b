"""Checks for the tutorials' "Your turn" exercises (tutorials/NN_*.py): one function per exercise.

    import feedback
    feedback.check_first_token_share(first_token_share, lm, view)

A check calls your function, compares its answer with what sinklab computes itself (the sink
metric of `sinklab.analyses.metrics`, EPE and its massive coordinates from `sinklab.analyses.epe`, gamma from
`sinklab.analyses.gamma`, weights read through `sinklab.model.families`, the tables of the `sinklab.teaching.lessons`
views), never with the reference solutions, and when the two differ it tries to recognise a
common mistake (a 1-indexed position, the wrong layer, a forgotten term...) to give a specific hint.

Every check prints a one-line verdict and returns it as a `Verdict` (true when you passed; its
`mistake` names the recognised mistake, if any). With strict=True (the notebooks pass
`config.solutions`, so CI, which runs the reference solutions, fails loudly) a failed check
raises AssertionError as well. An exercise with nothing to work on for the model in use (e.g. no dose
curve that is not a declared no-op) says why and returns a Verdict whose mistake is "not_applicable",
without failing.
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from sinklab.analyses import epe, gamma, origin
from sinklab.model import families, layout
from sinklab import lessons
from sinklab.analyses.decomposition import TERMS
from sinklab.interventions import PAPER, REGISTRY, NotApplicable, make


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: passed or not, a message, and the recognised mistake (a short code) if any."""

    exercise: str
    ok: bool
    message: str
    mistake: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__

    def _ipython_display_(self) -> None:
        """Shown once: the check has already printed its message."""


class _DoesNotApply(Exception):
    """Raised inside a check: the exercise has nothing to work on for this model (said why; not a failure)."""


class _NotYet(Exception):
    """Raised inside a check: the answer is wrong; `mistake` names what was recognised."""

    def __init__(self, mistake: str, hint: str):
        super().__init__(hint)
        self.mistake, self.hint = mistake, hint


def _verdict(exercise: str, body: Callable[[], None], success: str, strict: bool) -> Verdict:
    try:
        body()
        v = Verdict(exercise, True, f"✔ {exercise}: {success}")
    except _DoesNotApply as e:  # not a failure, even with strict=True: the model has nothing to check it on
        v = Verdict(exercise, False, f"– {exercise}: does not apply to this model: {e}", "not_applicable")
        print(v.message)
        return v
    except _NotYet as e:
        v = Verdict(exercise, False, f"✘ {exercise}, not yet: {e.hint}", e.mistake)
    print(v.message)
    if strict and not v.ok:
        raise AssertionError(v.message)
    return v


def _call(fn: Callable, *args):
    """Your function's answer; a stub (None, NotImplementedError) or an exception becomes a hint."""
    try:
        out = fn(*args)
    except NotImplementedError:
        raise _NotYet("not_implemented", "your function still raises NotImplementedError: "
                                         "replace the stub's body with your code.") from None
    except Exception as e:  # noqa: BLE001 - the learner's code: a hint, not a traceback
        raise _NotYet("raised", f"your function raised {type(e).__name__}: {e}") from None
    if out is None:
        raise _NotYet("returns_none", "your function returns None: replace `return None` with your answer "
                                      "(or did you forget a `return`?).")
    return out


def _number(x) -> float:
    if isinstance(x, (pd.Series, pd.DataFrame)) or (hasattr(x, "shape") and np.size(x) != 1):
        raise _NotYet("not_a_number", f"return one number (a float), not a {type(x).__name__}: "
                                      "e.g. float(values.mean()).")
    try:
        return float(x)
    except (TypeError, ValueError):
        raise _NotYet("not_a_number", f"return one number (a float); got {x!r}.") from None


def _ints(x) -> list[int]:
    if isinstance(x, (str, bytes, pd.DataFrame)) or not hasattr(x, "__iter__"):
        raise _NotYet("not_a_list", f"return a list of coordinates (ints); got a {type(x).__name__}.")
    vals = list(x.tolist() if hasattr(x, "tolist") else x)
    if not all(isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating)) and float(v).is_integer())
               for v in vals):
        raise _NotYet("not_coords", "return the coordinate numbers (column `coord`), not values or weights; "
                                    f"got {vals[:5]}.")
    return [int(v) for v in vals]


def _vector(x, n: int) -> torch.Tensor:
    try:
        t = torch.as_tensor(x.detach() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32))
    except (TypeError, ValueError):
        raise _NotYet("not_a_tensor", f"return a tensor of shape [{n}]; got a {type(x).__name__}.") from None
    return t.float().cpu()


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


def _matches(got: dict, candidate: Callable, tol: float) -> bool:
    """Whether every answer equals the candidate mistake's value for the same argument (None: no opinion)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # e.g. the mean of an empty slice: that candidate just does not match
            values = {k: candidate(k) for k in got}
    except Exception:  # noqa: BLE001 - a candidate that cannot be computed here just does not match
        return False
    known = [k for k, c in values.items() if c is not None]
    return bool(known) and all(_close(got[k], values[k], tol) for k in known)


def _diagnose(got: dict, truth: Callable, candidates: list[tuple[str, Callable, str]], tol: float) -> None:
    """Raise _NotYet with the first candidate mistake the answers match (skipping ones equal to the truth)."""
    for code, candidate, hint in candidates:
        if _matches(got, candidate, tol) and not _matches({k: truth(k) for k in got}, candidate, tol):
            raise _NotYet(code, hint)


# ----------------------------------------------------------------------------- 1. Start
def check_first_token_share(fn: Callable, lm, view, strict: bool = False) -> Verdict:
    """fn(maps, layer) -> the mean head-averaged attention to position 0 from the second-half queries.

    Compared, layer by layer, with sinklab's own sink metric (`view.per_layer`, from
    `sinklab.analyses.metrics.per_layer`) for `view = lessons.start(lm, prompt)`.
    """
    if view.metric == "gu":
        raise ValueError("check_first_token_share needs a lessons.start view with the paper metric")
    truth_by_layer = view.per_layer.set_index("layer")["value"]
    maps = view.maps
    L = lm.info.n_layer
    T = maps.mean.shape[-1]

    def body():
        got = {l: _number(_call(fn, maps, l)) for l in range(L)}
        truth = lambda l: float(truth_by_layer[l])  # noqa: E731
        wrong = [l for l, v in got.items() if not _close(v, truth(l), 1e-5)]
        if not wrong:
            return
        a = lambda l: maps.weights(l)  # noqa: E731  [query_pos, key_pos], head average
        _diagnose(got, truth, [
            ("one_indexed", lambda l: float(a(l)[T // 2:, 1].mean()),
             "you measured the attention to key 1. Positions count from 0 here: the first token is column 0."),
            ("transposed", lambda l: float(a(l)[0, T // 2:].mean()),
             "rows are queries and columns are keys: the attention of query i to key 0 is a[i, 0], not a[0, i]."),
            ("wrong_layer", lambda l: truth(l - 1) if l else None,
             "your value for layer l is sinklab's value for layer l - 1: layers count from 0, "
             "use maps.weights(layer)."),
            ("wrong_layer", lambda l: truth(l + 1) if l + 1 < L else None,
             "your value for layer l is sinklab's value for layer l + 1: layers count from 0, "
             "use maps.weights(layer)."),
            ("no_layer_filter", lambda l: float(maps.mean[:, T // 2:, 0].mean()),
             "you return the same number for every layer: use the map of the layer asked, maps.weights(layer)."),
            ("all_queries", lambda l: float(a(l)[:, 0].mean()),
             "you averaged over all queries; the metric uses the second half only: queries i >= T // 2."),
            ("first_half", lambda l: float(a(l)[:T // 2, 0].mean()),
             "you used the first half of the queries; the metric uses the second half: queries i >= T // 2."),
            ("off_by_one_half", lambda l: float(a(l)[T // 2 + 1:, 0].mean()),
             "off by one at the half: the second half starts at query T // 2 (a[T // 2:], not a[T // 2 + 1:])."),
            ("off_by_one_half", lambda l: float(a(l)[(T - 1) // 2:, 0].mean()),
             "off by one at the half: T is the number of tokens, a.shape[0], and the second half is a[T // 2:]."),
            ("single_head", lambda l: float(maps.weights(l, 0)[T // 2:, 0].mean()),
             "you used head 0 only: maps.weights(layer) (head='mean') is the head average."),
        ], tol=1e-5)
        l = wrong[0]
        raise _NotYet("wrong", f"in layer {l} you return {got[l]:.4f}, sinklab's metric gives {truth(l):.4f}. "
                               "Take a = maps.weights(layer), keep the queries i >= T // 2 and column 0, and average; "
                               "compare with the per-layer chart.")

    return _verdict("first_token_share", body, "your share matches sinklab's sink metric in every layer.", strict)


# ----------------------------------------------------------------------------- 2. The circuit in one picture
def check_score_lead(fn: Callable, lm, prompt=None, strict: bool = False) -> Verdict:
    """fn(trace, layers) -> key 0's score minus the mean of the other allowed keys' scores, averaged over the
    heads, the second-half queries and the layers in range(*layers).

    Compared, for several layer ranges, with the label "score lead of key 0" of the circuit picture
    (`sinklab.analyses.circuit._score_lead`; the b_Q wire's label where the model has a query bias) on the trace
    of `prompt`.
    """
    from sinklab.analyses import circuit
    from sinklab import metrics, run

    prompt = prompt if prompt is not None else lessons.Prompt()
    trace = run(lm.model, lessons.encode(lm, prompt).ids[None])
    L = lm.info.n_layer
    ranges = list(dict.fromkeys([metrics.paper_layers(L), (0, 1), (0, L), (L - 1, L)]))
    T = trace.ids.shape[1]
    scores = {l: trace["attn_scores", l][0].float() for l in range(L)}  # [head, query, key]

    def lead(layers, queries=None, others=lambda s, q: s[:, q, 1:q + 1].mean(-1), first=0, sign=1.0) -> float:
        qs = range(T // 2, T) if queries is None else queries
        vals = [float((sign * (s[:, q, first] - others(s, q))).mean()) for l in range(*layers) for s in [scores[l]]
                for q in qs]
        return sum(vals) / len(vals)

    def body():
        got = {r: _number(_call(fn, trace, r)) for r in ranges}
        truth = lambda r: float(circuit._score_lead(trace, r))  # noqa: E731
        wrong = [r for r in ranges if not _close(got[r], truth(r), 1e-4)]
        if not wrong:
            return
        if any(not np.isfinite(v) or abs(v) > 1e30 for v in got.values()):
            raise _NotYet("future_keys", "your lead is huge or not finite: the keys after the query are masked with "
                                         "a huge negative score. Average only the keys the query may see: 1 … q, "
                                         "i.e. s[:, q, 1:q + 1].")
        _diagnose(got, truth, [
            ("includes_first", lambda r: lead(r, others=lambda s, q: s[:, q, :q + 1].mean(-1)),
             "your mean of the other keys includes key 0 itself: average keys 1 … q (s[:, q, 1:q + 1])."),
            ("all_queries", lambda r: lead(r, queries=range(1, T)),
             "you used every query; the label uses the second half only: queries q >= T // 2."),
            ("sign", lambda r: lead(r, sign=-1.0),
             "upside down: key 0's score minus the others' mean, not the other way round."),
            ("one_indexed", lambda r: lead(r, first=1, others=lambda s, q: s[:, q, 2:q + 1].mean(-1)),
             "you measured key 1's lead. Positions count from 0: the first token is key 0."),
            ("one_layer", lambda r: lead((r[0], r[0] + 1)),
             "you used only the first layer of the range: average over every layer in range(*layers)."),
        ], tol=1e-4)
        r = wrong[0]
        raise _NotYet("wrong", f"for layers {r[0]}…{r[1] - 1} you return {got[r]:.4f}, the picture's label gives "
                               f"{truth(r):.4f}: for each layer and each query q >= T // 2, take s[:, q, 0] minus "
                               "s[:, q, 1:q + 1].mean(-1), average over the heads, then over everything.")

    return _verdict("score_lead", body, "your score lead matches the circuit picture's “score lead of key 0” for every layer range.",
                    strict)


# ----------------------------------------------------------------------------- 3. Decomposition
def _softmax_over_keys(s: pd.Series) -> pd.Series:
    e = np.exp(s - s.groupby(level="query").transform("max"))
    return e / e.groupby(level="query").transform("sum")


def check_attention_from_terms_1_and_3(fn: Callable, view, strict: bool = False) -> Verdict:
    """fn(terms) -> softmax over keys of term 1 + term 3, a Series indexed by (query, key).

    Compared with the model's own attention pattern (`view.attention`, source 'model', for
    `view = lessons.decomposition(lm, prompt, layer, head)`), and again on a copy of the table in
    which every other row (terms 2 and 4, 'total', 'model') is replaced by noise: terms 1 and 3
    alone must give the same answer.
    """
    truth = view.attention[view.attention["source"] == "model"].set_index(["query", "key"])["weight"]
    terms = view.terms

    def summed(table, names) -> pd.Series:
        return table[table["term"].isin(names)].groupby(["query", "key"])["value"].sum()

    def aligned(out) -> pd.Series:
        if isinstance(out, pd.DataFrame):
            raise _NotYet("not_a_series", "return a pandas Series (one weight per (query, key)), not a DataFrame: "
                                          "e.g. select the column of weights.")
        if not isinstance(out, pd.Series):
            raise _NotYet("not_a_series", f"return a pandas Series indexed by (query, key); got a {type(out).__name__}.")
        if out.index.nlevels != 2:
            raise _NotYet("index", "index the Series by (query, key): e.g. groupby(['query', 'key'])['value'].sum().")
        out = out.set_axis(out.index.set_names(["query", "key"])).reindex(truth.index)
        if out.isna().any():
            raise _NotYet("index", "your Series lacks some (query, key) pairs of the causal part, or is indexed "
                                   "(key, query): index it by (query, key).")
        return out.astype(float)

    def body():
        got = aligned(_call(fn, terms))
        err = float((got - truth).abs().max())
        if err > 1e-4:
            candidates = [
                ("no_softmax", summed(terms, [TERMS[0], TERMS[2]]),
                 "you returned the summed scores: now take the softmax over the keys of each query."),
                ("softmax_over_queries", summed(terms, [TERMS[0], TERMS[2]]).pipe(
                    lambda s: np.exp(s - s.groupby(level="key").transform("max"))).pipe(
                    lambda e: e / e.groupby(level="key").transform("sum")),
                 "you normalised over the queries; the softmax runs over the keys of each query "
                 "(group by level 'query')."),
                ("terms_1_and_2", _softmax_over_keys(summed(terms, [TERMS[0], TERMS[1]])),
                 "you used terms 1 and 2. TERMS counts from 0: term 1 is TERMS[0] and term 3 is TERMS[2]."),
                ("all_rows", _softmax_over_keys(summed(terms, list(terms["term"].unique()))),
                 "you summed every row of the table; it also holds 'total' and 'model' rows. "
                 "Keep only terms 1 and 3 (TERMS[0], TERMS[2])."),
                ("one_term", _softmax_over_keys(summed(terms, [TERMS[0]])),
                 "you used term 1 alone: add term 3 (TERMS[2]), the key-only shift Δ."),
                ("one_term", _softmax_over_keys(summed(terms, [TERMS[2]])),
                 "you used term 3 alone: add term 1 (TERMS[0]), the content-content term."),
            ]
            for code, candidate, hint in candidates:
                if float((got - candidate.reindex(truth.index)).abs().max()) < 1e-4:
                    raise _NotYet(code, hint)
            row_sums = got.groupby(level="query").sum()
            if float((row_sums - 1).abs().max()) > 1e-3:
                raise _NotYet("not_normalised", "each query's weights should sum to 1 over its keys: take the "
                                                "softmax over the keys of each query.")
            raise _NotYet("wrong", f"your weights differ from the model's attention by up to {err:.2g}: sum terms "
                                   "1 and 3 per (query, key), then softmax over the keys of each query.")
        noisy = terms.copy()
        other = ~noisy["term"].isin([TERMS[0], TERMS[2]])
        noise = np.random.default_rng(0).normal(0.0, 5.0, int(other.sum()))
        noisy.loc[other, "value"] = noise.astype(noisy["value"].dtype)
        if float((aligned(_call(fn, noisy)) - truth).abs().max()) > 1e-4:
            raise _NotYet("uses_other_terms", "your answer depends on rows other than terms 1 and 3 (terms 2 and 4, "
                                              "'total' or 'model'): here those rows do not change the softmax, but "
                                              "the point is to drop them. Keep only TERMS[0] and TERMS[2].")

    return _verdict("attention_from_terms_1_and_3", body,
                    "terms 1 + 3 alone give the model's attention (terms 2 and 4 do not matter).", strict)


# ----------------------------------------------------------------------------- 4. EPE
def check_massive_from_table(fn: Callable, lm, view, k_sigmas: Sequence[float] = (2.0, 3.0, 5.0),
                             strict: bool = False) -> Verdict:
    """fn(coords, k_sigma) -> coordinates with |value| > mean|value| + k_sigma std|value|, largest first.

    Compared with `sinklab.analyses.epe.massive_coords(model, k_sigma)` for `view = lessons.epe_lesson(lm, ...)`.
    """
    coords = view.coords

    def rule(values: pd.Series, k: float, ddof: int = 1) -> list[int]:
        keep = values[values > values.mean() + k * values.std(ddof=ddof)]
        return [int(c) for c in keep.sort_values(ascending=False).index]

    a = coords.set_index("coord")["value"].abs()
    signed = coords.set_index("coord")["value"]

    def body():
        truth = {k: list(epe.massive_coords(lm.model, k_sigma=k, ln2=view.ln2)) for k in k_sigmas}
        got = {k: _ints(_call(fn, coords, k)) for k in k_sigmas}
        if got == truth:
            return
        if not any(got.values()):
            raise _NotYet("empty", "you return no coordinates at all: keep those whose |value| is above "
                                   "mean + k_sigma * std of |value|.")
        if all(set(got[k]) == set(truth[k]) for k in k_sigmas):
            raise _NotYet("unsorted", "the right coordinates, in the wrong order: sort them by |value|, largest first.")
        if len({tuple(v) for v in got.values()}) == 1 and len({tuple(v) for v in truth.values()}) > 1:
            raise _NotYet("ignores_k", "you return the same coordinates whatever k_sigma: use it in the threshold "
                                       "mean + k_sigma * std.")
        for code, candidate, hint in [
            ("signed", lambda k: rule(signed, k),
             "you thresholded the signed values; use |value| (massive coordinates can be negative)."),
            ("population_std", lambda k: rule(a, k, ddof=0),
             "use the sample standard deviation (pandas' .std(), ddof=1), as sinklab does, not numpy's ddof=0."),
        ]:
            if all(got[k] == candidate(k) for k in k_sigmas) and any(truth[k] != candidate(k) for k in k_sigmas):
                raise _NotYet(code, hint)
        k = next(k for k in k_sigmas if got[k] != truth[k])
        raise _NotYet("wrong", f"for k_sigma={k} you return {got[k]}, sinklab finds {truth[k]}: take |value|, "
                               "compare it with mean + k_sigma * std, and sort the survivors by size.")

    return _verdict("massive_from_table", body, "you found sinklab's massive coordinates for every threshold.", strict)


def check_epe_first(fn: Callable, lm, strict: bool = False) -> Verdict:
    """fn(model) -> EPE_0 = MLP^(1)(p_0) + p_0, a vector of length d_model.

    Compared with `sinklab.analyses.epe.epe(model)[0]` (the authors' convention: no ln_2).
    """
    model = lm.model
    d = lm.info.d_model

    def body():
        got = _vector(_call(fn, model), d)
        with torch.no_grad():
            table = epe.epe(model).float().cpu()  # [n_positions, d_model]
            truth = table[0]
            p = families.pos_embed(model).float().cpu()
            block = model.transformer.h[0]
            wte0 = model.transformer.wte.weight[0]
            candidates = [
                ("all_positions", table, "you returned EPE for every position: EPE_0 is the first row only ([0])."),
                ("no_residual", layout.mlp(block, families.pos_embed(model)[0]).float().cpu(),
                 "you returned MLP(p_0) alone: add p_0 back (EPE_0 = MLP(p_0) + p_0, the residual stream)."),
                ("no_mlp", p[0], "you returned p_0 alone: apply the first block's MLP and add p_0."),
                ("ln2", epe.epe(model, ln2=True)[0].float().cpu(),
                 "you applied ln_2 before the MLP; the authors' convention (used here) feeds p_0 to the MLP directly."),
                ("one_indexed", table[1],
                 "you used the second position: p_0 (the first position, counted from 0) is row 0 of the position embeddings."),
                ("token_embedding", (layout.mlp(block, wte0) + wte0).float().cpu(),
                 "you used a token embedding (wte); p_0 is the position embedding: families.pos_embed(model)[0]."),
            ]
        for code, candidate, hint in candidates:
            if got.shape == candidate.shape and torch.allclose(got, candidate, rtol=1e-4, atol=1e-4) \
                    and not (candidate.shape == truth.shape and torch.allclose(candidate, truth, rtol=1e-4, atol=1e-4)):
                raise _NotYet(code, hint)
        if got.shape != truth.shape:
            raise _NotYet("shape", f"return a vector of shape [{d}] (d_model); yours has shape {list(got.shape)}.")
        if not torch.allclose(got, truth, rtol=1e-4, atol=1e-4):
            c = int((got - truth).abs().argmax())
            raise _NotYet("wrong", f"at coordinate {c} you have {float(got[c]):.4g}, sinklab's EPE_0 is "
                                   f"{float(truth[c]):.4g}: apply the first block's MLP to p_0 and add p_0.")

    return _verdict("epe_first", body, "your EPE_0 matches sinklab's, coordinate by coordinate.", strict)


# ----------------------------------------------------------------------------- 5. gamma
def check_gamma_by_hand(fn: Callable, lm, strict: bool = False) -> Verdict:
    """fn(model, layer) -> gamma = W_k b_Q (all heads), a vector of length d_model, from the packed Conv1D.

    Compared with `sinklab.analyses.gamma.gamma(model, layer)` in every layer; the mistakes are recognised
    from the `sinklab.model.families.attn_weights` views.
    """
    model = lm.model
    L, d = lm.info.n_layer, lm.info.d_model

    def body():
        got = {l: _vector(_call(fn, model, l), d) for l in range(L)}
        with torch.no_grad():
            truth = {l: gamma.gamma(model, l).float().cpu() for l in range(L)}
            views = {l: families.attn_weights(model, l) for l in range(L)}

        def same(a: torch.Tensor, b: torch.Tensor) -> bool:
            return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5)

        def match(candidate: Callable[[int], torch.Tensor]) -> bool:
            return all(same(got[l], candidate(l)) for l in range(L)) and \
                not all(same(truth[l], candidate(l)) for l in range(L))

        if all(same(got[l], truth[l]) for l in range(L)):
            return
        shapes = {tuple(g.shape) for g in got.values()}
        if shapes != {(d,)}:
            raise _NotYet("shape", f"return a vector of length d = {d} (all heads at once); "
                                   f"yours has shape {list(next(iter(shapes)))}.")
        if match(lambda l: views[l].W_K.float().cpu().T @ views[l].b_Q.float().cpu()):
            raise _NotYet("transposed", "you multiplied by the transposed key block. HF's Conv1D computes x @ W with W "
                                        "of shape [in, out], so gamma = W_k b_Q is weight[:, d:2d] @ bias[:d].")
        names = {"Q": "query (columns :d)", "K": "key (columns d:2d)", "V": "value (columns 2d:)"}
        for w, b in itertools.product("QKV", repeat=2):
            for transposed in (False, True):
                def cand(l, w=w, b=b, transposed=transposed):
                    W = getattr(views[l], f"W_{w}").float().cpu()
                    return (W.T if transposed else W) @ getattr(views[l], f"b_{b}").float().cpu()
                if (w, b, transposed) != ("K", "Q", False) and match(cand):
                    raise _NotYet("wrong_blocks", f"you used the {names[w]} block of the weight with the "
                                                  f"{names[b].split(' ')[0]} bias. c_attn packs q | k | v: gamma needs "
                                                  "the key weight weight[:, d:2d] and the query bias bias[:d].")
        for shift, where in ((-1, "l - 1"), (1, "l + 1")):
            if all(same(got[l], truth[l + shift]) for l in range(L) if 0 <= l + shift < L) and L > 1:
                raise _NotYet("wrong_layer", f"your gamma for layer l is sinklab's for layer {where}: "
                                             "use model.transformer.h[layer] (layers count from 0).")
        if match(lambda l: truth[0]):
            raise _NotYet("wrong_layer", "you return layer 0's gamma for every layer: use model.transformer.h[layer].")
        l = next(l for l in range(L) if not same(got[l], truth[l]))
        raise _NotYet("wrong", f"layer {l} differs from sinklab's gamma (largest gap "
                               f"{float((got[l] - truth[l]).abs().max()):.3g}): gamma = weight[:, d:2d] @ bias[:d].")

    return _verdict("gamma_by_hand", body, "your gamma matches sinklab's in every layer.", strict)


# ----------------------------------------------------------------------------- 6. Interventions
_WIRE_RUNS: dict = {}


def _wire_runs(lm, prompt) -> dict[str, tuple[float, float]]:
    """{label: (sink at position 0 before, after)} for the paper's interventions b-j that apply to the model,
    from sinklab's lesson (those that do not, e.g. the EPE-based ones on a model without position embeddings,
    are left out)."""
    key = (id(lm), prompt)
    if key not in _WIRE_RUNS or _WIRE_RUNS[key][0] is not lm:
        runs = {}
        for label in PAPER[1:]:
            try:
                s = lessons.intervention_lesson(lm, make(label), prompt).summary.set_index("run")["sink_first"]
            except NotApplicable:
                continue
            runs[label] = (float(s["before"]), float(s["after"]))
        _WIRE_RUNS[key] = (lm, runs)
    return _WIRE_RUNS[key][1]


def check_is_circuit_wire(fn: Callable, lm, prompt=None, strict: bool = False) -> Verdict:
    """fn(lm, label, prompt) -> True when intervention `label` leaves less than half the sink at position 0.

    Compared, for each of the paper's interventions b-j that applies to the model, with sinklab's own
    before/after runs (`lessons.intervention_lesson(...).summary`, column `sink_first`).
    """
    prompt = prompt if prompt is not None else lessons.Prompt()

    def body():
        runs = _wire_runs(lm, prompt)
        truth = {label: after < 0.5 * before for label, (before, after) in runs.items()}
        got = {}
        for label in runs:
            out = _call(fn, lm, label, prompt)
            if not isinstance(out, (bool, np.bool_)):
                raise _NotYet("not_a_bool", f"return True or False; for {label!r} you returned {out!r} "
                                            f"(a {type(out).__name__}).")
            got[label] = bool(out)
        if got == truth:
            return
        if all(got[l] != truth[l] for l in runs):
            raise _NotYet("inverted", "every answer is the opposite of sinklab's: True means the sink after "
                                      "the intervention is below half of the sink before.")
        if len(set(got.values())) == 1:
            raise _NotYet("constant", f"you answer {next(iter(got.values()))} for every intervention: run the one "
                                      "named by `label` (make(label)).")
        for code, rule, hint in [
            ("any_drop", lambda b, a: a < b, "you flag any decrease; a wire leaves less than half: after < 0.5 * before."),
            ("absolute", lambda b, a: a < 0.5, "you compared the sink after with 0.5; compare it with half of the "
                                               "sink before: after < 0.5 * before."),
        ]:
            if all(got[l] == rule(*runs[l]) for l in runs):
                raise _NotYet(code, hint)
        label = next(l for l in runs if got[l] != truth[l])
        before, after = runs[label]
        raise _NotYet("wrong", f"for {label!r} you say {got[label]}, but sinklab's runs give sink_first "
                               f"{before:.3f} before and {after:.3f} after: use the summary's 'sink_first' "
                               "column, rows 'before' and 'after'.")

    return _verdict("is_circuit_wire", body, "you sorted every intervention into wire or control.", strict)


# ----------------------------------------------------------------------------- 7. Across domains
def check_circuit_wires(fn: Callable, view, thresholds: Sequence[float] = (5.0, 50.0, 99.9, 150.0),
                        strict: bool = False) -> Verdict:
    """fn(table, threshold) -> sorted labels among b-j below `threshold` % of baseline in every domain.

    Compared with sinklab's Table-1 summary (`view.table` of `lessons.domains_lesson`), read as
    interventions x domains.
    """
    pct = view.table.pivot_table(index="intervention", columns="domain", values="pct_of_baseline")
    paper = pct.loc[pct.index.isin(PAPER[1:])]

    def labels(frame: pd.DataFrame, keep) -> list[str]:
        return sorted(str(i) for i in frame.index[keep(frame)])

    def body():
        truth = {t: labels(paper, lambda f: (f < t).all(axis=1)) for t in thresholds}
        got = {}
        for t in thresholds:
            out = _call(fn, view.table, t)
            if isinstance(out, (str, pd.DataFrame)) or not hasattr(out, "__iter__"):
                raise _NotYet("not_a_list", f"return a list of labels such as ['b', 'c']; got {out!r}.")
            got[t] = [str(x) for x in out]
        if got == truth:
            return
        if not any(got.values()):
            raise _NotYet("empty", "you return no labels at all: keep the labels b-j whose pct_of_baseline is below "
                                   "the threshold in every domain.")
        if all(sorted(got[t]) == truth[t] for t in thresholds):
            raise _NotYet("unsorted", "the right labels, in the wrong order: return them sorted.")
        for code, candidate, hint in [
            ("not_every_domain", lambda t: labels(paper[["all"]], lambda f: (f < t).all(axis=1)),
             "you used the pooled 'all' rows only; a wire must be below the threshold in every domain "
             "(take each label's worst, i.e. largest, pct_of_baseline)."),
            ("not_every_domain", lambda t: labels(paper, lambda f: f.mean(axis=1) < t),
             "you averaged over the domains; a wire must be below the threshold in every domain "
             "(take each label's worst, i.e. largest, pct_of_baseline)."),
            ("not_every_domain", lambda t: labels(paper, lambda f: (f < t).any(axis=1)),
             "you kept labels below the threshold in some domain; it must hold in every domain "
             "(take each label's worst, i.e. largest, pct_of_baseline)."),
            ("not_only_paper", lambda t: labels(pct, lambda f: (f < t).all(axis=1)),
             "keep only the paper's interventions b-j (PAPER[1:]); the table also has the baseline and others."),
            ("inverted", lambda t: labels(paper, lambda f: ~(f < t).all(axis=1)),
             "you kept the labels at or above the threshold; keep those below it."),
        ]:
            if all(got[t] == candidate(t) for t in thresholds) and any(truth[t] != candidate(t) for t in thresholds):
                raise _NotYet(code, hint)
        t = next(t for t in thresholds if got[t] != truth[t])
        raise _NotYet("wrong", f"for threshold {t} you return {got[t]}, sinklab's table gives {truth[t]}: keep the "
                               "labels b-j, take each one's worst (largest) pct_of_baseline over the domains, and "
                               "keep those below the threshold.")

    return _verdict("circuit_wires", body, "your list of wires matches sinklab's table for every threshold.", strict)


# ----------------------------------------------------------------------------- 8. Structural origin
def check_variance_ratio(fn: Callable, lm, view, columns: Sequence[str] = ("variance", "z_variance"),
                         strict: bool = False) -> Verdict:
    """fn(stats, layer, column) -> position 0's value of `column` over the median of the other positions'.

    Compared with sinklab's table `view.stats` (`sinklab.analyses.origin.attention_output_stats`) for
    `view = lessons.origin_lesson(lm, prompt, ...)`.
    """
    stats = view.stats
    L = lm.info.n_layer
    table = {c: stats.pivot_table(index="position", columns="layer", values=c) for c in columns}  # [position, layer]

    def ratio(c: str, layer: int, first: int = 0, others=lambda t, f: t.drop(index=f).median(), invert=False) -> float:
        t = table[c][layer]
        r = float(t.loc[first] / others(t, first))
        return 1 / r if invert else r

    def body():
        args = [(l, c) for l in range(L) for c in columns]
        got = {(l, c): _number(_call(fn, stats, l, c)) for l, c in args}
        truth = lambda a: ratio(a[1], a[0])  # noqa: E731
        wrong = [a for a in args if not _close(got[a], truth(a), 1e-6)]
        if not wrong:
            return
        _diagnose(got, truth, [
            ("one_indexed", lambda a: ratio(a[1], a[0], first=1),
             "you divided position 1's value; positions count from 0: the first token is position 0."),
            ("one_indexed", lambda a: float(table[a[1]][a[0]].loc[1] / table[a[1]][a[0]].drop(index=[0, 1]).median()),
             "you divided position 1's value; positions count from 0: the first token is position 0."),
            ("mean_not_median", lambda a: ratio(a[1], a[0], others=lambda t, f: t.drop(index=f).mean()),
             "you divided by the mean of the other positions; use their median."),
            ("median_includes_first", lambda a: ratio(a[1], a[0], others=lambda t, f: t.median()),
             "your median includes position 0 itself; take the median over the other positions (drop index 0)."),
            ("inverted", lambda a: ratio(a[1], a[0], invert=True),
             "upside down: divide position 0's value by the others' median, not the other way round."),
            ("wrong_layer", lambda a: ratio(a[1], a[0] - 1) if a[0] else None,
             "your ratio for layer l is sinklab's for layer l - 1: filter on stats['layer'] == layer."),
            ("wrong_layer", lambda a: ratio(a[1], a[0] + 1) if a[0] + 1 < L else None,
             "your ratio for layer l is sinklab's for layer l + 1: filter on stats['layer'] == layer."),
            *[("ignores_column", lambda a, c=c: ratio(c, a[0]),
               f"you always use column {c!r}: use the `column` argument.") for c in columns],
        ], tol=1e-6)
        l, c = wrong[0]
        raise _NotYet("wrong", f"in layer {l}, column {c!r}, you return {got[(l, c)]:.4g}, sinklab's table gives "
                               f"{truth((l, c)):.4g}: select the layer, index by position, and divide position 0's "
                               "value by the others' median.")

    return _verdict("variance_ratio", body, "your ratios match sinklab's table in every layer.", strict)


def check_top_written_coords(fn: Callable, lm, view, strict: bool = False) -> Verdict:
    """fn(row, n) -> the n coordinates with the largest |weight| of a down-projection row, largest first.

    Tried on the top super neuron's row and on two other neurons' rows (`sinklab.analyses.origin.down_projection`),
    compared with the largest |weight| of `sinklab.model.families.mlp_out_rows(model, layer)[neuron]`.
    """
    layer, top = view.top_neuron
    neurons = [top] + [n for n in (0, 1, 2) if n != top][:2]

    def sizes(w: torch.Tensor) -> list[int]:
        """n for which the top n is unambiguous (no ties among them or at the cut), at most 5."""
        a = torch.sort(w.abs(), descending=True).values.tolist()
        return [n for n in range(1, min(5, len(a) - 1) + 1)
                if a[n - 1] > 0 and a[n - 1] > a[n] and len(set(a[:n])) == n]

    def body():
        cases = []
        for neuron in neurons:
            w = families.mlp_out_rows(lm.model, layer)[neuron].float().cpu()
            row = origin.down_projection(lm.model, layer, neuron)
            order = torch.argsort(w.abs(), descending=True, stable=True).tolist()
            for n in sizes(w):
                cases.append((neuron, n, row, order[:n], w))
        got = {(neuron, n): _ints(_call(fn, row, n)) for neuron, n, row, _, _ in cases}
        truth = {(neuron, n): want for neuron, n, _, want, _ in cases}
        if got == truth:
            return
        if not any(got.values()):
            raise _NotYet("empty", "you return no coordinates at all: sort the rows by abs_weight, largest first, "
                                   "and take the first n coordinates.")
        if any(len(got[k]) != k[1] for k in got):
            k = next(k for k in got if len(got[k]) != k[1])
            raise _NotYet("ignores_n", f"asked for n={k[1]} you return {len(got[k])} coordinates: return exactly n "
                                       "(e.g. .head(n)).")
        if all(set(got[k]) == set(truth[k]) for k in got):
            raise _NotYet("unsorted", "the right coordinates, in the wrong order: largest |weight| first.")
        for code, key, hint in [
            ("signed", lambda w: -w, "you sorted by the signed weight; a neuron writes strongly with large negative "
                                     "weights too: sort by abs_weight."),
            ("ascending", lambda w: w.abs(), "you took the smallest weights: sort by abs_weight, largest first "
                                             "(ascending=False)."),
        ]:
            cand = {(neuron, n): torch.argsort(key(w), stable=True).tolist()[:n] for neuron, n, _, _, w in cases}
            if got == cand and cand != truth:
                raise _NotYet(code, hint)
        (neuron, n) = next(k for k in got if got[k] != truth[k])
        raise _NotYet("wrong", f"for neuron {neuron} of layer {layer} and n={n} you return {got[(neuron, n)]}, "
                               f"its largest |weight| are at {truth[(neuron, n)]}: sort the rows by abs_weight, "
                               "largest first, and take the first n coordinates.")

    return _verdict("top_written_coords", body, "you found the coordinates these neurons write most.", strict)


# ----------------------------------------------------------------------------- 9. Compare specimens
def check_sink_wires(fn: Callable, view, cuts: Sequence[float] = (5.0, 50.0, 99.9, 150.0),
                     strict: bool = False) -> Verdict:
    """fn(computed, model, cut) -> sorted labels of the interventions that leave less than `cut` % of the sink.

    Compared, for every model of `view = lessons.compare_lesson(models, ...)` and several cuts, with
    what sinklab's signature table and intervention registry say: rows that ran (blank note),
    measured at position 0 (key 0), not controls (`REGISTRY[label].control`), not the baseline.
    """
    t = view.computed.copy()
    t["ran"] = t["note"].fillna("") == ""
    t["at_first"] = t["key"].fillna(-1).astype(int) == 0
    t["control"] = t["intervention"].map(lambda k: bool(getattr(REGISTRY.get(k), "control", False)))
    t["is_baseline"] = t["intervention"] == "baseline"
    models = list(dict.fromkeys(t["model"]))
    cases = [(m, c) for m in models for c in cuts]

    def select(model, cut, *, one_model=True, at_first=True, controls=False, baseline=False, below=True) -> list[str]:
        r = t[t["ran"]]
        if one_model:
            r = r[r["model"] == model]
        if at_first:
            r = r[r["at_first"]]
        if not controls:
            r = r[~r["control"]]
        if not baseline:
            r = r[~r["is_baseline"]]
        keep = r["pct_of_baseline"] < cut if below else r["pct_of_baseline"] >= cut
        return sorted(set(r.loc[keep, "intervention"]))

    def body():
        truth = {k: select(*k) for k in cases}
        got = {}
        for model, cut in cases:
            out = _call(fn, view.computed, model, cut)
            if isinstance(out, (str, pd.DataFrame)) or not hasattr(out, "__iter__"):
                raise _NotYet("not_a_list", f"return a list of labels such as ['b', 'c']; got {out!r}.")
            got[(model, cut)] = [str(x) for x in out]
        if got == truth:
            return
        if not any(got.values()):
            raise _NotYet("empty", "you return no labels at all: keep the interventions of `model` whose "
                                   "pct_of_baseline is below `cut`.")
        if all(sorted(got[k]) == truth[k] for k in cases):
            raise _NotYet("unsorted", "the right labels, in the wrong order: return them sorted.")
        for code, options, hint in [
            ("all_models", dict(one_model=False),
             "you mixed the models: keep only the rows with computed['model'] == model."),
            ("includes_controls", dict(controls=True),
             "you kept the controls (e, f, j): they are not wires. Drop the labels with REGISTRY[label].control."),
            ("includes_moves", dict(at_first=False),
             "you kept the moving interventions (transplant, isolate, amplify), measured at their target: "
             "keep only the rows measured at position 0 (key == 0)."),
            ("includes_baseline", dict(baseline=True), "the baseline is not an intervention: drop it."),
            ("inverted", dict(below=False), "you kept the labels at or above the cut; keep those below it."),
        ]:
            cand = {k: select(*k, **options) for k in cases}
            if got == {k: sorted(v) for k, v in got.items()} and got == cand and cand != truth:
                raise _NotYet(code, hint)
        k = next(k for k in cases if got[k] != truth[k])
        raise _NotYet("wrong", f"for model {k[0]!r} and cut {k[1]} you return {got[k]}, sinklab's table gives "
                               f"{truth[k]}: keep that model's rows that ran (blank note), measured at key 0, "
                               "not controls, with pct_of_baseline below the cut.")

    return _verdict("sink_wires", body, "you read every model's wires off its signature.", strict)


# ----------------------------------------------------------------------------- 10. Length and dose
def check_half_dose(fn: Callable, view, strict: bool = False) -> Verdict:
    """fn(dose, curve) -> the smallest α whose mean sink is at least half of the sink at α = 1.

    Compared, for every curve that ran, with sinklab's dose table `view.dose_summary` (lessons.curves_lesson).
    """
    d = view.dose_summary
    curves = sorted(set(d["curve"])) if "curve" in d.columns else []

    def series(curve: str) -> pd.Series:
        return d[d["curve"] == curve].set_index("alpha")["sink_mean"].sort_index()

    def first_at_least(c: pd.Series, ref: float):
        hit = c.index[c >= 0.5 * ref]
        return float(hit[0]) if len(hit) else None

    def truth(curve: str):
        return first_at_least(series(curve), series(curve).loc[1.0])

    def body():
        if not curves:
            raise _DoesNotApply("no dose curve ran on it (see view.errors for why); run the notebook on textbook "
                                "(SINKLAB_MODEL=textbook) to try it.")
        got = {c: _number(_call(fn, d, c)) for c in curves}
        if all(_close(got[c], truth(c), 1e-9) for c in curves):
            return
        _diagnose(got, truth, [
            ("value_not_alpha", lambda c: float(series(c).loc[truth(c)]),
             "you return the sink at that α; return α itself (the table's `alpha`)."),
            ("half_of_max", lambda c: first_at_least(series(c), series(c).max()),
             "you compared with half of the curve's largest sink; compare with half of the sink at α = 1."),
            ("half_of_zero", lambda c: first_at_least(series(c), series(c).loc[0.0]),
             "you compared with the sink at α = 0 (the cut); compare with the sink at α = 1 (the model as it is)."),
            ("last_below", lambda c: (lambda below: float(below[-1]) if len(below) else None)(
                series(c).index[series(c) < 0.5 * series(c).loc[1.0]]),
             "you return the last α BELOW half; return the first α at or above half."),
            ("all_curves", lambda c: first_at_least(d.groupby("alpha")["sink_mean"].mean(), d.groupby(
                "alpha")["sink_mean"].mean().loc[1.0]),
             "you used every curve's rows together; keep only the rows of the curve asked (column `curve`)."),
        ], 1e-9)
        c = next(c for c in curves if not _close(got[c], truth(c), 1e-9))
        raise _NotYet("wrong", f"for curve {c!r} you return {got[c]:g}, sinklab's table gives {truth(c):g}: keep the "
                               "curve's rows, take the sink at α = 1, and return the smallest α whose sink_mean is "
                               "at least half of it.")

    return _verdict("half_dose", body, "your α matches sinklab's dose table for every curve.", strict)
