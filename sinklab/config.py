"""Configuration read once, at the edges (the app's router, the CLI, a notebook's setup cell).

`Config.load()` reads the environment and, if present, an operator's TOML file; library functions
never read the environment, they take explicit arguments. Every variable, with its default:

variable             TOML key             default                 meaning
SINKLAB_MODEL        model                (none)                  use this model; GPT-2 small is not probed
SINKLAB_OFFLINE      offline              0                       1: never try to reach GPT-2 small
SINKLAB_MODELS       models               (none)                  extra models for the picker, comma-separated
SINKLAB_THREADS      threads              1                       torch threads per computation
SINKLAB_SERVER       server               0                       1: a shared server (the defaults below flip)
SINKLAB_CUSTOM       allow_custom_models  1 (0 if server)         1: visitors may type any hub id or directory
SINKLAB_WORKERS      workers              number of cores         model computations run at once
SINKLAB_MEMORY_MB    memory_budget_mb     4096                    memory for loaded models; LRU beyond it
SINKLAB_TIMEOUT      timeout              300                     seconds one computation may run (0: no limit)
SINKLAB_FILL_N       fill_n               100                     server warm-up: Across domains' inputs up to this n
SINKLAB_ERRORS       show_error_details   1 (0 if server)         1: visitors see exception details
SINKLAB_SOLUTIONS    solutions            0                       1: tutorials use the reference solutions
SINKLAB_TUTORIAL_N   tutorial_n           8                       inputs per domain in the tutorials
SINKLAB_CACHE_DIR    cache_dir            ~/.cache/sinklab        where GGUF models are cached as float32
SINKLAB_CONFIG       -                    ./sinklab.toml          the operator's TOML file (table [sinklab])
Environment variables win over the TOML file.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from .errors import BadInput


def _flag(v: str) -> bool:
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("", "0", "false", "no", "off"):
        return False
    raise BadInput(f"expected a yes/no flag (1/0, true/false); got {v!r}")


@dataclass(frozen=True)
class Config:
    """Every setting sinklab takes from outside the code."""

    model: str | None = None
    offline: bool = False
    models: tuple[str, ...] = ()
    threads: int = 1
    server: bool = False
    allow_custom_models: bool = True
    workers: int = max(1, os.cpu_count() or 1)
    memory_budget_mb: int = 4096
    timeout: int = 300  # seconds one page computation may run before the visitor is told and the worker freed
    fill_n: int = 100  # server mode: after the default views, the warm-up computes Across domains' inputs up to this n
    show_error_details: bool = True
    solutions: bool = False
    tutorial_n: int = 8
    cache_dir: str | None = None  # None: sinklab.gguf.default_cache_dir()

    @property
    def probe_gpt2(self) -> bool:
        """Whether GPT-2 small may be tried at all."""
        return not self.offline and self.model is None

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, path: str | os.PathLike | None = None) -> "Config":
        """From an optional TOML file's [sinklab] table, then the environment (which wins)."""
        env = os.environ if env is None else env
        raw: dict = {}
        file = Path(path or env.get("SINKLAB_CONFIG") or "sinklab.toml")
        if file.is_file():
            try:
                raw.update(tomllib.loads(file.read_text()).get("sinklab", {}))
            except tomllib.TOMLDecodeError as e:
                raise BadInput(f"{file}: not valid TOML ({e})") from None
        names = {"SINKLAB_MODEL": "model", "SINKLAB_OFFLINE": "offline", "SINKLAB_MODELS": "models",
                 "SINKLAB_THREADS": "threads", "SINKLAB_SERVER": "server", "SINKLAB_CUSTOM": "allow_custom_models",
                 "SINKLAB_WORKERS": "workers", "SINKLAB_MEMORY_MB": "memory_budget_mb", "SINKLAB_TIMEOUT": "timeout",
                 "SINKLAB_FILL_N": "fill_n", "SINKLAB_ERRORS": "show_error_details", "SINKLAB_SOLUTIONS": "solutions",
                 "SINKLAB_TUTORIAL_N": "tutorial_n", "SINKLAB_CACHE_DIR": "cache_dir"}
        for var, key in names.items():
            if env.get(var, "").strip():
                raw[key] = env[var].strip()
        known = {f.name: f for f in fields(cls)}
        unknown = set(raw) - set(known)
        if unknown:
            raise BadInput(f"unknown sinklab settings {sorted(unknown)}; valid: {', '.join(known)}")
        server = _flag(raw.get("server", False)) if not isinstance(raw.get("server"), bool) else raw["server"]
        out = {"server": server,
               "allow_custom_models": not server, "show_error_details": not server}
        for key, value in raw.items():
            if key == "server":
                continue
            default = known[key].default
            try:
                if key in ("model", "cache_dir"):
                    out[key] = str(value).strip() or None
                elif key == "models":
                    items = value if isinstance(value, list) else str(value).split(",")
                    out[key] = tuple(s.strip() for s in items if str(s).strip())
                elif isinstance(default, bool):
                    out[key] = value if isinstance(value, bool) else _flag(value)
                elif isinstance(default, int):
                    out[key] = int(value)
                    if out[key] < (0 if key in ("memory_budget_mb", "timeout", "fill_n") else 1):
                        raise ValueError(value)
            except (TypeError, ValueError):
                raise BadInput(f"sinklab setting {key} has an invalid value {value!r}") from None
        return cls(**out)
