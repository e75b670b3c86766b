"""Experiments (sinklab.experiments) on the planted textbook model, small random configs and local checkpoints."""
from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: torch on one thread)
from sinklab import experiments as ex, metrics
from sinklab.model.bytetok import byte_tokenizer
from sinklab.model.loading import clear_cache, load_cached, register
from sinklab.analyses import bands
from sinklab.published import beside as published
from sinklab.interventions import InterpolatePE, ScaleKeyRows
from sinklab.inputs.regimes import REGIMES, check_length, make_inputs
from sinklab.model.families import random_model
from sinklab.interventions import REGISTRY, make


def pub_for(experiment: str, info):
    """The published rows beside the models of `info`, as the experiment declares them."""
    return published.for_models(ex.REGISTRY[experiment].published, info)


# ------------------------------------------------------------------------------------------ definitions
def test_bands_on_12_layers_agree_and_differ_on_6():
    assert {b: bands.resolve(b, 12) for b in ("paper", "extension", "authors")} == {
        "paper": (3, 11), "extension": (3, 11), "authors": (3, 11)}
    assert bands.resolve("paper", 6) == (1, 5)
    assert bands.resolve("extension", 6) == (3, 5)
    assert bands.resolve("authors", 6) == (3, 6)
    assert bands.resolve("authors", 24) == (3, 11)
    assert bands.resolve("extension", 24) == (3, 23)
    assert bands.resolve("2-4", 6) == (2, 4)


@pytest.mark.parametrize("spec,n_layer,match", [("3-20", 6, "outside its 6 layers"), ("authors", 3, "outside its 3"),
                                                ("extension", 4, "outside its 4"), ("4-2", 6, "A < B"),
                                                ("middle", 6, "paper, extension, authors")])
def test_bad_bands(spec, n_layer, match):
    with pytest.raises(sinklab.BadInput, match=match):
        bands.resolve(spec, n_layer)


def test_regimes_seeded_and_shaped(textbook):
    tok, V = textbook.tokenizer, textbook.info.vocab_size
    for r in REGIMES:
        ids, src = make_inputs(tok, V, r, 3, 24, seed=1)
        assert ids.shape == (3, 24) and ids.dtype == torch.long and int(ids.max()) < V and src
        again, _ = make_inputs(tok, V, r, 3, 24, seed=1)
        assert torch.equal(ids, again)
    rep, _ = make_inputs(tok, V, "repeated", 4, 16, seed=0)
    assert (rep == rep[:, :1]).all()
    text, _ = make_inputs(tok, V, "text", 4, 16, seed=3)
    shuf, _ = make_inputs(tok, V, "shuffled", 4, 16, seed=3)
    assert torch.equal(text.sort(-1).values, shuf.sort(-1).values) and not torch.equal(text, shuf)
    long, _ = make_inputs(tok, V, "text", 2, 128, seed=0)  # any length up to the positions
    assert long.shape == (2, 128)
    assert not torch.equal(make_inputs(tok, V, "uniform", 3, 8, 0)[0], make_inputs(tok, V, "uniform", 3, 8, 1)[0])
    with pytest.raises(sinklab.BadInput, match="past textbook's 128 positions"):
        check_length(256, 128, "textbook")
    with pytest.raises(sinklab.BadInput, match="unknown content regime"):
        make_inputs(tok, V, "poetry", 3, 8, 0)


def test_dose_interventions(textbook):
    assert REGISTRY["scale_wk"] is ScaleKeyRows and ScaleKeyRows.in_signature is False
    assert InterpolatePE not in REGISTRY.values()
    assert "scale_wk" not in ex.plan.signature_names()
    ids = make_inputs(textbook.tokenizer, 257, "nl", 2, 20, 0)[0]
    coords = tuple(textbook.meta["massive_coords"])
    score = lambda iv: metrics.sink_score(sinklab.run(textbook.model, ids, interventions=iv), 0)  # noqa: E731
    base = score(None)
    torch.testing.assert_close(score(ScaleKeyRows(alpha=0.0, coords=coords)), score(make("i", coords=coords)))
    torch.testing.assert_close(score(ScaleKeyRows(alpha=1.0, coords=coords)), base)
    torch.testing.assert_close(score(InterpolatePE(alpha=0.0)), score(make("c")))
    torch.testing.assert_close(score(InterpolatePE(alpha=1.0)), base)


# ------------------------------------------------------------------------------------------ one run, many experiments
@pytest.fixture(scope="module")
def run_textbook():
    plan = ex.Plan(models=("textbook",), experiments=tuple(e for e in ex.EXPERIMENTS if e != "emergence"),
                   seeds=(0, 1), n=2, n_tokens=20, lengths=(16, 24, 256), domains=("nl", "code"),
                   regimes=("nl", "text", "uniform", "unigram", "shuffled", "repeated"), alphas=(0, 0.5, 1, 1.5),
                   targets=(1, 3))
    return ex.run_plan(plan)


def test_every_experiment_has_tidy_tables(run_textbook):
    res = run_textbook
    for e in res.plan.experiments:
        assert len(res.tables[e]), e
        assert set(res.tables[e]["seed"]) == {0, 1}, e
        s = res.summaries[e]
        assert (s["n_seeds"] == 2).all(), e
        assert any(c.endswith("_sd") for c in s.columns), e
    assert not res.published  # textbook has no published shape
    t1 = res.tables["table1"]
    assert set(t1["domain"]) == {"nl", "code", "all"}
    assert set(t1["intervention"]) == set(ex.plan.signature_names())


def test_table1_planted_answers(run_textbook):
    s = run_textbook.summaries["table1"].set_index(["domain", "intervention"])
    assert s.loc[("all", "baseline"), "pct_of_baseline_mean"] == pytest.approx(100)
    assert s.loc[("all", "b"), "pct_of_baseline_mean"] < 30  # the planted sink needs b_Q
    assert s.loc[("all", "i"), "pct_of_baseline_mean"] < 30
    assert s.loc[("all", "e"), "pct_of_baseline_mean"] == pytest.approx(100, abs=2)  # control


def test_pathways_split_on_textbook(run_textbook):
    p = run_textbook.summaries["pathways"]
    v = p[p["domain"] == "all"].set_index("measure")["value_mean"]
    # textbook's sink runs through b_Q only: the bias term alone reproduces it, the content term does not
    assert v["bias_only"] == pytest.approx(v["full"], rel=0.15)
    assert v["content_only"] < 0.3 * v["full"]
    assert 0.5 < v["delta_share"] <= 1
    # the full pathway is the model's own pattern: equal to the baseline sink of table1
    t1 = run_textbook.tables["table1"]
    base = t1[(t1["intervention"] == "baseline")].set_index(["seed", "domain"])["sink"]
    full = run_textbook.tables["pathways"].query("measure == 'full'").set_index(["seed", "domain"])["value"]
    pd.testing.assert_series_equal(full.sort_index(), base.sort_index(), check_names=False, rtol=1e-6)


def test_combined_is_composition(run_textbook, textbook):
    c = run_textbook.tables["combined"]
    assert {"b∧c", "b∧d", "b∧i", "b∧i∧d", "b", "c"} <= set(c["intervention"])
    ids = make_inputs(textbook.tokenizer, 257, "nl", 2, 20, 0)[0]
    tr = sinklab.run(textbook.model, ids, interventions=(make("b"), make("c")))
    band = bands.resolve("paper", 6)
    want = float(metrics.sink_score(tr, 0, layers=band).mean())
    got = c.query("seed == 0 and domain == 'nl' and intervention == 'b∧c'")["sink"].item()
    assert got == pytest.approx(want, rel=1e-5)


def test_dose_grid(run_textbook):
    d = run_textbook.tables["dose"].query("domain == 'all'")
    t1 = run_textbook.tables["table1"].query("domain == 'all'").set_index(["seed", "intervention"])["sink"]
    for seed in (0, 1):
        g = d[d["seed"] == seed].set_index(["curve", "alpha"])["sink"]
        assert g[("pe", 0.0)] == pytest.approx(t1[(seed, "c")], rel=1e-5)  # α = 0 is (c)
        assert g[("pe", 1.0)] == pytest.approx(t1[(seed, "baseline")], rel=1e-5)  # α = 1 is the identity
        assert g[("scale_wk", 1.0)] == pytest.approx(t1[(seed, "baseline")], rel=1e-5)
        assert g[("b", 0.0)] == pytest.approx(t1[(seed, "b")], rel=1e-5)
        assert g[("scale_wk", 0.0)] < g[("scale_wk", 0.5)] < g[("scale_wk", 1.0)]
        assert ("scale_wk", 1.5) in g.index and ("pe", 1.5) in g.index
    assert REGISTRY["b"].params()["alpha"][1].high == 1.5  # the extension's dose grid reaches 1.5
    assert ("b", 1.5) in d.set_index(["curve", "alpha"]).index
    assert not (run_textbook.errors["setting"] == "dose:b:1.5").any()


def test_relocation_and_cost(run_textbook):
    r = run_textbook.tables["relocation"]
    assert set(r["target"]) == {1, 3}
    assert (r["ratio"] == r["moved_to_target"] / r["baseline_at_0"]).all()
    assert (r.query("target == 1")["ratio"] > 0.5).all()  # the transplant moves textbook's sink
    c = run_textbook.tables["cost"]
    base = c[c["intervention"] == "baseline"]
    assert (base["ce_change"] == 0).all()
    assert {"dose:b:0.5", "dose:b:0.75"} <= set(c["intervention"])
    assert c.groupby(["seed", "domain"])["on_frontier"].any().all()


def test_lengths_and_regimes(run_textbook):
    L = run_textbook.tables["lengths"]
    assert set(L["n_tokens"]) == {16, 24}  # 256 is past textbook's positions: an error row, not a crash
    assert (L[L["intervention"] == "baseline"]["pct_of_baseline"] == 100).all()
    errs = run_textbook.errors
    assert (errs["n_tokens"] == 256).sum() == 2 and errs.loc[errs["n_tokens"] == 256, "error"].str.contains(
        "past textbook's 128 positions").all()
    R = run_textbook.tables["regimes"]
    assert set(R["regime"]) == {"nl", "text", "uniform", "unigram", "shuffled", "repeated"}


# ------------------------------------------------------------------------------------------ random configs
@pytest.fixture
def registered():
    names = []

    def reg(name, model_type, **kw):
        register(name, random_model(model_type, vocab_size=257, **kw), byte_tokenizer())
        names.append(name)
        return name

    yield reg
    clear_cache()


def test_random_gpt2_pathways_full_equals_baseline(registered):
    name = registered("tiny-gpt2", "gpt2", n_layer=4)
    res = ex.run_plan(ex.Plan(models=(name,), experiments=("table1", "pathways"), seeds=(0,), n=2, n_tokens=12,
                         domains=("nl",), band="0-4", i_top=2))
    assert res.errors.empty
    t = res.tables["table1"].query("intervention == 'baseline'")["sink"].item()
    p = res.tables["pathways"].set_index("measure")["value"]
    assert p["full"] == pytest.approx(t, rel=1e-5)
    assert 0 <= p["content_only"] <= 1 and 0 <= p["bias_only"] <= 1


def test_no_massive_coordinate_is_a_clear_not_run_row(registered):
    """The kσ rule finding nothing (the intervention's own NotApplicable) is a 'not run' row naming the rule,
    for (i), (j) and scale_wk alike; the rest of the job runs. On textbook no coordinate exceeds mean + 50σ."""
    res = ex.run_plan(ex.Plan(models=("textbook",), experiments=("table1", "dose"), seeds=(0,), n=2, n_tokens=12,
                         domains=("nl",), alphas=(0, 1), i_k_sigma=50.0))
    rows = res.errors.set_index("setting")
    assert {"i", "j", "dose:scale_wk:0", "dose:scale_wk:1"} <= set(rows.index)
    for s in ("i", "j", "dose:scale_wk:0"):
        assert rows.loc[s, "error_type"] == "not run" and "no EPE_0 coordinate exceeds mean + 50σ" in rows.loc[s, "error"]
    assert {"i", "j"}.isdisjoint(res.tables["table1"]["intervention"])
    assert {"b", "c"} <= set(res.tables["table1"]["intervention"])
    summary = ex.tables.not_run(res.errors)
    assert "the scale_wk dose curve" in summary["what"].str.cat(sep=" ")
    from sinklab.experiments.output import markdown

    assert "no EPE_0 coordinate exceeds mean + 50σ" in markdown(res)


def test_random_gpt2_without_massive_coordinates(registered):
    """On a random GPT-2 the kσ rule finds no massive coordinate: (i) and (j) are 'not run' rows saying so
    (never a silent 100 %), and --i-top gives them coordinates."""
    from sinklab.analyses.epe import massive_coords

    name = registered("tiny-gpt2", "gpt2", n_layer=4)
    if massive_coords(load_cached(name).model):
        pytest.skip("this random model has a massive coordinate")
    res = ex.run_plan(ex.Plan(models=(name,), experiments=("table1",), seeds=(0,), n=2, n_tokens=12, domains=("nl",),
                         band="0-4"))
    err = res.errors.set_index("setting")
    assert {"i", "j"} <= set(err.index) and err.loc["i", "error"].find("mean + 3σ") > 0
    assert not (res.tables["table1"]["intervention"].isin(["i", "j"])).any()


def test_rotary_model_records_what_does_not_apply(registered):
    name = registered("tiny-llama", "llama", num_hidden_layers=4)
    res = ex.run_plan(ex.Plan(models=(name,), experiments=("table1", "pathways"), seeds=(0,), n=2, n_tokens=12,
                         domains=("nl",), band="1-3"))
    skipped = set(res.errors["setting"])
    assert {"c", "b", "pathways"} <= skipped  # no first PE to remove; no query bias; no rotation-free decomposition
    assert "rotary" in res.errors.set_index("setting").loc["pathways", "error"]
    assert "no query bias" in res.errors.set_index("setting").loc["b", "error"]
    t1 = res.tables["table1"]
    assert {"baseline", "g"} <= set(t1["intervention"])  # the rest ran


# ------------------------------------------------------------------------------------------ published: by identity
def _meta_model(model_type: str, name_or_path: str = "", **cfg):
    """A LoadedModel of a published model's exact shape, on the meta device (no weights: identity only)."""
    import transformers

    from sinklab.model.families import HF_CLASSES
    from sinklab.model.loading import _finish

    config = getattr(transformers, {"gpt2": "GPT2Config", "llama": "LlamaConfig", "opt": "OPTConfig",
                                    "gpt_neo": "GPTNeoConfig", "qwen2": "Qwen2Config"}[model_type])(**cfg)
    with torch.device("meta"):
        model = getattr(transformers, HF_CLASSES[model_type])(config)
    model.config._name_or_path = name_or_path
    return model


def _loaded(model, name, source="HF cache"):
    from sinklab.model.families import of
    from sinklab.model.loading import LoadedModel, ModelInfo

    f = of(model)
    info = ModelInfo(name=name, n_layer=f.n_layer, n_head=f.n_head, d_model=f.d_model, n_positions=f.n_positions,
                     vocab_size=f.vocab_size, source=source, device="meta", dtype="float32", family=f.name)
    return LoadedModel(model=model, tokenizer=None, info=info)


def test_published_models_are_matched_by_identity_not_shape(tmp_path):
    from sinklab.published import reference

    small = dict(n_layer=12, n_head=12, n_embd=768)
    assert reference.is_gpt2_small(_loaded(_meta_model("gpt2", **small), "gpt2").info)
    assert reference.is_gpt2_small(_loaded(_meta_model("gpt2", **small), "openai-community/gpt2", "HF hub"))
    rand = _loaded(_meta_model("gpt2", **small), "gpt2-rand")  # GPT-2 small's exact shape, another name
    assert reference.identify(rand) is None and not reference.is_gpt2_small(rand)
    named = _loaded(_meta_model("gpt2", "gpt2", **small), "gpt2-rand")  # its config was made FROM gpt2: not it
    assert reference.identify(named) is None
    d = tmp_path / "gpt2"  # a local directory, even one named like the model: it may hold a fine-tuned copy
    assert reference.identify(_loaded(_meta_model("gpt2", "gpt2", **small), str(d), "local directory")) is None
    assert reference.identify(_loaded(_meta_model("gpt2", **small), "gpt2", "checkpoint directory of gpt2")) is None
    assert reference.identify(_loaded(_meta_model("gpt2", **small), "gpt2", "HF cache, revision step-100")) is None
    assert reference.identify(_loaded(_meta_model("gpt2", **small), "gpt2", "HF cache, revision main")) == "GPT-2 small"
    llama = _loaded(_meta_model("llama", "gpt2", num_hidden_layers=12, num_attention_heads=12, hidden_size=768,
                                intermediate_size=64), "gpt2")  # the name, not the family
    assert reference.identify(llama) is None
    wrong = _loaded(_meta_model("gpt2", "gpt2", n_layer=6, n_head=12, n_embd=768), "gpt2")  # the name, not the shape
    assert reference.identify(wrong) is None
    opt = _meta_model("opt", num_hidden_layers=12, num_attention_heads=12, hidden_size=768, ffn_dim=64,
                      word_embed_proj_dim=768)
    assert reference.identify(_loaded(opt, "facebook/opt-125m")) == "OPT-125M"
    neo = _loaded(_meta_model("gpt_neo", num_layers=12, num_heads=12, hidden_size=768,
                              attention_types=[[["global", "local"], 6]]), "EleutherAI/gpt-neo-125M")
    qwen = _loaded(_meta_model("qwen2", num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                               hidden_size=896, intermediate_size=64), "Qwen/Qwen2.5-0.5B")
    assert (reference.identify(neo), reference.identify(qwen)) == ("GPT-Neo 125M", "Qwen2.5-0.5B")


def test_published_rows_stand_beside_the_model_they_are():
    info = pd.DataFrame([{"model": "gpt2", "published_as": "GPT-2 small"},
                         {"model": "my-big", "published_as": "GPT-2 large"},
                         {"model": "neo", "published_as": "GPT-Neo 125M"},
                         {"model": "gpt2-rand", "published_as": ""}])
    for e in set(ex.EXPERIMENTS) - {"emergence", "structural"}:  # emergence: published for the Stanford-CRFM runs
        # (below); structural: nobody has published these numbers for any model
        pub = pub_for(e, info)
        assert pub is not None and len(pub), e
        assert pub["source"].str.startswith("published by").all()
        assert "gpt2-rand" not in set(pub["model"]), e
        assert {"band", "band_start", "band_stop"} <= set(pub.columns), e
    t1 = pub_for("table1", info)
    assert set(t1[t1["model"] == "my-big"]["reference_model"]) == {"GPT-2 large"}
    neo = t1[t1["model"] == "neo"].set_index("intervention")
    assert neo.loc["c", "pct_of_baseline"] == 5.9 and (neo["band"] == "[3, 11)").all()
    assert set(t1[t1["model"] == "my-big"]["band_stop"]) == {35}  # [3, L-1) on GPT-2 large's 36 layers
    pw = pub_for("pathways", info).query("model == 'gpt2'").set_index("measure")["value"]
    assert pw["bias_only"] == 0.3765 and pw["content_only"] == 0.2105
    assert pub_for("delta", info)["model"].unique().tolist() == ["gpt2"]
    assert pub_for("emergence", info) is None  # the extension's runs are not GPT-2 small itself
    crfm = pub_for("emergence", pd.DataFrame([{"model": "stanford-crfm/alias-gpt2-small-x21",
                                                            "name": "stanford-crfm/alias-gpt2-small-x21",
                                                            "family": "gpt2", "n_layer": 12, "n_head": 12,
                                                            "d_model": 768}]))
    assert crfm is not None and set(crfm["measure"]) >= {"sink", "epe_max"}


@pytest.mark.slow
def test_a_random_gpt2_small_shaped_model_gets_no_published_numbers(registered):
    """End to end: the job records what the model is; only GPT-2 small loaded by its hub id brings the published rows."""
    from dataclasses import replace

    from sinklab.model import loading

    name = registered("gpt2-rand", "gpt2", n_layer=12, n_head=12, n_embd=768, n_positions=16)
    plan = dict(experiments=("table1",), seeds=(0,), n=1, n_tokens=8, domains=("nl",))
    res = ex.run_plan(ex.Plan(models=(name,), **plan))
    assert res.info["published_as"].tolist() == [""] and not res.published
    lm = load_cached(name)
    lm.model.config._name_or_path = "gpt2"  # a config naming what it was made from is not enough
    res = ex.run_plan(ex.Plan(models=(name,), **plan))
    assert res.info["published_as"].tolist() == [""] and not res.published
    as_hub = loading.register("gpt2", lm.model, lm.tokenizer)  # as if `gpt2` had been loaded from the HF cache
    loading._CACHE[("gpt2", "", "", "")] = replace(as_hub, info=replace(as_hub.info, source="HF cache"))
    res = ex.run_plan(ex.Plan(models=("gpt2",), **plan))
    assert res.info["published_as"].tolist() == ["GPT-2 small"]
    assert set(res.published["table1"]["reference_model"]) == {"GPT-2 small"}


# ------------------------------------------------------------------------------------------ emergence
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """sinklab-mini and two perturbed copies saved with save_pretrained, as training steps 0, 500, 1000."""
    lm = sinklab.load_model("sinklab-mini")
    root = tmp_path_factory.mktemp("ckpt")
    dirs = []
    for step, noise in ((0, 1.0), (500, 0.3), (1000, 0.0)):
        m = copy.deepcopy(lm.model)
        g = torch.Generator().manual_seed(step)
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(1 - noise).add_(noise * 0.02 * torch.randn(p.shape, generator=g))
        path = root / f"step_{step}"
        m.save_pretrained(path)
        lm.tokenizer.save_pretrained(path)
        dirs.append(str(path))
    return dirs


def test_emergence_over_local_checkpoints(checkpoints, tmp_path):
    from sinklab.analyses.epe import epe
    from sinklab.analyses.gamma import alignment

    missing = str(tmp_path / "step_2000")
    table, summary, pub, errors = ex.emergence("sinklab-mini", [*checkpoints, missing], seeds=(0,), n=2,
                                               n_tokens=24, domains=("nl", "code"))
    assert list(table["step"]) == [0, 500, 1000]
    assert {"sink", "epe_max", "alignment_heads", "alignment_concat", "pct_b", "pct_c", "pct_d",
            "pct_i"} <= set(table.columns)
    assert table["epe_max"].is_monotonic_increasing  # the perturbation shrinks toward noise
    final = sinklab.load_model("sinklab-mini")  # step 1000 is the shipped checkpoint, unperturbed
    assert table["epe_max"].iloc[-1] == pytest.approx(float(epe(final.model)[0].abs().max()), rel=1e-5)
    band = bands.resolve("paper", final.info.n_layer)
    for over in ("heads", "concat"):  # per head (the paper's Fig. 2) and over the concatenated heads
        al = alignment(final.model, positions=1, over=over)
        want = al[al["layer"].between(band[0], band[1] - 1)]["cosine"].mean()
        assert table[f"alignment_{over}"].iloc[-1] == pytest.approx(want, rel=1e-5)
    assert (table["alignment_heads"] != table["alignment_concat"]).all()
    assert pub is None
    whole = errors[errors["setting"] == ""]  # whole jobs lost: only the missing checkpoint's
    assert set(whole["revision"]) == {missing} and whole["error"].str.contains("does not exist").all()
    settings = errors[errors["setting"] != ""]  # a checkpoint without massive coordinates: (i) not run, said why
    assert len(settings) and settings["error"].str.contains("no EPE_0 coordinate exceeds").all()


def test_checkpoint_directories_belong_to_one_model(checkpoints):
    with pytest.raises(sinklab.BadInput, match="ONE training run"):
        ex.Plan(models=("sinklab-mini", "textbook"), experiments=("emergence",), revisions=tuple(checkpoints))
    ex.Plan(models=("gpt2", "gpt2-medium"), experiments=("emergence",), revisions=("step-100", "main"))  # names: ok


def test_a_mistyped_relative_checkpoint_directory_says_so():
    from sinklab.experiments.engine import execute
    from sinklab.experiments.jobs import Job

    r = execute(Job(model="sinklab-mini", revision="ckpt/step_0", seed=0, regime="nl", n_tokens=16))
    assert r.error_type == "ModelUnavailable"
    assert "checkpoint directory 'ckpt/step_0' does not exist" in r.error and "offline" not in r.error


@pytest.fixture(scope="module")
def training_run(tmp_path_factory):
    """A real (tiny, seconds-long) training run of scripts/train_mini.py saving checkpoints at steps 0, 10, 30."""
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "train_mini.py"
    spec = importlib.util.spec_from_file_location("train_mini", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("run")
    module.main(["--out", str(out), "--steps", "30", "--save-steps", "0,10,30", "--n-layer", "2", "--n-embd", "16",
                 "--n-head", "2", "--context", "16", "--batch", "4", "--warmup", "2", "--lr", "1e-2",
                 "--eval-every", "1000", "--eval-n", "4", "--eval-len", "16", "--heldout-n", "4"])
    return out


def test_emergence_over_a_saved_training_run(training_run):
    steps = [training_run / f"step_{s}" for s in (0, 10, 30)]
    assert all((d / "model.safetensors").is_file() for d in steps)
    table, _, _, errors = ex.emergence(str(training_run), [str(d) for d in steps], seeds=(0,), n=2, n_tokens=16,
                                       domains=("nl",), interventions=("b", "c"))
    assert errors.empty
    assert list(table["step"]) == [0, 10, 30]
    assert table[["sink", "epe_max", "alignment_heads", "pct_b", "pct_c"]].notna().all().all()
    assert table["sink"].nunique() == 3  # training moved the weights between checkpoints
    final = ex.table1(str(training_run), seeds=(0,), n=2, n_tokens=16, domains=("nl",)).table
    base = final.query("intervention == 'baseline'")["sink"].item()  # step 30 is the run's final model
    assert table["sink"].iloc[-1] == pytest.approx(base, rel=1e-6)


def test_not_run_groups_the_errors_by_reason():
    import pandas as pd

    from sinklab.experiments.tables import not_run

    errors = pd.DataFrame([
        {"n_tokens": T, "setting": s, "error": why} for T in (16, 32) for s, why in (("d", "no PE"), ("", "too long"))
    ] + [{"n_tokens": 40, "setting": f"dose:pe:{a}", "error": "no PE table"} for a in (0, 0.5, 1)])
    got = not_run(errors)
    assert got.to_dict("records") == [
        {"what": "(d)", "lengths": "16, 32", "why": "no PE"},
        {"what": "the whole job", "lengths": "16, 32", "why": "too long"},
        {"what": "the pe dose curve", "lengths": "40", "why": "no PE table"}]


# ------------------------------------------------------------------------------------------ cost (issue 13, item 1)
def test_cost_measures_the_sink_at_position_0(run_textbook):
    c = run_textbook.tables["cost"]
    allr = c[c["domain"] == "all"].set_index(["seed", "intervention"])
    assert (allr.xs("baseline", level="intervention")["reduction_pct"].abs() < 1e-9).all()  # nothing cut
    for seed in (0, 1):
        # amplify / isolate move attention to position 1: the sink at position 0 barely changes...
        for moved in ("amplify", "isolate"):
            r = allr.loc[(seed, moved)]
            assert r["key"] == 1 and r["pct_of_baseline"] < 20  # ...although little attention lands at the key
            assert abs(r["reduction_pct"]) < 5, moved
            assert not r["on_frontier"]
        assert allr.loc[(seed, "b"), "reduction_pct"] > 50  # a real cut of the sink at 0


# ------------------------------------------------------------------------------------------ definitions (item 2)
def test_coordinate_definitions_reach_every_experiment(registered):
    name = registered("tiny-llama", "llama", num_hidden_layers=4, attention_bias=True)  # b_Q: (b) and b∧i run
    kw = dict(seeds=(0,), n=2, n_tokens=12, domains=("nl",), band="1-3", alphas=(0, 1), combos=("b∧i",))
    exps = ("table1", "combined", "dose", "cost")
    res = ex.run_plan(ex.Plan(models=(name,), experiments=exps, **kw))
    skipped = set(res.errors["setting"])
    assert {"i", "j", "b∧i", "dose:scale_wk:0"} <= skipped  # rotary: no EPE to pick coordinates from
    assert res.errors.set_index("setting").loc["i", "error"].count("coords") >= 1
    res = ex.run_plan(ex.Plan(models=(name,), experiments=exps, coords=(1, 5, 9), j_per_layer=True, j_seed=42, **kw))
    assert not {"i", "j", "b∧i"} & set(res.errors["setting"])
    assert not res.errors["setting"].str.startswith("dose:scale_wk").any()
    assert {"i", "j"} <= set(res.tables["table1"]["intervention"]) and "b∧i" in set(res.tables["combined"]["intervention"])
    assert {"i", "j"} <= set(res.tables["cost"]["intervention"])
    assert "scale_wk" in set(res.tables["dose"]["curve"])
    job = ex.Plan(models=(name,), experiments=exps, coords=(1, 5, 9), j_per_layer=True, j_seed=42, **kw).jobs()[0]
    from sinklab.experiments.settings import resolve_setting, signature

    lm = load_cached(name)
    base = signature(lm, 1, key_coords=job.key_coords)
    assert base["i"].coords == (1, 5, 9) and base["j"].per_layer_draw and base["j"].seed == 42
    assert resolve_setting("dose:scale_wk:0.5", lm, 1, base, job.key_coords).coords == (1, 5, 9)
    assert "coordinates 1, 5, 9" in job.key_coords.describe()


def test_top_n_and_per_layer_draw_change_the_numbers(textbook):
    kw = dict(models=("textbook",), seeds=(0,), n=2, n_tokens=16, domains=("nl",), experiments=("table1",))
    t = {k: ex.run_plan(ex.Plan(**kw, **extra)).tables["table1"].query("domain == 'nl'").set_index("intervention")["sink"]
         for k, extra in {"default": {}, "top1": {"i_top": 1}, "perlayer": {"j_per_layer": True, "j_seed": 42},
                          "seed": {"j_seed": 7}}.items()}
    from sinklab.analyses.epe import massive_coords

    if len(massive_coords(textbook.model)) > 1:
        assert t["top1"]["i"] != t["default"]["i"]
    assert t["perlayer"]["j"] != t["default"]["j"] and t["seed"]["j"] != t["default"]["j"]
    assert t["top1"]["b"] == t["default"]["b"]  # only (i)/(j) change


@pytest.mark.parametrize("kw,match", [(dict(coords=(1, 2), i_top=2), "not both"), (dict(i_top=0), "at least 1"),
                                      (dict(i_k_sigma=99.0), "must be in 0"), (dict(coords=()), "at least one"),
                                      (dict(interventions=("b", "zz")), "unknown intervention 'zz'; valid: b, c"),
                                      (dict(combos=("b∧q",)), "unknown intervention 'q'"),
                                      (dict(dtype="float8"), "dtype"), (dict(j_seed=-1), "j_seed")])
def test_plan_refuses_bad_definitions_up_front(kw, match):
    with pytest.raises(sinklab.BadInput, match=match):
        ex.Plan(models=("textbook",), **kw)


def test_valid_labels_come_from_the_registry():
    from sinklab.experiments.settings import check_setting

    with pytest.raises(sinklab.BadInput) as e:
        check_setting("nope")
    for label in ex.plan.signature_names()[1:]:
        assert label in str(e.value)
        assert check_setting(label) == label
    for ok in ("b∧c∧d", "transplant@3", "dose:scale_wk:0.5"):
        assert check_setting(ok) == ok


# ------------------------------------------------------------------------------------------ CE only where shown (item 5)
def test_a_lengths_only_plan_runs_no_lm_head_and_gets_the_same_sinks():
    import dataclasses

    from sinklab.experiments.engine import LocalEngine

    plan = ex.Plan(models=("textbook",), experiments=("lengths",), seeds=(0,), n=3, lengths=(16, 32))
    jobs = plan.jobs()
    assert jobs and not any(j.ce for j in jobs)
    assert all(j.ce for j in ex.Plan(models=("textbook",), experiments=("table1", "lengths"), n=3).jobs()
               if j.regime in ex.plan.DOMAINS)
    lean = ex.assemble(plan, LocalEngine().map(jobs))
    full = ex.assemble(plan, LocalEngine().map([dataclasses.replace(j, ce=True) for j in jobs]))
    assert lean.examples["ce"].isna().all() and full.examples["ce"].notna().all()
    cols = ["model", "seed", "n_tokens", "intervention", "sink", "pct_of_baseline"]
    pd.testing.assert_frame_equal(lean.tables["lengths"][cols], full.tables["lengths"][cols], check_exact=True)
    assert "ce" not in lean.tables["lengths"].columns  # lengths shows no cross-entropy


# ------------------------------------------------------------------------------------------ families (items 6, 7, 12c)
def test_pathways_need_a_query_bias(registered):
    name = registered("tiny-neo", "gpt_neo")
    res = ex.run_plan(ex.Plan(models=(name,), experiments=("pathways",), seeds=(0,), n=2, n_tokens=12, domains=("nl",),
                         band="1-3"))
    assert res.tables["pathways"].empty
    row = res.errors.set_index("setting").loc["pathways"]
    assert row["error_type"] == "not run" and "no query bias" in row["error"]


def test_report_says_what_the_labels_mean_on_other_families(registered):
    from sinklab.experiments.output import markdown

    name = registered("tiny-llama", "llama", num_hidden_layers=4)
    res = ex.run_plan(ex.Plan(models=("textbook", name), experiments=("table1",), seeds=(0,), n=2, n_tokens=12,
                         domains=("nl",), band="1-3"))
    md = markdown(res)
    assert "### What the labels mean on Llama (read on tiny-llama)" in md
    assert "What the labels mean on GPT-2" not in md
    block = md.split("### What the labels mean on Llama")[1].split("##")[0]
    assert "- b (No query bias): **not applicable**" in block and "no query bias" in block
    assert "- c (Remove first PE): **not applicable**" in block


def test_the_docs_meanings_table_is_generated():
    from pathlib import Path

    from sinklab.experiments.output import meanings_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "research.md").read_text()
    start, end = "<!-- meanings: generated by sinklab.experiments.output.meanings_markdown() -->", "<!-- /meanings -->"
    assert start in doc and end in doc
    assert doc.split(start)[1].split(end)[0].strip() == meanings_markdown().strip()


@pytest.mark.parametrize("family,cfg", [("opt", {}), ("gpt_neo", {}),
                                        ("qwen2", {"use_sliding_window": False})])  # a window would hide position 0
def test_every_experiment_on_other_families_computes_or_says_why(registered, family, cfg):
    """Rows are computed numbers, or explicit not-run rows with a reason; a setting that leaves the model
    exactly as it is must be declared a no-op by its meaning on that family (never a silent 100 %)."""
    name = registered(f"tiny-{family}", family, **cfg)
    plan = ex.Plan(models=(name,), experiments=("lengths", "regimes", "combined", "dose", "cost", "relocation"),
                   seeds=(0,), n=2, n_tokens=12, lengths=(8, 12), regimes=("text", "uniform"), domains=("nl",),
                   alphas=(0, 0.5, 1), band="1-3")
    res = ex.run_plan(plan)
    assert res.errors["error"].str.len().gt(0).all() and (res.errors["error_type"] == "not run").all()
    for e in plan.experiments:
        t = res.tables[e]
        assert len(t), e
        if e == "relocation":  # the ratio is undefined (NaN) where the baseline has no sink at 0
            assert t.loc[t["baseline_at_0"] > 0, "ratio"].notna().all()
            assert t.loc[t["baseline_at_0"] == 0, "ratio"].isna().all()
        else:
            assert t["sink"].notna().all() and (t["sink"] >= 0).all(), e
    meaning = res.meanings.set_index("label")
    ex_ = res.examples
    for (regime, T), g in ex_.groupby(["regime", "n_tokens"]):
        base = g[g["setting"] == "baseline"].set_index("example")["first"]
        for setting, s in g[g["setting"] != "baseline"].groupby("setting"):
            if setting.startswith("dose:") and float(setting.split(":")[2]) == 1.0:
                continue  # α = 1 is the model itself, by definition
            if (s.set_index("example")["first"] == base).all():
                parts = setting.split("∧")
                declared = [p for p in parts if p in meaning.index and "no-op" in meaning.loc[p, "meaning"]]
                if setting.startswith("dose:b:"):
                    declared = ["b"] if "no-op" in meaning.loc["b", "meaning"] else []
                assert declared, f"{setting} left {family} exactly unchanged without saying so"


# ------------------------------------------------------------------------------------------ dtype (item 8)
@pytest.fixture
def saved_tiny(tmp_path):
    path = tmp_path / "tiny-gpt2"
    random_model("gpt2", vocab_size=257).save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    yield str(path)
    clear_cache()


def test_half_precision_on_the_cpu_is_a_clear_row(saved_tiny):
    res = ex.run_plan(ex.Plan(models=(saved_tiny,), experiments=("table1",), seeds=(0,), n=2, n_tokens=12,
                         domains=("nl",), dtype="bfloat16"))
    assert len(res.errors) == 1 and "bf16/fp16 are for GPUs" in res.errors["error"].item()


def test_the_dtype_reaches_the_loaded_model(saved_tiny, monkeypatch):
    """As on a GPU: the CPU refusal lifted, a bfloat16 plan loads the model in bfloat16 and runs."""
    from sinklab.model import loading

    real = loading._pick_dtype
    monkeypatch.setattr(loading, "_pick_dtype", lambda dtype, device: real(dtype, torch.device("cuda")))
    plan = ex.Plan(models=(saved_tiny,), experiments=("table1", "pathways"), seeds=(0,), n=2, n_tokens=12,
                   domains=("nl",), dtype="bfloat16", band="0-3", i_top=2)
    assert {j.dtype for j in plan.jobs()} == {"bfloat16"}
    res = ex.run_plan(plan)
    assert res.errors.empty, res.errors["error"].tolist()
    assert res.info["dtype"].unique().tolist() == ["bfloat16"]
    assert next(load_cached(saved_tiny, dtype="bfloat16").model.parameters()).dtype == torch.bfloat16
    assert load_cached(saved_tiny) is not load_cached(saved_tiny, dtype="bfloat16")  # cached per dtype
    t = res.tables["table1"]
    assert t["sink"].between(0, 1).all() and t["ce"].notna().all()


# ------------------------------------------------------------------------------------------ Δ percentiles (item 11)
def test_delta_percentiles_have_the_authors_shape(run_textbook, textbook):
    from sinklab.analyses.decomposition import delta_percentiles_authors

    d = run_textbook.tables["delta"]
    L, T = textbook.info.n_layer, run_textbook.plan.n_tokens
    assert list(d.columns) == ["model", "seed", "domain", "layer", "position", "p10", "p50", "p90", "mean", "std"]
    assert len(d) == 2 * 3 * L * T  # seeds × (nl, code, all) × layers × positions
    assert (d["p10"] <= d["p50"]).all() and (d["p50"] <= d["p90"]).all() and (d["p10"] >= 0).all()
    ids = make_inputs(textbook.tokenizer, 257, "nl", 2, T, 0)[0]
    want = delta_percentiles_authors(sinklab.run(textbook.model, ids), textbook.model)
    got = d.query("seed == 0 and domain == 'nl'")[list(want.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-5, atol=1e-6)
    assert "delta" not in run_textbook.published  # textbook is not GPT-2 small


def test_published_delta_is_shown_only_beside_gpt2_small(run_textbook):
    import dataclasses

    from sinklab.experiments.output import markdown

    res = dataclasses.replace(run_textbook, published={})
    assert "published pos0 p10" not in markdown(res)
    info = run_textbook.info.assign(published_as="GPT-2 small")  # as if textbook were GPT-2 small
    res = dataclasses.replace(run_textbook, info=info, published={"delta": pub_for("delta", info)})
    md = markdown(res).split("## delta")[1].split("##")[0]
    assert "published pos0 p10" in md and "circuit paper's authors" in md and "not computed here" in md
    assert pub_for("delta", info.assign(published_as="GPT-2 medium")) is None


# ------------------------------------------------------------------------------------------ report.md flags (item 13)
def test_report_flags_a_published_band_that_differs(run_textbook):
    import dataclasses

    from sinklab.experiments.output import markdown

    info = run_textbook.info.assign(published_as="GPT-2 medium")  # GPT-2 medium: extension band [3, 23)
    pub = {"table1": pub_for("table1", info)}
    md = markdown(dataclasses.replace(run_textbook, info=info, published=pub))
    assert "**Band differs**: textbook was computed here on layers [1, 5)" in md
    assert "use [3, 23)" in md and "--band extension" in md
    assert "Definitions: this run's (i): the EPE_0 coordinates above mean + 3σ" in md and "seed 42" in md
    info = run_textbook.info.assign(published_as="GPT-2 small", band_start=3, band_stop=11)
    md = markdown(dataclasses.replace(run_textbook, info=info, published={"table1": pub_for(
        "table1", info)}))
    assert "Band differs" not in md


# ------------------------------------------------------------------------------------------ figures (item 4)
def _contract():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "unit" / "teaching" / "test_chart_contract.py"
    spec = importlib.util.spec_from_file_location("chart_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


def _layers(spec: dict):
    """Every unit spec (a node with a mark) of a Vega-Lite spec."""
    if "mark" in spec:
        yield spec
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key, []):
            yield from _layers(sub)
    if isinstance(spec.get("spec"), dict):
        yield from _layers(spec["spec"])


def m_type(mark_spec: dict) -> str:
    m = mark_spec["mark"]
    return m if isinstance(m, str) else m["type"]


def test_every_figure_names_existing_fields_and_labels_published_marks(run_textbook, checkpoints):
    from sinklab.experiments import figures

    check = _contract()
    info = run_textbook.info.assign(published_as="GPT-2 small")  # every published table beside textbook
    em = ex.emergence("sinklab-mini", checkpoints, seeds=(0, 1), n=2, n_tokens=16, domains=("nl",))
    crfm = published.emergence_rows().assign(model="sinklab-mini", step=lambda d: d["step"] // 400)  # on its axis
    summaries = {**run_textbook.summaries, "emergence": em.summary}
    assert set(summaries) == set(ex.EXPERIMENTS)
    for e, s in summaries.items():
        pub = crfm if e == "emergence" else pub_for(e, info)
        for p in (None, pub):
            c = figures.chart(e, s, p)
            assert c is not None, e
            spec = c.to_dict()
            assert not check(spec), (e, check(spec))
            marks = list(_layers(spec))
            shown = [m for m in marks if m.get("encoding", {}).get("shape", {}).get("field") == "reference"]
            if p is None:
                assert not shown, e
                continue
            assert len(shown) == 1, e  # the published marks, with their legend
            legend = shown[0]["encoding"]["shape"]
            assert legend["title"] == "published numbers"
            data = [r for rows in spec["datasets"].values() for r in rows if r.get("kind") == "published"]
            assert data and {r["reference"] for r in data} <= set(figures.SHAPES), e
            bars = [m for m in marks if m_type(m) == "bar"]
            if e in ("table1", "combined", "regimes", "pathways", "relocation"):  # on the bar they belong to
                assert bars and shown[0]["encoding"]["xOffset"]["field"] == bars[0]["encoding"]["xOffset"]["field"], e
            lines = [m for m in marks if m_type(m) == "line"]
            if e in ("dose", "lengths"):  # one colour per curve, shared with the computed lines
                assert shown[0]["encoding"]["color"]["field"] == lines[0]["encoding"]["color"]["field"], e
    png = figures.chart("dose", summaries["dose"], pub_for("dose", info)).to_dict()
    assert "published (extension)" in str(png)


@pytest.mark.parametrize("name,match", [
    ("dose:b:1.2.3", "must be a number"), ("dose:b:.", "must be a number"), ("dose:b:nan", "must be finite"),
    ("dose:zz:0.5", "unknown dose curve"), ("transplant@0", "must be at least 1; got 0"), ("b+zz", "unknown intervention"),
])
def test_malformed_setting_names_are_refused_with_their_reason(name, match):
    from sinklab.experiments.settings import check_setting

    with pytest.raises(sinklab.BadInput, match=match):
        check_setting(name)


def test_setting_forms_resolve(textbook):
    from sinklab.experiments.settings import check_setting, resolve_setting, signature

    for name in ("dose:b:0.5", "transplant@3", "b+c", "b∧c"):
        assert check_setting(name) == name
    base = signature(textbook, 1)
    assert resolve_setting("dose:b:0.5", textbook, 1, base).alpha == 0.5
    assert resolve_setting("transplant@3", textbook, 1, base).other == 3
    assert [iv.label for iv in resolve_setting("b+c", textbook, 1, base)] == ["b", "c"]


def test_setting_names_map_to_their_labels():
    from sinklab.experiments.settings import labels_of

    assert labels_of("b∧i∧d") == {"b", "i", "d"} and labels_of("b+c") == {"b", "c"}
    assert labels_of("transplant@3") == {"transplant"} and labels_of("dose:scale_wk:0.5") == {"scale_wk"}
    assert labels_of("dose:b:1.5") == {"b"} and labels_of("dose:pe:0.5") == set() and labels_of("baseline") == set()
