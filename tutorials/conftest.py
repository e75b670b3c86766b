"""pytest --nbmake runs the tutorials with the reference solutions filled in (see sinklab/solutions.py).

Loaded when pytest collects tutorials/*.ipynb; the notebook kernels inherit the environment.
"""
import os

os.environ.setdefault("SINKLAB_SOLUTIONS", "1")
