"""How long a server's warm-up takes: every page's default view computed once, as `defaults.warm` queues them.

Not a test. The server queues each page's default request (app/defaults.default_requests) at its first visitor,
at the lowest priority; a learner who opens a sweep page (Across domains, Compare, Length and dose, Structural
origin) after the warm-up is served from the cache. This script computes the same requests one after the other in
one process on one worker (what a one-worker server does while nobody else asks) and prints each request's time
and the total, per model: the time after which every default view is ready.

Run:  .venv/bin/python benchmarks/bench_warmup.py --model smollm2-135m [--model textbook]
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))


class _Job:
    """What a request's task gets from the scheduler: a progress callback (ignored here)."""

    def report(self, *_a, **_k) -> None:
        pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", help="model name (repeatable); default: smollm2-135m")
    args = ap.parse_args(argv)
    import torch

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # bare mode: no ScriptRunContext warnings
    import defaults
    import models
    import serving
    from sidebar import make_settings
    from sinklab.config import Config

    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)  # bare mode: no ScriptRunContext warnings
    config = Config.load()
    for name in args.model or ["smollm2-135m"]:
        t0 = time.perf_counter()
        lm = models.get(name, config)
        load = time.perf_counter() - t0
        s = make_settings(config, name, lm)
        print(f"== {name}: loaded in {load:.1f} s; torch threads {torch.get_num_threads()}")
        total = 0.0
        for page, requests in defaults.default_requests(s).items():
            for fn, model, kwargs in requests:
                _, task = serving.request(fn, model, config, **kwargs)
                t = time.perf_counter()
                try:
                    task(_Job())
                    status = ""
                except Exception as e:  # noqa: BLE001 - a page may refuse a model: that is its default view too
                    status = f"  ({e.__class__.__name__}: {str(e)[:80]})"
                dt = time.perf_counter() - t
                total += dt
                print(f"  {page:14s} {getattr(fn, '__name__', fn)!s:28s} {dt:7.2f} s{status}")
        print(f"  warm-up total (one worker, after the load): {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
