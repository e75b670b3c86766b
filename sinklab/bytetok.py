"""A byte-level tokenizer (256 byte tokens + <|endoftext|>) with GPT-2's tokenizer API."""
from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from pathlib import Path

from transformers import GPT2TokenizerFast
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

EOT = "<|endoftext|>"


@lru_cache(maxsize=1)
def _vocab() -> dict[str, int]:
    byte_chars = bytes_to_unicode()  # byte -> printable unicode char, as in GPT-2
    vocab = {byte_chars[b]: b for b in range(256)}
    vocab[EOT] = 256
    return vocab


def byte_tokenizer() -> GPT2TokenizerFast:
    """GPT2TokenizerFast whose tokens are single bytes; id 256 is <|endoftext|>."""
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file, merges_file = Path(tmp, "vocab.json"), Path(tmp, "merges.txt")
        vocab_file.write_text(json.dumps(_vocab()))
        merges_file.write_text("#version: 0.2\n")
        tok = GPT2TokenizerFast(
            vocab_file=str(vocab_file), merges_file=str(merges_file),
            unk_token=EOT, bos_token=EOT, eos_token=EOT, add_prefix_space=False,
        )
    tok.model_max_length = 1024
    return tok
