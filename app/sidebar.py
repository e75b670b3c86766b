"""The sidebar (model, prompt, token length, BOS, sink metric) and the `Settings` it hands to the pages.

The router draws it before the page runs; a page reads the result with `settings()`. Every value is
in the URL (state.py). A model named in a link that the server does not offer is refused with a
message and the default model is kept (free-form names are accepted only with allow_custom_models).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import streamlit as st

import display
import errors
import models
import state
import serving
from sinklab import lessons
from sinklab.model.loading import describe
from sinklab.specimens import cards
from sinklab.config import Config
from sinklab.inputs.corpora import OZYMANDIAS, example_prompts
from sinklab.errors import SinklabError
from sinklab.interventions import Context
from sinklab.model.loading import DEFAULT_ONLINE, OFFLINE_DEFAULT, LoadedModel, ModelInfo
from sinklab.analyses.metrics import METRICS

PROMPTS = {"ozymandias": "Ozymandias (the paper's)", "nl": "Natural language", "math": "Math word problem",
           "code": "Code (HumanEval)", "custom": "Your own text"}  # short: the sidebar is narrow
MAX_TOKENS = 128  # upper bound of the token-length slider (the model's positions may lower it)
DEFAULT_TOKENS = 40  # the paper's length
METRIC_LABELS = {"paper": "paper (at position 0)", "gu": "Gu et al. (share of heads)",
                 "mass": "mass (per layer and head)"}  # short: the sidebar is narrow; the help says more


@dataclass(frozen=True)
class Settings:
    """What the sidebar chose, for every page. Holds the model's description, not the model itself."""

    config: Config
    model: str  # the model in use (its name in the store)
    info: ModelInfo
    summary: str | None  # one line about a bundled model
    prompt_key: str
    text: str
    n_tokens: int  # the token-length setting
    bos: bool
    metric: str
    used_tokens: int  # tokens of the prompt actually used (n_tokens if the prompt is unusable)
    truncated_from: int | None  # the prompt's length before the cut, if it was cut
    prompt_error: str | None  # why the prompt cannot be used, if so
    fallback: str | None = None  # for the learner: why this model and not GPT-2 small, when it fell back

    @property
    def prompt(self) -> lessons.Prompt:
        return lessons.Prompt(text=self.text, n_tokens=self.n_tokens, prepend_bos=self.bos)

    @property
    def max_tokens(self) -> int:
        """The token-length slider's maximum: the app's cap or the model's positions."""
        return max(2, min(MAX_TOKENS, self.info.n_positions))

    @property
    def n_layer(self) -> int:
        return self.info.n_layer

    @property
    def n_head(self) -> int:
        return self.info.n_head

    @property
    def context(self) -> Context:
        """What intervention parameter ranges depend on (the model's shape, the prompt's length)."""
        i = self.info
        return Context(n_layer=i.n_layer, n_head=i.n_head, d_model=i.d_model, n_positions=i.n_positions,
                       n_tokens=self.used_tokens)


def settings() -> Settings:
    """The sidebar's current settings (the router draws the sidebar before running the page)."""
    if "_settings" not in st.session_state:
        st.error("The sidebar has not been drawn yet: open the app through app/streamlit_app.py.")
        st.stop()
    return st.session_state["_settings"]


def prompt_text(key: str, custom: str = "") -> str:
    if key == "custom":
        return custom
    return OZYMANDIAS if key == "ozymandias" else example_prompts()[key]


def make_settings(config: Config, model: str, lm: LoadedModel, prompt_key: str = "ozymandias", text: str | None = None,
                  n_tokens: int | None = None, bos: bool = False, metric: str = "paper") -> Settings:
    """Settings for a model and prompt (the sidebar's defaults unless given), with the prompt checked."""
    top = max(2, min(MAX_TOKENS, lm.info.n_positions))
    n = min(DEFAULT_TOKENS, top) if n_tokens is None else n_tokens
    text = prompt_text(prompt_key) if text is None else text
    used, orig, err = n, None, None
    probe = Settings(config, model, lm.info, (lm.meta or {}).get("summary"), prompt_key, text, n, bos, metric,
                     n, None, None)
    try:
        toks = serving.quick(lessons.encode, probe, prompt=probe.prompt)
        used, orig = len(toks), toks.truncated_from
    except SinklabError as e:
        err = errors.public_message(e, config)
    return Settings(config, model, lm.info, probe.summary, prompt_key, text, n, bos, metric, used, orig, err)


def default_settings(config: Config) -> Settings:
    """The settings of a fresh visitor (for warming the cache)."""
    name = models.default_model(config)
    return make_settings(config, name, models.get(name, config))


# ---------------------------------------------------------------- the model picker
def _resolve(config: Config, desired: str) -> tuple[str, LoadedModel]:
    """Load `desired` if it changed; on failure keep the previous model and say why."""
    ss = st.session_state
    if desired and desired != ss.get("_attempted"):
        ss["_attempted"] = desired
        try:
            models.get(desired, config)
            ss["_active"], ss["_model_error"] = desired, None
        except SinklabError as e:
            ss["_model_error"] = (desired, errors.public_message(e, config))
        except Exception as e:  # noqa: BLE001 - a broken checkpoint must not crash the app
            errors.log.error("loading model %r failed", desired, exc_info=e)
            why = f"{e.__class__.__name__}: {e}" if config.show_error_details else "the details are in the server log"
            ss["_model_error"] = (desired, why)
    active = ss.get("_active")
    if active is None:  # nothing loaded yet and the wish failed: the default, else the offline default
        active = models.default_model(config)
        try:
            models.get(active, config)
        except Exception:  # noqa: BLE001
            active = OFFLINE_DEFAULT
        ss["_active"] = active
    if ss.get("_model_error"):
        bad, why = ss["_model_error"]
        st.error(f"Could not load model **{display.esc(bad, 80)}**; still using **{display.esc(active)}**.\n\n"
                 f"{display.esc(why)}")
    return active, models.get(active, config)


def _fallback(config: Config, active: str) -> str | None:
    """The learner's line when GPT-2 small could not be loaded and the app opened on the offline default;
    the operator's fix goes into a collapsed expander of the sidebar (and the README)."""
    ok, why = models.gpt2_status(config)
    if ok or active == DEFAULT_ONLINE or config.model:  # GPT-2 is here, or the operator chose the model
        return None
    with st.sidebar.expander("Running this app? How to offer GPT-2 small"):
        st.markdown(f"GPT-2 small could not be loaded on this server "
                    f"({display.esc(errors.public_message(why or 'not tried', config), 200)}). "
                    f"Fix: {models.FIX}.")
    if active != OFFLINE_DEFAULT:
        return None  # the visitor picked another model: the card says what it is
    return (f"GPT-2 small could not be loaded here, so this is the planted specimen {active} "
            "(its answer is known; pick another model in the sidebar).")


def _pick_model(config: Config) -> str:
    """The model picker; returns the model the visitor wants (not yet loaded)."""
    ss = st.session_state
    allowed = models.allowlist(config)
    options = models.options(config)
    refused = []

    def fix(v):
        v = str(v).strip()
        if v in options:
            return v
        if config.allow_custom_models and models.plausible_name(v):
            ss["model_custom"] = v  # a model from the URL that is not in the list: treat it as typed
            return models.OTHER_MODEL
        refused.append(v)
        raise ValueError(v)

    state.prepare("model", models.default_model(config), str, fix)
    described = "\n".join(f"- **{m}**: {models.summary(m)}" for m in allowed if models.summary(m))
    choice = st.selectbox("Model", options, key="model",
                          help="The models this server offers:\n\n" + described
                               + ("\n\n“other” loads any supported model by its Hugging Face id or directory."
                                  if config.allow_custom_models else ""))
    st.caption("  \n".join(f"**{m}**: {d[0]}" for m in allowed if (d := describe(m))))
    if refused:
        st.warning(f"This server does not offer the model **{display.esc(refused[0], 80)}** named in the link; "
                   f"using **{display.esc(choice)}**. Available: {display.esc(', '.join(allowed))}.")
    if choice != models.OTHER_MODEL:
        return choice
    state.prepare("model_custom", "", str, lambda v: str(v).strip()[: models.MAX_NAME])
    typed = st.text_input("Hugging Face id or local directory", key="model_custom", max_chars=models.MAX_NAME,
                          placeholder="e.g. gpt2-medium or /path/to/dir").strip()
    if typed and not models.plausible_name(typed):
        st.warning("That is not a model name (one line of printable text).")
        return ""
    return typed


# ---------------------------------------------------------------- the sidebar
def sidebar(config: Config) -> Settings:
    """Draw the sidebar; store and return the Settings."""
    with st.sidebar:
        st.header("Settings")
        desired = _pick_model(config)
    active, lm = _resolve(config, desired)
    state.publish("model", active)
    fallback = _fallback(config, active)
    with st.sidebar:
        i = lm.info
        shape = f"{display.plural(i.n_layer, 'layer')} × {display.plural(i.n_head, 'head')}"
        st.caption(f"In use: **{display.esc(i.display)}** · {shape} · "
                   f"d={i.d_model} · {i.n_positions} positions · {i.source}")
        summary = (lm.meta or {}).get("summary")
        if summary:
            st.caption(summary)

        prompt_key = state.select("Prompt", list(PROMPTS), "prompt", "ozymandias", format_func=PROMPTS.get,
                                  help="The paper's sentence (Ozymandias), an example of each domain of the "
                                       "offline corpus (natural language, math word problems, HumanEval code), "
                                       "or your own text.")
        if prompt_key == "custom":
            text = state.text("Your text", "text", height=110,
                              placeholder="Type any text (emoji and other scripts are fine).")
        else:
            text = prompt_text(prompt_key)
            with st.expander("Prompt text"):
                st.text(text)
        top = max(2, min(MAX_TOKENS, i.n_positions))
        n_tokens = state.int_slider("Token length", "tokens", 2, top, DEFAULT_TOKENS,
                                    help=f"The prompt is cut to this many tokens (paper: 40; at most {top} "
                                         f"here, the model has {i.n_positions} positions). Positions are "
                                         "counted from 0.")
        own = cards.prepends_bos(lm.tokenizer)
        token = lm.tokenizer.bos_token or lm.tokenizer.eos_token or "BOS"
        bos = state.toggle(f"Prepend {token}", "bos", own,
                           help=f"Put {token} before the prompt. Default: as this model's own tokenizer does "
                                f"({'it prepends it' if own else 'it adds nothing'}); the circuit paper adds no BOS "
                                "token to GPT-2.")
        metric = state.select("Sink metric", list(METRICS), "metric", "paper",
                              format_func=lambda m: METRIC_LABELS.get(m, m),
                              help="\n\n".join(f"**{k}**: {v}" for k, v in METRICS.items()))
        s = make_settings(config, active, lm, prompt_key, text, n_tokens, bos, metric)
        if s.prompt_error:
            st.caption(f"Prompt: {display.esc(s.prompt_error)}")
        else:
            st.caption(f"Prompt: {display.plural(s.used_tokens, 'token')}"
                       + (f" (truncated from {s.truncated_from})" if s.truncated_from else ""))
        st.caption("The page's address holds these settings: copy it to share this view.")
        display.glossary()
    s = dataclasses.replace(s, fallback=fallback)
    st.session_state["_settings"] = s
    return s
