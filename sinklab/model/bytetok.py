"""A byte-level tokenizer (256 byte tokens + <|endoftext|>) with GPT-2's tokenizer API."""
from __future__ import annotations

from transformers import GPT2Tokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

EOT = "<|endoftext|>"


def byte_tokenizer() -> GPT2Tokenizer:
    """GPT-2 tokenizer with no merges: one token per UTF-8 byte (id = byte value); id 256 is <|endoftext|>."""
    byte_chars = bytes_to_unicode()  # byte -> printable unicode char, as in GPT-2's vocab
    vocab = {byte_chars[b]: b for b in range(256)}
    vocab[EOT] = 256
    tok = GPT2Tokenizer(vocab=vocab, merges=[], unk_token=EOT, bos_token=EOT, eos_token=EOT)
    tok.model_max_length = 1024
    return tok
