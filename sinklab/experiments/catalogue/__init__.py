"""The experiments of the circuit paper's extension, one file each (the order here is the order `--experiments
all` runs them and report.md lists them). A new experiment is one more file: a subclass of
sinklab.experiments.experiment.Experiment, imported here (or by the program that uses it)."""
from . import table1, lengths, regimes, combined, dose, pathways, relocation, cost, emergence, delta  # noqa: F401
