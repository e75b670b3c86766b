"""Distributed execution of independent jobs: in-process (`local`) or on a Dask cluster (`dask`).

A job is any picklable object with `model_key()` (what to load: spec, revision, device, dtype),
`run(lm) -> dict[str, DataFrame]`, `identity() -> dict` and `label()` (sinklab.experiments.jobs.Job); the engine
knows nothing else of experiments. `execute(job)` never raises: a failing job (a revision that does not
exist, a length past the model's positions, a band outside the model, an unsupported family, ...) comes
back as a JobResult with its error, and the engine carries on with the others. Results come back in the
order the jobs were given, whatever the engine, so a Dask run gathers into exactly the serial tables.

Models are loaded once per worker process: sinklab.model.loading.load_cached keys a process-wide cache by
(spec, revision, device, dtype). On Dask every worker process has its own cache; threads of one process share
it (a lock serialises the loading).

    engine = make_engine("local")                                   # default, in-process
    engine = make_engine("dask", address="tcp://scheduler:8786")    # a running cluster
    engine = make_engine("dask", workers=2)                         # a LocalCluster, 1 thread per worker
    results = engine.map(jobs)
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import pandas as pd
import torch

from ..errors import BadInput, ModelUnavailable
from ..model.loading import load_cached

ENGINES = ("local", "dask")


# ------------------------------------------------------------------------------------------ one job
@dataclass
class JobResult:
    """What came back from one job: its tables, or its error (type and message), and its run time."""

    job: Any
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    worker: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def execute(job, threads: int | None = None, lm=None, memo=None) -> JobResult:
    """Run one job, catching every failure into the result (never raises).

    lm: run it on this already loaded model (an app's shared model, a notebook's) instead of loading
    job.model_key() through the per-process cache. memo: lm's InputMemo (sinklab.experiments.memo), to reuse
    per-input rows."""
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    worker = f"{os.getpid()}:{threading.current_thread().name}"
    try:
        tables = job.run(lm if lm is not None else load_cached(*job.model_key()), memo=memo)
        return JobResult(job, tables=tables, seconds=time.perf_counter() - t0, worker=worker)
    except Exception as e:  # noqa: BLE001 - a job's failure is data, recorded in the errors table
        msg = str(e) if str(e) else repr(e)
        if not isinstance(e, (BadInput, ModelUnavailable)):
            msg += " | " + traceback.format_exc(limit=3).strip().splitlines()[-1]
        return JobResult(job, error=msg, error_type=type(e).__name__, seconds=time.perf_counter() - t0,
                         worker=worker)


# ------------------------------------------------------------------------------------------ engines
class LocalEngine:
    """Every job in this process, one after the other."""

    name = "local"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def map(self, jobs: Sequence, progress: Callable[[int, int], None] | None = None) -> list[JobResult]:
        out = []
        for i, job in enumerate(jobs):
            out.append(execute(job, self.threads))
            if progress is not None:
                progress(i + 1, len(jobs))
        return out

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "local (in-process, serial)"


class DaskEngine:
    """Jobs as Dask futures: on the cluster at `address`, or on a LocalCluster of `workers` workers with
    `threads` torch threads and one Dask thread each (processes=False: threads of this process)."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int = 2, threads: int = 1, processes: bool = True,
                 timeout: str = "10s"):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as e:
            raise BadInput("--engine dask needs Dask distributed: pip install 'dask[distributed]'") from e
        self.threads = threads
        self.cluster = None
        if address:
            try:
                self.client = Client(address, timeout=timeout)
            except (OSError, TimeoutError) as e:
                raise BadInput(f"cannot reach the Dask scheduler at {address!r}: {e}") from None
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                        dashboard_address=None, silence_logs=40)
            self.client = Client(self.cluster)
        self.address = address

    def map(self, jobs: Sequence, progress: Callable[[int, int], None] | None = None) -> list[JobResult]:
        from dask.distributed import as_completed

        futures = [self.client.submit(execute, job, self.threads, pure=False) for job in jobs]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[JobResult | None] = [None] * len(jobs)
        done = 0
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                out[i] = fut.result()
            except Exception as e:  # noqa: BLE001 - a lost worker, an unpicklable result: recorded, not raised
                out[i] = JobResult(jobs[i], error=f"the Dask job failed: {e!r}", error_type=type(e).__name__)
            done += 1
            if progress is not None:
                progress(done, len(jobs))
        return out  # type: ignore[return-value]

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def describe(self) -> str:
        where = self.address or f"LocalCluster of {len(self.client.scheduler_info()['workers'])} workers"
        return f"dask ({where})"


def make_engine(name: str = "local", address: str | None = None, workers: int = 2, threads: int | None = None,
                processes: bool = True):
    """An engine by name: 'local' (default) or 'dask' (address: a scheduler; else a LocalCluster)."""
    if name not in ENGINES:
        raise BadInput(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")
    if name == "local":
        if address:
            raise BadInput("--address is for --engine dask")
        return LocalEngine(threads)
    return DaskEngine(address=address, workers=workers, threads=threads or 1, processes=processes)


def errors_table(results: Sequence[JobResult]) -> pd.DataFrame:
    """One row per failed job: its identity, the error type and message."""
    rows = [{**r.job.identity(), "job": r.job.label(), "setting": "", "error_type": r.error_type, "error": r.error}
            for r in results if not r.ok]
    return pd.DataFrame(rows, columns=["model", "revision", "seed", "regime", "n_tokens", "job", "setting",
                                       "error_type", "error"])
