"""Families as one-file extensions: Phi (family_phi.py, one file) registers itself, runs sinklab's forward equal to
HF eager, loads from a directory, and appears wherever families are listed; a wrong declaration fails when the
class is defined."""
from __future__ import annotations

import importlib
import sys

import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: torch on one thread)
from sinklab.interventions import make, meanings
from sinklab.model import families
from sinklab.model.families import Family, Traits, random_model


@pytest.fixture
def phi():
    module = importlib.import_module("family_phi")
    try:
        yield module.Phi
    finally:
        families.unregister("phi")
        sys.modules.pop("family_phi", None)


def test_a_new_family_is_one_file(phi, tmp_path):
    assert families.BY_TYPE["phi"] is phi and "phi" in families.SUPPORTED
    model = random_model("phi")
    fam = families.of(model)
    assert isinstance(fam, phi) and fam.parallel and fam.rotary
    ids = torch.randint(0, 101, (2, 13), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = model(ids, output_attentions=True)
    tr = sinklab.run(model, ids)
    torch.testing.assert_close(tr.logits, ref.logits, atol=1e-5, rtol=0)
    for l in range(fam.n_layer):
        torch.testing.assert_close(tr.pattern(l), ref.attentions[l], atol=1e-5, rtol=0)
    # the typed weight views, interventions and their declared meanings work on it unchanged
    w = families.attn_weights(model, 1)
    q = (tr["ln1", 1] @ w.W_Q + w.b_Q).view(2, 13, fam.n_head, fam.d_head)
    torch.testing.assert_close(tr["q", 1], q, atol=1e-5, rtol=1e-5)
    assert "Phi" in meanings().columns and meanings(model).set_index("label").loc["b", "applies"]
    cut = sinklab.run(model, ids, interventions=make("b"))
    assert not torch.allclose(cut.logits, tr.logits)
    with pytest.raises(sinklab.BadInput, match="does not apply to Phi"):
        sinklab.run(model, ids, interventions=make("c"))
    # and it loads from a directory like any supported family
    model.save_pretrained(tmp_path / "phi")
    lm = sinklab.load_model(str(tmp_path / "phi"))
    assert lm.info.family == "phi"
    torch.testing.assert_close(sinklab.run(lm.model, ids).logits, tr.logits, atol=1e-5, rtol=0)


def test_an_unregistered_family_is_refused_again():
    assert "phi" not in families.BY_TYPE
    with pytest.raises(sinklab.BadInput, match="'phi' models are not supported"):
        families.family_class(type("C", (), {"model_type": "phi"}))


def _define(**body):
    base = dict(model_type="t_fam", hf_class="X", config_class="XConfig", small={},
                typical=Traits("t_fam", "T", "learned", 0, query_bias=True, scaled=True))
    base.update(body)
    cls = type("Fam", (families.GPT2,), base)
    families.unregister("t_fam")
    return cls


@pytest.mark.parametrize("body,match", [
    (dict(hf_class=None), "hf_class"),
    (dict(typical=Traits("other", "T", "learned", 0, query_bias=True, scaled=True)), "describes 'other'"),
    (dict(typical=Traits("t_fam", "T", "rotary", 0, query_bias=True, scaled=True)), "rotary = False"),
    (dict(model_type="gpt2", typical=families.TYPICAL["gpt2"]), "taken by GPT2"),
])
def test_a_wrong_family_declaration_fails_when_the_class_is_defined(body, match):
    with pytest.raises(TypeError, match=match):
        _define(**body)


def test_a_family_must_say_where_its_weights_live():
    with pytest.raises(TypeError, match="does not implement"):
        type("Bare", (Family,), dict(model_type="t_bare", hf_class="X", config_class="XConfig", small={},
                                     typical=Traits("t_bare", "T", "learned", 0, query_bias=True, scaled=True)))
    assert "t_bare" not in families.BY_TYPE


def test_a_file_dropped_in_the_families_folder_is_a_family(tmp_path):
    """In a copy of the package: family_phi.py copied into model/families/ is loaded with the others."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    shutil.copytree(root / "sinklab", tmp_path / "sinklab", ignore=shutil.ignore_patterns("bundled", "*.pyc"))
    shutil.copy(Path(__file__).with_name("family_phi.py"), tmp_path / "sinklab" / "model" / "families")
    out = subprocess.run([sys.executable, "-c", "from sinklab.model import families; print(families.SUPPORTED[-1])"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "phi"
