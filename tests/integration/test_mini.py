"""sinklab-mini: the bundled byte-level GPT-2 trained by scripts/train_mini.py loads offline, its
recorded sink numbers are reproduced from the shipped weights (with the run-time part kept in the
library, sinklab.specimens.mini), and the training script runs end to end."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import sinklab
from sinklab.specimens import mini as mini_lib
from sinklab.model.loading import BUNDLED_DIR
from sinklab.analyses.metrics import attention_to, sink_table

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_mini.py"
MINI = BUNDLED_DIR / "sinklab-mini"
TOL = 1e-3
EVAL_FUNCTION = "sinklab.specimens.mini.eval_batch"
# the shipped sinklab_meta.json was written when the recipe lived in the library (sinklab/train.py);
# the eval batch moved unchanged to sinklab.specimens.mini (the recorded sha256 of its ids still pins it)


def train_script():
    """scripts/train_mini.py as a module (scripts/ is not a package: it is not installed)."""
    spec = importlib.util.spec_from_file_location("train_mini", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mini():
    return sinklab.load_model("sinklab-mini", device="cpu")


def test_files_and_size():
    for name in ("config.json", "model.safetensors", "training_log.csv", "sinklab_meta.json", "MODEL_CARD.md"):
        assert (MINI / name).is_file(), name
    assert sum(f.stat().st_size for f in MINI.rglob("*") if f.is_file()) <= 25 * 2**20


def test_loads_offline(mini):
    assert mini.info.source == "bundled"
    assert mini.info.vocab_size == 257
    assert mini.model.config._attn_implementation == "eager"
    assert mini.meta is not None and "eval" in mini.meta
    ids = mini.tokenizer("def f(x):", add_special_tokens=False)["input_ids"]
    assert ids == list(b"def f(x):")
    assert mini.tokenizer.convert_tokens_to_ids("<|endoftext|>") == 256


def test_config_asks_for_eager_attention():
    from transformers import GPT2LMHeadModel

    assert json.loads((MINI / "config.json").read_text())["attn_implementation"] == "eager"
    assert GPT2LMHeadModel.from_pretrained(str(MINI)).config._attn_implementation == "eager"


def test_recorded_sink_numbers_match_weights(mini):
    meta = mini.meta
    ev = meta["eval"]
    assert ev["function"] == EVAL_FUNCTION
    ids, mask = mini_lib.eval_batch(**ev["kwargs"])
    if mini_lib.ids_digest(ids) != ev["ids_sha256"]:
        pytest.skip("this interpreter's standard library differs from the one the eval batch was built from")
    trace = sinklab.run(mini.model, ids, mask)
    per_layer = attention_to(trace, 0, "second_half").mean((0, 2)).tolist()
    assert per_layer == pytest.approx(meta["sink_per_layer"], abs=TOL)
    gu = sink_table(trace, key=0, metric="gu")
    assert float(gu["has_sink"].mean()) == pytest.approx(meta["gu_sink_share"], abs=TOL)
    by_layer = gu.groupby("layer")["has_sink"].mean().tolist()
    assert by_layer == pytest.approx(meta["gu_share_per_layer"], abs=TOL)
    # the no-BOS (paper convention) numbers, recorded separately
    nb = meta["nobos"]
    ids, mask = mini_lib.eval_batch(**nb["kwargs"])
    trace = sinklab.run(mini.model, ids, mask)
    assert attention_to(trace, 0, "second_half").mean((0, 2)).tolist() == pytest.approx(nb["sink_per_layer"], abs=TOL)
    gu = sink_table(trace, key=0, metric="gu")
    assert float(gu["has_sink"].mean()) == pytest.approx(nb["gu_sink_share"], abs=TOL)


def test_card_states_the_recorded_numbers(mini):
    card = (MINI / "MODEL_CARD.md").read_text()
    assert f"{mini.meta['gu_sink_share']:.3f}" in card
    for v in mini.meta["sink_per_layer"]:
        assert f"{v:.3f}" in card


def test_eval_batch_is_deterministic():
    a, ma = mini_lib.eval_batch(8, 32, bos=True)
    b, mb = mini_lib.eval_batch(8, 32, bos=True)
    assert torch.equal(a, b) and torch.equal(ma, mb)
    assert a.shape == (8, 33) and bool((a[:, 0] == 256).all())
    c, _ = mini_lib.eval_batch(8, 32, bos=False)
    assert torch.equal(a[:, 1:], c)


def test_recorded_numbers_are_what_the_library_computes(mini):
    """sinklab.specimens.mini.sink_numbers (what the training script records) reproduces the shipped meta."""
    ev = mini.meta["eval"]
    ids, mask = mini_lib.eval_batch(**ev["kwargs"])
    if mini_lib.ids_digest(ids) != ev["ids_sha256"]:
        pytest.skip("this interpreter's standard library differs from the one the eval batch was built from")
    got = mini_lib.sink_numbers(mini.model, ids, mask)
    for key in ("sink_per_layer", "gu_sink_share", "gu_share_per_layer"):
        assert got[key] == pytest.approx(mini.meta[key], abs=TOL), key


def test_training_script_is_outside_the_library():
    assert SCRIPT.is_file()
    # the recipe uses the library (the eval batch and the sink numbers it records come from sinklab.specimens.mini),
    # and the library never uses the recipe
    assert "from sinklab.specimens.mini import" in SCRIPT.read_text()
    for path in (ROOT / "sinklab").rglob("*.py"):  # (it may name the script in prose, never import it)
        assert not re.search(r"^\s*(import|from)\s+\S*train_mini", path.read_text(), flags=re.M), path
    help_text = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True,
                               check=True, cwd=ROOT).stdout
    assert "scripts/train_mini.py" in help_text and "--out" in help_text


def test_training_script_smoke(tmp_path: Path):
    out = tmp_path / "tiny"
    train = train_script()
    meta = train.main(["--out", str(out), "--steps", "6", "--eval-every", "3", "--n-layer", "2",
                       "--n-embd", "16", "--n-head", "2", "--batch", "4", "--context", "16",
                       "--eval-n", "4", "--eval-len", "16", "--heldout-n", "4", "--seed", "1"])
    assert meta["steps"] == 6
    assert meta["eval"]["function"] == EVAL_FUNCTION and meta["command"].startswith("python scripts/train_mini.py")
    for name in ("config.json", "model.safetensors", "training_log.csv", "sinklab_meta.json"):
        assert (out / name).is_file(), name
    rows = (out / "training_log.csv").read_text().strip().splitlines()
    assert rows[0].startswith("step,elapsed_s") and len(rows) == 1 + 3  # steps 0, 3, 6
    assert json.loads((out / "config.json").read_text())["attn_implementation"] == "eager"
    lm = sinklab.load_model(str(out), device="cpu")
    assert lm.info.n_layer == 2 and lm.info.d_model == 16
    saved = json.loads((out / "sinklab_meta.json").read_text())
    assert len(saved["sink_per_layer"]) == 2 and 0.0 <= saved["gu_sink_share"] <= 1.0
    ids, mask = mini_lib.eval_batch(**saved["eval"]["kwargs"])
    trace = sinklab.run(lm.model, ids, mask)
    assert attention_to(trace, 0, "second_half").mean((0, 2)).tolist() == pytest.approx(saved["sink_per_layer"], abs=TOL)
