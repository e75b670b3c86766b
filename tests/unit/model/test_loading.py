"""load_model: local directories, bundled names, device choice, and fast clear failures offline."""
from __future__ import annotations

import json

import pytest
import torch

import sinklab
from helpers import random_gpt2
from sinklab.model import gguf, loading
from sinklab.model.bytetok import byte_tokenizer


def test_local_directory_roundtrip(tmp_path):
    model = random_gpt2(vocab_size=257)
    model.save_pretrained(tmp_path)
    byte_tokenizer().save_pretrained(tmp_path)
    lm = sinklab.load_model(str(tmp_path))
    assert lm.info.source == "local directory"
    assert (lm.info.n_layer, lm.info.n_head, lm.info.d_model) == (3, 4, 64)
    assert not lm.model.training
    assert lm.model.config._attn_implementation == "eager"
    ids = torch.arange(10)
    torch.testing.assert_close(sinklab.run(lm.model, ids).logits, sinklab.run(model, ids).logits)


@pytest.mark.timeout(30)
def test_unknown_hub_id_fails_fast_and_says_how_to_fix(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(sinklab.ModelUnavailable) as err:
        sinklab.load_model("sinklab-tests/no-such-model")
    msg = str(err.value)
    assert "sinklab-tests/no-such-model" in msg
    assert constants.HF_HUB_CACHE in msg
    for fix in ("HF_HUB_OFFLINE", "local directory", "textbook"):
        assert fix in msg


@pytest.mark.timeout(30)
def test_unreachable_hub_is_detected_without_hanging(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://127.0.0.1:9")
    assert loading._hub_reachable(timeout=2.0) is False
    with pytest.raises(sinklab.ModelUnavailable, match="offline"):
        sinklab.load_model("sinklab-tests/no-such-model")


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(sinklab.ModelUnavailable, match="no such directory"):
        sinklab.load_model(str(tmp_path / "nope"))


def test_directory_without_weights(tmp_path):
    with pytest.raises(sinklab.ModelUnavailable, match="save_pretrained"):
        sinklab.load_model(str(tmp_path))


@pytest.mark.parametrize("spec", ["", "   ", None])
def test_empty_spec(spec):
    with pytest.raises(sinklab.BadInput):
        sinklab.load_model(spec)


def test_device_selection(monkeypatch):
    assert loading.pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert loading.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert loading.pick_device().type in ("cpu", "mps")


def test_half_precision_refused_on_cpu():
    with pytest.raises(sinklab.BadInput, match="fp32"):
        sinklab.load_model("textbook", device="cpu", dtype="fp16")
    with pytest.raises(sinklab.BadInput, match="dtype"):
        sinklab.load_model("textbook", dtype="int3")


def test_non_gpt2_checkpoint_refused(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    BertForMaskedLM(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises((sinklab.BadInput, sinklab.ModelUnavailable)):
        sinklab.load_model(str(tmp_path))


@pytest.mark.timeout(60)
def test_load_configured_falls_back_to_the_offline_default_and_says_why(monkeypatch):
    from huggingface_hub import constants

    from sinklab.config import Config

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # as on a machine without GPT-2
    lm, note = sinklab.load_configured(Config())
    assert lm.info.name == sinklab.OFFLINE_DEFAULT and "gpt2" in note and "offline model" in note
    lm, note = sinklab.load_configured(Config(offline=True))
    assert lm.info.name == sinklab.OFFLINE_DEFAULT and "offline mode" in note
    lm, note = sinklab.load_configured(Config.load(env={"SINKLAB_MODEL": "textbook-structural"}))
    assert lm.info.name == "textbook-structural" and note is None


@pytest.mark.timeout(60)
def test_revision_names_load_from_the_hf_cache_and_missing_ones_fail_clearly(monkeypatch, tmp_path):
    from helpers import fake_hub_cache, random_gpt2

    from sinklab.model.bytetok import byte_tokenizer

    models = {f"step-{s}": random_gpt2(seed=s, vocab_size=257) for s in (100, 200)}
    fake_hub_cache(monkeypatch, tmp_path / "hub", "sinklab-tests/run", {k: (m, byte_tokenizer()) for k, m in models.items()})
    for name, model in models.items():
        lm = sinklab.load_model("sinklab-tests/run", revision=name)
        assert lm.info.source == f"HF cache, revision {name}"
        torch.testing.assert_close(lm.model.transformer.h[0].attn.c_attn.bias, model.transformer.h[0].attn.c_attn.bias)
    with pytest.raises(sinklab.ModelUnavailable, match="revision 'step-300'.*offline"):
        sinklab.load_model("sinklab-tests/run", revision="step-300")


def test_revisions_of_directories_and_bundled_models(tmp_path):
    from helpers import random_gpt2

    from sinklab.model.bytetok import byte_tokenizer

    path = tmp_path / "step_50"
    random_gpt2(seed=5, vocab_size=257).save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    lm = sinklab.load_model("my-run", revision=str(path))  # a local checkpoint directory is loaded as is
    assert lm.info.source == "checkpoint directory of my-run"
    with pytest.raises(sinklab.ModelUnavailable, match="does not exist"):
        sinklab.load_model("my-run", revision=str(tmp_path / "step_60"))
    with pytest.raises(sinklab.BadInput, match="without revisions"):
        sinklab.load_model("textbook", revision="step-100")
    with pytest.raises(sinklab.BadInput, match="non-empty"):
        sinklab.load_model("gpt2", revision=" ")


def test_models_describe_themselves_from_their_metadata_without_loading():
    from sinklab.specimens import textbook, textbook_structural

    assert loading.describe("textbook") == ("planted, positional route", textbook.SUMMARY)
    assert loading.describe("textbook-structural") == ("planted, structural route", textbook_structural.SUMMARY)
    meta = json.loads((loading.BUNDLED_DIR / "sinklab-mini" / "sinklab_meta.json").read_text())
    assert loading.describe("sinklab-mini") == (f"trained (tiny), {meta['model']['n_params'] / 1e3:.0f}k parameters",
                                                meta["summary"])
    assert loading.describe("no-such-model") is None
    lm = sinklab.load_model("textbook")  # the loaded model's metadata says the same
    assert (lm.meta["summary"], lm.meta["route"]) == (textbook.SUMMARY, textbook.ROUTE)


def test_real_models_describe_themselves_without_loading():
    for name in loading.REAL:
        few, line = loading.describe(name)
        assert few == "real, trained" and line.startswith(gguf.PACKAGED[name].display)
