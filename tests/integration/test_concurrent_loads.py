"""Loading different models at the same time from many threads (notebooks, the Dask engine's threads, the app's
server) gives every load exactly the weights a sequential load gives, ties intact (issue 20: transformers'
loading changes process-wide state; sinklab.loading serialises loads with LOAD_LOCK)."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import sinklab
from sinklab.model import loading
from sinklab.model.families import random_model
from sinklab.model.loading import LOAD_LOCK


def snapshot(lm) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in lm.model.state_dict().items()}


def tied(lm) -> bool:
    emb = lm.model.get_input_embeddings().weight
    return lm.model.lm_head.weight.data_ptr() == emb.data_ptr()


@pytest.fixture(scope="module")
def specs(tmp_path_factory, smollm2, gemma):
    """Specimens built in code, the bundled checkpoint, two directories of other families, both real models."""
    from sinklab.model.bytetok import byte_tokenizer

    out = ["textbook", "textbook-structural", "sinklab-mini", "smollm2-135m", "gemma-3-270m"]
    for t in ("gpt2", "llama"):
        d = tmp_path_factory.mktemp(t)
        m = random_model(t, vocab_size=257)
        m.save_pretrained(d)
        byte_tokenizer().save_pretrained(d)
        out.append(str(d))
    return out


def test_many_threads_loading_different_models_get_the_sequential_weights(specs):
    reference = {}
    for s in specs:
        lm = sinklab.load_model(s)
        reference[s] = (snapshot(lm), tied(lm))
    jobs = specs * 3
    random.Random(0).shuffle(jobs)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda s: (s, sinklab.load_model(s)), jobs))
    assert len(results) == len(jobs)
    for s, lm in results:
        want, want_tied = reference[s]
        got = lm.model.state_dict()
        assert got.keys() == want.keys(), s
        bad = [k for k in want if not torch.equal(got[k], want[k])]
        assert not bad, f"{s}: {len(bad)} tensors differ from a sequential load, e.g. {bad[:3]}"
        assert tied(lm) == want_tied, f"{s}: the LM head's tie changed"


def test_the_lock_is_reentrant_and_held_during_a_load(monkeypatch):
    """A load inside a load (a checkpoint directory given as a revision) does not deadlock; a load holds it."""
    seen = []
    real = loading._load

    def spy(*a, **kw):
        seen.append(LOAD_LOCK._is_owned())
        return real(*a, **kw)

    monkeypatch.setattr(loading, "_load", spy)
    sinklab.load_model("textbook")
    assert seen == [True]
