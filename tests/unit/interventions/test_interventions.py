"""Each intervention changes what it claims and nothing upstream of it; bad parameters are refused."""
from __future__ import annotations

import pytest
import torch

import sinklab
from sinklab.analyses import epe
from sinklab.interventions import catalogue, make, standard_settings

IDS = torch.arange(3, 23)  # 20 tokens


@pytest.fixture(scope="module")
def base(tiny):
    return sinklab.run(tiny, IDS)


def run(model, iv):
    return sinklab.run(model, IDS, interventions=iv)


def same(a, b):
    return torch.equal(a, b)


def test_no_query_bias(tiny, base):
    tr = run(tiny, make("b"))
    assert same(tr["blocks.0.ln1.hook_normalized"], base["blocks.0.ln1.hook_normalized"])
    assert same(tr["blocks.0.attn.hook_k"], base["blocks.0.attn.hook_k"])
    b_q = tiny.transformer.h[0].attn.c_attn.bias[:64].view(4, 16)  # [head, d_head], raw Conv1D layout
    torch.testing.assert_close(base["blocks.0.attn.hook_q"] - tr["blocks.0.attn.hook_q"], b_q.expand(1, 20, 4, 16))
    half = run(tiny, make("b", alpha=0.5))
    torch.testing.assert_close(base["blocks.0.attn.hook_q"] - half["blocks.0.attn.hook_q"],
                               0.5 * b_q.expand(1, 20, 4, 16))


def test_remove_first_pe(tiny, base):
    tr = run(tiny, make("c"))
    pos = tr["hook_pos_embed"]
    assert same(pos[0, 0], tiny.transformer.wpe.weight[1])
    assert same(pos[0, 1:], base["hook_pos_embed"][0, 1:])
    assert same(tr["hook_embed"], base["hook_embed"])


@pytest.mark.parametrize("label,direction", [("d", "epe"), ("e", "pe")])
def test_swaps_touch_only_positions_1_and_2_after_the_first_mlp(tiny, base, label, direction):
    tr = run(tiny, make(label))
    assert same(tr["blocks.0.hook_resid_mid"], base["blocks.0.hook_resid_mid"])
    before, after = base["blocks.0.hook_mlp_out"][0], tr["blocks.0.hook_mlp_out"][0]
    assert same(after[2:], before[2:])
    vecs = epe.epe(tiny) if direction == "epe" else tiny.transformer.wpe.weight
    e1, e2 = vecs[0] / vecs[0].norm(), vecs[1] / vecs[1].norm()
    alpha = before[0] @ e1
    torch.testing.assert_close(after[0], before[0] + alpha * (e2 - e1))
    torch.testing.assert_close(after[1], before[1] + alpha * (e1 - e2))


def test_transplant_targets_the_chosen_position(tiny, base):
    tr = run(tiny, make("transplant", other=6))
    before, after = base["blocks.0.hook_mlp_out"][0], tr["blocks.0.hook_mlp_out"][0]
    changed = (after != before).any(-1).nonzero().flatten().tolist()
    assert changed == [0, 6]
    assert make("transplant", other=6).target() == 6


def test_interpolate_dose(tiny, base):
    zero = run(tiny, make("interpolate", t=0.0))
    torch.testing.assert_close(zero.logits, base.logits)
    half, full = run(tiny, make("interpolate", t=0.5)), run(tiny, make("interpolate", t=1.0))
    d_half = half["blocks.0.hook_mlp_out"][0, 0] - base["blocks.0.hook_mlp_out"][0, 0]
    d_full = full["blocks.0.hook_mlp_out"][0, 0] - base["blocks.0.hook_mlp_out"][0, 0]
    torch.testing.assert_close(2 * d_half, d_full)
    assert same(full["blocks.0.hook_mlp_out"][0, 1:], base["blocks.0.hook_mlp_out"][0, 1:])


def test_nullify_bos(tiny, base):
    tr = run(tiny, make("f"))
    assert torch.all(tr["hook_embed"][0, 0] == 0)
    assert same(tr["hook_embed"][0, 1:], base["hook_embed"][0, 1:])
    assert same(tr["hook_pos_embed"], base["hook_pos_embed"])


def test_skip_mlp_in_a_layer_range(tiny, base):
    tr = run(tiny, make("g", layers=(1, 3)))
    assert same(tr["blocks.0.hook_mlp_out"], base["blocks.0.hook_mlp_out"])
    assert torch.all(tr["blocks.1.hook_mlp_out"] == 0) and torch.all(tr["blocks.2.hook_mlp_out"] == 0)


def test_no_pe(tiny, base):
    tr = run(tiny, make("h"))
    assert torch.all(tr["hook_pos_embed"] == 0)
    assert same(tr["hook_embed"], base["hook_embed"])


@pytest.mark.parametrize("label", ["i", "j"])
def test_zero_key_rows_equals_zeroing_the_weight_rows(tiny, base, label):
    iv = make(label)
    coords = list(iv.chosen(tiny))
    assert coords
    tr = run(tiny, iv)
    x = base["blocks.0.ln1.hook_normalized"].clone()
    x[..., coords] = 0
    w = tiny.transformer.h[0].attn.c_attn
    want_k = (x @ w.weight[:, 64:128] + w.bias[64:128]).view(1, 20, 4, 16)
    torch.testing.assert_close(tr["blocks.0.attn.hook_k"], want_k, atol=1e-5, rtol=1e-5)
    assert same(tr["blocks.0.attn.hook_q"], base["blocks.0.attn.hook_q"])
    assert same(tr["blocks.0.attn.hook_v"], base["blocks.0.attn.hook_v"])


def test_random_coords_are_a_fair_control(tiny):
    massive = set(make("i").chosen(tiny))
    rnd = make("j").chosen(tiny)
    assert len(rnd) == len(massive) and not massive & set(rnd)
    assert make("j", seed=0).chosen(tiny) == rnd
    assert make("j", seed=1).chosen(tiny) != rnd
    assert len(make("i", n=5).chosen(tiny)) == 5


def test_isolate_position(tiny, base):
    tr = run(tiny, make("isolate", position=7))
    for l in range(tiny.config.n_layer):
        row = tr.pattern(l)[0, :, 7]  # [head, key]
        assert torch.allclose(row[:, 7], torch.ones(4)) and torch.all(row[:, :7] == 0)
    assert same(tr.pattern(0)[0, :, :7], base.pattern(0)[0, :, :7])


def test_amplify_variance(tiny, base):
    tr = run(tiny, make("amplify", position=4, factor=3.0, layers=(1, 2)))
    assert same(tr["blocks.0.attn.hook_z"], base["blocks.0.attn.hook_z"])
    assert same(tr["blocks.1.attn.hook_pattern"], base["blocks.1.attn.hook_pattern"])
    z0, z1 = base["blocks.1.attn.hook_z"][0], tr["blocks.1.attn.hook_z"][0]  # [pos, head, d_head]
    torch.testing.assert_close(z1[4].var(-1), 9 * z0[4].var(-1))
    assert same(z1[:4], z0[:4]) and same(z1[5:], z0[5:])


def test_head_rmsnorm_equalises_rms_across_positions(tiny, base):
    tr = run(tiny, make("rmsnorm"))
    z = tr["blocks.1.attn.hook_z"][0]  # [pos, head, d_head]
    rms = z.pow(2).mean(-1).sqrt()  # [pos, head]
    assert torch.allclose(rms, rms[:1].expand_as(rms), rtol=1e-3)
    assert not torch.allclose(base["blocks.1.attn.hook_z"][0].pow(2).mean(-1).sqrt(), rms, rtol=1e-3)


@pytest.mark.parametrize("name,params,match", [
    ("zz", {}, "unknown intervention"),
    ("b", {"alpha": 1.6}, r"alpha must be in 0.0..1.5; got 1.6"),
    ("interpolate", {"t": -0.1}, r"t must be in 0.0..1.0; got -0.1"),
    ("i", {"n": 0}, "n must be at least 1; got 0"),
    ("i", {"n": 65}, "n must be in 1..64; got 65"),
    ("g", {"layers": (2, 9)}, "layers must satisfy 0 <= start < stop <= 3"),
    ("transplant", {"other": 40}, "other must be in 1..19; got 40"),
    ("isolate", {"position": 20}, "position must be in 1..19; got 20"),
    ("isolate", {"position": -1}, "position must be at least 1; got -1"),
    ("d", {"layers": (0, 2)}, "takes no layer range"),
    ("amplify", {"factor": -2.0}, "factor must be in"),
    ("b", {"beta": 1}, "unknown"),
])
def test_bad_parameters_name_the_valid_range(tiny, name, params, match):
    with pytest.raises(sinklab.BadInput, match=match):
        run(tiny, make(name, **params))


def test_catalogue_lists_every_intervention_with_a_description():
    df = catalogue()
    assert list(df["label"])[:10] == list("abcdefghij")  # the paper's ten first, in order
    assert {"transplant", "interpolate", "isolate", "amplify", "rmsnorm", "scale_wk"} <= set(df["label"][10:])
    assert (df["description"].str.len() > 10).all()
    assert list(standard_settings())[:10] == ["baseline", *"bcdefghij"]


def test_bad_parameters_are_refused_at_construction_not_at_run():
    with pytest.raises(sinklab.BadInput, match=r"alpha must be in 0.0..1.5; got 1.6"):
        make("b", alpha=1.6)
    with pytest.raises(sinklab.BadInput, match="takes no layer range"):
        make("c", layers=(0, 1))


def test_repeated_coordinates_are_zeroed_once(tiny, base):
    once, twice = run(tiny, make("i", coords=(5,))), run(tiny, make("i", coords=(5, 5)))
    assert make("i", coords=(5, 5, 2)).coords == (2, 5)
    torch.testing.assert_close(twice["blocks.0.attn.hook_k"], once["blocks.0.attn.hook_k"])
    assert not torch.equal(once["blocks.0.attn.hook_k"], base["blocks.0.attn.hook_k"])


def test_every_parameter_is_described_once_with_a_valid_default():
    from sinklab.interventions import REGISTRY, Context

    ctx = Context(n_layer=12, n_head=12, d_model=768, n_positions=1024, n_tokens=40)
    for label, cls in REGISTRY.items():
        for name, (f, p) in cls.params().items():
            assert p.label and (p.step is None or p.step > 0), (label, name)
            low, high = p.bounds(ctx)
            assert low <= high, (label, name)
            if f.default is not None and not isinstance(f.default, tuple):
                assert low <= f.default <= high, (label, name, f.default)
        make(label)  # every default constructs


@pytest.fixture
def registry():
    from sinklab.interventions import REGISTRY

    before = dict(REGISTRY)
    yield REGISTRY
    REGISTRY.clear()
    REGISTRY.update(before)


def test_a_new_intervention_is_one_class(registry, tiny, base):
    from dataclasses import dataclass

    from sinklab.interventions import Intervention, param

    @dataclass(frozen=True, kw_only=True)
    class ScaleValues(Intervention, label="test_scale_v", title="Scale values", points={"v"}, per_layer=True):
        """Multiply every value vector by a factor.

        Wire: the values
        Try this: Double the values: does the sink move?
        """

        gain: float = param(0.5, "gain", 0.0, 2.0, 0.1)

        def apply(self, point, layer, t, model, inputs):
            return t * self.gain

    assert "test_scale_v" in set(catalogue()["label"])
    assert isinstance(standard_settings()["test_scale_v"], ScaleValues)
    assert (ScaleValues.description, ScaleValues.wire, ScaleValues.try_this) == (
        "Multiply every value vector by a factor.", "the values", "Double the values: does the sink move?")
    tr = run(tiny, make("test_scale_v", gain=2.0, layers=(1, 2)))
    torch.testing.assert_close(tr["blocks.1.attn.hook_v"], 2 * base["blocks.1.attn.hook_v"])
    assert torch.equal(tr["blocks.0.attn.hook_v"], base["blocks.0.attn.hook_v"])
    with pytest.raises(sinklab.BadInput, match="gain must be in 0.0..2.0"):
        make("test_scale_v", gain=3.0)


def test_a_typo_in_points_or_side_inputs_fails_when_the_class_is_defined(registry):
    from dataclasses import dataclass

    from sinklab.interventions import Intervention

    with pytest.raises(TypeError, match="unknown points"):
        @dataclass(frozen=True, kw_only=True)
        class Typo(Intervention, label="test_typo", points={"atn_out"}):
            """A typo."""
    with pytest.raises(TypeError, match="needs"):
        @dataclass(frozen=True, kw_only=True)
        class NeedsX(Intervention, label="test_needs", points={"z"}, needs={"x"}):
            """Reads x where z offers none."""
    with pytest.raises(TypeError, match="unknown keywords"):
        @dataclass(frozen=True, kw_only=True)
        class BadKeyword(Intervention, label="test_kw", point={"z"}):
            """A misspelt keyword."""
    assert not {"test_typo", "test_needs", "test_kw"} & set(registry)


def test_epe_interventions_do_not_apply_without_position_embeddings():
    from helpers import random_gpt2
    from sinklab.interventions import NotApplicable

    nope = random_gpt2(seed=3)
    nope.transformer.wpe.weight.zero_()
    for label in ("d", "transplant", "interpolate", "i", "j"):
        with pytest.raises(NotApplicable):
            run(nope, make(label))
    for label in ("c", "e", "h"):  # exact no-ops without position embeddings: refused, never a 100 % result
        with pytest.raises(NotApplicable, match="position embeddings"):
            run(nope, make(label))
    run(nope, make("i", coords=(1, 2)))  # explicit coordinates work


def test_read_docstring_splits_description_and_sections():
    from sinklab.interventions import read_docstring

    doc = """Scale the values
    by a factor.

    Formula: v <- f v
    Wire: the values,
        all of them
    Try this: Set f to 0.

    Notes for developers, not a section.
    """
    assert read_docstring(doc) == {"description": "Scale the values by a factor.", "formula": "v <- f v",
                                   "wire": "the values, all of them", "try_this": "Set f to 0."}


def test_every_registered_intervention_has_its_texts():
    from sinklab.interventions import REGISTRY

    for label, cls in REGISTRY.items():
        assert cls.title and cls.description, label
        if label != "a":
            assert cls.wire and cls.try_this, label


def test_subclasses_that_act_differently_write_their_own_texts():
    """Docstring sections a subclass does not write are inherited: those that would be wrong are its own."""
    from sinklab.interventions import REGISTRY, ScaleKeyRows, SwapEPE, ZeroKeyCoords

    assert REGISTRY["transplant"].formula != SwapEPE.formula and "other" in REGISTRY["transplant"].formula
    assert REGISTRY["e"].formula != SwapEPE.formula and "p_j" in REGISTRY["e"].formula
    assert ScaleKeyRows.on_rotary != ZeroKeyCoords.on_rotary and "scales" in ScaleKeyRows.on_rotary
    for label, cls in REGISTRY.items():  # a class with its own apply has its own formula (or none at all)
        parent = cls.__mro__[1]
        if "apply" in cls.__dict__ and parent.formula:
            assert cls.formula != parent.formula, label


def test_read_docstring_starts_a_section_on_any_line_and_in_any_case():
    from sinklab.interventions import read_docstring

    assert read_docstring("Scale it.\nwire: the values\nTRY THIS: Go.") == {
        "description": "Scale it.", "wire": "the values", "try_this": "Go."}


@pytest.mark.parametrize("name,params,match", [
    ("d", {"other": -5}, "other must be at least 1; got -5"),
    ("d", {"other": "x"}, "other must be an integer; got 'x'"),
    ("interpolate", {"toward": -3}, "toward must be at least 1; got -3"),
    ("amplify", {"position": 2.5}, "position must be an integer; got 2.5"),
    ("isolate", {"position": True}, "position must be an integer; got True"),
    ("b", {"alpha": "1"}, "alpha must be a number"),
    ("j", {"per_layer_draw": 1}, "per_layer_draw must be True or False"),
    ("i", {"coords": (-1,)}, "coords must be at least 0; got -1"),
    ("i", {"coords": (13.7,)}, "coords must be a tuple of integers"),
    ("i", {"coords": (True,)}, "coords must be a tuple of integers"),
    ("i", {"coords": ()}, "at least one coordinate"),
])
def test_parameters_of_the_wrong_type_or_range_are_refused_at_construction(name, params, match):
    with pytest.raises(sinklab.BadInput, match=match):
        make(name, **params)


def test_context_bounds_are_checked_when_it_runs(tiny):
    with pytest.raises(sinklab.BadInput, match=r"toward must be in 1..63; got 64"):
        run(tiny, make("interpolate", toward=64))
    with pytest.raises(sinklab.BadInput, match=r"coords must be in 0..63; got 64"):
        run(tiny, make("i", coords=(3, 64)))


def test_no_massive_coordinate_is_not_a_silent_no_op(tiny):
    from sinklab.interventions import NotApplicable

    for label in ("i", "j"):
        with pytest.raises(NotApplicable, match="no EPE_0 coordinate exceeds mean"):
            run(tiny, make(label, k_sigma=50.0))
    assert len(make("i", k_sigma=50.0, n=2).chosen(tiny)) == 2  # the top-n rule needs no threshold


def test_bad_declarations_fail_when_the_class_is_defined(registry):
    from dataclasses import dataclass

    from sinklab.interventions import Intervention, param

    with pytest.raises(TypeError, match="needs a step"):
        @dataclass(frozen=True, kw_only=True)
        class NoStep(Intervention, label="test_nostep", points={"v"}):
            """A float without a step."""
            gain: float = param(0.5, "gain", 0.0, 2.0)
    with pytest.raises(TypeError, match="declare every parameter with param"):
        @dataclass(frozen=True, kw_only=True)
        class Plain(Intervention, label="test_plain", points={"v"}):
            """A plain field."""
            gain: float = 0.5
    with pytest.raises(TypeError, match="outside 0.0..2.0"):
        @dataclass(frozen=True, kw_only=True)
        class BadDefault(Intervention, label="test_default", points={"v"}):
            """A default outside its range."""
            gain: float = param(3.0, "gain", 0.0, 2.0, 0.1)
    with pytest.raises(TypeError, match="no points"):
        @dataclass(frozen=True, kw_only=True)
        class Nowhere(Intervention, label="test_nowhere", per_layer=True):
            """Per layer, but acts nowhere."""
    with pytest.raises(TypeError, match="has no slider"):
        @dataclass(frozen=True, kw_only=True)
        class Flag(Intervention, label="test_flag", points={"v"}):
            """A bool shown as a slider."""
            on: bool = param(False, "on", 0, 1)
    with pytest.raises(TypeError, match="route"):
        @dataclass(frozen=True, kw_only=True)
        class Route(Intervention, label="test_route", points={"v"}, route="sideways"):
            """An unknown route."""
    assert not {"test_nostep", "test_plain", "test_default", "test_nowhere", "test_flag", "test_route"} & set(registry)


def test_catalogue_describes_parameters_and_roles():
    df = catalogue().set_index("label")
    assert df.loc["b", "parameters"] == "alpha (float 0.0..1.5), layers"
    assert "layers" not in df.loc["c", "parameters"]  # (c) acts on the embeddings: no layer range
    assert (df.loc["e", "role"], df.loc["transplant", "role"], df.loc["i", "role"]) == (
        "control", "moves the sink", "cuts a wire")
    assert df.loc["isolate", "route"] == "structural" and df.loc["d", "route"] == "positional"
