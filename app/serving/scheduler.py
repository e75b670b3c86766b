"""The fair, single-flight pool that computes the pages' lesson results. No Streamlit here (a test checks it):
the page-facing side (serving/factory.py, serving/waiting.py) talks to Streamlit, this only to threads.

  * results are cached across sessions by key in a ResultCache (an LRU bounded in bytes) and shared, not copied:
    lesson views are frozen dataclasses the app never mutates;
  * single flight: identical requests from different sessions are computed once; the others wait for that result;
  * a bounded pool (Config.workers threads) that is fair across sessions: the next job comes from the waiting
    session served least recently (round-robin), and a session has at most one job waiting (a newer request from
    the same session, e.g. after a rerun, replaces its older, not yet started one), so 100 rapid reruns of one
    session cannot starve the others; the warm-up pseudo-session (WARMUP) runs only when nobody else waits, and on
    at most workers - 1 workers (one if there is one), so a visitor arriving while it computes finds a worker;
  * errors propagate to every waiter and are not cached; an exception that is not an Exception (SystemExit,
    KeyboardInterrupt raised inside a computation) is logged and handed on as an Interrupted error, so no waiter
    spins forever;
  * a time limit per computation (Config.timeout): a lesson that reports progress stops at its next report once the
    limit has passed (TimeLimit), which frees the worker; the waiting page gives up at the limit in any case.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Hashable

from sinklab.errors import SinklabError

from .cache import ResultCache

log = logging.getLogger("sinklab.app")


class TimeLimit(SinklabError):
    """A computation ran past the server's time limit for one computation (Config.timeout)."""

    def __init__(self, seconds: float):
        super().__init__(f"This computation took longer than this server allows for one ({seconds:.0f} s) and was "
                         "stopped. Try smaller settings (fewer inputs, a shorter prompt) or a smaller model.")


class Interrupted(SinklabError):
    """A computation was ended by SystemExit / KeyboardInterrupt inside it (logged on the server)."""

WARMUP = "<warm-up>"  # the pseudo-session of the server-start computations (lowest priority)
LOCAL = "<local>"  # requests made outside a Streamlit session (tests, scripts)


class Job:
    """One computation: its key, the function, the future every waiter reads, who waits for it."""

    def __init__(self, key: Hashable, fn: Callable[["Job"], Any], owner: str, timeout: float = 0.0):
        self.key, self.fn, self.owner = key, fn, owner
        self.future: Future = Future()
        self.waiters = {owner}
        self.started = False
        self.warm = False  # started as warm-up (counted against the warm-up's workers)
        self.progress: tuple[str, float] | None = None
        self.timeout = float(timeout)  # seconds (0: no limit)
        self.deadline: float | None = None  # time.monotonic() at which it must have finished, once it runs

    def overdue(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def report(self, what: str, fraction: float) -> None:
        """Progress callback handed to lessons that take one (called from the worker thread); past the time limit it
        raises TimeLimit there, which ends the computation and frees the worker."""
        self.progress = (str(what), min(max(float(fraction), 0.0), 1.0))
        if self.overdue():
            raise TimeLimit(self.timeout)


class Scheduler:
    """A bounded thread pool with a shared result cache, single flight and round-robin over sessions."""

    def __init__(self, workers: int, cache: ResultCache | None = None, timeout: float = 0.0):
        self.workers = max(1, int(workers))
        self.timeout = float(timeout)  # seconds one computation may run (0: no limit)
        self.cache = cache if cache is not None else ResultCache()
        self.quick_cache = ResultCache(max_bytes=64 * 2 ** 20, max_entries=1024)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sinklab-view")
        self._lock = threading.Lock()
        self._queues: OrderedDict[str, deque[Job]] = OrderedDict()  # session -> pending jobs (rotation order)
        self._inflight: dict[Hashable, Job] = {}
        self._served: dict[str, int] = {}  # session -> tick of its last dispatched job (fairness)
        self._tick = 0
        self._running = 0
        self._warming = 0  # running jobs that started as warm-up
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
                job = Job(key, fn, session, self.timeout)
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
            job = Job(key, fn, session, self.timeout)
            self._inflight[key] = job
            self._queues.setdefault(session, deque()).append(job)
            self._dispatch()
            return job

    def result(self, key: Hashable, fn: Callable[[Job], Any], session: str = LOCAL) -> Any:
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
            if s == WARMUP and self._warming >= max(1, self.workers - 1):
                return  # one worker stays free for visitors
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
            if job.timeout:
                job.deadline = time.monotonic() + job.timeout
            self._running += 1
            job.warm = s == WARMUP
            self._warming += job.warm
            self._pool.submit(self._execute, job)

    def _execute(self, job: Job) -> None:
        try:
            try:
                value = job.fn(job)
            except Exception:
                raise
            except BaseException as e:  # SystemExit, KeyboardInterrupt inside a computation: logged, then an error
                log.error("a computation was ended by %s (key %r)", e.__class__.__name__, job.key[:1], exc_info=e)
                raise Interrupted(f"The computation was interrupted on the server ({e.__class__.__name__}); try "
                                  "again, and if it persists tell whoever runs this server.") from e
        except BaseException as e:  # noqa: BLE001 - handed to every waiter
            with self._lock:
                self._inflight.pop(job.key, None)
                self._running -= 1
                self._warming -= job.warm
                self._dispatch()
            job.future.set_exception(e)
            return
        with self._lock:
            self.cache.put(job.key, value)
            self.computed += 1
            self._inflight.pop(job.key, None)
            self._running -= 1
            self._warming -= job.warm
            self._dispatch()
        job.future.set_result(value)
