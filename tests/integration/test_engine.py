"""sinklab.experiments.engine: jobs in-process and on a Dask LocalCluster give the same tables; failures are rows, not crashes."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: torch on one thread)
from sinklab import experiments as ex
from sinklab.experiments.engine import JobResult, LocalEngine, execute, make_engine
from sinklab.model.loading import load_cached
from sinklab.experiments.jobs import Job


PLAN = dict(models=("textbook", "sinklab-mini"), experiments=("table1", "lengths", "pathways"), seeds=(0, 1), n=2,
            n_tokens=16, lengths=(16, 100), domains=("nl", "code"))


@pytest.fixture
def plain_main(monkeypatch):
    """Worker processes start by 'spawn', which re-runs the parent's __main__ file. In one pytest process the
    app tests (Streamlit's AppTest) leave app/streamlit_app.py as __main__; a plain __main__ is what a script
    or the `sinklab` command gives the workers."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


@pytest.mark.slow  # starts two worker processes (Python, torch and the models in each)
def test_dask_local_cluster_of_processes_equals_serial(plain_main):
    """Two worker PROCESSES: jobs and results are pickled, each worker loads the bundled models into its own
    cache; the gathered tables equal the serial run's exactly."""
    pytest.importorskip("dask.distributed")
    plan = ex.Plan(**PLAN)
    serial = ex.run_plan(plan, engine=LocalEngine(threads=1))
    engine = make_engine("dask", workers=2, threads=1, processes=True)
    try:
        assert "LocalCluster of 2 workers" in engine.describe()
        distributed = ex.run_plan(plan, engine=engine)
    finally:
        engine.close()
    import os

    pids = {w.split(":")[0] for w in distributed.jobs["worker"]}
    assert str(os.getpid()) not in pids and len(pids) >= 1  # every job ran in a worker process
    for name in plan.experiments:
        assert len(serial.tables[name])
        pd.testing.assert_frame_equal(serial.tables[name], distributed.tables[name], check_exact=True)
        pd.testing.assert_frame_equal(serial.summaries[name], distributed.summaries[name], check_exact=True)
    pd.testing.assert_frame_equal(serial.errors, distributed.errors)
    # sinklab-mini has 65 positions: its length-100 jobs failed, nothing else was lost
    assert set(serial.errors["model"]) == {"sinklab-mini"} and (serial.errors["n_tokens"] == 100).all()
    assert len(distributed.jobs) == len(plan.jobs())
    pd.testing.assert_frame_equal(serial.examples, distributed.examples, check_exact=True)


def test_a_failing_job_is_a_result():
    r = execute(Job(model="textbook", seed=0, regime="nl", n_tokens=500))
    assert isinstance(r, JobResult) and not r.ok
    assert r.error_type == "BadInput" and "past textbook's 128 positions" in r.error
    r = execute(Job(model="textbook", seed=0, regime="nl", n_tokens=16, band="2-9"))
    assert "outside its 6 layers" in r.error
    r = execute(Job(model="textbook", revision="/no/such/checkpoint", seed=0, regime="nl", n_tokens=16))
    assert r.error_type == "ModelUnavailable" and "does not exist" in r.error


def test_unsupported_family_names_the_supported_ones(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    from sinklab.model.bytetok import byte_tokenizer

    path = tmp_path / "bert"
    BertForMaskedLM(BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=32,
                               vocab_size=257)).save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    res = ex.run_plan(ex.Plan(models=(str(path), "textbook"), seeds=(0,), n=2, n_tokens=16, domains=("nl",)))
    err = res.errors[res.errors["model"] == str(path)]
    assert len(err) == 1 and "'bert' models are not supported" in err["error"].item()
    for family in ("gpt2", "gpt_neo", "opt", "llama", "qwen2"):
        assert family in err["error"].item()
    assert set(res.tables["table1"]["model"]) == {"textbook"}  # the other model's results are kept


def test_models_load_once_per_process():
    assert load_cached("textbook") is load_cached("textbook")


def test_a_registered_model_refuses_another_dtype():
    from sinklab.model.bytetok import byte_tokenizer
    from sinklab.model.loading import clear_cache, register
    from sinklab.model.families import random_model

    register("tiny-registered", random_model("gpt2", vocab_size=257), byte_tokenizer())
    try:
        r = execute(Job(model="tiny-registered", seed=0, regime="nl", n_tokens=12, dtype="float16"))
        assert r.error_type == "BadInput" and "registered in memory as float32" in r.error
    finally:
        clear_cache()


def test_engine_arguments():
    with pytest.raises(sinklab.BadInput, match="engine must be one of"):
        make_engine("spark")
    with pytest.raises(sinklab.BadInput, match="for --engine dask"):
        make_engine("local", address="tcp://127.0.0.1:1")
    pytest.importorskip("dask.distributed")
    with pytest.raises(sinklab.BadInput, match="cannot reach the Dask scheduler"):
        from sinklab.experiments.engine import DaskEngine

        DaskEngine(address="tcp://127.0.0.1:9", timeout="1s")


@pytest.mark.slow  # two worker processes, and SmolLM2 in one of them
def test_the_structural_experiment_is_reproducible_and_the_same_on_dask(plain_main):
    """The structural experiment from a data seed: the same tables twice in-process, and on two Dask worker
    processes (a real model included: SmolLM2's super neurons, coordinate 507, the random control's draws)."""
    pytest.importorskip("dask.distributed")
    plan = ex.Plan(models=("textbook-structural", "smollm2-135m"), experiments=("structural",), seeds=(0, 1), n=2,
                   n_tokens=16, domains=("nl", "code"), amplify_factors=(5.0,), control_seeds=(0, 1))
    first = ex.run_plan(plan, engine=LocalEngine(threads=1))
    again = ex.run_plan(plan, engine=LocalEngine(threads=1))
    t = first.tables["structural"]
    per_domain = t[(t["model"] == "smollm2-135m") & (t["part"] == "effect") & (t["domain"] != "all")]
    assert set(per_domain["domain"]) == {"nl", "code"}
    assert set(per_domain["found_layer"]) == {11}  # the pooled "all" rows carry no finder columns
    assert {"zero_neurons", "zero_random_neurons:0", "zero_random_neurons:1", "zero_massive", "isolate", "amplify:5",
            "rmsnorm", "skip_mlp"} <= set(t["setting"])
    pd.testing.assert_frame_equal(t, again.tables["structural"], check_exact=True)
    engine = make_engine("dask", workers=2, threads=1, processes=True)
    try:
        distributed = ex.run_plan(plan, engine=engine)
    finally:
        engine.close()
    pd.testing.assert_frame_equal(t, distributed.tables["structural"], check_exact=True)
    pd.testing.assert_frame_equal(first.summaries["structural"], distributed.summaries["structural"], check_exact=True)
