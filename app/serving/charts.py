"""The chart cache: the Vega-Lite spec of `build(*args)` (a sinklab.teaching.charts function), built once per
(builder, arguments) and kept in the server's chart cache (an LRU bounded in bytes), so a rerun that shows a cached
view draws its charts without rebuilding them (display.chart draws it). Arguments are keyed by value (scalars), by
content (tables, arrays, lesson view parts: a digest computed once per object, so a new view with an unchanged table
reuses its chart) or else by identity (an entry whose objects have been freed is never served).

The fast path (fast_altair, to_spec) reads Altair and Streamlit internals; missing_internals() says which are
gone after an upgrade, and a test fails loudly then (the app falls back to Streamlit's public conversion).
"""
from __future__ import annotations

import dataclasses
import hashlib
import threading
import weakref
from contextlib import nullcontext
from typing import Any, Callable, Hashable

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from altair.utils import schemapi
from streamlit.elements import vega_charts as vc

from .cache import ResultCache

CHART_MB = 96  # bytes of rendered chart specs kept (LRU)
CHART_ENTRIES = 1024
_DIGESTS: dict[int, tuple[weakref.ref, bytes]] = {}  # id(object) -> (its weakref, its content digest)
_DIGEST_LOCK = threading.Lock()


def _content(x: Any, h, depth: int = 0) -> bool:
    """Feed x's content into hash h; False if x is not a kind whose content can be hashed here."""
    if x is None or isinstance(x, (bool, int, float, str, bytes)):
        h.update(repr((type(x).__name__, x)).encode())
    elif isinstance(x, (tuple, list)) and all(i is None or isinstance(i, (bool, int, float, str)) for i in x):
        h.update(repr(x).encode())
    elif isinstance(x, (pd.DataFrame, pd.Series, np.ndarray)):
        d = digest(x) if depth else _raw_digest(x)
        if d is None:
            return False
        h.update(d)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type) and depth < 3:
        h.update(type(x).__qualname__.encode())
        for f in dataclasses.fields(x):
            h.update(f.name.encode())
            if not _content(getattr(x, f.name), h, depth + 1):
                return False
    else:
        return False
    return True


def _raw_digest(x: Any) -> bytes | None:
    h = hashlib.blake2b(digest_size=16)
    try:
        if isinstance(x, (pd.DataFrame, pd.Series)):
            cols = list(x.columns) if isinstance(x, pd.DataFrame) else [x.name]
            dtypes = [str(t) for t in (x.dtypes if isinstance(x, pd.DataFrame) else [x.dtype])]
            h.update(repr((type(x).__name__, cols, dtypes, x.shape)).encode())
            h.update(pd.util.hash_pandas_object(x, index=True).to_numpy().tobytes())
        elif isinstance(x, np.ndarray):
            h.update(repr(("ndarray", x.shape, str(x.dtype))).encode())
            h.update(np.ascontiguousarray(x).tobytes() if x.dtype != object else repr(x.tolist()).encode())
        elif not _content(x, h, 1):
            return None
    except (TypeError, ValueError):  # an unhashable cell (a list in a column ...): key by identity
        return None
    return h.digest()


def digest(x: Any) -> bytes | None:
    """A content digest of a lesson table, array or view part (computed once per object, then remembered
    while the object lives); None when its content cannot be hashed (then it is keyed by identity)."""
    try:
        ref = weakref.ref(x)
    except TypeError:
        return None
    with _DIGEST_LOCK:
        hit = _DIGESTS.get(id(x))
        if hit is not None and hit[0]() is x:
            return hit[1]
    d = _raw_digest(x)
    if d is None:
        return None
    i = id(x)

    def forget(r, i=i):
        with _DIGEST_LOCK:
            if _DIGESTS.get(i, (None,))[0] is r:
                del _DIGESTS[i]

    ref = weakref.ref(x, forget)
    with _DIGEST_LOCK:
        _DIGESTS[i] = (ref, d)
    return d


def _arg_key(x: Any, refs: list) -> Hashable:
    """A cache key part: scalars and tuples by value, tables / arrays / lesson parts by their content
    (digest), anything else by identity (kept in `refs`, so a freed object's entry is never served)."""
    if x is None or isinstance(x, (bool, int, float, str)):
        return (type(x).__name__, x)
    if isinstance(x, tuple):
        return ("tuple",) + tuple(_arg_key(i, refs) for i in x)
    d = digest(x)
    if d is not None:
        return ("content", type(x).__qualname__, d)
    refs.append(x)
    return ("id", id(x))


def _spec_bytes(spec: dict) -> int:
    data = sum(len(v) for v in (spec.get("datasets") or {}).values() if isinstance(v, (bytes, bytearray)))
    return data + 4096  # the spec itself: a few kB


def fast_altair() -> bool:
    """Make building an Altair chart cheap in this process (the charts are tested elsewhere:
    tests/unit/teaching/test_chart_contract.py validates every one against the Vega-Lite schema).

    Measured per new view of the Interventions page (2 charts): ~80 ms in altair's `_FromDict`, which
    re-hashes every schema class (~27 000 json.dumps) each time an encoding channel is wrapped, and ~50 ms
    in JSON-schema validation (at construction in altair's debug mode, and again in to_dict). Here the
    class table is built once and reused, and construction-time validation is off. Returns True if applied;
    False when this Altair's internals differ (then charts are built the slow, public way:
    tests/integration/test_app_serving.py fails loudly, so an upgrade that changes them is noticed).
    """
    cls = getattr(schemapi, "_FromDict", None)
    if cls is None or "class_dict" not in getattr(cls.__init__, "__code__", object()).co_names:
        return False  # another altair: leave it alone
    if not getattr(cls, "_sinklab_memo", False):
        original, tables = cls.__init__, {}

        def __init__(self, wrapper_classes, /):
            classes = tuple(wrapper_classes)
            table = tables.get(classes)
            if table is None:
                original(self, classes)
                tables[classes] = self.class_dict
            else:
                self.class_dict = table

        cls.__init__ = __init__
        cls._sinklab_memo = True
    schemapi.disable_debug_mode()
    return True


FAST_ALTAIR = fast_altair()
# what to_spec's fast path reads from Streamlit's internals (streamlit/elements/vega_charts.py)
STREAMLIT_INTERNALS = ("_to_arrow_dataset", "_altair_globals_lock", "_convert_altair_to_vega_lite_spec")


def missing_internals() -> list[str]:
    """The Altair / Streamlit internals the chart cache's fast path needs that this installation lacks (empty:
    the fast path is used)."""
    missing = [f"streamlit.elements.vega_charts.{name}" for name in STREAMLIT_INTERNALS if not hasattr(vc, name)]
    if not hasattr(alt, "theme") or not hasattr(alt.theme, "active"):
        missing.append("altair.theme.active")
    return missing + ([] if FAST_ALTAIR else ["altair.utils.schemapi._FromDict.__init__ (class_dict)"])


FAST_SPEC = not missing_internals()


def to_spec(chart) -> dict:
    """The Vega-Lite spec Streamlit would draw for an Altair chart (datasets as Arrow bytes), built without
    a second JSON-schema validation (see fast_altair); Streamlit's own conversion where its internals differ
    (FAST_SPEC False: the app still works, slower, and the serving test fails loudly)."""
    if not FAST_SPEC:
        return vc._convert_altair_to_vega_lite_spec(chart)
    datasets: dict = {}
    alt.data_transformers.register("to_arrow_dataset", vc._to_arrow_dataset)
    with vc._altair_globals_lock:  # the same steps as vc._convert_altair_to_vega_lite_spec, validate=False
        theme = alt.theme.enable("none") if alt.theme.active == "default" else nullcontext()
        with theme, alt.data_transformers.enable("to_arrow_dataset", datasets=datasets):
            spec = chart.to_dict(validate=False)
    existing = spec.get("datasets")
    spec["datasets"] = {**existing, **datasets} if isinstance(existing, dict) else datasets
    return spec


@st.cache_resource(show_spinner=False)
def chart_cache() -> ResultCache:
    """The server's one cache of rendered chart specs (shared by every session)."""
    return ResultCache(max_bytes=CHART_MB * 2 ** 20, max_entries=CHART_ENTRIES)


def chart_spec(build: Callable, *args, **kwargs) -> dict:
    """The Vega-Lite spec of build(*args, **kwargs), from the server's chart cache when it was built before.

    The spec is shared: callers must not mutate it (st.vega_lite_chart copies what it changes)."""
    refs: list = []
    try:
        key = (getattr(build, "__module__", ""), getattr(build, "__qualname__", repr(build)),
               getattr(getattr(build, "__code__", None), "co_filename", ""),
               _arg_key(args, refs), _arg_key(tuple(sorted(kwargs.items())), refs))
        wrefs = tuple(weakref.ref(r) for r in refs)
    except TypeError:  # an argument that cannot be weakly referenced: no caching
        return to_spec(build(*args, **kwargs))
    cache = chart_cache()
    hit, entry = cache.get(key)
    if hit:
        spec, held = entry
        if len(held) == len(refs) and all(w() is r for w, r in zip(held, refs)):
            return spec
    spec = to_spec(build(*args, **kwargs))
    cache.put(key, (spec, wrefs), size=_spec_bytes(spec))
    return spec
