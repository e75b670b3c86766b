#!/usr/bin/env python3
"""The image's ENTRYPOINT: size sinklab to the CONTAINER's limits, start the readiness preflight, then exec
the command (the Dockerfile's CMD: `streamlit run app/streamlit_app.py ...`).

Inside a container `os.cpu_count()` is the HOST's core count, so sinklab's default worker count
(sinklab/config.py: SINKLAB_WORKERS = number of cores) would start, say, 64 model computations at once in a
container limited to 2 CPUs. This reads the container's own limits from its cgroup:

  CPU     cgroup v2: cpu.max ("200000 100000" = 2 CPUs, "max 100000" = no limit);
          cgroup v1: cpu/cpu.cfs_quota_us / cpu/cpu.cfs_period_us (quota -1 = no limit);
          the smallest limit of the process's cgroup and its ancestors, and never more than the CPUs this
          process may run on (its affinity mask: `--cpuset-cpus`).
  memory  cgroup v2: memory.max ("max" = no limit); v1: memory/memory.limit_in_bytes (a limit at or above
          the machine's RAM = no limit).

and sets, ONLY where the operator left them unset or empty:
  SINKLAB_WORKERS    = the CPU limit rounded down (at least 1): a computation is one CPU-bound thread
                       (SINKLAB_THREADS=1), so more workers than CPUs only makes every visitor wait longer;
  SINKLAB_MEMORY_MB  = 60 % of the memory limit: the loaded models' budget (LRU beyond it); the rest is the
                       process itself (torch, Streamlit, pandas: ~0.7 GB), activations and result caches.

Then, where SINKLAB_READY_STATE is set (the image sets it), it starts `deploy/ready.py --preflight` in the
background (detached: reparented to the container's init, `init: true` in compose, which reaps it) so the
health check learns whether the default model loads without loading it every 30 s. The preflight runs with
one torch thread and at a lower CPU priority than the server. Prints one line; no paths.

For tests: SINKLAB_ENTRYPOINT_CGROUP (default /sys/fs/cgroup) and SINKLAB_ENTRYPOINT_PROC_CGROUP (default
/proc/self/cgroup) point at fake cgroup files.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEMORY_SHARE = 0.60  # of the container's memory limit, for loaded models (SINKLAB_MEMORY_MB)
MIN_BUDGET_MB = 256


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _own_paths(proc_cgroup: Path) -> dict[str, str]:
    """controller -> this process's cgroup path, from /proc/self/cgroup ("" for cgroup v2's unified line)."""
    out: dict[str, str] = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for c in (controllers.split(",") if controllers else [""]):
            out[c] = path
    return out


def _chain(mount: Path, path: str | None) -> list[Path]:
    """`mount`/`path` and each of its ancestors up to `mount` (inside a container the mount is usually the
    container's own cgroup already, and `path` does not exist below it: then only `mount`)."""
    dirs: list[Path] = []
    rel = Path((path or "/").lstrip("/"))
    while True:
        d = mount / rel
        if d.is_dir() and d not in dirs:
            dirs.append(d)
        if rel == Path(".") or str(rel) in ("", "."):
            break
        rel = rel.parent
    if mount not in dirs and mount.is_dir():
        dirs.append(mount)
    return dirs


def _is_v2(root: Path) -> bool:
    return (root / "cgroup.controllers").is_file()


def cpu_limit(root: Path | str = "/sys/fs/cgroup", proc_cgroup: Path | str = "/proc/self/cgroup") -> float | None:
    """The container's CPU limit in CPUs (e.g. 1.5), or None when there is none."""
    root, own = Path(root), _own_paths(Path(proc_cgroup))
    limits: list[float] = []
    if _is_v2(root):
        for d in _chain(root, own.get("")):
            text = _read(d / "cpu.max")
            if not text:
                continue
            quota, _, period = text.partition(" ")
            if quota != "max":
                try:
                    q, p = int(quota), int(period or 100000)
                except ValueError:
                    continue
                if q > 0 and p > 0:
                    limits.append(q / p)
    else:
        mount = next((root / n for n in ("cpu,cpuacct", "cpu", "cpuacct,cpu") if (root / n).is_dir()), None)
        if mount is not None:
            for d in _chain(mount, own.get("cpu")):
                q, p = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
                try:
                    q_, p_ = int(q or -1), int(p or 100000)
                except ValueError:
                    continue
                if q_ > 0 and p_ > 0:
                    limits.append(q_ / p_)
    return min(limits) if limits else None


def memory_limit(root: Path | str = "/sys/fs/cgroup", proc_cgroup: Path | str = "/proc/self/cgroup",
                 physical: int | None = None) -> int | None:
    """The container's memory limit in bytes, or None when there is none (or it is not below the RAM)."""
    root, own = Path(root), _own_paths(Path(proc_cgroup))
    if physical is None:
        try:
            physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            physical = 1 << 62
    limits: list[int] = []
    if _is_v2(root):
        dirs, name = _chain(root, own.get("")), "memory.max"
    else:
        mount = root / "memory"
        dirs, name = (_chain(mount, own.get("memory")) if mount.is_dir() else []), "memory.limit_in_bytes"
    for d in dirs:
        text = _read(d / name)
        if not text or text == "max":
            continue
        try:
            value = int(text)
        except ValueError:
            continue
        if 0 < value < physical:
            limits.append(value)
    return min(limits) if limits else None


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def workers_for(cpus: float | None, available: int) -> int:
    """Model computations at once: the CPU limit rounded down, at least 1, at most the CPUs available."""
    if cpus is None:
        return max(1, available)
    return max(1, min(available, math.floor(cpus + 1e-9)))


def budget_mb_for(limit_bytes: int | None) -> int | None:
    if limit_bytes is None:
        return None
    return max(MIN_BUDGET_MB, int(limit_bytes / 2**20 * MEMORY_SHARE))


def derived_env(env, root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup",
                available: int | None = None, physical: int | None = None) -> tuple[dict[str, str], str]:
    """(the variables to set, a one-line explanation). Never overrides a non-empty operator value."""
    cpus = cpu_limit(root, proc_cgroup)
    mem = memory_limit(root, proc_cgroup, physical)
    available = available_cpus() if available is None else available
    out: dict[str, str] = {}
    cpu_text = f"CPU limit {cpus:g}" if cpus is not None else f"no CPU limit, {available} CPUs available"
    if not env.get("SINKLAB_WORKERS", "").strip():
        out["SINKLAB_WORKERS"] = str(workers_for(cpus, available))
        cpu_text += f" -> SINKLAB_WORKERS={out['SINKLAB_WORKERS']}"
    else:
        cpu_text += " (SINKLAB_WORKERS set by the operator)"
    mem_text = f"memory limit {mem // 2**20} MB" if mem is not None else "no memory limit"
    budget = budget_mb_for(mem)
    if not env.get("SINKLAB_MEMORY_MB", "").strip():
        if budget is not None:
            out["SINKLAB_MEMORY_MB"] = str(budget)
            mem_text += f" -> SINKLAB_MEMORY_MB={budget}"
    else:
        mem_text += " (SINKLAB_MEMORY_MB set by the operator)"
    return out, f"{cpu_text}; {mem_text}"


def start_preflight(env: dict[str, str]) -> None:
    """`ready.py --preflight` detached (double fork: its parent exits at once, so the container's init
    adopts and reaps it; this process then execs the server)."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            if os.fork() == 0:  # grandchild: the preflight
                try:
                    os.nice(5)
                except OSError:
                    pass
                child_env = dict(env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
                os.execve(sys.executable, [sys.executable, str(HERE / "ready.py"), "--preflight"], child_env)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: entrypoint.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    root = env.get("SINKLAB_ENTRYPOINT_CGROUP", "/sys/fs/cgroup")
    proc = env.get("SINKLAB_ENTRYPOINT_PROC_CGROUP", "/proc/self/cgroup")
    updates, why = derived_env(env, root, proc)
    env.update(updates)
    print(f"sinklab entrypoint: {why}", flush=True)
    if env.get("SINKLAB_READY_STATE", "").strip():
        start_preflight(env)
    os.execvpe(argv[0], argv, env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
