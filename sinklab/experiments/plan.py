"""What to run: a Plan (models × seeds × experiments with their grids) and the jobs it expands to.

Jobs are keyed by (model, revision, seed, regime, length): experiments that need the same inputs share
one job, whose single batched sweep carries the union of their settings.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .. import checks
from ..inputs.corpora import DOMAINS, SOURCES
from ..errors import BadInput
from ..analyses.metrics import METRICS
from ..analyses import bands
from .jobs import AND, DOSE_CURVES, DTYPES, Job, KeyCoords, check_setting
from ..inputs.regimes import REGIMES, check_regime

EXPERIMENTS = {
    "table1": "every signature intervention over the three domains (the paper's Table 1), per model",
    "lengths": "the sink and the interventions' effects at several lengths (% of the same-length baseline)",
    "regimes": "content regimes: the domains, random, Zipf, shuffled and repeated tokens",
    "combined": "combined interventions (composed in one forward): b∧c, b∧d, b∧i, b∧i∧d",
    "dose": "dose grids over α: scale b_Q, scale the selected W_k rows, interpolate PE_0 → PE_1",
    "pathways": "the two-pathway split: attention to position 0 from T1 (content) only and T3 (b_Q) only",
    "relocation": "the transplant's relocation ratio: mass moved to the target / baseline mass at 0",
    "cost": "cross-entropy cost of each intervention against its sink reduction; the cost/reduction frontier",
    "emergence": "over checkpoints: sink, EPE_0 max, alignment and intervention efficacy per step",
    "delta": "the per-head Δ = b_Q·k percentiles per layer and position (the authors' table), min-normalised",
}
DOMAIN_EXPERIMENTS = ("table1", "combined", "dose", "pathways", "relocation", "cost", "delta")
CE_EXPERIMENTS = ("table1", "combined", "cost")  # the experiments that show cross-entropy (their jobs run the LM head)
LENGTHS = (40, 128, 256, 512, 1024)
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
COMBOS = (f"b{AND}c", f"b{AND}d", f"b{AND}i", f"b{AND}i{AND}d")
EFFICACY = ("b", "c", "d", "e", "i")
COST_EXTRA = ("dose:b:0.5", "dose:b:0.75")


def signature_names() -> tuple[str, ...]:
    """The signature's setting names (baseline first), as sinklab.report.signature_settings builds them."""
    from ..interventions import REGISTRY, standard_settings
    from ..report import in_signature

    return tuple(k for k in standard_settings() if k == "baseline" or in_signature(REGISTRY[k]))


def _ints(values, what: str, low: int = 0) -> tuple[int, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, str)) or not str(v).strip().lstrip("-").isdigit():
            raise BadInput(f"{what} must be integers; got {v!r}")
        iv = int(v)
        if iv < low:
            raise BadInput(f"{what} must be integers >= {low}; got {v!r}")
        out.append(iv)
    return tuple(out)


@dataclass(frozen=True)
class Plan:
    """A run: models × data seeds × experiments. Grids default to the extension's."""

    models: tuple[str, ...]
    experiments: tuple[str, ...] = ("table1",)
    seeds: tuple[int, ...] = (42,)
    n: int = 100
    n_tokens: int = 40
    band: str = "paper"
    metric: str = "paper"
    source: str = "auto"
    target: int = 1
    domains: tuple[str, ...] = DOMAINS
    lengths: tuple[int, ...] = LENGTHS
    length_regime: str = "text"
    regimes: tuple[str, ...] = tuple(REGIMES)
    interventions: tuple[str, ...] = EFFICACY
    combos: tuple[str, ...] = COMBOS
    alphas: tuple[float, ...] = ALPHAS
    targets: tuple[int, ...] = (1,)
    revisions: tuple[str, ...] = ()
    batch_size: int = 32
    device: str | None = None
    dtype: str = "float32"
    coords: tuple[int, ...] | None = None  # (i)/(j)/scale_wk: explicit W_k coordinates
    i_top: int | None = None  # ... or the top n |EPE_0| coordinates
    i_k_sigma: float | None = None  # ... or the mean + kσ rule (None: 3)
    j_per_layer: bool = False  # (j): re-drawn in every layer (the extension's way) instead of one draw
    j_seed: int = 0  # (j): seed of the draw (the extension: 42)

    def __post_init__(self):
        for name in ("models", "experiments", "seeds", "domains", "lengths", "regimes", "interventions", "combos",
                     "alphas", "targets", "revisions"):
            v = getattr(self, name)
            if isinstance(v, (str, int, float)):
                v = (v,)
            object.__setattr__(self, name, tuple(v))
        if self.coords is not None:
            object.__setattr__(self, "coords", (self.coords,) if isinstance(self.coords, int) else tuple(self.coords))
        self.validate()

    @property
    def key_coords(self) -> KeyCoords:
        """How (i), (j) and scale_wk pick their W_k coordinates in every job of the plan."""
        return KeyCoords(coords=self.coords, top=self.i_top, k_sigma=self.i_k_sigma, j_per_layer=self.j_per_layer,
                         j_seed=self.j_seed)

    def validate(self) -> None:
        if not self.models:
            raise BadInput("no model given: pass at least one --model")
        for m in self.models:
            if not isinstance(m, str) or not m.strip():
                raise BadInput(f"model specs must be non-empty strings; got {m!r}")
        if not self.experiments:
            raise BadInput(f"no experiment given; choose from {', '.join(EXPERIMENTS)}")
        for e in self.experiments:
            if e not in EXPERIMENTS:
                raise BadInput(f"unknown experiment {e!r}; choose from {', '.join(EXPERIMENTS)} (or all)")
        object.__setattr__(self, "seeds", _ints(self.seeds, "seeds"))
        if not self.seeds:
            raise BadInput("no data seed given")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise BadInput(f"n (inputs per domain) must be an integer >= 1; got {self.n!r}")
        if isinstance(self.n_tokens, bool) or not isinstance(self.n_tokens, int) or self.n_tokens < 2:
            raise BadInput(f"tokens per input must be an integer >= 2; got {self.n_tokens!r}")
        object.__setattr__(self, "band", bands.check_spec(self.band))
        if self.metric not in METRICS:
            raise BadInput(f"metric must be one of {', '.join(METRICS)}; got {self.metric!r}")
        if self.source not in SOURCES:
            raise BadInput(f"source must be one of {', '.join(SOURCES)}; got {self.source!r}")
        for d in self.domains:
            if d not in DOMAINS:
                raise BadInput(f"unknown domain {d!r}; choose from {', '.join(DOMAINS)}")
        if not self.domains:
            raise BadInput(f"no domain given; choose from {', '.join(DOMAINS)}")
        object.__setattr__(self, "lengths", _ints(self.lengths, "lengths", low=2))
        for r in (*self.regimes, self.length_regime):
            check_regime(r)
        object.__setattr__(self, "targets", _ints(self.targets, "targets", low=1))
        if not 1 <= int(self.target):
            raise BadInput(f"target must be a position >= 1; got {self.target!r}")
        for a in self.alphas:
            if not isinstance(a, (int, float)) or a < 0:
                raise BadInput(f"alphas must be numbers >= 0; got {a!r}")
        for c in self.combos:
            if not isinstance(c, str) or AND not in c:
                raise BadInput(f"a combination joins labels with '{AND}' (e.g. b{AND}c); got {c!r}")
            check_setting(c)
        for name in self.interventions:
            check_setting(name)
        if "emergence" in self.experiments and not self.revisions:
            raise BadInput("the emergence experiment needs checkpoints: --revisions with revision names of the "
                           "model or checkpoint directories")
        dirs = [r for r in self.revisions if isinstance(r, str) and (r.startswith((".", "/", "~")) or
                                                                     os.path.isdir(os.path.expanduser(r)))]
        if "emergence" in self.experiments and dirs and len(self.models) > 1:
            raise BadInput(f"checkpoint directories ({', '.join(dirs)}) are the checkpoints of ONE training run, "
                           f"but {len(self.models)} models are given ({', '.join(self.models)}): run emergence over "
                           "checkpoint directories with one --model (revision names of the hub may be shared)")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise BadInput(f"batch size must be an integer >= 1; got {self.batch_size!r}")
        checks.one_of("dtype (--dtype)", self.dtype, DTYPES)
        self.key_coords.check()

    # -------------------------------------------------------------------------------------- settings
    def settings_for(self, experiment: str) -> tuple[str, ...]:
        if experiment == "table1":
            return signature_names()
        if experiment == "combined":
            parts = [p for c in self.combos for p in c.split(AND)]
            return ("baseline", *dict.fromkeys(parts), *self.combos)
        if experiment == "dose":
            return ("baseline", *(f"dose:{c}:{a:g}" for c in DOSE_CURVES for a in self.alphas))
        if experiment == "cost":
            return (*signature_names(), *COST_EXTRA)
        if experiment == "relocation":
            return ("baseline", *(f"transplant@{k}" for k in self.targets))
        if experiment in ("pathways", "delta"):
            return ("baseline",)
        return ("baseline", *self.interventions)  # lengths, regimes, emergence

    def jobs(self) -> list[Job]:
        """Every job of the plan, merged by (model, revision, seed, regime, length), in a stable order."""
        want: dict[tuple, dict] = {}

        def add(model, revision, seed, regime, T, experiment):
            key = (model, revision, seed, regime, T)
            w = want.setdefault(key, {"settings": {}, "keys": set(), "pathways": False, "stats": False,
                                      "delta": False, "ce": False, "experiments": {}})
            w["settings"].update(dict.fromkeys(self.settings_for(experiment)))
            w["experiments"][experiment] = None
            w["ce"] |= experiment in CE_EXPERIMENTS
            if experiment == "relocation":
                w["keys"].update(self.targets)
            if experiment == "pathways":
                w["pathways"] = True
            if experiment == "delta":
                w["delta"] = True
            if experiment == "emergence":
                w["stats"] = True

        for model in self.models:
            for seed in self.seeds:
                for e in self.experiments:
                    if e in DOMAIN_EXPERIMENTS:
                        for d in self.domains:
                            add(model, None, seed, d, self.n_tokens, e)
                    elif e == "lengths":
                        for T in self.lengths:
                            add(model, None, seed, self.length_regime, T, e)
                    elif e == "regimes":
                        for r in self.regimes:
                            add(model, None, seed, r, self.n_tokens, e)
                    elif e == "emergence":
                        for rev in self.revisions:
                            for d in self.domains:
                                add(model, rev, seed, d, self.n_tokens, e)
        return [Job(model=m, revision=rev, seed=s, regime=r, n_tokens=T, settings=tuple(w["settings"]), n=self.n,
                    band=self.band, metric=self.metric, source=self.source, target=self.target,
                    keys=tuple(sorted(w["keys"])), pathways=w["pathways"], model_stats=w["stats"], delta=w["delta"],
                    ce=w["ce"], batch_size=self.batch_size, device=self.device, dtype=self.dtype,
                    key_coords=self.key_coords, experiments=tuple(w["experiments"]))
                for (m, rev, s, r, T), w in want.items()]
