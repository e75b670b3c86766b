"""The bundled specimens: models whose answer is known (textbook, textbook-structural: planted in code;
sinklab-mini: trained by scripts/train_mini.py, its checkpoint in bundled/), and the card every page shows
about the model on screen (cards)."""
