"""Classroom load on a REAL `streamlit run` server: N headless sessions driving the app over its websocket.

Not a test. It answers "how does one server behave when a class opens the link at once and starts moving
sliders?". Each simulated student is a headless client speaking Streamlit's own websocket protocol
(`/_stcore/stream`, protobuf `BackMsg`/`ForwardMsg` from `streamlit.proto`): no browser, so the load
generator's own CPU cost stays small and is measured and printed next to the server's.

No maintained headless Streamlit websocket client exists on PyPI (load tools for Streamlit drive real
browsers, e.g. Streamlit's own Playwright-based load tests), so the ~150-line client below is written
here. What it sends is what the browser sends:
  - a new session: `rerun_script` with the page's url path (`page_name`) and the link's query string;
  - moving a slider: `rerun_script` with the slider's new value in `widget_states` (its widget id is read
    from the page's own `ForwardMsg` deltas), the query string as last published by the app;
  - switching page: `rerun_script` with the target page's `page_script_hash`.
A run is timed from sending the `BackMsg` to receiving the `script_finished` `ForwardMsg`; "first chart"
is the time until the first Vega-Lite chart delta of a session arrives.

Each session: opens Start (a new session: first chart), then cycles Interventions (α = a new value each
move), Decomposition (head changes), Structural origin (amplify factor changes), with a think time
between interactions. It stops by itself after --interactions per session or --duration seconds.

Targets (issue 12): p95 <= 2 s per slider move at 30 sessions; first chart <= 5 s for a new session on
a warm server. Ratios to the targets are printed (<= 1.00 meets the target).

The server is started here (`SINKLAB_MODEL=textbook`, or `--model`, one process, pinned by `taskset` to its own cores
when there are at least two, the load generator to the others) unless --url is given; then its CPU is
measured only if --server-pid is given too.

--scenario domains (issue 20.6): the first session opens Across domains alone with the page's default n (the view
the server's warm-up computes), then each other session opens it once with its own n (2, 3, …, shuffled), arriving
over --ramp seconds; the inputs' sweep rows are shared across n, sessions and pages (sinklab.experiments.memo), so
a later session computes only the inputs nobody asked for yet. Target: p95 <= 5 s after the first session.
--server-mode starts the server as a class would (SINKLAB_SERVER=1): its warm-up also computes Across domains'
inputs up to SINKLAB_FILL_N, and the load starts once the server has gone idle (the time is printed).

Run:  .venv/bin/python benchmarks/bench_load.py [--sessions 30] [--interactions 10] [--think 2]
      .venv/bin/python benchmarks/bench_load.py --scenario domains --model smollm2-135m --sessions 30
      .venv/bin/python benchmarks/bench_load.py --scenario domains --model smollm2-135m --server-mode --ramp 30
      .venv/bin/python benchmarks/bench_load.py --sessions 4 --interactions 6      (a quick check)
      .venv/bin/python benchmarks/bench_load.py --url http://127.0.0.1:8501 --server-pid PID
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "streamlit_app.py"
SLIDER_P95_TARGET = 2.0  # s, per slider move at 30 sessions
FIRST_CHART_TARGET = 5.0  # s, new session on a warm server
DOMAINS_P95_TARGET = 5.0  # s, Across domains with a new n, after the first session (issue 20.6)
DOMAINS_KIND = "page: Across domains (its own n)"
SLIDER_KINDS = ("slider: α (interventions)", "slider: head (decomposition)", "slider: factor (origin)",
                "slider: factor (interventions, amplify)")
CHART_TYPES = ("vega_lite_chart", "arrow_vega_lite_chart")


# ---------------------------------------------------------------- a headless Streamlit client
@dataclass
class Run:
    kind: str
    elapsed: float  # s, BackMsg sent -> script_finished received
    first_chart: float | None  # s, BackMsg sent -> first chart delta (None: no chart in this run)
    nbytes: int
    status: str
    problems: list[str] = field(default_factory=list)  # exceptions and error boxes shown on the page


class StreamlitSession:
    """One browser tab's worth of protocol: a websocket to /_stcore/stream, reruns timed to script_finished."""

    def __init__(self, base_url: str, headers: dict | None = None):
        u = urllib.parse.urlsplit(base_url.rstrip("/"))
        self.origin = f"{u.scheme}://{u.netloc}"
        scheme = "wss" if u.scheme == "https" else "ws"
        self.ws_url = f"{scheme}://{u.netloc}{u.path}/_stcore/stream"
        self.headers = dict(headers or {})
        self.ws = None
        self.session_id: str | None = None
        self.page_hashes: dict[str, str] = {}  # url path -> page_script_hash
        self.query_string = ""  # as last published by the app (page_info_changed)
        self.widgets: dict[str, tuple[str, str]] = {}  # user key -> (widget id, element type)
        self.ranges: dict[str, tuple[float, float, float]] = {}  # slider user key -> (min, max, step)
        self.response_headers: dict[str, str] = {}

    async def open(self, timeout: float = 30) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.ws_url, subprotocols=["streamlit"], origin=self.origin,
                                additional_headers=self.headers, max_size=None, open_timeout=timeout,
                                ping_interval=None, compression=None)
        self.response_headers = {k.lower(): v for k, v in self.ws.response.headers.raw_items()}

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def run(self, kind: str, page: str, query: str | None = None, widget: tuple[str, float] | None = None,
                  timeout: float = 300) -> Run:
        """Rerun the script on `page` (a url path) with `query` (default: the app's last one) and,
        optionally, one slider `(user key, value)` moved. Returns when script_finished arrives."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        rs = msg.rerun_script
        rs.query_string = self.query_string if query is None else query
        if page in self.page_hashes:
            rs.page_script_hash = self.page_hashes[page]
        else:
            rs.page_name = page
        if widget is not None:
            key, value = widget
            wid, etype = self.widgets[key]
            if etype != "slider":
                raise ValueError(f"only sliders are moved here, {key} is a {etype}")
            ws = rs.widget_states.widgets.add()
            ws.id = wid
            ws.double_array_value.data.append(float(value))
        self.widgets, self.ranges = {}, {}  # only the widgets this run draws count as "on the page"
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        first_chart = None
        nbytes = 0
        problems: list[str] = []
        deadline = t0 + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{kind}: no script_finished within {timeout:.0f} s")
            data = await asyncio.wait_for(self.ws.recv(), timeout=left)
            nbytes += len(data)
            fm = ForwardMsg.FromString(data)
            what = fm.WhichOneof("type")
            if what == "new_session":
                ns = fm.new_session
                self.session_id = ns.initialize.session_id or self.session_id
                self._pages(ns.app_pages)
            elif what == "navigation":
                self._pages(fm.navigation.app_pages)
            elif what == "page_info_changed":
                self.query_string = fm.page_info_changed.query_string
            elif what == "page_not_found":
                problems.append(f"page not found: {page}")
            elif what == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                etype = el.WhichOneof("type")
                if etype in CHART_TYPES and first_chart is None:
                    first_chart = time.perf_counter() - t0
                elif etype == "exception":
                    problems.append(f"exception: {el.exception.type}: {el.exception.message[:200]}")
                elif etype == "alert" and el.alert.format == 1:  # ERROR
                    problems.append(f"error box: {el.alert.body[:200]}")
                elif etype in ("slider", "selectbox", "checkbox", "radio"):
                    wid = getattr(el, etype).id
                    key = wid.split("-", 2)[-1] if wid.count("-") >= 2 else wid
                    self.widgets[key] = (wid, etype)
                    if etype == "slider":
                        self.ranges[key] = (el.slider.min, el.slider.max, el.slider.step)
            elif what == "script_finished":
                status = fm.DESCRIPTOR.fields_by_name["script_finished"].enum_type.values_by_number[
                    fm.script_finished].name
                if status == "FINISHED_EARLY_FOR_RERUN":
                    continue  # the app reran itself (st.rerun / switch_page): wait for the real end
                if status != "FINISHED_SUCCESSFULLY":
                    problems.append(f"script finished with {status}")
                return Run(kind, time.perf_counter() - t0, first_chart, nbytes, status, problems)

    def _pages(self, app_pages) -> None:
        for p in app_pages:
            if p.page_script_hash:
                self.page_hashes[p.url_pathname] = p.page_script_hash
                if p.is_default:
                    self.page_hashes.setdefault("", p.page_script_hash)


# ---------------------------------------------------------------- one simulated student
@dataclass
class Stats:
    runs: list[Run] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # timeouts, dropped connections


def _values(lo: float, hi: float, step: float, rng: random.Random, n: int, avoid=None) -> list[float]:
    grid = [round(lo + i * step, 6) for i in range(int(round((hi - lo) / step)) + 1)]
    rng.shuffle(grid)
    out = [v for v in grid if v != avoid]
    return (out * (n // max(1, len(out)) + 1))[:n]


async def student(i: int, url: str, args, stats: Stats, t_end: float, start_delay: float) -> None:
    rng = random.Random(1000 + i)
    await asyncio.sleep(start_delay)
    s = StreamlitSession(url)
    n_done = 0

    async def think():
        await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))

    def room() -> bool:
        return n_done < args.interactions and time.perf_counter() < t_end

    async def do(kind, page, query=None, widget=None):
        nonlocal n_done
        if widget is not None:
            key = next((k for k in (widget[0], f"iv_{widget[0]}") if k in s.widgets), None)
            if key is None:  # the page errored before drawing it, or the app renamed it
                stats.failures.append(f"session {i}: no slider {widget[0]!r} on {page!r}; move skipped")
                n_done += 1
                return None
            widget = (key, widget[1])
        r = await s.run(kind, page, query, widget, timeout=args.timeout)
        stats.runs.append(r)
        n_done += 1
        return r

    iv = args.iv  # "b", or "amplify" where (b) does not run (warm_up decides)
    try:
        await s.open()
        # a student opens the teacher's link: a new session on Start
        await do("new session: Start (first chart)", "", f"model={args.model}")  # the link: "/"
        while room():
            # Interventions with intervention b (amplify where b does not run); values differ per student and move
            await think()
            if not room():
                break
            await do("page: Interventions", "interventions", _merge(s.query_string, iv=iv))
            key, kind = ("alpha", SLIDER_KINDS[0]) if iv == "b" else ("factor", SLIDER_KINDS[3])
            lo, hi, step = s.ranges.get(key, (0.05, 1.0, 0.05) if iv == "b" else (1.0, 20.0, 0.5))
            for a in _values(lo, hi, step, rng, args.moves, avoid=4.0 if iv == "amplify" else None):
                if not room():
                    break
                await think()
                await do(kind, "interventions", widget=(key, a))
            # Decomposition: change the head
            if not room():
                break
            await think()
            await do("page: Decomposition", "decomposition")
            lo, hi, _ = s.ranges.get("dhead", (0, 3, 1))
            for h in _values(int(lo), int(hi), 1, rng, args.moves):
                if not room():
                    break
                await think()
                await do(SLIDER_KINDS[1], "decomposition", widget=("dhead", int(h)))
            # Structural origin: change the amplify factor
            if not room():
                break
            await think()
            await do("page: Structural origin", "origin")
            for f in _values(0.5, 20.0, 0.5, rng, args.moves, avoid=4.0):
                if not room():
                    break
                await think()
                await do(SLIDER_KINDS[2], "origin", widget=("factor", f))
    except Exception as e:  # noqa: BLE001 - count it, keep the other students going
        stats.failures.append(f"session {i}: {e.__class__.__name__}: {e}")
    finally:
        await _close_quietly(s)


async def _close_quietly(s: "StreamlitSession") -> None:
    """Close a session; a failure to close is not the measurement's business."""
    try:
        await s.close()
    except Exception:  # noqa: BLE001
        pass


def _merge(query: str, **kw) -> str:
    q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    q.update({k: str(v) for k, v in kw.items()})
    return urllib.parse.urlencode(q)


# ---------------------------------------------------------------- server and CPU accounting
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


def _proc_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of `pid` and its children (psutil if present, else /proc)."""
    try:
        import psutil

        p = psutil.Process(pid)
        total = sum(p.cpu_times()[:2])
        for c in p.children(recursive=True):
            try:
                total += sum(c.cpu_times()[:2])
            except psutil.Error:
                pass
        return total
    except ImportError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class Server:
    """`streamlit run` of the app on a free loopback port, optionally pinned with taskset."""

    def __init__(self, cores: list[int] | None, model: str = "textbook", server_mode: bool = False):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="bench_load_server_", suffix=".log", delete=False)
        env = dict(os.environ, SINKLAB_MODEL=model, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        if server_mode:  # the classroom configuration: the first request queues the warm-up (and its fills)
            env.update(SINKLAB_SERVER="1")
        cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        if cores and shutil.which("taskset"):
            cmd = ["taskset", "-c", ",".join(map(str, cores))] + cmd
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; log: {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"the server was not healthy within {timeout:.0f} s; log: {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()


# ---------------------------------------------------------------- report
def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def report(stats: Stats, wall: float, server_cpu: float | None, gen_cpu: float, args, warm: dict) -> None:
    by_kind: dict[str, list[Run]] = defaultdict(list)
    for r in stats.runs:
        by_kind[r.kind].append(r)
    print(f"\n== {args.sessions} sessions, {len(stats.runs)} interactions in {wall:.1f} s "
          f"(throughput {len(stats.runs) / wall:.2f} interactions/s), think time {args.think:g} s ± 50 %")
    print(f"{'interaction':40s} {'n':>4s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s} {'MB/run':>7s} {'problems':>8s}")
    for kind in sorted(by_kind, key=lambda k: (not k.startswith("new"), k)):
        rs = by_kind[kind]
        el = [r.elapsed for r in rs]
        print(f"{kind:40s} {len(rs):4d} {pct(el, .5):7.2f} {pct(el, .95):7.2f} {max(el):7.2f} "
              f"{statistics.mean(r.nbytes for r in rs) / 1e6:7.3f} {sum(bool(r.problems) for r in rs):8d}")
    sliders = [r.elapsed for r in stats.runs if r.kind in SLIDER_KINDS]
    firsts = [r.first_chart for r in by_kind.get("new session: Start (first chart)", []) if r.first_chart is not None]
    print("\n== targets (ratio = measured / target; <= 1.00 meets it)")
    if sliders:
        p95 = pct(sliders, .95)
        print(f"slider moves, all pages:   p95 {p95:6.2f} s  target {SLIDER_P95_TARGET:.1f} s  ratio {p95 / SLIDER_P95_TARGET:5.2f}"
              f"   (p50 {pct(sliders, .5):.2f} s, n={len(sliders)}, at {args.sessions} sessions)")
    if firsts:
        p95 = pct(firsts, .95)
        print(f"first chart, new session under load: p95 {p95:6.2f} s  target {FIRST_CHART_TARGET:.1f} s  "
              f"ratio {p95 / FIRST_CHART_TARGET:5.2f}   (p50 {pct(firsts, .5):.2f} s, n={len(firsts)})")
    if warm.get("first_chart") is not None:
        fc = warm["first_chart"]
        print(f"first chart, one new session on the warm idle server: {fc:6.2f} s  target {FIRST_CHART_TARGET:.1f} s  "
              f"ratio {fc / FIRST_CHART_TARGET:5.2f}   (script finished after {warm['elapsed']:.2f} s)")
    print("\n== CPU during the load phase (user+system seconds / wall seconds = cores busy)")
    if server_cpu is not None:
        print(f"server:         {server_cpu:7.1f} s CPU  = {server_cpu / wall:5.2f} cores   ({args.server_cores_text})")
    else:
        print("server:         not measured (--url without --server-pid)")
    print(f"load generator: {gen_cpu:7.1f} s CPU  = {gen_cpu / wall:5.2f} cores   ({args.gen_cores_text})")
    if server_cpu:
        print(f"generator / server CPU: {gen_cpu / server_cpu:.1%}")
    problems = [(r.kind, p) for r in stats.runs for p in r.problems]
    if problems or stats.failures:
        print(f"\n== problems: {len(problems)} shown by the app, {len(stats.failures)} session failures")
        seen = set()
        for kind, p in problems:
            if (kind, p) not in seen:
                seen.add((kind, p))
                print(f"  [{kind}] {p}")
            if len(seen) >= 12:
                break
        for f in stats.failures[:12]:
            print(f"  {f}")


# ---------------------------------------------------------------- main
async def load_phase(url: str, args) -> Stats:
    stats = Stats()
    t_end = time.perf_counter() + args.duration
    tasks = [student(i, url, args, stats, t_end, args.ramp * i / max(1, args.sessions - 1) if args.sessions > 1 else 0)
             for i in range(args.sessions)]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.duration + args.timeout + 30)
    return stats


async def domains_phase(url: str, args) -> tuple[Stats, list[tuple[int, int, float]]]:
    """--scenario domains: the first session opens Across domains alone with the page's default n (what the
    server's warm-up would have computed); then every other session opens it with its own n (distinct values from
    --n-min on, the default left out, shuffled), starting spread over --ramp seconds.
    Returns the stats and (arrival, n, seconds)."""
    sys.path.insert(0, str(ROOT / "app"))
    from defaults import DOMAINS

    first = DOMAINS["n"]
    ns = [n for n in range(args.n_min, args.n_min + args.sessions) if n != first][:args.sessions - 1]
    random.Random(7).shuffle(ns)
    ns = [first] + ns
    stats, arrivals = Stats(), []

    async def one(i: int, n: int) -> None:
        if i > 0:
            await asyncio.sleep(args.ramp * (i - 1) / max(1, args.sessions - 2) if args.sessions > 2 else 0)
        s = StreamlitSession(url)
        try:
            await s.open()
            r = await s.run(DOMAINS_KIND, "domains", f"model={args.model}&dom_n={n}", timeout=args.timeout)
            stats.runs.append(r)
            arrivals.append((i, n, r.elapsed))
        except Exception as e:  # noqa: BLE001 - count it, keep the other sessions going
            stats.failures.append(f"session {i} (n={n}): {e.__class__.__name__}: {e}")
        finally:
            await _close_quietly(s)

    await asyncio.wait_for(one(0, ns[0]), timeout=args.timeout + 30)  # the first, alone
    await asyncio.wait_for(asyncio.gather(*(one(i, n) for i, n in enumerate(ns) if i > 0)),
                           timeout=args.duration + args.timeout + 30)
    return stats, sorted(arrivals)


def report_domains(stats: Stats, arrivals: list[tuple[int, int, float]], wall: float) -> None:
    el = [e for _, _, e in arrivals]
    later = [e for i, _, e in arrivals if i > 0]
    print(f"\n== Across domains, {len(arrivals)} sessions with distinct n, in {wall:.1f} s")
    print("arrival  n   seconds")
    for i, n, e in arrivals:
        print(f"{i:7d} {n:3d} {e:9.2f}")
    if el:
        print(f"all sessions:          p50 {pct(el, .5):6.2f} s  p95 {pct(el, .95):6.2f} s  max {max(el):6.2f} s")
    if later:
        p95 = pct(later, .95)
        print(f"after the first:       p50 {pct(later, .5):6.2f} s  p95 {p95:6.2f} s  target {DOMAINS_P95_TARGET:.1f} s  "
              f"ratio {p95 / DOMAINS_P95_TARGET:5.2f}")
    problems = [p for r in stats.runs for p in r.problems]
    if problems or stats.failures:
        print(f"problems: {len(problems)} shown by the app, {len(stats.failures)} session failures")
        for p in (problems + stats.failures)[:12]:
            print(f"  {p}")


async def warm_up(url: str, args) -> dict:
    """Warm the server's caches (every page once, one α move), then time one new session on Start.
    --scenario domains: Start only (the model loaded), so the first Across domains session finds no inputs."""
    s = StreamlitSession(url)
    await s.open()
    try:
        t0 = time.perf_counter()
        r = await s.run("warm-up", "", f"model={args.model}", timeout=args.timeout)
        print(f"warm-up: Start, first session on this server: {time.perf_counter() - t0:.2f} s"
              + (f"  problems: {r.problems}" if r.problems else ""))
        for page in (() if args.scenario == "domains" else ("interventions", "decomposition", "origin")):
            q = _merge(s.query_string, iv="b") if page == "interventions" else None
            r = await s.run("warm-up", page, q, timeout=args.timeout)
            print(f"warm-up: {page}: {r.elapsed:.2f} s" + (f"  problems: {r.problems}" if r.problems else ""))
            if page == "interventions" and r.first_chart is None:  # (b) refused (no b_Q: no maps drawn)
                args.iv = "amplify"  # the students move "Amplify variance at k"'s factor instead of α
                other = StreamlitSession(url)  # a fresh session: this one's selectbox keeps (b)
                await other.open()
                try:
                    r = await other.run("warm-up", page, f"model={args.model}&iv=amplify", timeout=args.timeout)
                finally:
                    await _close_quietly(other)
                print(f"warm-up: {page} with amplify ((b) does not run here): {r.elapsed:.2f} s"
                      + (f"  problems: {r.problems}" if r.problems else ""))
    finally:
        await s.close()
    s = StreamlitSession(url)
    await s.open()
    try:
        r = await s.run("new session, warm idle server", "", f"model={args.model}", timeout=args.timeout)
    finally:
        await s.close()
    return {"first_chart": r.first_chart, "elapsed": r.elapsed}


def wait_idle(pid: int, quiet: float = 0.05, window: float = 3.0, limit: float = 1800) -> float:
    """Seconds until the process used < `quiet` of a core over `window` seconds (its warm-up has finished)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        c0 = _proc_cpu_seconds(pid)
        time.sleep(window)
        if _proc_cpu_seconds(pid) - c0 < quiet * window:
            return time.perf_counter() - t0 - window
    raise SystemExit(f"the server was still busy after {limit:.0f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30, help="simultaneous sessions (students)")
    ap.add_argument("--model", default="textbook", help="the server's model (e.g. smollm2-135m: a real model)")
    ap.add_argument("--interactions", type=int, default=10, help="interactions per session, the first included")
    ap.add_argument("--moves", type=int, default=2, help="slider moves per page visit")
    ap.add_argument("--think", type=float, default=2.0, help="mean think time between interactions, s")
    ap.add_argument("--ramp", type=float, default=5.0, help="the sessions start spread over this many seconds")
    ap.add_argument("--duration", type=float, default=600, help="stop the load phase after this many seconds")
    ap.add_argument("--timeout", type=float, default=300, help="one interaction may take at most this long")
    ap.add_argument("--url", help="use this running server instead of starting one")
    ap.add_argument("--server-pid", type=int, help="with --url: the server's pid, for its CPU time")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and generator to separate cores")
    ap.add_argument("--scenario", choices=("class", "domains"), default="class",
                    help="class: Start, then sliders on three pages; domains: each session opens Across domains "
                         "once with its own n (inputs shared across n: sinklab.experiments.memo)")
    ap.add_argument("--n-min", type=int, default=2, help="--scenario domains: the smallest n (then n+1, ...)")
    ap.add_argument("--server-mode", action="store_true",
                    help="start the server with SINKLAB_SERVER=1 (its warm-up computes every default view and "
                         "Across domains' inputs up to SINKLAB_FILL_N) and wait until it is idle before the load")
    args = ap.parse_args(argv)
    args.iv = "b"  # the class scenario's intervention (warm_up switches to amplify where (b) does not run)
    try:
        import websockets  # noqa: F401  (streamlit depends on it)
    except ImportError:
        raise SystemExit("the websockets package is missing (pip install websockets)")

    cores = _cores()
    server_cores = gen_cores = None
    if not args.no_pin and len(cores) >= 2 and shutil.which("taskset"):
        k = max(1, len(cores) - 1) if len(cores) > 2 else 1
        server_cores, gen_cores = cores[:k], cores[k:]
    server = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.server_pid
        args.server_cores_text = "not started here"
    else:
        server = Server(server_cores, args.model, server_mode=args.server_mode)
        url = server.url
        pid = server.proc.pid
        args.server_cores_text = f"pinned to cores {server_cores}" if server_cores else "not pinned"
    if gen_cores:
        os.sched_setaffinity(0, gen_cores)
    args.gen_cores_text = f"pinned to cores {gen_cores}" if gen_cores else "not pinned"
    print(f"server {url} ({args.server_cores_text}); load generator {args.gen_cores_text}; "
          f"{len(cores)} cores available")
    try:
        if server:
            t0 = time.perf_counter()
            server.wait_healthy()
            print(f"server healthy after {time.perf_counter() - t0:.1f} s")
        warm = asyncio.run(warm_up(url, args))
        if args.server_mode and pid:
            print(f"the server's own warm-up went idle after {wait_idle(pid):.1f} s more", flush=True)
        cpu_s0 = _proc_cpu_seconds(pid) if pid else None
        cpu_g0 = _self_cpu_seconds()
        t0 = time.perf_counter()
        if args.scenario == "domains":
            stats, arrivals = asyncio.run(domains_phase(url, args))
        else:
            stats = asyncio.run(load_phase(url, args))
        wall = time.perf_counter() - t0
        server_cpu = _proc_cpu_seconds(pid) - cpu_s0 if pid else None
        gen_cpu = _self_cpu_seconds() - cpu_g0
    finally:
        if server:
            server.stop()
            print(f"(server stopped; its log: {server.log.name})")
    if args.scenario == "domains":
        report_domains(stats, arrivals, wall)
        print(f"server CPU {server_cpu:.1f} s = {server_cpu / wall:.2f} cores" if server_cpu is not None else "")
    else:
        report(stats, wall, server_cpu, gen_cpu, args, warm)
    return 0 if stats.runs else 1


if __name__ == "__main__":
    sys.exit(main())
