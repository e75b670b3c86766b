"""Which models the app offers (the operator's allowlist) and the shared store that loads them.

One `ModelStore` per server process (st.cache_resource) holds the loaded models, never mutated:
  * loading is single-flight: two sessions asking for the same model load it once;
  * a memory budget (Config.memory_budget_mb, 0 = no limit) bounds the loaded models: a model's size
    is estimated from its config.json (parameter count x 4 bytes, fp32) BEFORE loading where the
    config can be read locally, a model that would not fit is refused with a clear message, and the
    least-recently-used models are released to make room;
  * a failed GPT-2 probe is remembered for an hour (no re-probe on every rerun).

The picker offers: SINKLAB_MODEL if set, GPT-2 small when loadable, the bundled models, SINKLAB_MODELS,
and "other" (any hub id or directory) only when Config.allow_custom_models (off in server mode).
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from sinklab.config import Config
from sinklab.errors import BadInput, SinklabError
from sinklab.model.loading import (BUILT_IN, BUNDLED, BUNDLED_DIR, DEFAULT_ONLINE, OFFLINE_DEFAULT, LoadedModel,
                                   describe, load_model)

OTHER_MODEL = "other: a Hugging Face id or a local directory…"
FIX = ("connect to the internet once so GPT-2 is cached (later runs work offline), or set SINKLAB_MODELS "
       "to a local directory saved with save_pretrained, or pick one under “other” in the model menu")
PROBE_TTL = 3600.0  # seconds a failed GPT-2 probe is remembered
MAX_NAME = 300  # longest model name accepted from a URL or the text box
BYTES_PER_PARAM = 4  # sinklab loads fp32 by default


# one line per model the picker may offer before it is loaded (a loaded model's own metadata wins)
def short_label(name: str) -> str:
    """The picker's entry: the name and a few words ("textbook (planted, positional route)")."""
    d = describe(name)
    return f"{name} ({d[0]})" if d else name


def summary(name: str) -> str | None:
    """One line about a model: its metadata's summary once loaded here, else the static description."""
    with store()._lock:
        entry = store()._models.get(name)
    if entry is not None and (entry[0].meta or {}).get("summary"):
        return entry[0].meta["summary"]
    d = describe(name)
    return d[1] if d else None


class TooLarge(BadInput):
    """The model would not fit into the server's memory budget for models."""


# ---------------------------------------------------------------- size estimates
def gpt2_parameters(cfg: dict) -> int:
    """Parameters of a GPT2LMHeadModel with this config.json (tied output embedding unless untied)."""
    d, L = int(cfg["n_embd"]), int(cfg["n_layer"])
    V, P = int(cfg["vocab_size"]), int(cfg["n_positions"])
    inner = int(cfg.get("n_inner") or 4 * d)
    per_block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * inner + inner) + (inner * d + d)
    n = V * d + P * d + L * per_block + 2 * d
    if cfg.get("tie_word_embeddings") is False:
        n += V * d
    return n


def _config_json(name: str) -> dict | None:
    """The model's config.json if it can be read without loading (bundled, local directory, HF cache)."""
    candidates = []
    if name in BUNDLED:
        candidates.append(BUNDLED_DIR / name / "config.json")
    else:
        try:
            if Path(name).is_dir():
                candidates.append(Path(name) / "config.json")
        except (OSError, ValueError):
            return None
        if not candidates:
            try:
                from huggingface_hub import try_to_load_from_cache

                hit = try_to_load_from_cache(name, "config.json")
                if isinstance(hit, str):
                    candidates.append(Path(hit))
            except Exception:  # noqa: BLE001 - an invalid repo id etc.: no estimate
                return None
    for c in candidates:
        try:
            return json.loads(c.read_text())
        except (OSError, ValueError):
            continue
    return None


def estimate_bytes(name: str) -> int | None:
    """Memory of the model's parameters once loaded, from its config; None if unknown before loading."""
    if name in BUILT_IN:
        return None  # built in code (small); measured after building
    cfg = _config_json(name)
    if cfg is None:
        return None
    try:
        return gpt2_parameters(cfg) * BYTES_PER_PARAM
    except (KeyError, TypeError, ValueError):
        return None


def model_bytes(lm: LoadedModel) -> int:
    m = lm.model
    return sum(t.numel() * t.element_size() for t in list(m.parameters()) + list(m.buffers()))


def _mb(n: int) -> str:
    return f"{n / 2 ** 20:,.0f} MB" if n >= 2 ** 20 else f"{n / 2 ** 20:.1f} MB"


# ---------------------------------------------------------------- the store
class ModelStore:
    """Loaded models by name: single-flight loading, an LRU memory budget, remembered probe failures."""

    def __init__(self):
        self._lock = threading.Lock()
        self._models: OrderedDict[str, tuple[LoadedModel, int]] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._failures: dict[str, tuple[float, Exception]] = {}

    def loaded(self) -> dict[str, int]:
        """name -> bytes, least recently used first."""
        with self._lock:
            return {k: b for k, (_, b) in self._models.items()}

    def _evict(self, room: int, budget: int, keep: str | None = None) -> None:
        """Release least-recently-used models until `room` more bytes fit into `budget` (lock held)."""
        used = sum(b for _, b in self._models.values())
        for name in list(self._models):
            if used + room <= budget:
                break
            if name == keep:
                continue
            used -= self._models.pop(name)[1]

    def get(self, name: str, budget_mb: int = 0) -> LoadedModel:
        """The model `name`, loading it if needed (raises SinklabError if it cannot be loaded)."""
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name][0]
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:  # one load per name at a time; the others wait and then find it loaded
            with self._lock:
                if name in self._models:
                    self._models.move_to_end(name)
                    return self._models[name][0]
            budget = int(budget_mb) * 2 ** 20
            est = estimate_bytes(name)
            if budget and est is not None and est > budget:
                raise TooLarge(f"Model {name!r} needs about {_mb(est)} ({est // BYTES_PER_PARAM:,} parameters × "
                               f"{BYTES_PER_PARAM} bytes), more than this server's memory budget for models "
                               f"({_mb(budget)}, SINKLAB_MEMORY_MB). Pick a smaller model.")
            if budget and est is not None:
                with self._lock:
                    self._evict(est, budget)
            lm = load_model(name)
            size = model_bytes(lm)
            if budget and size > budget:
                raise TooLarge(f"Model {name!r} takes {_mb(size)}, more than this server's memory budget for "
                               f"models ({_mb(budget)}, SINKLAB_MEMORY_MB). Pick a smaller model.")
            with self._lock:
                if budget:
                    self._evict(size, budget)
                self._models[name] = (lm, size)
            return lm

    def probe(self, name: str, budget_mb: int = 0, ttl: float = PROBE_TTL) -> tuple[LoadedModel | None, str | None]:
        """Try `name` once per `ttl` seconds: (model, None) or (None, why). Failures are remembered."""
        with self._lock:
            failed = self._failures.get(name)
        if failed is not None and time.monotonic() - failed[0] < ttl:
            return None, _why(failed[1])
        try:
            return self.get(name, budget_mb), None
        except Exception as e:  # noqa: BLE001 - any loader failure means "not available"
            with self._lock:
                self._failures[name] = (time.monotonic(), e)
            return None, _why(e)


def _why(e: Exception) -> str:
    return str(e) if isinstance(e, SinklabError) else f"{e.__class__.__name__}: {e}"


@st.cache_resource(show_spinner=False)
def store() -> ModelStore:
    """The server's one model store (shared by every session)."""
    return ModelStore()


# ---------------------------------------------------------------- what the picker offers
def gpt2_status(config: Config) -> tuple[bool, str | None]:
    """(GPT-2 small is available, why not)."""
    if not config.probe_gpt2:
        return False, "GPT-2 is not probed (SINKLAB_MODEL or SINKLAB_OFFLINE is set)"
    with st.spinner("Checking whether GPT-2 small can be loaded…"):
        lm, why = store().probe(DEFAULT_ONLINE, config.memory_budget_mb)
    return lm is not None, why


def allowlist(config: Config) -> list[str]:
    """The models visitors may pick: forced model, GPT-2 small if loadable, bundled ones, SINKLAB_MODELS."""
    out = []
    if config.model:
        out.append(config.model)
    if gpt2_status(config)[0]:
        out.append(DEFAULT_ONLINE)
    for b in BUNDLED:
        if b in BUILT_IN or (BUNDLED_DIR / b / "config.json").exists():
            out.append(b)
    out += list(config.models)
    return list(dict.fromkeys(out))


def options(config: Config) -> list[str]:
    """The picker's entries: the allowlist, plus "other" when free-form models are allowed."""
    return allowlist(config) + ([OTHER_MODEL] if config.allow_custom_models else [])


def default_model(config: Config) -> str:
    if config.model:
        return config.model
    return DEFAULT_ONLINE if gpt2_status(config)[0] else OFFLINE_DEFAULT


def plausible_name(name: str) -> bool:
    """A typed / linked model name worth trying: short, one line, printable."""
    return 0 < len(name) <= MAX_NAME and name.isprintable()


def get(name: str, config: Config, shared: ModelStore | None = None) -> LoadedModel:
    """The shared model `name` (raises SinklabError if it cannot be loaded or does not fit).

    `shared`: the store, when called outside a script run (a pool thread); default: store()."""
    shared = shared if shared is not None else store()
    if name == DEFAULT_ONLINE and config.probe_gpt2:
        lm, why = shared.probe(DEFAULT_ONLINE, config.memory_budget_mb)
        if lm is None:
            raise SinklabError(why or "GPT-2 cannot be loaded")
        return lm
    return shared.get(name, config.memory_budget_mb)


def loadable(names, config: Config) -> tuple[list[str], dict[str, str]]:
    """(the names that load, {name: why not} for the others, in words a visitor may see)."""
    from errors import public_message

    usable, failed = [], {}
    for name in names:
        try:
            get(name, config)
            usable.append(name)
        except SinklabError as e:
            failed[name] = public_message(e, config)
    return usable, failed
