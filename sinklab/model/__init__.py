"""The model layer: run a causal LM transparently, whatever its family.

names (the recorded intermediates), layout (weight conventions, pure math), families (one adapter per
architecture), forward (the one loop, `run`), loading (`load_model`), tokens, bytetok, gguf (real models from
GGUF files), epe (what the first block makes of the position table). Imports nothing above it.
"""
