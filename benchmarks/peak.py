"""Peak resident memory of a block of a benchmark (shared by the benchmarks; not part of sinklab)."""
from __future__ import annotations

import threading


class PeakRSS:
    """Peak resident memory of this process while the block runs (psutil, sampled every 5 ms), in MiB."""

    def __enter__(self):
        import psutil

        self.proc, self.stop = psutil.Process(), threading.Event()
        self.before = self.peak = self.proc.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def mib(self) -> tuple[float, float]:
        """(peak, peak minus what the process held when the block began)"""
        return self.peak / 2 ** 20, (self.peak - self.before) / 2 ** 20

    @property
    def text(self) -> str:
        peak, extra = self.mib
        return f"peak RSS {peak:.0f} MiB (+{extra:.0f} MiB over the loaded model)"
