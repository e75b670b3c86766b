"""What to run: a Plan (models × seeds × experiments, with every experiment's options) and the jobs it expands to.

Jobs are keyed by (model, revision, seed, regime, length): experiments that need the same inputs share
one job, whose single batched sweep carries the union of their settings. Which jobs an experiment needs, and
what they run for it, the experiment declares (sinklab.experiments.experiment); the plan only merges them.

The plan's own fields are what every experiment shares (models, seeds, inputs, BOS, band, metric, how (i)/(j) pick
their coordinates); each experiment's options (lengths, alphas, ...) are keywords too, `Plan(..., lengths=(40,
80))`, read as attributes, `plan.lengths` (declared by the experiments, defaults filled in, validated here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from .. import checks
from ..analyses import bands
from ..analyses.metrics import METRICS
from ..errors import BadInput
from ..inputs.corpora import DOMAINS, SOURCES
from ..interventions import make, signature_names
from .experiment import REGISTRY, Option
from .experiment import options as declared_options
from .jobs import DTYPES, Job
from .settings import KeyCoords, check_setting

BOS = ("no", "yes", "auto")  # no: the paper's convention (default); yes: the model's BOS first; auto: as its tokenizer

EFFICACY = ("b", "c", "d", "e", "i")
# an option several experiments read (each declares this same object)
INTERVENTIONS = Option("interventions", EFFICACY, "labels for lengths / regimes / emergence", check=check_setting)

__all__ = ["Plan", "EFFICACY", "INTERVENTIONS", "EXPERIMENTS", "DOMAINS", "signature_names"]


class _Descriptions(Mapping):
    """name -> description of every registered experiment (a live view of the registry, in definition order)."""

    def __getitem__(self, name: str) -> str:
        return REGISTRY[name].description

    def __iter__(self) -> Iterator[str]:
        return iter(list(REGISTRY))

    def __len__(self) -> int:
        return len(REGISTRY)


EXPERIMENTS = _Descriptions()


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


@dataclass(frozen=True, init=False)
class Plan:
    """A run: models × data seeds × experiments. Every experiment's options default to the extension's grids."""

    models: tuple[str, ...]
    experiments: tuple[str, ...] = ("table1",)
    seeds: tuple[int, ...] = (42,)
    n: int = 100
    n_tokens: int = 40
    band: str = bands.DEFAULT
    metric: str = "paper"
    source: str = "auto"
    target: int = 1
    domains: tuple[str, ...] = DOMAINS
    batch_size: int = 32
    device: str | None = None
    dtype: str = "float32"
    coords: tuple[int, ...] | None = None  # (i)/(j)/scale_wk: explicit W_k coordinates
    i_top: int | None = None  # ... or the top n |EPE_0| coordinates
    i_k_sigma: float | None = None  # ... or the mean + kσ rule (None: 3)
    j_per_layer: bool = False  # (j): re-drawn in every layer (sinklab's per-layer draw) instead of one draw
    j_seed: int = 0  # (j): seed of the draw (the authors and the extension: 42)
    j_authors: bool = False  # (j): the circuit authors' exact draw (random.seed + randint per layer)
    bos: str = "no"  # put the model's BOS token first: no (the paper), yes, auto (as the model's tokenizer does)
    factor: float | None = None  # amplify's factor in the signature (None: its default)
    options: tuple[tuple[str, Any], ...] = ()  # every registered experiment's options, defaults filled in

    def __init__(self, models, experiments=("table1",), seeds=(42,), n=100, n_tokens=40, band=bands.DEFAULT,
                 metric="paper", source="auto", target=1, domains=DOMAINS, batch_size=32, device=None,
                 dtype="float32", coords=None, i_top=None, i_k_sigma=None, j_per_layer=False, j_seed=0,
                 j_authors=False, bos="no", factor=None, options=(), **named):
        values = dict(models=models, experiments=experiments, seeds=seeds, n=n, n_tokens=n_tokens, band=band,
                      metric=metric, source=source, target=target, domains=domains, batch_size=batch_size,
                      device=device, dtype=dtype, coords=coords, i_top=i_top, i_k_sigma=i_k_sigma,
                      j_per_layer=j_per_layer, j_seed=j_seed, j_authors=j_authors, bos=bos, factor=factor)
        for name in ("models", "experiments", "seeds", "domains"):
            v = values[name]
            values[name] = (v,) if isinstance(v, (str, int, float)) else tuple(v)
        if values["coords"] is not None:
            c = values["coords"]
            values["coords"] = (c,) if isinstance(c, int) else tuple(c)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        declared = declared_options()
        given = {**dict(options), **named}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise BadInput(f"unknown plan option(s) {', '.join(unknown)}; the experiments' options are "
                           f"{', '.join(declared)}")
        object.__setattr__(self, "options",
                           tuple((k, o.validate(given.get(k, o.default))) for k, o in declared.items()))
        self.validate()

    def __getattr__(self, name: str):
        """An experiment's option: plan.lengths, plan.alphas, ..."""
        if not name.startswith("_"):
            for key, value in self.__dict__.get("options", ()):
                if key == name:
                    return value
        raise AttributeError(f"{type(self).__name__!r} has no attribute or experiment option {name!r}")

    @property
    def key_coords(self) -> KeyCoords:
        """How (i), (j) and scale_wk pick their W_k coordinates in every job of the plan."""
        return KeyCoords(coords=self.coords, top=self.i_top, k_sigma=self.i_k_sigma, j_per_layer=self.j_per_layer,
                         j_seed=self.j_seed, j_authors=self.j_authors)

    def validate(self) -> None:
        if not self.models:
            raise BadInput("no model given: pass at least one --model")
        for m in self.models:
            if not isinstance(m, str) or not m.strip():
                raise BadInput(f"model specs must be non-empty strings; got {m!r}")
        if not self.experiments:
            raise BadInput(f"no experiment given; choose from {', '.join(REGISTRY)}")
        for e in self.experiments:
            if e not in REGISTRY:
                raise BadInput(f"unknown experiment {e!r}; choose from {', '.join(REGISTRY)} (or all)")
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
        if not 1 <= int(self.target):
            raise BadInput(f"target must be a position >= 1; got {self.target!r}")
        if self.factor is not None:
            make("amplify", factor=self.factor)  # amplify's own range check
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise BadInput(f"batch size must be an integer >= 1; got {self.batch_size!r}")
        checks.one_of("dtype (--dtype)", self.dtype, DTYPES)
        checks.one_of("bos (--bos)", self.bos, BOS)
        self.key_coords.check()
        for e in self.experiments:
            REGISTRY[e].validate(self)

    # -------------------------------------------------------------------------------------- jobs
    def settings_for(self, experiment: str) -> tuple[str, ...]:
        """The setting names the experiment's jobs run (sinklab.experiments.settings)."""
        return tuple(REGISTRY[experiment].settings(self))

    def jobs(self) -> list[Job]:
        """Every job of the plan, merged by (model, revision, seed, regime, length), in a stable order."""
        want: dict[tuple, dict] = {}
        for model in self.models:
            for seed in self.seeds:
                for e in self.experiments:
                    exp = REGISTRY[e]
                    for revision, regime, T in exp.units(self):
                        w = want.setdefault((model, revision, seed, regime, T),
                                            {"settings": {}, "keys": set(), "ce": False, "experiments": {}})
                        w["settings"].update(dict.fromkeys(exp.settings(self)))
                        w["experiments"][e] = None
                        w["ce"] |= exp.ce
                        w["keys"].update(exp.keys_measured(self))
        return [Job(model=m, revision=rev, seed=s, regime=r, n_tokens=T, settings=tuple(w["settings"]), n=self.n,
                    band=self.band, metric=self.metric, source=self.source, target=self.target, bos=self.bos,
                    keys=tuple(sorted(w["keys"])), ce=w["ce"], batch_size=self.batch_size, device=self.device,
                    dtype=self.dtype, key_coords=self.key_coords, experiments=tuple(w["experiments"]),
                    factor=self.factor, options=self.options)
                for (m, rev, s, r, T), w in want.items()]
