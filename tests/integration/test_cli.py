"""`sinklab report` end to end, offline: every experiment option writes its CSVs and figures."""
from __future__ import annotations

import copy

import os

import pandas as pd
import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: torch on one thread)
from sinklab.cli import main


EXPERIMENTS = ("table1", "lengths", "regimes", "combined", "dose", "pathways", "relocation", "cost")


def test_report_every_experiment(tmp_path, capsys):
    out = tmp_path / "all"
    code = main(["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--seeds", "0,1",
                 "--experiments", "all", "--band", "extension", "--domains", "nl,code", "--lengths", "16,24,200",
                 "--regimes", "nl,uniform,repeated", "--alphas", "0,1,1.5", "--targets", "1,2",
                 "--combos", "b+c,b∧i", "--interventions", "b,c", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for e in EXPERIMENTS:
        for suffix in (".csv", "_summary.csv", ".png", ".svg"):
            assert (out / f"{e}{suffix}").stat().st_size > 0, e + suffix
    for f in ("table.csv", "errors.csv", "jobs.csv", "examples.csv", "report.md"):
        assert (out / f).exists()
    assert (out / "table1.png").read_bytes()[:4] == b"\x89PNG"
    errors = pd.read_csv(out / "errors.csv")
    assert errors["error"].str.contains("past textbook's 128 positions").any()  # length 200: recorded, not fatal
    assert set(pd.read_csv(out / "lengths.csv")["n_tokens"]) == {16, 24}
    assert set(pd.read_csv(out / "combined.csv")["intervention"]) >= {"b∧c", "b∧i"}
    summary = pd.read_csv(out / "table1_summary.csv")
    assert (summary["n_seeds"] == 2).all() and "pct_of_baseline_sd" in summary
    md = (out / "report.md").read_text()
    assert "band [3, 5)" in md and "## dose" in md and "## not run" in md and "Published" not in md
    assert "did not run" in captured.out and "past textbook's 128 positions" in captured.err


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    lm = sinklab.load_model("sinklab-mini")
    root = tmp_path_factory.mktemp("steps")
    dirs = []
    for step, noise in ((100, 0.5), (200, 0.0)):
        m = copy.deepcopy(lm.model)
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(1 - noise).add_(noise * 0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
        m.save_pretrained(root / f"step_{step}")
        lm.tokenizer.save_pretrained(root / f"step_{step}")
        dirs.append(str(root / f"step_{step}"))
    return dirs


def test_report_emergence_over_checkpoint_directories(tmp_path, two_checkpoints, capsys):
    missing = str(tmp_path / "step_300")
    out = tmp_path / "emergence"
    code = main(["report", "--model", "sinklab-mini", "--experiments", "emergence", "--n", "2", "--tokens", "16",
                 "--domains", "nl", "--revisions", ",".join([*two_checkpoints, missing]), "--formats", "png",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "emergence.csv")
    assert list(table["step"]) == [100, 200]
    assert (out / "emergence.png").exists() and not (out / "emergence.svg").exists()
    errors = pd.read_csv(out / "errors.csv", keep_default_na=False)
    assert errors.loc[errors["setting"] == "", "revision"].tolist() == [missing]  # the only whole job lost


def test_report_emergence_over_hf_revision_names(tmp_path, two_checkpoints, capsys, monkeypatch):
    """--revisions with Hugging Face revision names: the real revision lookup, served by a local HF cache."""
    from helpers import fake_hub_cache

    from transformers import AutoTokenizer, GPT2LMHeadModel

    fake_hub_cache(monkeypatch, tmp_path / "hub", "sinklab-tests/mini-run",
                   {f"checkpoint-{s}": (GPT2LMHeadModel.from_pretrained(d), AutoTokenizer.from_pretrained(d))
                    for s, d in zip((100, 200), two_checkpoints)})
    out = tmp_path / "emergence"
    code = main(["report", "--model", "sinklab-tests/mini-run", "--experiments", "emergence", "--n", "2",
                 "--tokens", "16", "--domains", "nl", "--revisions", "checkpoint-100,checkpoint-200,checkpoint-300",
                 "--formats", "png", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "emergence.csv")
    assert list(table["step"]) == [100, 200] and list(table["revision"]) == ["checkpoint-100", "checkpoint-200"]
    errors = pd.read_csv(out / "errors.csv", keep_default_na=False)
    errors = errors[errors["setting"] == ""]  # whole jobs lost (a checkpoint may also skip (i): no massive coords)
    assert errors["revision"].tolist() == ["checkpoint-300"] and errors["error"].str.contains("offline").all()
    code = main(["report", "--model", "sinklab-mini", "--experiments", "emergence", "--n", "2", "--tokens", "16",
                 "--domains", "nl", "--revisions", ",".join(two_checkpoints), "--formats", "png",
                 "--out", str(tmp_path / "dirs")])
    assert code == 0
    by_dir = pd.read_csv(tmp_path / "dirs" / "emergence.csv")
    pd.testing.assert_series_equal(table["sink"], by_dir["sink"])


def test_report_keeps_the_models_that_load(tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "two"
    code = main(["report", "--model", "textbook,nobody/nothing", "--n", "2", "--tokens", "16", "--domains", "nl",
                 "--formats", "none", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert "nobody/nothing" in err and "Cannot load model" in err
    assert set(pd.read_csv(out / "table.csv")["model"]) == {"textbook"}
    assert not list(out.glob("*.png"))


def test_report_band_outside_every_model(tmp_path, capsys):
    code = main(["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--domains", "nl", "--band", "3-20",
                 "--formats", "none", "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err
    assert "outside its 6 layers" in err and "nothing could be computed" in err


def test_report_on_a_dask_scheduler_address(tmp_path, capsys):
    distributed = pytest.importorskip("dask.distributed")
    args = ["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--domains", "nl,code", "--seeds", "0,1",
            "--formats", "none", "--threads", "1"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        address = c.scheduler_address
        assert main([*args, "--engine", "dask", "--address", address, "--out", str(tmp_path / "dask")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "local" / "table.csv"),
                                  pd.read_csv(tmp_path / "dask" / "table.csv"), check_exact=True)
    assert f"Engine: dask ({address})" in (tmp_path / "dask" / "report.md").read_text()


@pytest.mark.parametrize("args,match", [
    (["--band", "middle"], "band must be one of"),
    (["--experiments", "table2"], "unknown experiment"),
    (["--experiments", "emergence"], "needs checkpoints"),
    (["--alphas", "0,x"], "alphas must be numbers"),
    (["--formats", "gif"], "png and svg"),
    (["--regimes", "poetry", "--experiments", "regimes"], "unknown content regime"),
    (["--seeds", "0,a"], "seeds must be integers"),
])
def test_report_bad_arguments(args, match, tmp_path, capsys):
    assert main(["report", "--model", "textbook", "--out", str(tmp_path / "bad"), *args]) == 2
    assert match in capsys.readouterr().err


def test_report_groups_what_did_not_run(tmp_path, capsys):
    """stderr has one line per (model, reason), not one per job, setting and α; report.md the same summary."""
    out = tmp_path / "grouped"
    code = main(["report", "--model", "textbook,sinklab-mini", "--n", "2", "--tokens", "16", "--seeds", "0,1",
                 "--experiments", "dose,lengths", "--lengths", "16,100,200", "--alphas", "0,0.5,1,1.5",
                 "--formats", "none", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    lines = [ln for ln in err.splitlines() if ln.startswith("sinklab: not run")]
    errors = pd.read_csv(out / "errors.csv")
    assert len(lines) == errors.groupby(["model", "error"]).ngroups < len(errors)
    assert any("sinklab-mini" in ln and "past sinklab-mini's 65 positions" in ln for ln in lines)
    assert "## not run" in (out / "report.md").read_text()


def test_report_passes_the_coordinate_definitions(tmp_path, capsys):
    out = tmp_path / "defs"
    code = main(["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--domains", "nl",
                 "--experiments", "table1,dose", "--alphas", "0,1", "--coords", "3,7", "--j-per-layer",
                 "--j-seed", "42", "--formats", "none", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    md = (out / "report.md").read_text()
    assert "(i): the coordinates 3, 7; (j): as many random coordinates, re-drawn in every layer" in md
    assert "seed 42" in md
    t = pd.read_csv(out / "table.csv").query("domain == 'nl'").set_index("intervention")["sink"]
    default = tmp_path / "default"
    assert main(["report", "--model", "textbook", "--n", "2", "--tokens", "16", "--domains", "nl",
                 "--formats", "none", "--out", str(default)]) == 0
    d = pd.read_csv(default / "table.csv").query("domain == 'nl'").set_index("intervention")["sink"]
    assert t["i"] != d["i"] and t["j"] != d["j"] and t["b"] == d["b"]


def test_configuration_is_read_at_the_cli_edge(tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("SINKLAB_OFFLINE", "1")
    monkeypatch.setenv("SINKLAB_THREADS", "2")
    monkeypatch.setenv("SINKLAB_MODEL", "textbook-structural")
    from sinklab import experiments

    seen, assemble = [], experiments.assemble
    monkeypatch.setattr(experiments, "assemble", lambda *a, **k: seen.append(constants.HF_HUB_OFFLINE) or assemble(*a, **k))
    threads = torch.get_num_threads()
    try:
        assert main(["report", "--n", "2", "--tokens", "16", "--domains", "nl", "--formats", "none",
                     "--out", str(tmp_path / "cfg")]) == 0
        assert torch.get_num_threads() == 2  # SINKLAB_THREADS: the jobs' torch threads
    finally:
        torch.set_num_threads(threads)
    assert seen == [True]  # SINKLAB_OFFLINE: no hub while the report ran...
    assert constants.HF_HUB_OFFLINE is False and os.environ["HF_HUB_OFFLINE"] == "0"  # ...and restored after
    table = pd.read_csv(tmp_path / "cfg" / "table.csv")
    assert set(table["model"]) == {"textbook-structural"}  # SINKLAB_MODEL: the default --model
    assert "offline" in (tmp_path / "cfg" / "report.md").read_text()
    assert main(["report", "--model", "textbook", "--threads", "1", "--n", "2", "--tokens", "16", "--domains", "nl",
                 "--formats", "none", "--out", str(tmp_path / "flags")]) == 0  # flags win
    assert torch.get_num_threads() == 1


def test_report_dtype_flag_on_the_cpu(tmp_path, capsys):
    code = main(["report", "--model", "textbook", "--dtype", "bfloat16", "--n", "2", "--tokens", "16",
                 "--domains", "nl", "--formats", "none", "--out", str(tmp_path / "bf16")])
    assert code == 2 and "bf16/fp16 are for GPUs" in capsys.readouterr().err


@pytest.mark.parametrize("args,match", [
    (["--interventions", "b,zz", "--experiments", "lengths"], "unknown intervention 'zz'; valid:"),
    (["--combos", "b+q", "--experiments", "combined"], "unknown intervention 'q'"),
    (["--coords", "1,x"], "--coords must be integers"),
    (["--coords", "1,2", "--i-top", "3"], "not both"),
])
def test_report_refuses_bad_labels_and_definitions(args, match, tmp_path, capsys):
    assert main(["report", "--model", "textbook", "--out", str(tmp_path / "bad"), *args]) == 2
    assert match in capsys.readouterr().err


def test_report_structural_on_both_real_models_and_the_nope_specimen(tmp_path, capsys):
    """`sinklab report --experiments structural` at CI size on SmolLM2, Gemma 3 and textbook-structural: every model
    runs, nothing is recorded as failed, and each model's found layer and coordinate are the finder's own on the
    same inputs (the report recomputes nothing by hand)."""
    from sinklab.analyses import structural
    from sinklab.inputs.corpora import load_corpora

    out = tmp_path / "structural"
    models = ("smollm2-135m", "gemma-3-270m", "textbook-structural")
    code = main(["report", "--model", ",".join(models), "--experiments", "structural", "--n", "2", "--seeds", "0",
                 "--domains", "nl", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert pd.read_csv(out / "errors.csv").empty
    table = pd.read_csv(out / "structural.csv")
    assert set(table["model"]) == set(models)
    effects = table[table["part"] == "effect"]
    for name in models:
        rows = effects[effects["model"] == name]
        assert (rows.loc[rows["setting"] == "baseline", "pct_of_baseline"] == 100).all()
        assert len(rows) > 1, f"{name}: only the baseline ran"
        examples = pd.read_csv(out / "examples.csv")
        assert (examples["model"] == name).any()
    lm = sinklab.load_model("smollm2-135m")
    ids = load_corpora(lm.tokenizer, n=2, n_tokens=40, seed=0, domains=("nl",))["nl"].ids
    found, _ = structural.find(lm.model, ids, torch.ones_like(ids))
    row = effects[(effects["model"] == "smollm2-135m") & (effects["setting"] == "baseline")].iloc[0]
    assert (int(row["found_layer"]), int(row["coord"])) == (found.layer, found.coord)
