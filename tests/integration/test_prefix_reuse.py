"""Shared-prefix reuse: a forward resumed at a block (forward.run(start=...)) equals the full forward, and
a sweep that resumes its late-acting settings equals one that runs every setting from the embeddings."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

import sinklab
from helpers import one_thread  # noqa: F401  (autouse: torch on one thread)
from sinklab.analyses import effects
from sinklab.model import families
from sinklab.model.families import SUPPORTED, random_model
from sinklab.interventions import make
from sinklab.model.names import act_name

LATE = [("b", dict(layers=(2, 3))), ("g", dict(layers=(1, 3))), ("isolate", dict(position=3, layers=(1, 2))),
        ("amplify", dict(position=2, factor=3.0, layers=(2, 3))), ("rmsnorm", dict(layers=(1, 3)))]


@pytest.mark.parametrize("model_type", SUPPORTED)
def test_a_resumed_forward_equals_the_full_one(model_type):
    model = random_model(model_type, seed=1)
    ids = torch.randint(0, 101, (3, 10), generator=torch.Generator().manual_seed(2))
    plain = sinklab.run(model, ids)
    for label, kw in LATE:
        iv = make(label, **kw)
        fam = families.of(model)
        if not iv.family_meaning(fam.traits()).applies:  # (b) without a query bias: refused, nothing to resume
            continue
        start = iv.start(3, fam.rotary)
        if fam.parallel and start[1] == 1:  # the MLP reads the block input: resumed at the block's start
            start = (start[0], 0)
        resid = plain[act_name("resid_pre" if start[1] == 0 else "resid_mid", start[0])]
        full = sinklab.run(model, ids, interventions=iv)
        part = sinklab.run(model, ids, interventions=iv, start=start, resid=resid)
        assert torch.equal(full.logits, part.logits), (model_type, label)
        for l in range(start[0] + start[1], 3):
            assert torch.equal(full.pattern(l), part.pattern(l)), (model_type, label, l)
        assert act_name("pattern", 0) not in part.cache  # the prefix is not recomputed


def test_a_resumed_forward_refuses_what_it_cannot_do_exactly():
    model = random_model("gpt2")
    ids = torch.randint(0, 101, (2, 8))
    plain = sinklab.run(model, ids)
    with pytest.raises(sinklab.BadInput, match="acts before the resumed point"):
        sinklab.run(model, ids, interventions=make("c"), start=(1, 0), resid=plain["resid_pre", 1])
    with pytest.raises(sinklab.BadInput, match="needs resid of shape"):
        sinklab.run(model, ids, start=(1, 0), resid=plain["resid_pre", 1][:1])
    with pytest.raises(sinklab.BadInput, match="start layer must be in 0..2"):
        sinklab.run(model, ids, start=(3, 0), resid=plain["resid_pre", 1])
    neox = random_model("gpt_neox")
    with pytest.raises(sinklab.BadInput, match="in parallel"):
        sinklab.run(neox, ids, start=(1, 1), resid=sinklab.run(neox, ids)["resid_mid", 1])


def test_where_each_intervention_starts():
    assert make("b").start(12) == (0, 0) and make("b", layers=(3, 11)).start(12) == (3, 0)
    assert make("g", layers=(4, 6)).start(12) == (4, 1)  # an MLP-side intervention shares layer 4's attention
    assert make("d").start(12) == (0, 1) and make("d").start(12, rotary=True) == (-1, 0)  # rotary: position ids
    assert make("c").start(12) == (-1, 0) and make("a").start(12) == (12, 0)
    assert effects.start_of((make("g", layers=(4, 6)), make("b", layers=(2, 5))), 12) == (2, 0)


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "gpt_neox"])
@pytest.mark.parametrize("options", [{}, {"ce": False, "per_layer": False, "layers": (1, 3)}, {"keys": (2,)}])
def test_a_sweep_with_reuse_equals_one_without(model_type, options):
    model = random_model(model_type, seed=3)
    ids = torch.randint(0, 101, (7, 12), generator=torch.Generator().manual_seed(4))
    settings = {"baseline": None, **{f"{label}{kw.get('layers')}": make(label, **kw) for label, kw in LATE},
                "i": make("i", coords=(1, 5)), "both": (make("b", layers=(2, 3)), make("g", layers=(1, 3)))}
    if model_type == "gpt2":
        settings.update(c=make("c"), d=make("d"))
    fresh = effects.sweep(model, ids, settings, batch_size=5, reuse=False, **options)
    reused = effects.sweep(model, ids, settings, batch_size=5, reuse=True, **options)
    refused = set(fresh.skipped)  # (b) and what composes it, on a family without a query bias
    assert refused <= {"b(2, 3)", "both"} and (not refused or not families.of(model).has_query_bias)
    assert len(fresh.examples) == (len(settings) - len(refused)) * 7
    pd.testing.assert_frame_equal(fresh.examples, reused.examples, atol=1e-6, rtol=0)
    pd.testing.assert_frame_equal(fresh.layers, reused.layers, atol=1e-6, rtol=0)
    without_baseline = {k: v for k, v in settings.items() if k != "baseline"}
    pd.testing.assert_frame_equal(effects.sweep(model, ids, without_baseline, batch_size=5, **options).examples,
                                  fresh.examples[fresh.examples["intervention"] != "baseline"].reset_index(drop=True),
                                  atol=1e-6, rtol=0)
