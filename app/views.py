"""Every lesson result the pages show comes from ONE factory: `view(lessons.<fn>, settings, **kwargs)`.

`view(fn, s, **kwargs)` returns `fn(<the settings' model>, **kwargs)`; `view(fn, s, models=(name, ...), **kwargs)`
returns `fn((<LoadedModel>, ...), **kwargs)` for a lesson over several models (Compare specimens):
  * cached across sessions by (fn, model or models, kwargs) in the server's result cache (an LRU bounded in
    bytes). Results are shared, not copied: lesson views are frozen dataclasses and the app never
    mutates them (no pickling per rerun, unlike st.cache_data);
  * single flight: identical requests from different sessions are computed once; the others wait
    for that result;
  * computed in a bounded pool (Config.workers threads) that is fair across sessions: the next job
    comes from the waiting session served least recently (round-robin), and a session has at most one
    job waiting (a newer request from the same session, e.g. after a rerun, replaces its older, not yet
    started one), so 100 rapid reruns of one session cannot starve the others. While a request waits,
    the page shows "Queued — N ahead of you" and a spinner; a lesson that reports progress gets a
    progress bar;
  * errors propagate to the page's error boundary (errors.py) and are not cached.

In server mode (Config.server) the default view of every page for the default model and prompt is
queued at the first request (`warm`), at the lowest priority, so a class opening the same link hits
the cache. `quick(fn, s, **kwargs)` is the same cache for cheap, inline calls (tokenising a prompt).

Charts: `chart_spec(build, *args)` is the Vega-Lite spec of `build(*args)` (a sinklab.teaching.charts function), built
once per (builder, arguments) and kept in the server's chart cache (an LRU bounded in bytes), so a rerun
that shows a cached view draws its charts without rebuilding them (display.chart draws it). Arguments
are keyed by value (scalars), by content (tables, arrays, lesson view parts: a digest computed once per
object, so a new view with an unchanged table reuses its chart) or else by identity (an entry whose
objects have been freed is never served).
"""
from __future__ import annotations

import dataclasses
import inspect
import threading
import time
import weakref
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd
import streamlit as st
import torch

import models
from sinklab import lessons
from sinklab.config import Config
from sinklab.interventions import make

WARMUP = "<warm-up>"  # the pseudo-session of the server-start computations (lowest priority)
LOCAL = "<local>"  # requests made outside a Streamlit session (tests, scripts)
CACHE_MB = 512  # bytes of lesson results kept (LRU)
CACHE_ENTRIES = 2048
CHART_MB = 96  # bytes of rendered chart specs kept (LRU)
CHART_ENTRIES = 1024
POLL = 0.2  # seconds between queue-status checks while waiting
KEEPALIVE = 0.6  # seconds: an unchanged status is redrawn at most this often (lets a rerun interrupt the wait)
LABELS = {
    lessons.start: "Running the model…",
    lessons.decomposition: "Decomposing the scores…",
    lessons.epe_lesson: "Computing EPE over the corpus…",
    lessons.gamma_lesson: "Computing γ and the alignment…",
    lessons.intervention_lesson: "Running the model with and without the intervention…",
    lessons.domains_lesson: "Running every intervention",
    lessons.origin_lesson: "Running the structural interventions…",
    lessons.circuit_lesson: "Measuring every wire of the route…",
    lessons.compare_lesson: "Running every intervention on every model",
}
LABELS_BY_NAME = {"origin_with_planted": "Running the structural interventions…"}


# ---------------------------------------------------------------- result cache
def nbytes(obj: Any, depth: int = 0) -> int:
    """Rough memory of a lesson result (arrays, tables, nested dataclasses)."""
    if depth > 4:
        return 64
    if isinstance(obj, pd.DataFrame):
        objects = sum(1 for d in obj.dtypes if not isinstance(d, np.dtype) or d.kind == "O")
        return int(obj.memory_usage(index=True, deep=False).sum()) + 64 * objects * len(obj)
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj))
    if isinstance(obj, (tuple, list)):
        return sum(nbytes(x, depth + 1) for x in obj) + 8 * len(obj)
    if isinstance(obj, dict):
        return sum(nbytes(k, depth + 1) + nbytes(v, depth + 1) for k, v in obj.items())
    if isinstance(obj, str):
        return len(obj) + 50
    if isinstance(obj, (bytes, bytearray)):
        return len(obj) + 33
    return 64


class ResultCache:
    """key -> result, least recently used dropped beyond max_bytes / max_entries. Thread-safe."""

    def __init__(self, max_bytes: int = CACHE_MB * 2 ** 20, max_entries: int = CACHE_ENTRIES):
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key) -> tuple[bool, Any]:
        with self._lock:
            if key not in self._items:
                return False, None
            self._items.move_to_end(key)
            return True, self._items[key][0]

    def put(self, key, value, size: int | None = None) -> None:
        size = nbytes(value) if size is None else int(size)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._items and (self._bytes > self.max_bytes or len(self._items) > self.max_entries):
                old = next(iter(self._items))
                if old == key and len(self._items) == 1:
                    break
                self._bytes -= self._items.pop(old)[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items


# ---------------------------------------------------------------- the fair, single-flight pool
class Job:
    """One computation: its key, the function, the future every waiter reads, who waits for it."""

    def __init__(self, key: Hashable, fn: Callable[["Job"], Any], owner: str):
        self.key, self.fn, self.owner = key, fn, owner
        self.future: Future = Future()
        self.waiters = {owner}
        self.started = False
        self.progress: tuple[str, float] | None = None

    def report(self, what: str, fraction: float) -> None:
        """Progress callback handed to lessons that take one (called from the worker thread)."""
        self.progress = (str(what), min(max(float(fraction), 0.0), 1.0))


class Scheduler:
    """A bounded thread pool with a shared result cache, single flight and round-robin over sessions."""

    def __init__(self, workers: int, cache: ResultCache | None = None):
        self.workers = max(1, int(workers))
        self.cache = cache if cache is not None else ResultCache()
        self.quick_cache = ResultCache(max_bytes=64 * 2 ** 20, max_entries=1024)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sinklab-view")
        self._lock = threading.Lock()
        self._queues: OrderedDict[str, deque[Job]] = OrderedDict()  # session -> pending jobs (rotation order)
        self._inflight: dict[Hashable, Job] = {}
        self._served: dict[str, int] = {}  # session -> tick of its last dispatched job (fairness)
        self._tick = 0
        self._running = 0
        self.computed = 0  # results computed (not served from the cache or joined)
        self.warmed: set[str] = set()

    # -- the calls
    def cached(self, key) -> tuple[bool, Any]:
        return self.cache.get(key)

    def submit(self, key: Hashable, fn: Callable[[Job], Any], session: str = LOCAL) -> Job:
        """Queue fn(job) for `key` on behalf of `session`, or join the identical request in flight."""
        with self._lock:
            hit, value = self.cache.get(key)
            if hit:
                job = Job(key, fn, session)
                job.started = True
                job.future.set_result(value)
                return job
            if session != WARMUP:
                self._drop_pending(session, keep=key)
            job = self._inflight.get(key)
            if job is not None:
                job.waiters.add(session)
                if job.owner == WARMUP and session != WARMUP and not job.started:  # a visitor wants it now
                    self._queues[WARMUP].remove(job)
                    if not self._queues[WARMUP]:
                        del self._queues[WARMUP]
                    job.owner = session
                    self._queues.setdefault(session, deque()).append(job)
                    self._dispatch()
                return job
            job = Job(key, fn, session)
            self._inflight[key] = job
            self._queues.setdefault(session, deque()).append(job)
            self._dispatch()
            return job

    def run(self, key: Hashable, fn: Callable[[Job], Any], session: str = LOCAL) -> Any:
        """submit + wait (for callers without a page to update: tests, scripts)."""
        hit, value = self.cached(key)
        if hit:
            return value
        return self.submit(key, fn, session).future.result()

    def detach(self, job: Job, session: str) -> None:
        """`session` no longer waits for `job` (its script was rerun or stopped): drop it if nobody does."""
        with self._lock:
            job.waiters.discard(session)
            if not job.waiters and not job.started:
                self._remove(job)

    def ahead(self, job: Job) -> int | None:
        """How many queued jobs start before `job` (None once it runs)."""
        with self._lock:
            if job.started:
                return None
            queues = OrderedDict((s, deque(q)) for s, q in self._queues.items() if q)
            served, tick, n = dict(self._served), self._tick, 0
            while queues:
                s = self._next_session(queues, served)
                j = queues[s].popleft()
                if j is job:
                    return n
                n += 1
                tick += 1
                served[s] = tick
                if not queues[s]:
                    del queues[s]
            return n

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    # -- internals (lock held)
    def _remove(self, job: Job) -> None:
        q = self._queues.get(job.owner)
        if q is not None and job in q:
            q.remove(job)
        if self._inflight.get(job.key) is job:
            del self._inflight[job.key]
        job.future.cancel()

    def _drop_pending(self, session: str, keep: Hashable) -> None:
        """A session has at most one request waiting: a new one replaces its older, unstarted ones."""
        for job in list(self._queues.get(session, ())):
            if job.key != keep:
                job.waiters.discard(session)
                if not job.waiters:
                    self._remove(job)

    @staticmethod
    def _next_session(queues: OrderedDict, served: dict) -> str:
        """Fair order: the session with a pending job that was served least recently (never = first;
        ties: the one that queued first). The warm-up pseudo-session only runs when nobody else waits."""
        best, best_tick = None, None
        for s, q in queues.items():
            if q and s != WARMUP:
                t = served.get(s, -1)
                if best is None or t < best_tick:
                    best, best_tick = s, t
        return best if best is not None else WARMUP

    def _dispatch(self) -> None:
        while self._running < self.workers:
            if not any(self._queues.values()):
                return
            s = self._next_session(self._queues, self._served)
            job = self._queues[s].popleft()
            if not self._queues[s]:
                del self._queues[s]
            self._tick += 1
            self._served[s] = self._tick
            if len(self._served) > 4096:  # forget sessions that wait for nothing
                self._served = {k: v for k, v in self._served.items() if k in self._queues}
            job.started = True
            if not job.future.set_running_or_notify_cancel():
                continue
            self._running += 1
            self._pool.submit(self._execute, job)

    def _execute(self, job: Job) -> None:
        try:
            value = job.fn(job)
        except BaseException as e:  # noqa: BLE001 - handed to every waiter
            with self._lock:
                self._inflight.pop(job.key, None)
                self._running -= 1
                self._dispatch()
            job.future.set_exception(e)
            return
        with self._lock:
            self.cache.put(job.key, value)
            self.computed += 1
            self._inflight.pop(job.key, None)
            self._running -= 1
            self._dispatch()
        job.future.set_result(value)


@st.cache_resource(show_spinner=False)
def scheduler(workers: int) -> Scheduler:
    """The server's one pool and result cache (per worker count)."""
    return Scheduler(workers)


# ---------------------------------------------------------------- requests
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
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else LOCAL


def compute(fn: Callable, model: str | tuple[str, ...], config: Config, *, label: str | None = None, **kwargs):
    """fn(<model>, **kwargs) through the shared cache and pool; shows the queue while it waits."""
    sched = scheduler(config.workers)
    key, task = request(fn, model, config, **kwargs)
    hit, value = sched.cached(key)
    if hit:
        return value
    session = session_id()
    job = sched.submit(key, task, session)
    if session == LOCAL:
        return job.future.result()
    label = label or LABELS.get(fn) or LABELS_BY_NAME.get(getattr(fn, "__name__", ""), "Running the model…")
    return _wait(sched, job, session, label)


def queue_message(ahead: int, workers: int) -> str:
    """What a waiting visitor reads while their request is queued."""
    if ahead == 0:
        return "⏳ Queued — next in line."
    return (f"⏳ Queued — {ahead} ahead of you (this server runs {workers} "
            f"computation{'s' if workers != 1 else ''} at a time).")


def _wait(sched: Scheduler, job: Job, session: str, label: str):
    """Wait for `job` in the page: a spinner, the queue position or the lesson's progress meanwhile."""
    fut = job.future
    try:
        try:
            return fut.result(timeout=0.05)  # quick results: no spinner flicker
        except FutureTimeout:
            pass
        box = st.empty()
        shown, last = None, 0.0
        try:
            with st.spinner(label if label.endswith("…") else label + "…", show_time=True):
                while True:
                    try:
                        return fut.result(timeout=POLL)
                    except FutureTimeout:
                        pass
                    n = sched.ahead(job)
                    if n is not None:
                        now = ("queue", queue_message(n, sched.workers))
                    elif job.progress is not None:
                        what, frac = job.progress
                        now = ("progress", round(frac, 2), f"{label.rstrip('…')} on the {what} inputs…")
                    else:
                        now = ("empty",)
                    # redrawn when it changed, and at least every KEEPALIVE seconds: a Streamlit call lets a
                    # rerun or stop of this session interrupt the wait (Streamlit checks for them only when
                    # the script sends something); redrawing the same text on every poll would cost 30
                    # waiting sessions 150 messages a second
                    if now == shown and time.monotonic() - last < KEEPALIVE:
                        continue
                    shown, last = now, time.monotonic()
                    if now[0] == "queue":
                        box.caption(now[1])
                    elif now[0] == "progress":
                        box.progress(now[1], text=now[2])
                    else:
                        box.empty()
        finally:
            box.empty()
    finally:
        if not fut.done():  # the script was stopped or rerun while waiting
            sched.detach(job, session)


def view(fn: Callable, s, /, *, label: str | None = None, models: tuple[str, ...] | None = None, **kwargs):
    """THE factory of the pages: fn(<the model of settings `s`>, **kwargs), cached and fair (see above).

    models=(name, ...): fn((<LoadedModel>, ...), **kwargs) instead, for a lesson over several models; the
    names must come from the allowlist (the page offers no others)."""
    target = tuple(models) if models is not None else s.model
    return compute(fn, target, s.config, label=label, **kwargs)


def quick(fn: Callable, s, /, **kwargs):
    """A cheap call (no model forward), cached like `view` but computed inline, not in the pool."""
    sched = scheduler(s.config.workers)
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


# ---------------------------------------------------------------- what the new pages ask for
def circuit_routes(lm) -> tuple[tuple[str, ...], str]:
    """(routes the circuit can be drawn with on this model, the default: its planted route if known)."""
    from sinklab.analyses import circuit

    routes = tuple(circuit.routes_for(lm))
    planted = (lm.meta or {}).get("route")
    return routes, planted if planted in routes else routes[0]


def compare_models(s) -> tuple[str, ...]:
    """The Compare page's default models: the current model and every bundled model the server offers."""
    from sinklab.model.loading import BUNDLED

    offered = models.allowlist(s.config)
    return tuple(dict.fromkeys([s.model] + [b for b in BUNDLED if b in offered]))


# The pages' widget defaults, read by the pages and by the warm-up (default_requests): written once here.
LAYER = 5  # the layer shown first (Start, Decomposition, Interventions), capped at the model's last
EPE = dict(k_sigma=3.0, n=12)  # EPE (k_sigma also on γ and alignment)
INTERVENTION = "b"  # the Interventions page's first intervention
DOMAINS = dict(n=10, target=1)  # Across domains
ORIGIN = dict(position=5, factor=4.0)  # Structural origin (position capped at the prompt's last)
COMPARE = dict(n=8, target=5, factor=5.0)  # the Compare page's slider defaults
CURVES = dict(n=4, seeds=2, domain="nl")  # the Length and dose page's widget defaults


def curve_lengths(n_positions: int) -> tuple[list[int], list[int]]:
    """(lengths the Length and dose page offers, its default choice): up to the model's positions, 128 by default."""
    offered = [T for T in lessons.CURVE_LENGTHS if T <= n_positions] or [n_positions]
    return offered, [T for T in offered if T <= 128] or offered[:1]


def origin_with_planted(lms, prompt: lessons.Prompt, position: int, factor: float, metric: str = "paper"):
    """(origin view of lms[0], the same demonstration on lms[1]) as ONE job: the Structural origin page
    shows the structural route on textbook-structural next to a model that lacks it, and one queue wait
    under load is half of two. k is clamped to the second model's prompt length."""
    here, planted = lms
    first = lessons.origin_lesson(here, prompt, position=position, factor=factor, metric=metric)
    k = min(position, max(1, len(lessons.encode(planted, prompt)) - 1))
    return first, lessons.origin_lesson(planted, prompt, position=k, factor=factor, metric=metric)


# ---------------------------------------------------------------- the default view of every page
STRUCTURAL = "textbook-structural"  # where the Structural origin page shows the route when a model lacks it


def default_intervention(s) -> str:
    """The Interventions page's first intervention on this model: INTERVENTION if it runs here, else the first that does."""
    runs_here = quick(lessons.applicable, s)
    return INTERVENTION if INTERVENTION in runs_here else (runs_here[0] if runs_here else "a")


def default_requests(s) -> dict[str, list[tuple[Callable, str | tuple[str, ...], dict]]]:
    """url_path -> [(lesson, model or models, kwargs)] that each page requests when opened with default
    settings `s`.

    Must match the pages' widget defaults (tests/integration/test_app_serving.py checks it by opening
    every page after the warm-up and counting computations).
    """
    T = s.used_tokens
    m = s.model
    position = min(ORIGIN["position"], max(1, T - 1))
    origin = dict(prompt=s.prompt, position=position, factor=ORIGIN["factor"], metric=s.metric)

    def absent(needs):  # display.route_absent: the positional pages first ask whether their route exists here
        return (lessons.positional_absent, m, dict(prompt=s.prompt, metric=s.metric, needs=needs))

    out = {
        "start": [(lessons.start, m, dict(prompt=s.prompt, metric=s.metric))],
        "circuit": [(lessons.circuit_plan, m, dict(prompt=s.prompt, route=quick(circuit_routes, s)[1])),
                    (lessons.circuit_lesson, m, dict(prompt=s.prompt, route=quick(circuit_routes, s)[1], cuts=(),
                                                     metric=s.metric)),
                    (lessons.start, m, dict(prompt=s.prompt, metric=s.metric))],
        "decomposition": [absent(("unrotated",)),
                          (lessons.decomposition, m, dict(prompt=s.prompt, layer=min(LAYER, s.n_layer - 1), head=0))],
        "epe": [absent(("pe",)),
                (lessons.epe_lesson, m, dict(k_sigma=EPE["k_sigma"], ln2=False, n=EPE["n"], n_tokens=s.n_tokens))],
        "gamma": [absent(("pe", "bq")), (lessons.gamma_lesson, m, dict(k_sigma=EPE["k_sigma"], positions=s.n_tokens))],
        "interventions": [(lessons.intervention_lesson, m, dict(setting=make(default_intervention(s)), prompt=s.prompt,
                                                                 metric=s.metric))],
        "domains": [(lessons.domains_lesson, m, dict(n=DOMAINS["n"], n_tokens=s.n_tokens, target=DOMAINS["target"],
                                                     metric=s.metric))],
        "origin": [(origin_with_planted, (m, STRUCTURAL), origin) if m != STRUCTURAL and STRUCTURAL in
                   models.allowlist(s.config) else (lessons.origin_lesson, m, origin)],
        "compare": [(lessons.compare_lesson, compare_models(s), dict(n_tokens=s.n_tokens, **COMPARE))],
        "curves": [(lessons.curves_lesson, m, dict(n=CURVES["n"], lengths=tuple(curve_lengths(s.info.n_positions)[1]),
                                                   seeds=tuple(range(CURVES["seeds"])), domain=CURVES["domain"],
                                                   n_tokens=s.n_tokens))],
    }
    return out


def warm(s) -> int:
    """Queue every page's default view for settings `s` once per server (lowest priority). Returns #queued."""
    sched = scheduler(s.config.workers)
    with sched._lock:
        if s.model in sched.warmed:
            return 0
        sched.warmed.add(s.model)
    n = 0
    for requests in default_requests(s).values():
        for fn, model, kwargs in requests:
            key, task = request(fn, model, s.config, **kwargs)
            if not sched.cached(key)[0]:
                sched.submit(key, task, WARMUP)
                n += 1
    return n


# ---------------------------------------------------------------- rendered charts
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
    import hashlib

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
    tests/unit/test_chart_contract.py validates every one against the Vega-Lite schema).

    Measured per new view of the Interventions page (2 charts): ~80 ms in altair's `_FromDict`, which
    re-hashes every schema class (~27 000 json.dumps) each time an encoding channel is wrapped, and ~50 ms
    in JSON-schema validation (at construction in altair's debug mode, and again in to_dict). Here the
    class table is built once and reused, and construction-time validation is off. Returns True if applied.
    """
    try:
        from altair.utils import schemapi
    except ImportError:  # pragma: no cover
        return False
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


def to_spec(chart) -> dict:
    """The Vega-Lite spec Streamlit would draw for an Altair chart (datasets as Arrow bytes), built without
    a second JSON-schema validation (see fast_altair); falls back to Streamlit's own conversion."""
    try:
        from contextlib import nullcontext

        import altair as alt
        from streamlit.elements import vega_charts as vc

        datasets: dict = {}
        alt.data_transformers.register("to_arrow_dataset", vc._to_arrow_dataset)
        with vc._altair_globals_lock:  # the same steps as vc._convert_altair_to_vega_lite_spec, validate=False
            theme = alt.theme.enable("none") if alt.theme.active == "default" else nullcontext()
            with theme, alt.data_transformers.enable("to_arrow_dataset", datasets=datasets):
                spec = chart.to_dict(validate=False)
        existing = spec.get("datasets")
        spec["datasets"] = {**existing, **datasets} if isinstance(existing, dict) else datasets
        return spec
    except (ImportError, AttributeError):  # pragma: no cover - another Streamlit: its public path
        from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

        return _convert_altair_to_vega_lite_spec(chart)


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
