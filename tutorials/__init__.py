"""Tutorial notebooks (Jupytext sources) and their course material: solutions.py (reference solutions of
the "Your turn" exercises) and feedback.py (one check per exercise, comparing with sinklab's own results).

The notebooks import the course material as top-level modules (`import feedback`, `from solutions import
...`): their kernels run in this directory. This is a package so that pytest imports tutorials/conftest.py
as `tutorials.conftest` (the tests' own top-level `conftest` module, imported by `from conftest import
...`, stays the one from tests/), and so that tests can import `tutorials.feedback` and `tutorials.solutions`.
"""
