"""THE factory of the pages: `view(lessons.<fn>, settings, **kwargs)` returns `fn(<the settings' model>, **kwargs)`,
computed once for every session that asks (the pool: scheduler.py), waited for in the page (waiting.py).

`view(fn, s, models=(name, ...), **kwargs)` returns `fn((<LoadedModel>, ...), **kwargs)` for a lesson over several
models (Compare specimens). `quick(fn, s, **kwargs)` is the same cache for cheap, inline calls (tokenising a
prompt). What a page says while it waits is the lesson's own declaration (sinklab.teaching.lessons.waiting).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Hashable

import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

import models
from sinklab.config import Config
from sinklab.teaching import lessons

from .scheduler import LOCAL, Job, Scheduler
from .waiting import wait


@st.cache_resource(show_spinner=False)
def pool(workers: int, timeout: float = 0.0) -> Scheduler:
    """The server's one pool and result cache (per worker count and time limit)."""
    return Scheduler(workers, timeout=timeout)


def _name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _takes_progress(fn: Callable) -> bool:
    try:
        return "progress" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def request(fn: Callable, model: str | tuple[str, ...], config: Config,
            **kwargs) -> tuple[Hashable, Callable[[Job], Any]]:
    """(cache key, job function) of fn(<model>, **kwargs). kwargs must be hashable (frozen settings).

    `model`: one model name, or a tuple of names for a lesson over several models (fn gets a tuple of
    LoadedModels as its first argument)."""
    key = (_name(fn), model, tuple(sorted(kwargs.items())))
    hash(key)  # fail here, not in a worker, if an argument is unhashable
    store = models.store()

    def task(job: Job):
        if isinstance(model, tuple):
            first = tuple(models.get(name, config, store) for name in model)
        else:
            first = models.get(model, config, store)
        extra = {"progress": job.report} if _takes_progress(fn) else {}
        return fn(first, **kwargs, **extra)

    return key, task


def session_id() -> str:
    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else LOCAL


def compute(fn: Callable, model: str | tuple[str, ...], config: Config, *, label: str | None = None, **kwargs):
    """fn(<model>, **kwargs) through the shared cache and pool; shows the queue while it waits."""
    sched = pool(config.workers, config.timeout)
    key, task = request(fn, model, config, **kwargs)
    hit, value = sched.cached(key)
    if hit:
        return value
    session = session_id()
    job = sched.submit(key, task, session)
    if session == LOCAL:
        return job.future.result()
    return wait(sched, job, session, label or getattr(fn, "waiting", lessons.WAITING))


def view(fn: Callable, s, /, *, label: str | None = None, models: tuple[str, ...] | None = None, **kwargs):
    """THE factory of the pages: fn(<the model of settings `s`>, **kwargs), cached and fair (see above).

    models=(name, ...): fn((<LoadedModel>, ...), **kwargs) instead, for a lesson over several models; the
    names must come from the allowlist (the page offers no others)."""
    target = tuple(models) if models is not None else s.model
    return compute(fn, target, s.config, label=label, **kwargs)


def quick(fn: Callable, s, /, **kwargs):
    """A cheap call (no model forward), cached like `view` but computed inline, not in the pool."""
    sched = pool(s.config.workers, s.config.timeout)
    key = (_name(fn), s.model, tuple(sorted(kwargs.items())))
    hit, value = sched.quick_cache.get(key)
    if not hit:
        value = fn(models.get(s.model, s.config), **kwargs)
        sched.quick_cache.put(key, value)
    return value


def configure_threads(config: Config) -> None:
    """torch intra-op threads per computation (Config.threads)."""
    if torch.get_num_threads() != config.threads:
        torch.set_num_threads(config.threads)
