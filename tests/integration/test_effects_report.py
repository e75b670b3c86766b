"""Batched intervention sweeps, the Table-1 report and its CLI, on the offline textbook model."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

import sinklab
from sinklab.analyses import effects
from sinklab import metrics
from sinklab.cli import main
from sinklab.inputs.corpora import load_corpus
from sinklab.experiments.plan import signature_names
from sinklab.interventions import make


@pytest.fixture(scope="module")
def ids(textbook):
    return load_corpus("nl", textbook.tokenizer, n=4).ids


def test_sweep_mixed_batches_equal_separate_runs(textbook, ids):
    settings = {"baseline": None, "b": make("b"), "transplant": make("transplant", other=3)}
    sw = effects.sweep(textbook.model, ids, settings, batch_size=5)  # chunks mix settings
    ex = sw.examples.set_index(["intervention", "example"])
    for name, iv in settings.items():
        tr = sinklab.run(textbook.model, ids, interventions=iv)
        k = 3 if name == "transplant" else 0
        want = metrics.sink_score(tr, key=k)
        got = torch.tensor([ex.loc[(name, i), "target"] for i in range(len(ids))], dtype=torch.float32)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    assert set(sw.layers["key"]) == {0, 3}


def test_summary_relative_to_baseline(textbook, ids):
    """The one summary of a sweep's rows (sinklab.experiments.tables.summarise): % of the baseline, paired CE."""
    from sinklab.experiments.tables import summarise

    sw = effects.sweep(textbook.model, ids, {"baseline": None, "b": make("b")})
    s = summarise(sw.examples.rename(columns={"intervention": "setting"}), group=[]).set_index("setting")
    assert s.loc["baseline", "pct_of_baseline"] == pytest.approx(100.0)
    assert s.loc["baseline", "ce_change"] == 0.0
    assert s.loc["b", "pct_of_baseline"] < 50  # the planted circuit needs b_Q
    assert (s["n"] == len(ids)).all()


def test_sweep_bad_input(textbook, ids):
    with pytest.raises(sinklab.BadInput, match="empty"):
        effects.sweep(textbook.model, ids[:0], {"baseline": None})
    with pytest.raises(sinklab.BadInput, match="at least 2 tokens"):
        effects.sweep(textbook.model, ids[:, :1], {"baseline": None})
    with pytest.raises(sinklab.BadInput, match="no interventions"):
        effects.sweep(textbook.model, ids, {})
    with pytest.raises(sinklab.BadInput, match="valid"):
        make("nope")


def test_report_cli_writes_table_1(tmp_path, capsys):
    assert main(["report", "--model", "textbook", "--n", "3", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "table.csv")
    assert set(table["domain"]) == {"nl", "math", "code", "all"}
    assert set(table["intervention"]) == set(signature_names())
    md = (tmp_path / "report.md").read_text()
    assert "| b: No query bias |" in md and "Sources:" in md and "offline" in md
    assert "Published" not in md  # not GPT-2 small: no published numbers beside ours


def test_report_cli_reports_a_missing_model(capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["report", "--model", "nobody/nothing", "--n", "3"]) == 2
    assert "Cannot load model" in capsys.readouterr().err


def test_sweep_band_only_recording_is_exact(textbook, ids):
    """ce=False, per_layer=False records only the band's patterns and stops after the band: same scores."""
    settings = {"baseline": None, "b": make("b"), "transplant": make("transplant", other=2)}
    full = effects.sweep(textbook.model, ids, settings, layers=(2, 4), keys=(1, 3), batch_size=5)
    lean = effects.sweep(textbook.model, ids, settings, layers=(2, 4), keys=(1, 3), batch_size=5, ce=False,
                         per_layer=False)
    cols = ["intervention", "example", "key", "first", "target", "at_1", "at_3"]
    pd.testing.assert_frame_equal(full.examples[cols], lean.examples[cols], check_exact=True)
    assert lean.examples["ce"].isna().all() and lean.layers.empty
    tr = sinklab.run(textbook.model, ids)
    want = metrics.sink_score(tr, key=3, layers=(2, 4))
    got = torch.tensor(full.examples.query("intervention == 'baseline'")["at_3"].values, dtype=torch.float32)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_table1_band(textbook):
    from sinklab import experiments

    def table1(band):
        return experiments.run_plan(experiments.Plan(models=("textbook",), n=2, n_tokens=16, domains=("nl",),
                                                     band=band), lm=textbook)

    res = table1("2-4")
    ids2 = load_corpus("nl", textbook.tokenizer, n=2, n_tokens=16, seed=42).ids
    want = float(metrics.sink_score(sinklab.run(textbook.model, ids2), layers=(2, 4)).mean())
    got = res.tables["table1"].query("domain == 'nl' and intervention == 'baseline'")["sink"].item()
    assert got == pytest.approx(want, rel=1e-5)
    outside = table1("3-9")  # refused on this 6-layer model: the job's error, nothing computed
    assert outside.tables["table1"].empty
    assert outside.errors["error"].str.contains("outside its 6 layers").all() and len(outside.errors)
