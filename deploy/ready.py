#!/usr/bin/env python3
"""Readiness of a sinklab server: exit 0 only when it can really serve a class, else 1 with the reason.

Ready means all three of:
  1. sinklab's configuration loads: `sinklab.config.Config.load()` (SINKLAB_* variables and the operator's
     TOML file) raises nothing -- e.g. SINKLAB_WORKERS=zero or a broken sinklab.toml is NOT ready;
  2. the default model can be served: `sinklab.load_configured(Config.load())` succeeded (the
     configured SINKLAB_MODEL, else GPT-2 small or the offline default) -- e.g. SINKLAB_MODEL=no-such-model
     with SINKLAB_OFFLINE=1 is NOT ready;
  3. Streamlit's own /_stcore/health answers 200 "ok".

Two ways to run it:

    python deploy/ready.py              # checks 1-3 in this process (loads the model: seconds, ~1 GB)
    python deploy/ready.py --preflight  # checks 1-2 only, and writes the result to the state file

In the image (deploy/Dockerfile, deploy/compose*.yaml) the entrypoint (deploy/entrypoint.py) runs the
preflight ONCE, in the background, as the server starts, with SINKLAB_READY_STATE naming the state file;
the HEALTHCHECK then runs `python /app/deploy/ready.py`, which re-checks the configuration (cheap: it does
not import torch), reads the preflight's result instead of loading the model again every 30 s, and polls
/_stcore/health. While the preflight is still loading the model the answer is "not ready".

It prints one line and NO filesystem path (server mode hides paths from visitors, and operators read this
line in `docker inspect` / `docker compose ps`): paths in messages become <path>. Exit status: 0 ready,
1 not ready, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import sys
import time
import types
import urllib.error
import urllib.request

STATE_ENV = "SINKLAB_READY_STATE"

# an absolute, home-relative or ./ ../ path (not the "/" inside a hub id such as openai-community/gpt2,
# nor a URL's //host/...)
_PATH = re.compile(r"""(?<![\w:/.~-])(?:~|\.{1,2})?/[^\s'"`,;)\]}>]*""")


class NotReady(Exception):
    """Why the server is not ready (already free of paths)."""


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """`text` without filesystem paths: every path-like token, and each string of `extra` (values that name
    files, such as the configured model or the config file), becomes <path>. One line."""
    for s in sorted((e for e in extra if e and len(e) > 1), key=len, reverse=True):
        text = text.replace(s, "<path>")
    text = re.sub(r"(?:<path>)+", "<path>", _PATH.sub("<path>", text))
    return " | ".join(ln.strip() for ln in text.splitlines() if ln.strip())


def _secrets(env) -> tuple[str, ...]:
    """Values from the environment that may name files: never printed."""
    out = [env.get("SINKLAB_CONFIG", ""), env.get("SINKLAB_CACHE_DIR", ""), env.get("HF_HOME", ""),
           env.get("HOME", "")]
    model = env.get("SINKLAB_MODEL", "").strip()
    if model and (model.startswith((".", "/", "~")) or model.count("/") > 1 or os.path.exists(model)
                  or model.lower().endswith(".gguf")):
        out.append(model)
    out += [m.strip() for m in env.get("SINKLAB_MODELS", "").split(",")
            if m.strip().startswith((".", "/", "~"))]
    return tuple(s for s in out if s and s != "/")


def _config_class(light: bool):
    """sinklab.config.Config. light=True: without running sinklab/__init__ (which imports torch, ~1.5 s and
    ~200 MB per health check): the package is stood in for by an empty module with the same __path__."""
    if light and "sinklab" not in sys.modules:
        spec = importlib.util.find_spec("sinklab")  # found, not imported
        if spec is None or not spec.submodule_search_locations:
            raise NotReady("the sinklab package is not installed in this Python")
        pkg = types.ModuleType("sinklab")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__spec__ = spec
        sys.modules["sinklab"] = pkg
    from sinklab.config import Config

    return Config


def load_config(env, light: bool):
    Config = _config_class(light)
    try:
        return Config.load()
    except Exception as e:  # noqa: BLE001 - any failure to read the settings means "not ready"
        raise NotReady(f"configuration invalid: {redact(str(e), _secrets(env))}") from None


def model_key(cfg) -> str:
    """What decides the default model: a preflight's result holds only for the same values."""
    fields = {k: getattr(cfg, k, None) for k in ("model", "offline", "cache_dir")}
    fields["probe_gpt2"] = bool(getattr(cfg, "probe_gpt2", False))
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_model(cfg, env) -> str:
    """Load the default model as the server would; a path-free description of it, or NotReady."""
    from sinklab import load_configured  # the public API (the module behind it may move)

    t0 = time.perf_counter()
    try:
        lm, note = load_configured(cfg)
    except Exception as e:  # noqa: BLE001 - whatever stops the load, the server cannot serve its default model
        why = redact(str(e), _secrets(env)) or "no message"
        raise NotReady(f"the default model cannot be served: {type(e).__name__}: {why}") from None
    name = redact(lm.info.display, _secrets(env))
    extra = f" ({redact(note, _secrets(env))})" if note else ""
    return f"default model {name!r} loads ({time.perf_counter() - t0:.1f} s){extra}"


# ------------------------------------------------------------------ the preflight's state file
def _lock_path(state: str) -> str:
    return state + ".lock"


def preflight(state: str, env) -> int:
    """Checks 1-2, once; the result goes to `state` (atomically) for the health checks to read."""
    lock = open(_lock_path(state), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("sinklab preflight: another preflight is running")
        return 1
    result = {"ok": False, "key": None, "message": "", "finished": None}
    try:
        cfg = load_config(env, light=False)
        result["key"] = model_key(cfg)
        result["message"] = check_model(cfg, env)
        result["ok"] = True
    except NotReady as e:
        result["message"] = str(e)
    except BaseException as e:  # noqa: BLE001 - record even an interrupted preflight as a failure
        result["message"] = f"preflight stopped: {type(e).__name__}"
        raise
    finally:
        result["finished"] = time.time()
        tmp = f"{state}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, state)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    print(f"sinklab preflight: {'ok' if result['ok'] else 'NOT READY'}: {result['message']}", flush=True)
    return 0 if result["ok"] else 1


def read_state(state: str, cfg) -> str:
    """The preflight's verdict for this configuration, or NotReady."""
    try:
        with open(_lock_path(state), "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise NotReady("the default model is still being loaded (preflight running)") from None
            fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError:
        pass  # an unwritable directory: the state file alone decides
    try:
        with open(state) as f:
            result = json.load(f)
    except FileNotFoundError:
        raise NotReady("the default model has not been checked yet (the entrypoint's preflight has not "
                       f"finished; without deploy/entrypoint.py unset {STATE_ENV})") from None
    except (OSError, ValueError):
        raise NotReady("the preflight's result cannot be read") from None
    if not result.get("ok"):
        return_msg = result.get("message") or "the preflight failed"
        raise NotReady(return_msg)
    if result.get("key") != model_key(cfg):
        raise NotReady("the model settings changed since the server started: restart it")
    return result.get("message", "")


# ------------------------------------------------------------------ Streamlit's health endpoint
def health_url(env) -> str:
    port = env.get("STREAMLIT_SERVER_PORT") or "8501"
    base = (env.get("STREAMLIT_SERVER_BASE_URL_PATH") or "").strip("/")
    return f"http://127.0.0.1:{port}/{base + '/' if base else ''}_stcore/health"


def check_health(url: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read(64).decode(errors="replace").strip()
            if r.status != 200 or body != "ok":
                raise NotReady(f"Streamlit's health endpoint answered {r.status} {body[:20]!r}")
    except urllib.error.HTTPError as e:
        raise NotReady(f"Streamlit's health endpoint answered {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise NotReady(f"Streamlit's health endpoint does not answer ({type(reason).__name__})") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preflight", action="store_true",
                    help=f"check the configuration and the default model only; write the result to ${STATE_ENV}")
    ap.add_argument("--state", default=None, help=f"the preflight's state file (default: ${STATE_ENV}; "
                    "none: load the model in this process)")
    ap.add_argument("--url", default=None, help="Streamlit's health URL (default: 127.0.0.1, "
                    "$STREAMLIT_SERVER_PORT or 8501)")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the health endpoint")
    args = ap.parse_args(argv)
    env = os.environ
    state = args.state or env.get(STATE_ENV) or None

    if args.preflight:
        if not state:
            ap.error(f"--preflight needs --state or ${STATE_ENV}")
        return preflight(state, env)
    try:
        if state:
            cfg = load_config(env, light=True)
            model = read_state(state, cfg)
        else:
            cfg = load_config(env, light=False)
            model = check_model(cfg, env)
        check_health(args.url or health_url(env), args.timeout)
    except NotReady as e:
        print(f"not ready: {e}", flush=True)
        return 1
    print(f"ready: configuration valid; {model}; Streamlit healthy", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
