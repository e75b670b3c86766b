#!/usr/bin/env python3
"""Cold start of the server recipe WITHOUT Docker: the image's own entrypoint and readiness check, run from a
virtualenv on this machine.

Starts `deploy/entrypoint.py streamlit run app/streamlit_app.py --server.headless true --server.port P`
(what the container runs: limits from the cgroup -> SINKLAB_WORKERS, the readiness preflight in the
background, then Streamlit) with SINKLAB_SERVER=1 SINKLAB_OFFLINE=1, and polls every 0.25 s until

  health  Streamlit's /_stcore/health answers 200 "ok"                      (the server is up)
  ready   `deploy/ready.py` (the HEALTHCHECK) exits 0: configuration valid, the default model loaded
          by the preflight, and /_stcore/health ok                          (what compose waits for)

and prints both, in seconds from process start, per run and the median. Run from the repository root:

    .venv/bin/python deploy/measure_start.py --runs 3
    .venv/bin/python deploy/measure_start.py --runs 3 --model gemma-3-270m   # a real model as the default
    .venv/bin/python deploy/measure_start.py --runs 1 --model gemma-3-270m --fresh-cache   # + its conversion

What it does not include: the container runtime's own start (namespaces, the overlay filesystem; usually
well under a second) and pulling or building the image.
"""
from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def start(port: int, state: Path, env_extra: dict[str, str] | None = None, python: str = sys.executable,
          log=subprocess.DEVNULL) -> subprocess.Popen:
    """The container's command line, as a process of this machine (its own process group)."""
    bindir = str(Path(python).parent)
    env = dict(os.environ, SINKLAB_SERVER="1", SINKLAB_OFFLINE="1", SINKLAB_READY_STATE=str(state),
               STREAMLIT_SERVER_PORT=str(port), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
               STREAMLIT_SERVER_FILE_WATCHER_TYPE="none", PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    env.pop("SINKLAB_MODEL", None)
    env.update(env_extra or {})
    cmd = [python, str(HERE / "entrypoint.py"), "streamlit", "run", "app/streamlit_app.py",
           "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def ready_once(port: int, state: Path, env_extra: dict[str, str] | None = None,
               python: str = sys.executable) -> subprocess.CompletedProcess:
    env = dict(os.environ, SINKLAB_SERVER="1", SINKLAB_OFFLINE="1", SINKLAB_READY_STATE=str(state),
               STREAMLIT_SERVER_PORT=str(port))
    env.pop("SINKLAB_MODEL", None)
    env.update(env_extra or {})
    return subprocess.run([python, str(HERE / "ready.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=30)


def stop(proc: subprocess.Popen) -> None:
    """End the server's process group (the server; the preflight is detached and ends by itself)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


def measure(timeout: float = 300.0, env_extra: dict[str, str] | None = None, python: str = sys.executable,
            log_path: Path | None = None) -> dict:
    """One cold start: {'health': s, 'ready': s, 'ready_line': ...}; raises TimeoutError past `timeout`."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sinklab-start-") as tmp:
        state = Path(tmp) / "ready.json"
        log = open(log_path, "w") if log_path else subprocess.DEVNULL
        t0 = time.perf_counter()
        proc = start(port, state, env_extra, python, log)
        out: dict = {}
        try:
            while time.perf_counter() - t0 < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with status {proc.returncode}")
                now = time.perf_counter() - t0
                if "health" not in out and _health_ok(port):
                    out["health"] = now
                if "health" in out:
                    r = ready_once(port, state, env_extra, python)
                    if r.returncode == 0:
                        out["ready"] = time.perf_counter() - t0
                        out["ready_line"] = r.stdout.strip()
                        return out
                    out["last"] = r.stdout.strip()
                time.sleep(0.25)
            raise TimeoutError(f"not ready after {timeout:.0f} s: {out}")
        finally:
            stop(proc)  # the preflight is in the same process group: ended too, if still running
            if log_path:
                log.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--model", default=None, help="SINKLAB_MODEL for the runs (default: none: the offline default)")
    ap.add_argument("--python", default=sys.executable, help="the virtualenv's python to run the server with")
    ap.add_argument("--fresh-cache", action="store_true",
                    help="an empty SINKLAB_CACHE_DIR for each run (a real model is converted again: a first start)")
    args = ap.parse_args(argv)
    extra = {"SINKLAB_MODEL": args.model} if args.model else {}
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}  {os.cpu_count()} cores  "
          f"{platform.python_implementation()} {platform.python_version()}  model={args.model or '(default)'}")
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="sinklab-cache-") as cache:
            r = measure(env_extra=dict(extra, SINKLAB_CACHE_DIR=cache) if args.fresh_cache else extra,
                        python=args.python)
        rows.append(r)
        print(f"run {i + 1}: health {r['health']:.1f} s, ready {r['ready']:.1f} s  -- {r['ready_line']}", flush=True)
    print(f"median: health {statistics.median(r['health'] for r in rows):.1f} s, "
          f"ready {statistics.median(r['ready'] for r in rows):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
