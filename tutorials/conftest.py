"""pytest --nbmake runs the tutorials with the reference solutions filled in (tutorials/solutions.py).

Loaded when pytest collects tutorials/*.ipynb; the notebook kernels inherit the environment, and each
notebook's setup cell reads it through sinklab.config.Config.load() (SINKLAB_SOLUTIONS -> config.solutions).
nbmake starts each kernel in the notebook's directory (tutorials/), as JupyterLab does, so the notebooks'
`import feedback` and `from solutions import ...` find tutorials/feedback.py and tutorials/solutions.py.
Set SINKLAB_SOLUTIONS=0 to run them as a learner would (the checks then print hints instead of failing).
"""
import os

os.environ.setdefault("SINKLAB_SOLUTIONS", "1")
