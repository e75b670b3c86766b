"""Lessons keep, per loaded model, what a slider move does not change: the Structural origin lesson what the
amplification factor does not change (a factor move runs one forward pass), the Interventions lesson the prompt's
"before" run (shared by every intervention). Their views equal ones computed from nothing, on the planted specimen
and a random Gemma 3."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import sinklab
from sinklab.analyses import effects, metrics, structural
from sinklab.interventions import make
from sinklab.model import families, loading
from sinklab.teaching import lessons


@pytest.fixture(scope="module", params=["textbook-structural", "gemma3_text"])
def lm(request):
    if request.param in sinklab.BUNDLED:
        return sinklab.load_model(request.param)
    from sinklab.model.bytetok import byte_tokenizer

    return loading.register("random-gemma3", families.random_model(request.param, seed=1, vocab_size=257), byte_tokenizer())


def _fresh(lm, **kw):
    lessons._ORIGIN_BASE.pop(lm.model, None)
    return lessons.origin_lesson(lm, **kw)


def _same(a, b):
    for field in ("stats", "neurons", "row", "moves", "moves_summary", "chain", "cuts"):
        pd.testing.assert_frame_equal(getattr(a, field), getattr(b, field), check_exact=False, atol=1e-6)
    assert a.top_neuron == b.top_neuron and repr(a.found) == repr(b.found) and a.position == b.position  # nan-safe


def test_a_factor_move_reuses_the_rest_and_equals_a_fresh_view(lm, monkeypatch):
    first = _fresh(lm, position=3, factor=2.0)
    measured = []
    real = structural.measure
    monkeypatch.setattr(structural, "measure", lambda *a, **k: measured.append(1) or real(*a, **k))
    moved = lessons.origin_lesson(lm, position=3, factor=6.0)
    assert measured == []  # the links were not measured again
    assert list(moved.moves_summary["intervention"]) == ["baseline", "isolate", "amplify"]
    base = first.moves_summary.set_index("intervention")
    after = moved.moves_summary.set_index("intervention")
    np.testing.assert_allclose(after.loc[["baseline", "isolate"]], base.loc[["baseline", "isolate"]])
    _same(moved, _fresh(lm, position=3, factor=6.0))  # equal to a view computed from nothing
    assert len(measured) == 1


def test_another_position_or_layer_range_is_computed_not_reused(lm):
    a = _fresh(lm, position=3, factor=4.0)
    b = lessons.origin_lesson(lm, position=2, factor=4.0)
    c = lessons.origin_lesson(lm, position=3, factor=4.0, layers=(0, 1))
    assert b.position == 2 and (b.moves["key"] == 2).all()
    _same(b, _fresh(lm, position=2, factor=4.0))
    _same(c, _fresh(lm, position=3, factor=4.0, layers=(0, 1)))
    assert not np.allclose(c.moves["value"], a.moves["value"])  # isolating in layer 0 only is another run


def test_the_kept_settings_are_bounded(lm):
    lessons._ORIGIN_BASE.pop(lm.model, None)
    for k in range(1, 6):
        for layers in (None, (0, 1)):
            lessons.origin_lesson(lm, prompt=lessons.Prompt(n_tokens=8), position=k, layers=layers)
    assert len(lessons._ORIGIN_BASE[lm.model]) == lessons._KEPT_SIZE


def test_interventions_share_the_prompts_before_run_and_equal_one_batch_of_two(lm, monkeypatch):
    from sinklab.model.forward import run as real_run

    lessons._BEFORE.pop(lm.model, None)
    runs = []
    monkeypatch.setattr(lessons, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    for i, setting in enumerate([make("isolate", position=2), make("amplify", position=3, factor=6.0),
                                 make("rmsnorm"), make("a")]):
        v = lessons.intervention_lesson(lm, setting)
        assert len(runs) == i + 2, "the before run happens once per prompt"
        toks = lessons.encode(lm, lessons.Prompt())
        ref = real_run(lm.model, toks.ids[None].repeat(2, 1), per_example=[None, (setting,)])  # the former way
        ce = effects.cross_entropy(ref.logits, ref.ids)
        assert v.ce_change == pytest.approx(float(ce[1] - ce[0]), abs=1e-6)
        np.testing.assert_allclose(v.summary["sink"], metrics.sink_score(ref, v.key), atol=1e-6)
        np.testing.assert_allclose(v.after.mean, ref.patterns()[:, 1].mean(1).numpy(), atol=1e-6)
        np.testing.assert_allclose(v.before.mean, ref.patterns()[:, 0].mean(1).numpy(), atol=1e-6)
    assert v.ce_change == 0.0 and np.array_equal(v.before.mean, v.after.mean)  # (a): "after" is "before"
    lessons.intervention_lesson(lm, make("a"), prompt=lessons.Prompt(n_tokens=9))
    assert len(runs) == 7  # another prompt: its own before run
    from sinklab.model.bytetok import byte_tokenizer

    other = dataclasses.replace(lm, tokenizer=byte_tokenizer())  # the same weights under another tokenizer
    lessons.intervention_lesson(other, make("a"), prompt=lessons.Prompt(n_tokens=9))
    assert len(runs) == 9  # not the first tokenizer's "before"
