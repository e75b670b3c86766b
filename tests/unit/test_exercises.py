"""The tutorials' exercises on the bundled textbook model: every stub, exactly as written in its
notebook, fails its check; every reference solution (tutorials/solutions.py) passes it; and
plausible wrong answers fail with the hint meant for them.

The checks (tutorials/feedback.py) compare with sinklab's own computations, never with the
reference solutions: this file is what ties the two together.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sinklab.model import families, layout
from sinklab import lessons
from sinklab.analyses.decomposition import TERMS
from sinklab.interventions import REGISTRY, make
from sinklab.teaching.lessons import Prompt

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tutorials import feedback, solutions  # noqa: E402  (course material: tutorials/ is a package)

# exercise -> (notebook, check); the check's arguments after the learner's function come from ARGS
EXERCISES = {
    "first_token_share": ("01_start.py", feedback.check_first_token_share),
    "score_lead": ("02_circuit.py", feedback.check_score_lead),
    "attention_from_terms_1_and_3": ("03_decomposition.py", feedback.check_attention_from_terms_1_and_3),
    "massive_from_table": ("04_epe.py", feedback.check_massive_from_table),
    "epe_first": ("04_epe.py", feedback.check_epe_first),
    "gamma_by_hand": ("05_gamma.py", feedback.check_gamma_by_hand),
    "is_circuit_wire": ("06_interventions.py", feedback.check_is_circuit_wire),
    "circuit_wires": ("07_domains.py", feedback.check_circuit_wires),
    "variance_ratio": ("08_origin.py", feedback.check_variance_ratio),
    "top_written_coords": ("08_origin.py", feedback.check_top_written_coords),
    "sink_wires": ("09_compare.py", feedback.check_sink_wires),
    "half_dose": ("10_curves.py", feedback.check_half_dose),
}


@pytest.fixture(scope="module")
def ctx(textbook):
    """The textbook model and the lesson views the notebooks pass to the checks (same settings, fewer inputs)."""
    import sinklab

    lm = textbook
    layer = min(5, lm.info.n_layer - 1)
    return {
        "lm": lm,
        "start": lessons.start(lm, Prompt()),
        "decomposition": lessons.decomposition(lm, Prompt(), layer=layer, head=0),
        "epe": lessons.epe_lesson(lm, k_sigma=3.0, ln2=False, n=3),
        "domains": lessons.domains_lesson(lm, n=4, progress=None),
        "origin": lessons.origin_lesson(lm, Prompt(), position=5, factor=4.0),
        "compare": lessons.compare_lesson([lm, sinklab.load_model("textbook-structural")], n=2, target=5, factor=5.0),
        "curves": lessons.curves_lesson(lm, n=2, lengths=(16, 32), seeds=(0, 1)),
    }


ARGS = {
    "first_token_share": lambda c: (c["lm"], c["start"]),
    "score_lead": lambda c: (c["lm"], Prompt()),
    "attention_from_terms_1_and_3": lambda c: (c["decomposition"],),
    "massive_from_table": lambda c: (c["lm"], c["epe"]),
    "epe_first": lambda c: (c["lm"],),
    "gamma_by_hand": lambda c: (c["lm"],),
    "is_circuit_wire": lambda c: (c["lm"], Prompt()),
    "circuit_wires": lambda c: (c["domains"],),
    "variance_ratio": lambda c: (c["lm"], c["origin"]),
    "top_written_coords": lambda c: (c["lm"], c["origin"]),
    "sink_wires": lambda c: (c["compare"],),
    "half_dose": lambda c: (c["curves"],),
}


def run_check(name: str, fn, ctx, strict: bool = False) -> feedback.Verdict:
    return EXERCISES[name][1](fn, *ARGS[name](ctx), strict=strict)


def notebook_stub(notebook: str, name: str):
    """The learner's stub: the first module-level `def name` of the notebook, executed on its own."""
    src = (TUTORIALS / notebook).read_text()
    node = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace: dict = {}
    exec(compile(ast.Module([node], type_ignores=[]), f"{notebook}:{name}", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("name", EXERCISES)
def test_the_stub_as_written_fails_its_check(name, ctx):
    v = run_check(name, notebook_stub(EXERCISES[name][0], name), ctx)
    assert not v and v.mistake in {"returns_none", "not_implemented"}, v


@pytest.mark.parametrize("name", EXERCISES)
def test_the_reference_solution_passes_its_check(name, ctx):
    v = run_check(name, getattr(solutions, name), ctx, strict=True)
    assert v and v.mistake is None and v.message.startswith("✔"), v


def test_strict_turns_a_failed_check_into_an_assertion(ctx):
    with pytest.raises(AssertionError, match="returns None"):
        run_check("first_token_share", lambda maps, layer: None, ctx, strict=True)


def test_an_exception_in_the_learners_code_becomes_a_hint(ctx):
    v = run_check("first_token_share", lambda maps, layer: maps.weights(layer)["nope"], ctx)
    assert not v and v.mistake == "raised" and "IndexError" in v.message


# ----------------------------------------------------------------------------- wrong but plausible answers
def _a(maps, layer, head="mean"):
    a = maps.weights(layer, head)
    return a, a.shape[0]


def _lead(trace, layers, queries=lambda T: range(T // 2, T), others=lambda s, q: s[:, q, 1:q + 1].mean(-1)):
    T = trace.ids.shape[1]
    vals = [(trace["attn_scores", l][0][:, q, 0] - others(trace["attn_scores", l][0], q)).mean()
            for l in range(*layers) for q in queries(T)]
    return float(torch.stack(vals).mean())


def _softmax(s):
    e = np.exp(s - s.groupby(level="query").transform("max"))
    return e / e.groupby(level="query").transform("sum")


def _summed(terms, names):
    return terms[terms["term"].isin(names)].groupby(["query", "key"])["value"].sum()


def _massive(coords, k, values=lambda c: c["value"].abs(), std=lambda a: a.std(), order=True):
    a = values(coords.set_index("coord"))
    kept = a[a > a.mean() + k * std(a)]
    return [int(c) for c in (kept.sort_values(ascending=False).index if order else sorted(kept.index))]


def _gamma(model, layer, w_block, b_block, transposed=False):
    d = model.config.n_embd
    c = model.transformer.h[layer].attn.c_attn
    W = c.weight[:, w_block * d:(w_block + 1) * d]
    return (c.bias[b_block * d:(b_block + 1) * d] @ W) if transposed else W @ c.bias[b_block * d:(b_block + 1) * d]


def _wire(lm, label, prompt, rule):
    s = lessons.intervention_lesson(lm, make(label), prompt).summary.set_index("run")["sink_first"]
    return bool(rule(s["before"], s["after"]))


def _wires(computed, model, cut, *, one_model=True, at_first=True, controls=False):
    rows = computed[computed["note"].fillna("") == ""]
    rows = rows[rows["model"] == model] if one_model else rows
    rows = rows[rows["key"].fillna(-1).astype(int) == 0] if at_first else rows
    return sorted({r.intervention for r in rows.itertuples() if r.intervention != "baseline"
                   and (controls or not REGISTRY[r.intervention].control) and r.pct_of_baseline < cut})


def _dose(d, curve, ref=lambda c: c.loc[1.0], pick=lambda idx: float(idx[0]), below=False):
    c = d[d["curve"] == curve].set_index("alpha")["sink_mean"].sort_index()
    idx = c.index[(c < 0.5 * ref(c)) if below else (c >= 0.5 * ref(c))]
    return pick(idx)


def _ratio(stats, layer, column, first=0, drop=(0,), how="median"):
    s = stats[stats["layer"] == layer].set_index("position")[column]
    return float(s.loc[first] / getattr(s.drop(index=list(drop)), how)())


WRONG = [
    # (exercise, mistake it should be recognised as, a wrong answer). Some mistakes the checks know are
    # harmless on the textbook model (ddof=0, ln_2 before the MLP, an absolute 0.5 threshold give the
    # right answer there), so they are not listed.
    ("first_token_share", "one_indexed", lambda maps, l: float(_a(maps, l)[0][_a(maps, l)[1] // 2:, 1].mean())),
    ("first_token_share", "off_by_one_half", lambda maps, l: float(_a(maps, l)[0][_a(maps, l)[1] // 2 + 1:, 0].mean())),
    ("first_token_share", "all_queries", lambda maps, l: float(_a(maps, l)[0][:, 0].mean())),
    ("first_token_share", "wrong_layer", lambda maps, l: float(maps.mean[l - 1][maps.mean.shape[1] // 2:, 0].mean())),
    ("first_token_share", "single_head", lambda maps, l: float(_a(maps, l, 0)[0][_a(maps, l)[1] // 2:, 0].mean())),
    ("first_token_share", "not_a_number", lambda maps, l: _a(maps, l)[0][_a(maps, l)[1] // 2:, 0]),
    ("score_lead", "includes_first", lambda tr, ls: _lead(tr, ls, others=lambda s, q: s[:, q, :q + 1].mean(-1))),
    ("score_lead", "future_keys", lambda tr, ls: _lead(tr, ls, others=lambda s, q: s[:, q, 1:].mean(-1))),
    ("score_lead", "all_queries", lambda tr, ls: _lead(tr, ls, queries=lambda T: range(1, T))),
    ("score_lead", "sign", lambda tr, ls: -_lead(tr, ls)),
    ("score_lead", "one_layer", lambda tr, ls: _lead(tr, (ls[0], ls[0] + 1))),
    ("attention_from_terms_1_and_3", "terms_1_and_2", lambda t: _softmax(_summed(t, [TERMS[0], TERMS[1]]))),
    ("attention_from_terms_1_and_3", "all_rows", lambda t: _softmax(t.groupby(["query", "key"])["value"].sum())),
    ("attention_from_terms_1_and_3", "uses_other_terms", lambda t: _softmax(_summed(t, list(TERMS)))),
    ("attention_from_terms_1_and_3", "no_softmax", lambda t: _summed(t, [TERMS[0], TERMS[2]])),
    ("massive_from_table", "signed", lambda c, k=3.0: _massive(c, k, values=lambda f: f["value"])),
    ("massive_from_table", "unsorted", lambda c, k=3.0: _massive(c, k, order=False)),
    ("massive_from_table", "ignores_k", lambda c, k=3.0: _massive(c, 3.0)),
    ("epe_first", "no_residual", lambda m: layout.mlp(m.transformer.h[0], families.pos_embed(m)[0])),
    ("epe_first", "one_indexed", lambda m: layout.mlp(m.transformer.h[0], families.pos_embed(m)[1]) + families.pos_embed(m)[1]),
    ("epe_first", "token_embedding", lambda m: layout.mlp(m.transformer.h[0], m.transformer.wte.weight[0])
     + m.transformer.wte.weight[0]),
    ("gamma_by_hand", "transposed", lambda m, l: _gamma(m, l, 1, 0, transposed=True)),
    ("gamma_by_hand", "wrong_blocks", lambda m, l: _gamma(m, l, 0, 1)),
    ("gamma_by_hand", "wrong_layer", lambda m, l: _gamma(m, l - 1 if l else m.config.n_layer - 1, 1, 0)),
    ("gamma_by_hand", "shape", lambda m, l: _gamma(m, l, 1, 0)[:16]),
    ("is_circuit_wire", "inverted", lambda lm, label, p: _wire(lm, label, p, lambda b, a: a >= 0.5 * b)),
    ("is_circuit_wire", "any_drop", lambda lm, label, p: _wire(lm, label, p, lambda b, a: a < b)),
    ("is_circuit_wire", "constant", lambda lm, label, p: True),
    ("is_circuit_wire", "not_a_bool", lambda lm, label, p: _wire(lm, label, p, lambda b, a: a / b) and 0.3),
    ("circuit_wires", "not_every_domain", lambda t, thr=50.0: sorted(
        t[(t.domain == "all") & t.intervention.isin(list("bcdefghij")) & (t.pct_of_baseline < thr)].intervention)),
    ("circuit_wires", "not_every_domain", lambda t, thr=50.0: sorted(
        (m := t[t.intervention.isin(list("bcdefghij"))].groupby("intervention")["pct_of_baseline"].mean())[m < thr].index)),
    ("circuit_wires", "not_only_paper", lambda t, thr=50.0: sorted(
        (w := t.groupby("intervention")["pct_of_baseline"].max())[w < thr].index)),
    ("circuit_wires", "unsorted", lambda t, thr=50.0: sorted(solutions.circuit_wires(t, thr), reverse=True)),
    ("variance_ratio", "one_indexed", lambda s, l, c="z_variance": _ratio(s, l, c, first=1, drop=(1,))),
    ("variance_ratio", "mean_not_median", lambda s, l, c="z_variance": _ratio(s, l, c, how="mean")),
    ("variance_ratio", "median_includes_first", lambda s, l, c="z_variance": _ratio(s, l, c, drop=())),
    ("variance_ratio", "ignores_column", lambda s, l, c="z_variance": _ratio(s, l, "z_variance")),
    ("top_written_coords", "signed", lambda row, n=3: [int(c) for c in row.sort_values("weight", ascending=False,
                                                                                         kind="stable")["coord"].head(n)]),
    ("top_written_coords", "ignores_n", lambda row, n=3: [int(c) for c in row.sort_values(
        "abs_weight", ascending=False, kind="stable")["coord"].head(3)]),
    ("sink_wires", "includes_controls", lambda t, m, cut=50.0: _wires(t, m, cut, controls=True)),
    ("sink_wires", "includes_moves", lambda t, m, cut=50.0: _wires(t, m, cut, at_first=False)),
    ("sink_wires", "all_models", lambda t, m, cut=50.0: _wires(t, m, cut, one_model=False)),
    ("top_written_coords", "ascending", lambda row, n=3: [int(c) for c in row.sort_values(
        "abs_weight", kind="stable")["coord"].head(n)]),
    ("half_dose", "half_of_zero", lambda d, c: _dose(d, c, ref=lambda s: s.loc[0.0])),
    ("half_dose", "last_below", lambda d, c: _dose(d, c, pick=lambda idx: float(idx[-1]), below=True)),
    ("half_dose", "value_not_alpha", lambda d, c: float(d[(d.curve == c) & (d.alpha == solutions.half_dose(d, c))]
                                                        ["sink_mean"].iloc[0])),
    ("half_dose", "all_curves", lambda d, c: (lambda m: float(m.index[m >= 0.5 * m.loc[1.0]][0]))(
        d.groupby("alpha")["sink_mean"].mean())),
]


@pytest.mark.parametrize("name, mistake, fn", WRONG, ids=[f"{n}-{m}" for n, m, _ in WRONG])
def test_a_plausible_mistake_fails_with_its_hint(name, mistake, fn, ctx):
    v = run_check(name, fn, ctx)
    assert not v, f"{name}: the wrong answer '{mistake}' passed the check"
    assert v.mistake == mistake, v
    assert v.message.startswith(f"✘ {name}, not yet: ") and len(v.message) > len(name) + 40


def test_every_check_has_a_recognised_wrong_answer():
    assert {n for n, _, _ in WRONG} == set(EXERCISES)


# ----------------------------------------------------------------------------- structure
def test_every_notebook_exercise_is_covered_and_every_check_is_used():
    called = {}
    for path in sorted(TUTORIALS.glob("[0-9]*.py")):
        for check, fn in re.findall(r"feedback\.(check_\w+)\((\w+)", path.read_text()):
            called[fn] = (path.name, check)
    assert called == {name: (nb, check.__name__) for name, (nb, check) in EXERCISES.items()}
    defined = {n for n in dir(feedback) if n.startswith("check_")}
    assert defined == {check.__name__ for _, check in EXERCISES.values()}
    assert all(callable(getattr(solutions, name)) for name in EXERCISES)


def test_checks_never_consult_the_reference_solutions():
    tree = ast.parse((TUTORIALS / "feedback.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any("solutions" in m for m in imported), imported


def test_reference_solutions_use_the_layout_views():
    src = (TUTORIALS / "solutions.py").read_text()
    assert "families.pos_embed" in src and "layout.mlp" in src
    # c_attn is sliced by hand only where the exercise is about the packed q | k | v Conv1D (gamma_by_hand)
    tree = ast.parse(src)
    slicing = {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and "c_attn" in ast.get_source_segment(src, f)}
    assert slicing == {"gamma_by_hand"}


def test_epe_first_reference_is_a_tensor_of_d_model(ctx):
    out = solutions.epe_first(ctx["lm"].model)
    assert isinstance(out, torch.Tensor) and out.shape == (ctx["lm"].info.d_model,)
