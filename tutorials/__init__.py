"""Tutorial notebooks (Jupytext sources). A package only so that pytest imports tutorials/conftest.py as
`tutorials.conftest` and the tests' own top-level `conftest` module (imported by `from conftest import ...`)
stays the one from tests/."""
