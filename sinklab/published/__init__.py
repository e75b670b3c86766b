"""Published numbers, shown beside computed ones and never mixed in: the circuit paper authors' tables and an
independent extension's (reference), each experiment's published rows matched to the models that ARE the
published ones (tables). Data files in data/."""
