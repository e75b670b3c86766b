"""Inputs of a content regime at any length: the paper's three domains, text, random and degenerate tokens.

    nl, math, code   the paper's corpora (sinklab.inputs.corpora): texts with >= T tokens, truncated to T
    text             a document stream (all offline NL, math and code texts, tokenised without BOS):
                     each input starts at a seeded random document and runs on into the next ones,
                     so any length up to the model's positions has inputs
    uniform          token ids drawn uniformly from the whole vocabulary
    unigram          token ids drawn i.i.d. from the stream's unigram (Zipf-like) frequencies
    shuffled         `text` inputs with their tokens shuffled (same bag of tokens, no order)
    repeated         one token repeated T times (a unigram draw per input)

Every regime is seeded: `seed` re-samples the inputs (the data seeds of an experiment).
"""
from __future__ import annotations

import torch

from .corpora import DOMAINS, load_corpus, offline_texts
from ..errors import BadInput

REGIMES = {
    "nl": "natural language (the paper's SST-2 domain; offline: sinklab's passages)",
    "math": "math word problems (GSM8K domain; offline: sinklab's generated problems)",
    "code": "code (HumanEval prompts)",
    "text": "document stream of all three domains, any length",
    "uniform": "uniform random tokens over the vocabulary",
    "unigram": "i.i.d. tokens from the stream's unigram (Zipf-like) distribution",
    "shuffled": "stream text with its tokens shuffled within each input",
    "repeated": "one token repeated",
}
_DOCS: dict[int, tuple[object, list[list[int]]]] = {}  # id(tokenizer) -> (tokenizer, token ids per document)


def check_regime(regime: str) -> str:
    if regime not in REGIMES:
        raise BadInput(f"unknown content regime {regime!r}; choose from {', '.join(REGIMES)}")
    return regime


def check_length(n_tokens: int, n_positions: int, model_name: str = "the model") -> int:
    """A sequence length of 2 .. the model's positions (BadInput naming the limit otherwise)."""
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 2:
        raise BadInput(f"length must be an integer >= 2 tokens; got {n_tokens!r}")
    if n_tokens > n_positions:
        raise BadInput(f"length {n_tokens} is past {model_name}'s {n_positions} positions; "
                       f"choose lengths <= {n_positions}")
    return n_tokens


def _documents(tokenizer) -> list[list[int]]:
    hit = _DOCS.get(id(tokenizer))
    if hit is not None and hit[0] is tokenizer:
        return hit[1]
    docs = []
    for d in DOMAINS:
        for text in offline_texts(d):
            ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
            if ids:
                docs.append(list(ids))
    _DOCS[id(tokenizer)] = (tokenizer, docs)
    return docs


def _stream_windows(tokenizer, n: int, n_tokens: int, g: torch.Generator) -> torch.Tensor:
    docs = _documents(tokenizer)
    total = sum(len(d) for d in docs)
    if total < n_tokens:
        raise BadInput(f"the offline text stream has {total} tokens, fewer than {n_tokens}")
    out = torch.empty((n, n_tokens), dtype=torch.long)
    for i in range(n):
        j = int(torch.randint(len(docs), (1,), generator=g))
        buf: list[int] = []
        while len(buf) < n_tokens:
            buf.extend(docs[j % len(docs)])
            j += 1
        out[i] = torch.tensor(buf[:n_tokens])
    return out


def _unigram(tokenizer, vocab_size: int) -> torch.Tensor:
    counts = torch.zeros(vocab_size)
    for d in _documents(tokenizer):
        t = torch.tensor(d)
        counts += torch.bincount(t[t < vocab_size], minlength=vocab_size).float()
    return counts / counts.sum()


def make_inputs(tokenizer, vocab_size: int, regime: str, n: int, n_tokens: int, seed: int,
                source: str = "auto") -> tuple[torch.Tensor, str]:
    """(ids [n', n_tokens], where they came from) for one regime, length and data seed.

    Domains may return fewer than n inputs when fewer texts are long enough (as sinklab.inputs.corpora does).
    """
    check_regime(regime)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise BadInput(f"n (inputs) must be an integer >= 1; got {n!r}")
    if regime in DOMAINS:

        c = load_corpus(regime, tokenizer, n=n, n_tokens=n_tokens, seed=seed, source=source)
        return c.ids, c.source
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + n_tokens)
    if regime == "uniform":
        return torch.randint(vocab_size, (n, n_tokens), generator=g), f"uniform over {vocab_size} token ids"
    if regime in ("unigram", "repeated"):
        p = _unigram(tokenizer, vocab_size)
        if regime == "unigram":
            return torch.multinomial(p, n * n_tokens, replacement=True, generator=g).view(n, n_tokens), \
                "unigram frequencies of the offline text stream"
        tok = torch.multinomial(p, n, replacement=True, generator=g)
        return tok[:, None].expand(n, n_tokens).clone(), "one unigram-drawn token repeated"
    ids = _stream_windows(tokenizer, n, n_tokens, g)
    if regime == "shuffled":
        ids = torch.stack([row[torch.randperm(n_tokens, generator=g)] for row in ids])
        return ids, "offline text stream (NL + math + code), tokens shuffled within each input"
    return ids, "offline text stream (NL + math + code documents, seeded starts)"
