"""Tokenisation follows the paper's convention and survives odd input."""
from __future__ import annotations

import pytest

import sinklab
from sinklab.model.bytetok import byte_tokenizer

TOK = byte_tokenizer()


def test_no_bos_by_default_and_optional_bos():
    t = sinklab.tokenize(TOK, "hi")
    assert t.ids.tolist() == list(b"hi") and t.strings == ("h", "i")
    b = sinklab.tokenize(TOK, "hi", prepend_bos=True)
    assert b.ids.tolist() == [256, *b"hi"] and b.strings[0] == "<|endoftext|>"


def test_truncation_is_reported():
    t = sinklab.tokenize(TOK, "x" * 100, max_tokens=40)
    assert len(t) == 40 and t.truncated_from == 100


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_prompt(text):
    with pytest.raises(sinklab.BadInput):
        sinklab.tokenize(TOK, text, min_tokens=5)


@pytest.mark.parametrize("text", ["🙂 emoji", "مرحبا بالعالم", "a\x00b\x1bc\u200fd", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")])
def test_odd_unicode_gives_readable_tokens(text):
    t = sinklab.tokenize(TOK, text)
    assert len(t) == len(text.encode("utf-8"))
    assert all(isinstance(s, str) and s for s in t.strings)
    assert not any("\x00" in s or "\x1b" in s for s in t.strings)


def test_batch_right_pads():
    ids, mask = sinklab.batch([sinklab.tokenize(TOK, "abc"), sinklab.tokenize(TOK, "a")])
    assert ids.shape == (2, 3) and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    with pytest.raises(sinklab.BadInput):
        sinklab.batch([])
