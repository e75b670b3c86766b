"""Experiments as one-file extensions: a new experiment (experiment_widths.py, one file) appears in `sinklab report
--help`, its CSVs, its figure, report.md and as ex.widths(...); a wrong or missing declaration fails when the class
is defined, and a table its declaration does not describe fails loudly when it is built."""
from __future__ import annotations

import importlib
import sys

import pandas as pd
import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: torch on one thread)
from sinklab import experiments as ex
from sinklab.analyses import metrics
from sinklab.cli import main
from sinklab.experiments.experiment import REGISTRY, DeclarationError, Experiment, Option, unregister
from sinklab.inputs.corpora import load_corpus

BUILT_IN = ("table1", "lengths", "regimes", "combined", "dose", "pathways", "relocation", "cost", "emergence",
            "delta", "structural")


@pytest.fixture
def widths():
    """The one-file experiment, registered for this test only."""
    module = importlib.import_module("experiment_widths")
    try:
        yield module.Widths
    finally:
        unregister("widths")
        sys.modules.pop("experiment_widths", None)


def test_the_built_in_experiments_are_registered_in_report_order():
    assert tuple(REGISTRY) == BUILT_IN
    assert list(ex.EXPERIMENTS) == list(BUILT_IN) and ex.EXPERIMENTS["table1"].startswith("every signature")


def test_a_new_experiment_is_one_file(widths, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    help_text = capsys.readouterr().out
    assert "--widths WIDTHS" in help_text and "band widths of the widths experiment (default 1,2)" in help_text
    assert "widths      the baseline sink over the first w layers" in help_text

    out = tmp_path / "run"
    assert main(["report", "--model", "textbook", "--experiments", "widths,table1", "--widths", "1,3", "--n", "2",
                 "--tokens", "16", "--domains", "nl", "--formats", "svg", "--threads", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    for name in ("widths.csv", "widths_summary.csv", "widths.svg", "table1.csv", "report.md"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "widths.csv")
    assert list(table.columns) == ["model", "seed", "domain", "width", "n", "sink"]
    lm = sinklab.load_model("textbook")
    ids = load_corpus("nl", lm.tokenizer, n=2, n_tokens=16, seed=42).ids
    want = metrics.sink_score(sinklab.run(lm.model, ids), layers=(0, 3)).mean()
    assert table.set_index("width").loc[3, "sink"] == pytest.approx(float(want), rel=1e-6)
    summary = pd.read_csv(out / "widths_summary.csv")
    assert list(summary.columns) == ["model", "domain", "width", "n_seeds", "sink_mean", "sink_sd"]
    report = (out / "report.md").read_text()
    assert "## widths\n\nthe baseline sink over the first w layers, for each band width w (a test experiment)." in report
    assert "| model | domain | width | sink |" in report

    res = ex.widths("textbook", (2,), n=2, n_tokens=16, domains=("nl",), seeds=(0, 1))  # and as a function
    assert list(res.summary["width"]) == [2] and res.summary["n_seeds"].item() == 2
    assert ex.Plan(models=("textbook",), experiments=("widths",), widths=(1, 4)).widths == (1, 4)
    assert ex.Plan(models=("textbook",), experiments=tuple(REGISTRY)[-1:]).experiments == ("widths",)


def test_a_new_experiment_leaves_no_trace_once_unregistered(capsys):
    assert "widths" not in REGISTRY  # the fixture above cleaned up
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--widths" not in capsys.readouterr().out
    with pytest.raises(sinklab.BadInput, match="unknown plan option"):
        ex.Plan(models=("textbook",), widths=(1,))


def _define(name="t_bad", doc="a test experiment", **body):
    """Define an experiment class from keyword declarations (TypeError if it is declared wrongly)."""
    base = dict(keys=("model", "domain"), values=("sink",), settings=lambda self, plan: ("baseline",),
                table=lambda self, raw, plan: pd.DataFrame(), __doc__=doc)
    base.update(body)
    cls = type("Bad", (Experiment,), base, name=name)  # a wrong declaration raises here, before registering
    unregister(name)
    return cls


@pytest.mark.parametrize("body,match", [
    (dict(__doc__=None), "description"),
    (dict(keys=()), "keys"),
    (dict(values=()), "values"),
    (dict(keys=("model", "sink")), "both in keys and values"),
    (dict(per_seed=("seed",)), "'seed'"),
    (dict(shown=("model", "nope")), "shown columns"),
    (dict(carried={"step": "last"}), "carried"),
    (dict(keys=["model"]), "must be a tuple"),
    (dict(table=Experiment.table), "implement table"),
    (dict(published="beside.table1_rows"), "published must be a function"),
    (dict(options=(Option("alphas", (9.0,), "another alphas", kind=float),)), "declared differently"),
    (dict(required=("revisions",)), "required option"),
])
def test_a_wrong_declaration_fails_when_the_class_is_defined(body, match):
    with pytest.raises(TypeError, match=match):
        _define(**body)


def test_a_taken_name_is_refused():
    with pytest.raises(TypeError, match="taken by"):
        _define(name="dose")
    assert type(REGISTRY["dose"]).__name__ == "Dose"


def test_a_table_its_declaration_does_not_describe_fails_loudly():
    """A value column the declaration forgot would have become a grouping key: it raises instead."""
    def table(self, raw, plan):
        t = raw.examples[raw.examples["setting"] == "baseline"]
        return pd.DataFrame({"model": t["model"], "seed": t["seed"], "domain": t["regime"], "sink": t["first"],
                             "undeclared": t["target"]})

    cls = type("Loose", (Experiment,), dict(__doc__="a test experiment with a column it does not declare",
                                           keys=("model", "domain"), values=("sink",),
                                           settings=lambda self, plan: ("baseline",), table=table), name="t_loose")
    try:
        with pytest.raises(DeclarationError, match=r"columns \['undeclared'\] are neither keys, values"):
            ex.run_plan(ex.Plan(models=("textbook",), experiments=("t_loose",), n=2, n_tokens=12, domains=("nl",)))
    finally:
        unregister("t_loose")
    assert cls.name == "t_loose" and torch.get_num_threads() == 1


def test_a_file_dropped_in_the_catalogue_is_an_experiment(tmp_path):
    """In a copy of the package: experiment_widths.py copied into experiments/catalogue/ is loaded with the others."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    shutil.copytree(root / "sinklab", tmp_path / "sinklab", ignore=shutil.ignore_patterns("bundled", "*.pyc"))
    shutil.copy(Path(__file__).with_name("experiment_widths.py"), tmp_path / "sinklab" / "experiments" / "catalogue")
    out = subprocess.run([sys.executable, "-c", "import sinklab.experiments as ex; print(list(ex.REGISTRY))"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str([*BUILT_IN, "widths"])
