"""The waiting UI: while a request waits in the pool, the page shows a spinner, its position in the queue
("Queued — N ahead of you") or the lesson's progress bar, and gives up its place if the visitor reruns or leaves."""
from __future__ import annotations

import time
from concurrent.futures import TimeoutError as FutureTimeout

import streamlit as st

from .scheduler import Job, Scheduler, TimeLimit

GRACE = 2.0  # seconds past a computation's time limit before its page stops waiting (a reporting lesson stops itself)

POLL = 0.2  # seconds between queue-status checks while waiting
KEEPALIVE = 0.6  # seconds: an unchanged status is redrawn at most this often (lets a rerun interrupt the wait)


def queue_message(ahead: int, workers: int) -> str:
    """What a waiting visitor reads while their request is queued."""
    if ahead == 0:
        return "⏳ Queued — next in line."
    return (f"⏳ Queued — {ahead} ahead of you (this server runs {workers} "
            f"computation{'s' if workers != 1 else ''} at a time).")


def wait(sched: Scheduler, job: Job, session: str, label: str):
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
                    if job.deadline is not None and time.monotonic() > job.deadline + GRACE:
                        raise TimeLimit(job.timeout)  # the page stops waiting (finally: it leaves the job)
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
