"""Measurements on a model: sink metrics and layer bands, the score decomposition and the two pathways, EPE,
γ and the alignment, the structural origin, the circuit's wires, and interventions' effects over many inputs.
Every function returns tensors or tidy DataFrames; none loads a model or a corpus."""
