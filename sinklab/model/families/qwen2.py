"""Qwen2: Qwen2ForCausalLM. Built like Llama (Rotary), with q/k/v biases and, if its config enables them,
sliding-window layers (config.layer_types)."""
from __future__ import annotations

from .base import Traits
from .llama import Rotary


class Qwen2(Rotary):
    """Qwen2ForCausalLM: Llama's adapter; its q/k/v biases and sliding layers are read from the model."""

    model_type = "qwen2"
    hf_class = "Qwen2ForCausalLM"
    config_class = "Qwen2Config"
    typical = Traits("qwen2", "Qwen2", "rotary", 0, query_bias=True, scaled=True)
    small = dict(num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, hidden_size=64,
                 intermediate_size=96, max_position_embeddings=64, use_sliding_window=True, sliding_window=5,
                 max_window_layers=1)
