"""Shared code of the sinklab app: the sidebar, URL state, cached model loading and cached lesson calls.

Pages stay thin: they read `settings()`, make ONE call to a cached wrapper below (each wraps exactly one
`sinklab.lessons` function), draw `sinklab.charts` and write prose. No analysis happens in the app.

Environment (for whoever runs the server):
  SINKLAB_MODELS   comma-separated extra models for the picker (HF ids or local directories)
  SINKLAB_MODEL    start on this model and do not probe GPT-2 (tests use "textbook")
  SINKLAB_OFFLINE  "1": never try to load GPT-2 (no network)
  SINKLAB_THREADS  torch intra-op threads per request (default 1: on a small machine shared with other
                   work or several sessions, one thread per request is much faster than oversubscribing
                   the cores; see benchmarks/bench_app.py)
"""
from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
import streamlit as st

import torch

from sinklab import lessons
from sinklab.corpora import OZYMANDIAS, example_prompts
from sinklab.errors import SinklabError
from sinklab.interventions import make
from sinklab.loading import BUNDLED, BUNDLED_DIR, DEFAULT_ONLINE, OFFLINE_DEFAULT, LoadedModel, load_model
from sinklab.metrics import METRICS


def _configure_threads() -> None:
    try:
        torch.set_num_threads(max(1, int(os.environ.get("SINKLAB_THREADS", "1"))))
    except ValueError:
        pass


_configure_threads()

OTHER_MODEL = "other: a Hugging Face id or a local directory…"
PROMPTS = {"ozymandias": "Ozymandias (the paper's sentence)", "nl": "Natural language example",
           "math": "Math word problem example", "code": "Code example (HumanEval)", "custom": "Your own text"}
MAX_TOKENS = 128  # upper bound of the token-length slider (the model's positions may lower it)
FIX = ("connect to the internet once so GPT-2 is cached (later runs work offline), or set SINKLAB_MODELS "
       "to a local directory saved with save_pretrained, or pick one under “other” in the model menu")


# ---------------------------------------------------------------- settings shared by all pages
@dataclass(frozen=True)
class Settings:
    model: str  # the model in use (name as loaded)
    lm: LoadedModel
    prompt_key: str
    text: str
    n_tokens: int
    bos: bool
    metric: str

    @property
    def prompt(self) -> lessons.Prompt:
        return lessons.Prompt(text=self.text, n_tokens=self.n_tokens, prepend_bos=self.bos)

    @property
    def n_layer(self) -> int:
        return self.lm.info.n_layer

    @property
    def n_head(self) -> int:
        return self.lm.info.n_head


def settings() -> Settings:
    """The sidebar's current settings (the router draws the sidebar before running the page)."""
    if "_settings" not in st.session_state:
        sidebar()
    return st.session_state["_settings"]


# ---------------------------------------------------------------- URL (query-parameter) state
def _saved() -> dict:
    return st.session_state.setdefault("_saved", {})


def prepare(key: str, default: Any, parse: Callable[[str], Any] = str, fix: Callable[[Any], Any] | None = None) -> None:
    """Put a valid value for widget `key` into session state before the widget is drawn.

    Order: the widget's current value, else the URL's query parameter, else the value this session
    last used on another page, else `default`. `fix` validates/clamps (raise -> default).
    """
    ss = st.session_state
    if key in ss:
        value = ss[key]
    elif key in st.query_params:
        try:
            value = parse(st.query_params[key])
        except (TypeError, ValueError):
            value = default
    else:
        value = _saved().get(key, default)
    if fix is not None:
        try:
            value = fix(value)
        except (TypeError, ValueError, KeyError):
            value = default
    ss[key] = value


def publish(key: str, value: Any, text: str | None = None) -> None:
    """Remember a widget value for this session and write it to the URL so a link reopens this view."""
    _saved()[key] = value
    s = str(value) if text is None else text
    if st.query_params.get(key) != s:
        st.query_params[key] = s


def clamp(low, high) -> Callable[[Any], Any]:
    def f(v):
        v = type(low)(v)
        return min(max(v, low), high)
    return f


def one_of(options) -> Callable[[Any], Any]:
    opts = list(options)

    def f(v):
        if v not in opts:
            raise ValueError(v)
        return v
    return f


def int_slider(label: str, key: str, low: int, high: int, default: int, help: str | None = None) -> int:
    """An integer slider bounded to [low, high], its value shared through the URL."""
    high = max(high, low)
    prepare(key, min(max(default, low), high), int, clamp(low, high))
    if high == low:
        st.caption(f"{label}: {low} (the only choice for this model)")
        value = low
    else:
        value = st.slider(label, low, high, key=key, help=help)
    publish(key, value)
    return value


def float_slider(label: str, key: str, low: float, high: float, default: float, step: float,
                 help: str | None = None) -> float:
    prepare(key, default, float, clamp(float(low), float(high)))
    value = st.slider(label, float(low), float(high), step=float(step), key=key, help=help)
    publish(key, value)
    return value


# ---------------------------------------------------------------- models
def _env_list(name: str) -> list[str]:
    return [s.strip() for s in os.environ.get(name, "").split(",") if s.strip()]


def forced_model() -> str | None:
    return os.environ.get("SINKLAB_MODEL", "").strip() or None


def offline() -> bool:
    return os.environ.get("SINKLAB_OFFLINE", "").strip() not in ("", "0", "false", "no") or forced_model() is not None


@st.cache_resource(show_spinner="Checking whether GPT-2 small can be loaded…", ttl=3600)
def _gpt2_attempt() -> tuple[LoadedModel | None, str | None]:
    """Try GPT-2 small once per server (per hour): (model, None) or (None, why). Failures are cached too."""
    try:
        return load_model(DEFAULT_ONLINE), None
    except SinklabError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - any loader failure means "not available"
        return None, f"{e.__class__.__name__}: {e}"


def gpt2_status() -> tuple[bool, str | None]:
    if offline():
        return False, "GPT-2 is not probed (offline mode: SINKLAB_MODEL or SINKLAB_OFFLINE is set)"
    lm, why = _gpt2_attempt()
    return lm is not None, why


@st.cache_resource(show_spinner="Loading the model…", max_entries=6)
def _load(name: str) -> LoadedModel:
    return load_model(name)


def get_model(name: str) -> LoadedModel:
    """The shared, never-mutated model `name` (raises SinklabError if it cannot be loaded)."""
    if name == DEFAULT_ONLINE and not offline():
        lm, why = _gpt2_attempt()
        if lm is None:
            raise SinklabError(why or "GPT-2 cannot be loaded")
        return lm
    return _load(name)


def model_options() -> list[str]:
    """GPT-2 small first when loadable, the bundled offline models present, the configured list."""
    out = []
    forced = forced_model()
    if forced:
        out.append(forced)
    if gpt2_status()[0]:
        out.append(DEFAULT_ONLINE)
    for b in BUNDLED:
        if b == "textbook" or (BUNDLED_DIR / b / "config.json").exists():
            out.append(b)
    out += _env_list("SINKLAB_MODELS")
    return list(dict.fromkeys(out)) + [OTHER_MODEL]


def default_model() -> str:
    forced = forced_model()
    if forced:
        return forced
    return DEFAULT_ONLINE if gpt2_status()[0] else OFFLINE_DEFAULT


def _resolve_model(desired: str) -> tuple[str, LoadedModel]:
    """Load `desired` if it changed; on failure keep the previous model and show an error box."""
    ss = st.session_state
    if desired and desired != ss.get("_attempted"):
        ss["_attempted"] = desired
        try:
            get_model(desired)
            ss["_active"], ss["_model_error"] = desired, None
        except SinklabError as e:
            ss["_model_error"] = (desired, str(e))
        except Exception as e:  # noqa: BLE001 - a broken checkpoint must not crash the app
            ss["_model_error"] = (desired, f"{e.__class__.__name__}: {e}")
    active = ss.get("_active")
    if active is None:  # nothing loaded yet and the wish failed: the offline default
        active = default_model()
        try:
            get_model(active)
        except Exception:  # noqa: BLE001
            active = OFFLINE_DEFAULT
        ss["_active"] = active
    if ss.get("_model_error"):
        bad, why = ss["_model_error"]
        st.error(f"Could not load model **{bad}**; still using **{active}**.\n\n{why}")
    return active, get_model(active)


def _banner(active: str) -> None:
    ok, why = gpt2_status()
    if ok or active == DEFAULT_ONLINE:
        return
    if forced_model():  # whoever runs the server chose the model: no banner
        return
    st.warning(f"GPT-2 small is not available here, so the app uses the offline model **{active}**. "
               f"Fix: {FIX}.")


# ---------------------------------------------------------------- the sidebar
def sidebar() -> Settings:
    """Model picker, prompt, token length, BOS option and metric; state mirrored in the URL."""
    ss = st.session_state
    options = model_options()
    with st.sidebar:
        st.header("Settings")
        default = default_model()

        def fix_model(v):
            if v in options:
                return v
            ss["model_custom"] = v  # a model from the URL that is not in the list: treat as typed
            return OTHER_MODEL

        prepare("model", default, str, fix_model)
        choice = st.selectbox("Model", options, key="model",
                              help="GPT-2 small when it can be loaded; bundled offline models; "
                                   "SINKLAB_MODELS adds more.")
        desired = choice
        if choice == OTHER_MODEL:
            ss.setdefault("model_custom", "")
            desired = st.text_input("Hugging Face id or local directory", key="model_custom",
                                    placeholder="e.g. gpt2-medium or /path/to/dir").strip()
    active, lm = _resolve_model(desired)
    publish("model", active)
    _banner(active)
    with st.sidebar:
        st.caption(f"In use: **{lm.info.name}** · {lm.info.n_layer} layers × {lm.info.n_head} heads · "
                   f"d={lm.info.d_model} · {lm.info.n_positions} positions · {lm.info.source}")

        prepare("prompt", "ozymandias", str, one_of(PROMPTS))
        prompt_key = st.selectbox("Prompt", list(PROMPTS), format_func=PROMPTS.get, key="prompt")
        publish("prompt", prompt_key)
        if prompt_key == "custom":
            prepare("text", "", str)
            text = st.text_area("Your text", key="text", height=110,
                                placeholder="Type any text (emoji and other scripts are fine).")
            publish("text", text)
        else:
            text = OZYMANDIAS if prompt_key == "ozymandias" else example_prompts()[prompt_key]
            with st.expander("Prompt text"):
                st.text(text)
        top = max(2, min(MAX_TOKENS, lm.info.n_positions))
        n_tokens = int_slider("Token length", "tokens", 2, top, 40,
                              help=f"The prompt is truncated to this many tokens (paper: 40; at most "
                                   f"{top} here, the model has {lm.info.n_positions} positions).")
        prepare("bos", False, lambda s: s in ("1", "True", "true"), bool)
        bos = st.toggle("Prepend <|endoftext|>", key="bos", help="The paper adds no BOS token (off).")
        publish("bos", bos, "1" if bos else "0")
        prepare("metric", "paper", str, one_of(METRICS))
        metric = st.selectbox("Sink metric", list(METRICS), key="metric",
                              format_func=lambda m: {"paper": "paper (mean attention to position 1)",
                                                     "gu": "Gu et al. (share of heads with a sink, ε=0.3)",
                                                     "mass": "mass (attention to position 1)"}[m],
                              help="\n\n".join(f"**{k}**: {v}" for k, v in METRICS.items()))
        publish("metric", metric)
        s = Settings(model=active, lm=lm, prompt_key=prompt_key, text=text, n_tokens=n_tokens, bos=bos,
                     metric=metric)
        info = prompt_info(s)
        if isinstance(info, str):
            st.caption(f"Prompt: {info}")
        else:
            used, orig = info
            st.caption(f"Prompt: {used} tokens" + (f" (truncated from {orig})" if orig else ""))
        st.caption("The page's address holds these settings: copy it to share this view.")
    ss["_settings"] = s
    return s


# ---------------------------------------------------------------- prompt checks
@st.cache_data(show_spinner=False, max_entries=256)
def _encode(model: str, text: str, n_tokens: int, bos: bool) -> tuple[int, int | None]:
    toks = lessons.encode(get_model(model), lessons.Prompt(text, n_tokens, bos))
    return len(toks), toks.truncated_from


def prompt_info(s: Settings) -> tuple[int, int | None] | str:
    """(tokens used, original length if truncated), or the reason the prompt cannot be used."""
    try:
        return _encode(s.model, s.text, s.n_tokens, s.bos)
    except SinklabError as e:
        return str(e)


def n_prompt_tokens(s: Settings) -> int:
    """Tokens the current prompt will use (the token-length setting if the prompt is unusable)."""
    info = prompt_info(s)
    return s.n_tokens if isinstance(info, str) else info[0]


def truncation_note(s: Settings) -> None:
    """Say so in the page when a typed prompt was cut to the token length."""
    info = prompt_info(s)
    if isinstance(info, tuple) and info[1] and s.prompt_key == "custom":
        used, orig = info
        limit = "the model's positions" if orig > s.lm.info.n_positions else "the token-length setting"
        st.info(f"Your prompt has {orig} tokens; only the first {used} are used ({limit}: "
                f"{s.n_tokens} tokens, the model has {s.lm.info.n_positions} positions).")


# ---------------------------------------------------------------- one cached wrapper per lesson
def _prompt(text, n_tokens, bos):
    return lessons.Prompt(text=text, n_tokens=n_tokens, prepend_bos=bos)


@st.cache_data(show_spinner="Running the model…", max_entries=64)
def start_view(model: str, text: str, n_tokens: int, bos: bool, metric: str):
    return lessons.start(get_model(model), _prompt(text, n_tokens, bos), metric)


@st.cache_data(show_spinner="Decomposing the scores…", max_entries=64)
def decomposition_view(model: str, text: str, n_tokens: int, bos: bool, layer: int, head: int):
    return lessons.decomposition(get_model(model), _prompt(text, n_tokens, bos), layer, head)


@st.cache_data(show_spinner="Computing EPE over the corpus…", max_entries=32)
def epe_view(model: str, k_sigma: float, ln2: bool, n: int, n_tokens: int):
    return lessons.epe_lesson(get_model(model), k_sigma=k_sigma, ln2=ln2, n=n, n_tokens=n_tokens)


@st.cache_data(show_spinner="Computing γ and the alignment…", max_entries=32)
def gamma_view(model: str, k_sigma: float, positions: int):
    return lessons.gamma_lesson(get_model(model), k_sigma=k_sigma, positions=positions)


@st.cache_data(show_spinner="Running the model with and without the intervention…", max_entries=128)
def intervention_view(model: str, label: str, params: tuple, text: str, n_tokens: int, bos: bool, metric: str):
    setting = make(label, **dict(params))
    return lessons.intervention_lesson(get_model(model), setting, _prompt(text, n_tokens, bos), metric)


@st.cache_data(show_spinner=False, max_entries=16)
def domains_view(model: str, n: int, n_tokens: int, target: int, metric: str):
    """The Table-1 lesson with a progress bar (created here, so a cache hit replays it as finished)."""
    bar = st.progress(0.0, text="Running every intervention…")

    def progress(domain: str, fraction: float) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"Running every intervention on the {domain} inputs…")

    view = lessons.domains_lesson(get_model(model), n=n, n_tokens=n_tokens, target=target, metric=metric,
                                  progress=progress)
    bar.empty()
    return view


@st.cache_data(show_spinner="Running the structural interventions…", max_entries=64)
def origin_view(model: str, text: str, n_tokens: int, bos: bool, position: int, factor: float, metric: str):
    return lessons.origin_lesson(get_model(model), _prompt(text, n_tokens, bos), position=position,
                                 factor=factor, metric=metric)


def call(fn: Callable, *args, **kwargs):
    """Run a cached lesson; on bad input show the message in an error box and stop the page."""
    try:
        return fn(*args, **kwargs)
    except SinklabError as e:
        st.error(str(e))
    except Exception as e:  # noqa: BLE001 - never a bare traceback in front of a learner
        st.error(f"Something went wrong ({e.__class__.__name__}: {e}). Try other settings; if it persists, "
                 "please report it with the text below.")
        with st.expander("details for a bug report"):
            st.code("".join(traceback.format_exception(e)), language=None)
    st.stop()


# ---------------------------------------------------------------- display helpers
def intro(text: str) -> None:
    st.markdown(text)


def try_this(text: str) -> None:
    st.info(f"**Try this.** {text}", icon="🧪")


def download(df: pd.DataFrame, name: str, label: str | None = None) -> None:
    """CSV download of a table shown on the page."""
    s = st.session_state.get("_settings")
    stem = f"sinklab_{name}" + (f"_{s.model.replace('/', '_')}" if s else "")
    st.download_button(label or f"Download {name} (CSV)", df.to_csv(index=False).encode(), file_name=f"{stem}.csv",
                       mime="text/csv", on_click="ignore", key=f"dl_{name}")


def show_table(df: pd.DataFrame, name: str, label: str | None = None, **kw) -> None:
    st.dataframe(df, hide_index=True, **kw)
    download(df, name, label)


def chart(c) -> None:
    st.altair_chart(c)


def published_note(s: Settings) -> str:
    return "" if is_gpt2_small(s) else " (published numbers appear only when the model is GPT-2 small)"


def is_gpt2_small(s: Settings) -> bool:
    from sinklab.reference import is_gpt2_small as check

    return check(s.lm.info)
