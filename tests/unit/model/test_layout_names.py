"""The weight layout and the name builder: one place each, checked against HF's own modules."""
from __future__ import annotations

import pytest
import torch

import sinklab
from sinklab import checks
from sinklab.model import families, layout
from sinklab.model.names import POINTS, act_name


def test_attn_views_reproduce_hf_q_k_v(tiny):
    x = torch.randn(2, 5, tiny.config.n_embd)
    qkv = tiny.transformer.h[1].attn.c_attn(x)  # HF Conv1D, [2, 5, 3 d]
    w = families.attn_weights(tiny, 1)
    d = tiny.config.n_embd
    torch.testing.assert_close(x @ w.W_Q + w.b_Q, qkv[..., :d])
    torch.testing.assert_close(x @ w.W_K + w.b_K, qkv[..., d:2 * d])
    torch.testing.assert_close(x @ w.W_V + w.b_V, qkv[..., 2 * d:])
    heads = w.heads(w.W_K)  # [head, d_model, d_head]
    h = 2
    torch.testing.assert_close(x @ heads[h], (x @ w.W_K)[..., w.head_slice(h)])
    assert w.W_Q.data_ptr() == tiny.transformer.h[1].attn.c_attn.weight.data_ptr()  # a view, not a copy


def test_mlp_as_a_function_equals_the_module(tiny):
    x = torch.randn(3, tiny.config.n_embd)
    torch.testing.assert_close(layout.mlp(tiny.transformer.h[0], x), tiny.transformer.h[0].mlp(x))


def test_trace_names_and_shapes_follow_transformer_lens(tiny):
    tr = sinklab.run(tiny, torch.arange(7))
    H, d = tiny.config.n_head, tiny.config.n_embd
    assert tr["q", 1].shape == (1, 7, H, d // H)  # TL: [batch, pos, head, d_head]
    assert tr["q", 1] is tr["blocks.1.attn.hook_q"]
    scores = tr["attn_scores", 0]  # after the mask
    assert (scores[0, :, 0, 1:] == torch.finfo(scores.dtype).min).all()
    for name, point in POINTS.items():
        assert (act_name(name, 0 if point.per_layer else None) in tr) == point.exists(rotary=False), name
    with pytest.raises(sinklab.BadInput, match="unknown intermediate"):
        act_name("scores", 0)
    with pytest.raises(sinklab.BadInput, match="needs a layer"):
        act_name("pattern")


@pytest.mark.parametrize("call,match", [
    (lambda: checks.layer(6, 6), "layer must be in 0..5; got 6"),
    (lambda: checks.head(-1, 4), "head must be in 0..3; got -1"),
    (lambda: checks.layer_range((3, 2), 6), "layers must satisfy 0 <= start < stop <= 6; got \\(3, 2\\)"),
    (lambda: checks.layer_range("x", 6), "layers must be a pair"),
    (lambda: checks.position(5, 5), "position must be in 0..4; got 5"),
])
def test_one_message_style(call, match):
    with pytest.raises(sinklab.BadInput, match=match):
        call()


def test_weight_layout_and_names_are_written_in_one_place():
    """No library or app module slices GPT-2's packed c_attn (the GPT-2 family adapter does, through
    layout.packed_qkv) or builds an intermediate's full name by hand (sinklab/model/names.py does)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    for path in [*(root / "sinklab").rglob("*.py"), *(root / "app").rglob("*.py")]:
        text = path.read_text()
        if path.parent.name != "families" and path.name != "layout.py":
            assert "c_attn" not in text, f"{path.relative_to(root)} reads c_attn: use families.attn_weights"
        if path.name != "names.py":
            assert not re.search(r"""f["']blocks\.\{""", text), f"{path.relative_to(root)}: use names.act_name"
            assert not re.search(r"""endswith\(["'](hook_|attn\.)""", text), f"{path.relative_to(root)}: use names.is_point"


def test_is_point_matches_every_layer_and_nothing_else():
    from sinklab.model.names import is_point

    assert is_point("blocks.3.attn.hook_pattern", "pattern") and is_point("blocks.11.attn.hook_pattern", "pattern")
    assert not is_point("blocks.3.attn.hook_attn_scores", "pattern") and not is_point("blocks.x.attn.hook_pattern", "pattern")
    assert is_point("logits", "logits") and not is_point("blocks.0.hook_mlp_out", "logits")
    with pytest.raises(sinklab.BadInput, match="unknown intermediate"):
        is_point("logits", "logit")
