"""Test helpers shared by the suites (imported as `helpers`; conftest.py only defines fixtures)."""
from __future__ import annotations

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel


def random_gpt2(n_layer=3, n_head=4, n_embd=64, n_positions=64, vocab_size=101, seed=0, **kw):
    """A randomly initialised GPT2LMHeadModel in eval mode, eager attention, random biases."""
    torch.manual_seed(seed)
    cfg = GPT2Config(n_layer=n_layer, n_head=n_head, n_embd=n_embd, n_positions=n_positions,
                     vocab_size=vocab_size, bos_token_id=0, eos_token_id=0, pad_token_id=0, **kw)
    cfg._attn_implementation = "eager"
    model = GPT2LMHeadModel(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") and "ln" not in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        model.transformer.wpe.weight[0].mul_(4.0)  # a distinct first position, as in GPT-2
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), f"parameter {k} was modified"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Import into a test module: its tests run torch on one thread (2-core machines, several workers)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fake_hub_cache(monkeypatch, root, repo_id: str, revisions: dict) -> None:
    """A Hugging Face cache under `root` holding `repo_id` at each revision name (name -> (model, tokenizer)),
    laid out as the hub client writes it (refs/<name> -> snapshots/<commit>/), and used offline: loading by
    revision name then runs the real cache-lookup code with no hub."""
    import hashlib
    from pathlib import Path

    import transformers.utils.hub as th
    from huggingface_hub import constants

    repo = Path(root) / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    for name, (model, tokenizer) in revisions.items():
        commit = hashlib.sha1(f"{repo_id}@{name}".encode()).hexdigest()
        model.save_pretrained(repo / "snapshots" / commit)
        tokenizer.save_pretrained(repo / "snapshots" / commit)
        (repo / "refs" / name).write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    if hasattr(th, "TRANSFORMERS_CACHE"):
        monkeypatch.setattr(th, "TRANSFORMERS_CACHE", str(root))
