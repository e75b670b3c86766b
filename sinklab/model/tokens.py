"""Tokenisation in the paper's convention: no BOS added unless asked for."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import torch

from ..errors import BadInput


@dataclass(frozen=True)
class Tokens:
    """Token ids and their display strings for one prompt."""

    ids: torch.Tensor  # [pos]
    strings: tuple[str, ...]
    truncated_from: int | None  # original length if the prompt was truncated

    def __len__(self) -> int:
        return len(self.strings)


def _display(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\n":
            out.append("⏎")
        elif ch == "\t":
            out.append("⇥")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"U+{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _count(n: int, word: str) -> str:
    """"1 token", "2 tokens", "0 tokens"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def tokenize(tokenizer, text: str, max_tokens: int | None = None, prepend_bos: bool = False,
             min_tokens: int = 1) -> Tokens:
    """Text -> Tokens, truncated to max_tokens (default: as many as given). No BOS unless prepend_bos."""
    if not isinstance(text, str):
        raise BadInput(f"the prompt must be text; got {type(text).__name__}")
    # verbose=False: no "sequence length is longer than the maximum" warning, we truncate below
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    if prepend_bos:
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        ids = [bos] + list(ids)
    if len(ids) < min_tokens:
        raise BadInput(f"the prompt has {_count(len(ids), 'token')}; at least {min_tokens} "
                       f"{'is' if min_tokens == 1 else 'are'} needed"
                       + (" (it is empty)" if not text.strip() else ""))
    truncated_from = None
    if max_tokens is not None and len(ids) > max_tokens:
        truncated_from, ids = len(ids), ids[:max_tokens]
    strings = tuple(_display(tokenizer.decode([i])) for i in ids)
    return Tokens(ids=torch.tensor(ids, dtype=torch.long), strings=strings, truncated_from=truncated_from)


def batch(tokens: list[Tokens], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad Tokens into (ids [batch, pos], mask [batch, pos])."""
    if not tokens:
        raise BadInput("no prompts to batch")
    T = max(len(t) for t in tokens)
    ids = torch.full((len(tokens), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(tokens), T), dtype=torch.long)
    for i, t in enumerate(tokens):
        ids[i, : len(t)] = t.ids
        mask[i, : len(t)] = 1
    return ids, mask


def prepends_bos(tokenizer) -> bool:
    """Whether the model's own tokenizer puts a BOS token first when asked for its special tokens
    (Gemma's: <bos>; GPT-2's and SmolLM2's: nothing). sinklab adds none unless asked (prepend_bos)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == bos
