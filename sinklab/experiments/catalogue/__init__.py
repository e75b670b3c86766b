"""The experiments of the circuit paper's extension, one file each. The ones below run (`--experiments all`) and are
reported in this order; any other module in this folder is an experiment too, loaded after them (alphabetically):
a new experiment is one new file here (or in any module the program imports)."""
import importlib
import pkgutil

from . import table1, lengths, regimes, combined, dose, pathways, relocation, cost, emergence, delta, structural  # noqa: F401,E501

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")  # a file dropped in this folder registers itself
