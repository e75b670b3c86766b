"""Widget state bound to the URL: every widget's value is in the address, so a link reopens the view.

For a widget with key `k`: `prepare(k, ...)` puts a valid value into st.session_state[k] before the
widget is drawn (the widget's own value, else the URL's ?k=..., else what this session last used on
another page, else the default), and `publish(k, value)` writes the value back to the URL. Every value
from the URL is parsed and clamped (`fix`): a malformed, out-of-range or oversized parameter falls back
to the nearest valid value or the default, never to an exception. Unknown URL parameters are ignored.

The bound widgets below (int_slider, float_slider, layer_range, toggle, select, multi, param_slider) do
prepare -> draw -> publish in one call.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import streamlit as st

MAX_PARAM = 20_000  # characters kept from one URL parameter (a typed prompt is the longest)
RESERVED = {"model", "model_custom", "prompt", "text", "tokens", "bos", "metric", "iv", "layers", "layer"}


# ---------------------------------------------------------------- parse / fix
def _saved() -> dict:
    return st.session_state.setdefault("_saved", {})


def parse_int(s: Any) -> int:
    """'3', '3.0', ' 3 ' -> 3; anything else (incl. nan, inf, 10 kB of digits) raises ValueError."""
    x = float(str(s).strip()[:64])
    if not math.isfinite(x):
        raise ValueError(s)
    return int(round(x))


def parse_float(s: Any) -> float:
    x = float(str(s).strip()[:64])
    if not math.isfinite(x):
        raise ValueError(s)
    return x


def parse_bool(s: Any) -> bool:
    t = str(s).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(s)


def parse_range(s: Any) -> tuple[int, int]:
    """'1-4' (or '1,4', or a tuple) -> (1, 4)."""
    if isinstance(s, (tuple, list)):
        a, b = s
    else:
        a, b = str(s)[:64].replace(",", "-").split("-")
    return parse_int(a), parse_int(b)


def clamp(low, high, step: float | None = None) -> Callable[[Any], Any]:
    """A fix that puts a number into [low, high] (snapped to `step` from low for floats)."""
    integer = isinstance(low, int) and isinstance(high, int) and step is None

    def f(v):
        if isinstance(v, bool):
            raise ValueError(v)
        x = float(v)
        if not math.isfinite(x):
            raise ValueError(v)
        x = min(max(x, low), high)
        if integer:
            return int(round(x))
        if step:
            x = min(high, low + round((x - low) / step) * step)
            x = round(x, 10)
        return float(x)
    return f


def one_of(options: Sequence) -> Callable[[Any], Any]:
    opts = list(options)

    def f(v):
        if v not in opts:
            raise ValueError(v)
        return v
    return f


def begin_run() -> None:
    """Called by the router before the sidebar: start this run's record of published keys and link notices. On a
    session's first run, the link's parameters are kept aside: a value meant for another page applies when the
    visitor opens that page, though the URL shows only the current page's."""
    ss = st.session_state
    if "_link" not in ss:
        ss["_link"] = {k: st.query_params[k] for k in st.query_params.keys()}
    ss["_published_now"] = set()
    ss["_notices"] = []


def _notice(key: str, raw: str, value: Any, why: str) -> None:
    st.session_state.setdefault("_notices", []).append((key, raw, value, why))


def notices() -> list[tuple[str, str, Any, str]]:
    """(key, the link's value, the value used, why) for every link value this run clamped, cut or dropped."""
    return list(st.session_state.get("_notices", []))


def finish_run() -> None:
    """Called by the router after a page ran to its end: drop the URL parameters no widget of this page used
    (stale ones from another page, unknown ones), so a copied link holds exactly this view."""
    used = st.session_state.get("_published_now")
    if used is None:
        return
    for key in [k for k in st.query_params.keys() if k not in used]:
        del st.query_params[key]


def prepare(key: str, default: Any, parse: Callable[[str], Any] = str, fix: Callable[[Any], Any] | None = None) -> None:
    """Put a valid value for widget `key` into session state before the widget is drawn.

    Order: the widget's current value, else the URL's query parameter, else the value this session
    last used on another page, else `default`. `fix` validates/clamps (raising -> `default`). A link value
    that had to be cut, clamped or dropped is recorded for the page's notice (`notices`).
    """
    ss = st.session_state
    link = ss.get("_link", {})
    from_url = key not in ss and (key in st.query_params or key in link)
    raw = (str(st.query_params[key]) if key in st.query_params else str(link.pop(key))) if from_url else ""
    if key in ss:
        value = ss[key]
    elif from_url:
        link.pop(key, None)
        try:
            value = parse(raw[:MAX_PARAM])
        except (TypeError, ValueError, OverflowError):
            value = default
            _notice(key, raw, default, "not a valid value")
            from_url = False
    else:
        value = _saved().get(key, default)
    if from_url and len(raw) > MAX_PARAM:
        _notice(key, raw, None, f"longer than {MAX_PARAM:,} characters: cut")
    if fix is not None:
        before = value
        try:
            value = fix(value)
        except (TypeError, ValueError, OverflowError, KeyError):
            value = default
            if from_url:
                _notice(key, raw, default, "not one of the choices here")
        else:
            if from_url and value != before:
                _notice(key, raw, value, "out of range here")
    ss[key] = value


def publish(key: str, value: Any, text: str | None = None) -> None:
    """Remember a widget value for this session and write it to the URL (once: a duplicated key is rewritten)."""
    _saved()[key] = value
    st.session_state.setdefault("_published_now", set()).add(key)
    s = str(value) if text is None else text
    if st.query_params.get(key) != s or len(st.query_params.get_all(key)) > 1:
        st.query_params[key] = s


# ---------------------------------------------------------------- bound widgets
def int_slider(label: str, key: str, low: int, high: int, default: int, help: str | None = None) -> int:
    """An integer slider bounded to [low, high] (a caption when there is only one value)."""
    low, high = int(low), int(high)
    high = max(high, low)
    prepare(key, min(max(int(default), low), high), parse_int, clamp(low, high))
    if high == low:
        st.caption(f"{label}: {low} (the only choice here)")
        value = low
    else:
        value = st.slider(label, low, high, key=key, help=help)
    publish(key, value)
    return value


def float_slider(label: str, key: str, low: float, high: float, default: float, step: float,
                 help: str | None = None) -> float:
    low, high, step = float(low), float(high), float(step)
    high = max(high, low)
    fix = clamp(low, high, step)
    prepare(key, fix(default), parse_float, fix)
    if high == low:
        st.caption(f"{label}: {low:g} (the only choice here)")
        value = low
    else:
        value = st.slider(label, low, high, step=step, key=key, help=help)
    publish(key, value)
    return value


def layer_range(label: str, key: str, n_layer: int, help: str | None = None) -> tuple[int, int]:
    """A [start, stop) layer range of a model with n_layer layers, as 'start-stop' in the URL."""
    L = int(n_layer)

    def fix(v):
        a, b = parse_range(v)
        a = min(max(a, 0), L - 1)
        b = min(max(b, a + 1), L)
        return a, b

    prepare(key, (0, L), parse_range, fix)
    if L <= 1:
        st.caption(f"{label}: layer 0 (the model has one layer)")
        lo, hi = 0, L
    else:
        lo, hi = st.slider(label, 0, L, key=key, help=help)
        if hi <= lo:
            st.warning("The layer range is empty: stop must be larger than start. Using all layers.")
            lo, hi = 0, L
    publish(key, (lo, hi), f"{lo}-{hi}")
    return lo, hi


def toggle(label: str, key: str, default: bool = False, help: str | None = None) -> bool:
    prepare(key, bool(default), parse_bool, lambda v: parse_bool(v) if not isinstance(v, bool) else v)
    value = st.toggle(label, key=key, help=help)
    publish(key, value, "1" if value else "0")
    return value


def select(label: str, options: Sequence[str], key: str, default: str, format_func: Callable | None = None,
           help: str | None = None, widget: Callable = st.selectbox, **kw) -> str:
    """A selectbox (or st.radio via `widget`) over string options."""
    options = list(options)
    prepare(key, default if default in options else options[0], str, one_of(options))
    extra = {"format_func": format_func} if format_func is not None else {}
    value = widget(label, options, key=key, help=help, **extra, **kw)
    publish(key, value)
    return value


def parse_list(s: Any) -> list[str]:
    """'a,b' (or a list) -> ['a', 'b']."""
    if isinstance(s, (list, tuple)):
        return [str(x) for x in s]
    return [x.strip() for x in str(s)[:MAX_PARAM].split(",") if x.strip()]


def multi(label: str, options: Sequence[str], key: str, default: Sequence[str], help: str | None = None,
          format_func: Callable | None = None) -> list[str]:
    """A multiselect over string options, as 'a,b,c' in the URL. Unknown entries are dropped; nothing
    valid left (or a malformed value) -> the default."""
    options = list(options)
    fallback = [d for d in default if d in options]

    def fix(v):
        chosen = list(dict.fromkeys(x for x in parse_list(v) if x in options))
        if not chosen and v not in ([], ()):
            raise ValueError(v)
        return chosen

    prepare(key, fallback, parse_list, fix)
    extra = {"format_func": format_func} if format_func is not None else {}
    value = st.multiselect(label, options, key=key, help=help, **extra)
    publish(key, list(value), ",".join(value))
    return list(value)


def text(label: str, key: str, default: str = "", max_chars: int = MAX_PARAM, widget: Callable = st.text_area,
         **kw) -> str:
    prepare(key, default, str, lambda v: str(v)[:max_chars])
    value = widget(label, key=key, max_chars=max_chars, **kw)
    publish(key, value)
    return value


def param_slider(name: str, default: Any, p, ctx) -> Any:
    """The slider of one declared intervention parameter (sinklab.interventions.Param) in this context.

    Integer parameters get an int slider, others a float slider with the declared step; an optional
    parameter (none_label) gets 0 on its slider for None. The key position (target) shares the URL key
    'pos' with the other pages; other names that clash with the sidebar's keys get an 'iv_' prefix.
    """
    key = "pos" if p.target else (f"iv_{name}" if name in RESERVED else name)
    low, high = p.bounds(ctx)
    help = p.help or None
    if p.is_int:
        low, high = int(low), int(high)
        if p.none_label is not None:
            v = int_slider(f"{p.label} (0 = {p.none_label})", key, 0, max(high, low),
                           0 if default is None else int(default), help)
            return None if v == 0 else max(v, low)
        return int_slider(p.label, key, low, high, low if default is None else int(default), help)
    return float_slider(p.label, key, low, high, low if default is None else float(default), p.step, help)
