"""Per-input sweep rows shared across plans (sinklab.experiments.memo): a larger n computes only its new inputs,
concurrent plans compute shared inputs once, and the tables equal a fresh computation."""
from __future__ import annotations

import threading

import pandas as pd
import pytest
import torch

import sinklab
from sinklab import experiments as ex
from sinklab.experiments.memo import InputMemo, memo_for
from sinklab.teaching import compare


@pytest.fixture()
def lm():
    torch.set_num_threads(1)
    model = sinklab.load_model("textbook")
    memo_for(model.model).clear()
    yield model
    memo_for(model.model).clear()


def _numbers(t: pd.DataFrame) -> pd.DataFrame:
    return t.select_dtypes("number").reset_index(drop=True)


def test_a_larger_n_computes_only_the_new_inputs_and_equals_a_fresh_run(lm):
    memo = memo_for(lm.model)
    small, _ = compare.signature_table(lm, n=3)
    first = memo.stats()
    assert first["hits"] == 0 and first["rows"] == first["computed"] > 0
    per_input = first["rows"] // (3 * 3)  # three domains of three inputs: the settings that ran
    large, _ = compare.signature_table(lm, n=5)
    second = memo.stats()
    assert second["hits"] - first["hits"] == first["rows"], "the three inputs of each domain were reused"
    assert second["rows"] - first["rows"] == 3 * 2 * per_input, "only the two new inputs per domain were computed"
    again, _ = compare.signature_table(lm, n=5)
    assert memo.stats()["rows"] == second["rows"] and memo.stats()["computed"] == second["computed"]
    pd.testing.assert_frame_equal(again, large)
    memo.clear()
    fresh, _ = compare.signature_table(lm, n=5)  # nothing reused
    assert list(fresh.columns) == list(large.columns) and (fresh["intervention"] == large["intervention"]).all()
    pd.testing.assert_frame_equal(_numbers(fresh), _numbers(large), check_exact=False, atol=1e-5, rtol=1e-5)
    assert len(small) == len(large) and (small["n"] <= large["n"]).all()


def test_another_scoring_context_is_not_reused(lm):
    memo = memo_for(lm.model)
    compare.signature_table(lm, n=3, metric="paper")
    rows = memo.stats()["rows"]
    compare.signature_table(lm, n=3, metric="mass")
    assert memo.stats()["rows"] == 2 * rows, "another metric is another context: nothing shared"


def test_concurrent_plans_with_overlapping_inputs_compute_each_once(lm):
    memo = memo_for(lm.model)
    out, errors = {}, []

    def ask(n):
        try:
            out[n] = compare.signature_table(lm, n=n)[0]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(n,)) for n in (4, 4, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = memo.stats()
    assert s["computed"] == s["rows"], "no (setting, input) row was computed twice"
    assert s["rows"] == 3 * 4 * (s["rows"] // 12)


def test_the_memo_is_bounded_and_needs_a_loaded_model(lm):
    m = InputMemo(max_rows=3)
    m.put(("c",), "s", [b"a", b"b", b"c", b"d"], [{"x": i} for i in range(4)])
    assert m.stats()["rows"] == 3 and m.get(("c",), "s", [b"a", b"d"]) == [None, {"x": 3}]
    plan = ex.Plan(models=("textbook",), experiments=("table1",), n=2, domains=("nl",))
    with pytest.raises(sinklab.BadInput, match="needs a loaded model"):
        ex.run_plan(plan, reuse_inputs=True)


def test_a_job_whose_inputs_are_all_there_takes_no_compute_turn(lm, monkeypatch):
    """A visitor asking a smaller n than one already computed never queues behind a visitor who computes."""
    memo = memo_for(lm.model)
    compare.signature_table(lm, n=4)

    def busy(context):
        raise AssertionError("took a compute turn although every input was in the memo")

    monkeypatch.setattr(memo, "computing", busy)
    small, _ = compare.signature_table(lm, n=2)
    assert set(small["n"].dropna()) <= {0, 2, 6}  # two per domain, six pooled (0: a row that did not run)
