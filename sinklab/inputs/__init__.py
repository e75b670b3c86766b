"""What the model reads: the papers' corpora (online, or sinklab's offline sets in data/) and synthetic
content regimes at any length."""
