"""sinklab: GPT-2's attention sink, measured live and broken on purpose."""
import warnings

with warnings.catch_warnings():  # tqdm.auto warns in kernels without ipywidgets; its bars are not used here
    warnings.filterwarnings("ignore", message="IProgress not found")
    import tqdm.auto  # noqa: F401
from .errors import BadInput, ModelUnavailable, SinklabError
from .forward import Trace, run
from .loading import BUNDLED, OFFLINE_DEFAULT, LoadedModel, ModelInfo, load_configured, load_model, load_preferred, pick_device
from .tokens import Tokens, batch, tokenize

__all__ = [
    "BadInput", "ModelUnavailable", "SinklabError", "Trace", "run", "BUNDLED", "LoadedModel",
    "ModelInfo", "load_model", "load_preferred", "load_configured", "OFFLINE_DEFAULT", "pick_device", "Tokens", "batch", "tokenize",
]
