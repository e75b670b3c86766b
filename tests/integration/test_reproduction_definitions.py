"""The reproduction's definitions on models (issue 21, item 8): the circuit authors' exact (j) draw in a forward,
`--bos`, sliding-window layers in a run, the cost frontier of a run, and report.md saying each thing once."""
from __future__ import annotations

import dataclasses
import random

import pandas as pd
import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: torch on one thread)
from sinklab import experiments as ex
from sinklab.analyses import effects, metrics
from sinklab.cli import main
from sinklab.experiments.jobs import WINDOWS_RECORDED, Job, bos_id, run_job, with_bos
from sinklab.experiments.output import markdown
from sinklab.experiments.settings import AuthorsRandomKeyCoords, authors_draw, signature
from sinklab.inputs.regimes import make_inputs
from sinklab.interventions import ZeroKeyCoords, ZeroRandomKeyCoords
from sinklab.model.bytetok import byte_tokenizer
from sinklab.model.families import random_model
from sinklab.model.loading import clear_cache, register
from sinklab.published import beside

SMALL = dict(seeds=(0,), n=2, n_tokens=16, domains=("nl",))


@pytest.fixture(scope="module")
def run_cost(textbook):
    return ex.run_plan(ex.Plan(models=("textbook",), experiments=("table1", "combined", "cost"), seeds=(0, 1),
                               n=2, n_tokens=16, domains=("nl", "code")))


# ------------------------------------------------------------------------------------------ (j): the authors' draw
def test_the_authors_j_zeroes_their_coordinates_layer_by_layer(textbook):
    """The option's (j) is, in every layer l, exactly a zeroing of W_k at the l-th chunk of the authors' stream."""
    plan = ex.Plan(models=("textbook",), i_top=3, j_authors=True, j_seed=42)
    j = signature(textbook, 1, key_coords=plan.key_coords)["j"]
    assert isinstance(j, AuthorsRandomKeyCoords) and j.seed == 42 and j.label == "j"
    L, d = textbook.info.n_layer, textbook.info.d_model
    random.seed(42)
    theirs = [sorted({random.randint(0, d - 1) for _ in range(3)}) for _ in range(L)]
    assert [list(j.chosen(textbook.model, l)) for l in range(L)] == theirs
    per_layer = tuple(ZeroKeyCoords(coords=tuple(theirs[l]), layers=(l, l + 1)) for l in range(L))
    ids = make_inputs(textbook.tokenizer, textbook.info.vocab_size, "nl", 2, 16, 0)[0]
    score = lambda ivs: metrics.sink_score(sinklab.run(textbook.model, ids, interventions=ivs))  # noqa: E731
    torch.testing.assert_close(score(j), score(per_layer), rtol=0, atol=0)
    other = signature(textbook, 1, key_coords=ex.Plan(models=("textbook",), i_top=3, j_per_layer=True,
                                                      j_seed=42).key_coords)["j"]
    assert type(other) is ZeroRandomKeyCoords
    assert [other.chosen(textbook.model, l) for l in range(L)] != [j.chosen(textbook.model, l) for l in range(L)]


def test_report_j_authors_runs_and_states_it(tmp_path, capsys):
    out = tmp_path / "authors"
    assert main(["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--domains", "nl", "--i-top", "3",
                 "--j-authors", "--j-seed", "42", "--formats", "none", "--out", str(out)]) == 0
    capsys.readouterr()
    md = (out / "report.md").read_text()
    assert "(j): as many random coordinates, the circuit authors' draw" in md and "seed 42" in md
    t = pd.read_csv(out / "table1.csv")
    assert t.query("intervention == 'j'")["n"].gt(0).all()


# ------------------------------------------------------------------------------------------ --bos
def test_bos_puts_the_models_bos_first_and_no_leaves_the_inputs_as_drawn(textbook):
    tok = textbook.tokenizer
    assert bos_id(tok, "no") is None and bos_id(tok, "auto") is None  # GPT-2's tokenizer adds no BOS
    first = bos_id(tok, "yes")
    assert first == (tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id)
    job = dict(model="textbook", seed=0, regime="nl", n_tokens=16, n=2, settings=("baseline",))
    plain, bosed = run_job(Job(**job), textbook), run_job(Job(**job, bos="yes"), textbook)
    ids = make_inputs(tok, textbook.info.vocab_size, "nl", 2, 16, 0)[0]
    want = metrics.sink_score(sinklab.run(textbook.model, with_bos(ids, first)), layers=(1, 5))
    got = bosed["examples"].sort_values("example")["first"].to_numpy()
    assert got == pytest.approx(want.numpy(), rel=1e-6)
    assert not (plain["examples"].sort_values("example")["first"].to_numpy() == pytest.approx(got, rel=1e-6))
    assert bosed["info"]["bos"].item() == tok.convert_ids_to_tokens(first) and plain["info"]["bos"].item() == ""
    assert with_bos(ids, first).shape == ids.shape and (with_bos(ids, first)[:, 1:] == ids[:, :-1]).all()


def test_report_bos_flag(tmp_path, capsys):
    out = tmp_path / "bos"
    assert main(["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--domains", "nl", "--bos", "yes",
                 "--formats", "none", "--out", str(out)]) == 0
    capsys.readouterr()
    md = (out / "report.md").read_text()
    assert "First token: the model's BOS token" in md and "; BOS " in md
    with pytest.raises(sinklab.BadInput, match="bos"):
        ex.Plan(models=("textbook",), bos="maybe")


def test_an_experiment_with_its_own_bos_gets_the_inputs_as_drawn():
    assert ex.REGISTRY["structural"].own_bos and not ex.REGISTRY["table1"].own_bos


# ------------------------------------------------------------------------------------------ sliding windows
@pytest.fixture
def neo():
    """A random GPT-Neo: layers 0, 2 global, 1, 3 local with a window of 5 keys."""
    yield register("tiny-neo-windows", random_model("gpt_neo", vocab_size=257), byte_tokenizer())
    clear_cache()


def test_the_run_says_where_a_window_hides_the_first_token(neo):
    from sinklab.experiments.jobs import hidden_layers_note

    assert hidden_layers_note(neo, (0, 4), 4) == ""  # 4 tokens: every query sees key 0
    note = hidden_layers_note(neo, (1, 3), 16)
    assert "the first token is outside the sliding window (of 5 keys)" in note and "band layer(s) 1 (from all" in note


@pytest.mark.skipif(not WINDOWS_RECORDED, reason="the forward does not record Trace.windows yet")
def test_a_run_leaves_the_hidden_layers_out_of_the_sink(neo):
    """At 16 tokens every second-half query of a local layer is past the window: the drop-quarter band [1, 3) is
    scored on layer 2 alone (before: layer 1's masked zeros halved it)."""
    res = ex.run_plan(ex.Plan(models=("tiny-neo-windows",), experiments=("table1",), **SMALL))
    ids = make_inputs(neo.tokenizer, neo.info.vocab_size, "nl", 2, 16, 0)[0]
    tr = sinklab.run(neo.model, ids)
    want = metrics.attention_to(tr, 0)[:, 2].mean(-1)
    base = res.tables["table1"].query("intervention == 'baseline'")["sink"].item()
    assert base == pytest.approx(float(want.mean()), rel=1e-5)
    assert "left out of the sink score" in markdown(res)
    view = effects.band_view(tr, (1, 3))
    assert view.windows == (5, None)


# ------------------------------------------------------------------------------------------ the cost frontier
def test_d_and_transplant_at_1_share_their_frontier_status(run_cost):
    c = run_cost.tables["cost"]
    for _, g in c.groupby(["seed", "domain"]):
        s = g.set_index("intervention")
        assert s.loc["d", "frontier"] == s.loc["transplant", "frontier"]
        assert abs(s.loc["d", "reduction_pct"] - s.loc["transplant", "reduction_pct"]) < 1e-3
    assert not c[c["reduction_pct"] <= 0]["on_frontier"].any()  # nothing that removes nothing, or raises it
    assert set(c["frontier"]) <= {"", "on", "dominated", "raises", "none", "n/a"}


def test_a_model_without_a_query_bias_never_puts_b_on_the_frontier():
    """GPT-Neo has no b_Q: (b) and b_Q × 0.5 / 0.75 are declared no-ops, refused before the sweep (not run)."""
    register("tiny-neo-cost", random_model("gpt_neo", vocab_size=257), byte_tokenizer())
    try:
        res = ex.run_plan(ex.Plan(models=("tiny-neo-cost",), experiments=("cost",), band="0-4", i_top=2, **SMALL))
    finally:
        clear_cache()
    c = res.tables["cost"]
    assert not {"b", "dose:b:0.5", "dose:b:0.75"} & set(c["intervention"])
    assert {"b", "dose:b:0.5"} <= set(res.errors["setting"])


# ------------------------------------------------------------------------------------------ report.md, once
def test_report_states_the_definitions_once(run_cost):
    info = run_cost.info.assign(published_as="GPT-2 small")  # as if textbook were GPT-2 small
    pub = {e: beside.for_models(ex.REGISTRY[e].published, info) for e in ("table1", "combined", "cost")}
    md = markdown(dataclasses.replace(run_cost, info=info, published=pub))
    assert md.count("this run's (i):") == 1 and md.count("the extension: (i)") == 1
    assert md.count("the authors: (i)") == 1 and "> Definitions: as stated above." in md


def test_explicit_coordinates_are_not_echoed_per_model(textbook):
    res = ex.run_plan(ex.Plan(models=("textbook",), experiments=("table1",), coords=(47, 13, 13, 29), **SMALL))
    md = markdown(res)
    assert "the coordinates 13, 29, 47;" in md and "13, 13" not in md
    assert "zeroes W_k rows" not in md  # the explicit ones are said once, in the header
    res = ex.run_plan(ex.Plan(models=("textbook",), experiments=("table1",), i_top=2, **SMALL))
    assert markdown(res).count("zeroes W_k rows") == 1  # chosen by a rule: said per model


# ------------------------------------------------------------------------------------------ band names
def test_report_band_paper_still_runs_and_says_it_is_deprecated(tmp_path, capsys):
    out = tmp_path / "paper"
    assert main(["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--domains", "nl", "--band",
                 "paper", "--formats", "none", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "'paper' is deprecated" in err and "drop-quarter" in err
    md = (out / "report.md").read_text()
    assert "Layer band: drop-quarter:" in md and "band [1, 5)" in md
