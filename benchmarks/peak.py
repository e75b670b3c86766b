"""Peak resident memory of a block of a benchmark (shared by the benchmarks; not part of sinklab)."""
from __future__ import annotations

import ctypes
import threading


def _malloc_trim() -> None:
    """glibc's malloc_trim(0): small freed blocks go back to the OS, so an RSS baseline is not an old peak
    (large tensors are mmap'd and returned on free anyway). A no-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """Peak resident memory of this process (or of process `pid`) while the block runs (psutil, sampled every
    5 ms), in MiB. For a subprocess, sample its pid: getrusage's ru_maxrss of a child starts at the parent's
    RSS when it forked (kept across exec), so it says nothing about a small child of a large parent."""

    def __init__(self, pid: int | None = None):
        self.pid = pid

    def __enter__(self):
        import gc

        import psutil

        if self.pid is None:  # start from what this process really holds: freed heap back to the OS first
            gc.collect()
            _malloc_trim()
        self.proc, self.stop = psutil.Process(self.pid), threading.Event()
        self.before = self.peak = self.proc.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _rss(self) -> int:
        import psutil

        try:
            return self.proc.memory_info().rss
        except psutil.Error:  # the process has ended
            return 0

    def _sample(self):
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def mib(self) -> tuple[float, float]:
        """(peak, peak minus what the process held when the block began)"""
        return self.peak / 2 ** 20, (self.peak - self.before) / 2 ** 20

    @property
    def text(self) -> str:
        peak, extra = self.mib
        return f"peak RSS {peak:.0f} MiB (+{extra:.0f} MiB over the loaded model)"
