"""The error boundary: what a visitor sees when something fails, and what the server log gets.

  * sinklab.errors.SinklabError (bad input, a model that cannot be loaded): its message, in an error
    box (NotApplicable: an info box). It is the learner's to act on.
  * anything else: "Something went wrong" and a reference number. With Config.show_error_details
    (the local default) the exception and its traceback are in an expander; in server mode they are
    not shown (no traceback, no server path) and go to the server log (logging.exception) only.
In server mode, absolute paths are also removed from SinklabError messages.

Streamlit's own error display (for anything escaping the boundary) follows the same switch: the
router sets client.showErrorDetails to "none" when details are off (the STREAMLIT_CLIENT_SHOW_ERROR_DETAILS
variable / .streamlit/config.toml apply otherwise).
"""
from __future__ import annotations

import contextlib
import logging
import re
import traceback
import uuid

import streamlit as st

from sinklab.config import Config
from sinklab.errors import SinklabError
from visitor import esc

try:  # the library's "does not apply to this model" (sinklab.interventions)
    from sinklab.interventions import NotApplicable
except ImportError:  # pragma: no cover
    NotApplicable = ()

log = logging.getLogger("sinklab.app")
_SERVER = Config(server=True, allow_custom_models=False, show_error_details=False)  # when the real one cannot be read
_PATH = re.compile(r"(?<![\w.:/])(?:~|/)(?:[\w.@+\-]+/)*[\w.@+\-]+/?")
_ONE_TOKEN = re.compile(r"\b1 tokens\b")


def _handler() -> None:
    """Make sure the app's errors reach the server's stderr (Streamlit does not configure our logger)."""
    if not log.handlers:
        h = logging.StreamHandler()
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)


def configure(config: Config) -> None:
    """Apply the error-details switch to Streamlit's own display (process-wide)."""
    _handler()
    if not config.show_error_details and st.get_option("client.showErrorDetails") not in ("none", False, "false"):
        st.set_option("client.showErrorDetails", "none")


def public_message(e: BaseException, config: Config) -> str:
    """The text of a SinklabError for a visitor (server paths removed when details are off)."""
    msg = _ONE_TOKEN.sub("1 token", str(e))
    if not config.show_error_details:
        msg = _PATH.sub("<path>", msg)
    return msg


def show_unexpected(e: BaseException, config: Config) -> None:
    """Log an unexpected exception with a reference number and tell the visitor (details if allowed)."""
    ref = uuid.uuid4().hex[:8]
    log.error("unexpected error [ref %s]", ref, exc_info=e)
    if config.show_error_details:
        st.error(f"Something went wrong ({e.__class__.__name__}: {esc(e, 300)}). Try other settings; if it persists, "
                 f"please report it with the text below (reference {ref}).")
        with st.expander("details for a bug report"):
            st.code("".join(traceback.format_exception(e)), language=None)
    else:
        st.error(f"Something went wrong on the server. Try other settings; if it persists, tell whoever runs "
                 f"this server (reference {ref}: the details are in the server log).")


@contextlib.contextmanager
def boundary(config: Config):
    """Run a block; show any failure in place (see the module docstring). Streamlit's stop/rerun pass."""
    try:
        yield
    except NotApplicable as e:  # type: ignore[misc]
        st.info(esc(public_message(e, config)))
    except SinklabError as e:
        st.error(esc(public_message(e, config)))
    except Exception as e:  # noqa: BLE001 - never a bare traceback in front of a learner
        show_unexpected(e, config)


@contextlib.contextmanager
def logged(what: str):
    """Run background housekeeping: a failure goes to the server log only, never to the visitor."""
    try:
        yield
    except Exception:  # noqa: BLE001
        log.exception("%s failed", what)


def invalid_config(e: SinklabError) -> None:
    """The operator's configuration cannot be read: say so and stop (no page can run)."""
    log.error("invalid sinklab configuration: %s", e)
    st.error(f"The server's sinklab configuration is invalid: {esc(public_message(e, _SERVER))}")
    st.stop()
