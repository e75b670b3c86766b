"""Shared fixtures: small random GPT-2s (with non-zero biases, so every term is exercised)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py importable as `helpers`
from helpers import random_gpt2  # noqa: E402


@pytest.fixture(scope="session")
def tiny():
    return random_gpt2()


@pytest.fixture(scope="session")
def textbook():
    import sinklab

    return sinklab.load_model("textbook")


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct from its wheel (the README's set-up installs it); converted once per cache."""
    import sinklab

    return sinklab.load_model("smollm2-135m")


@pytest.fixture(scope="session")
def gemma():
    """Gemma 3 270M from its four chunk wheels; converted once per cache (about 1.5 min cold on 2 cores)."""
    import sinklab

    return sinklab.load_model("gemma-3-270m")
