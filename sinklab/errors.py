"""sinklab's exceptions: every user-facing failure is one of these, with a fix in the message."""


class SinklabError(Exception):
    """Base class for errors sinklab raises on purpose."""


class ModelUnavailable(SinklabError):
    """The weights of a model cannot be reached (offline, typo, missing directory)."""


class BadInput(SinklabError, ValueError):
    """A prompt, layer, head, position or parameter is outside its valid range."""
