"""What an experiment is: one class in one file, registered when it is defined, read by everything else.

    class Widths(Experiment, name="widths"):
        \"\"\"The sink at several band widths (the first paragraph is the description `sinklab report` shows).\"\"\"

        options = (Option("widths", (2, 4), "band widths", kind=int, low=1),)   # Plan keywords, report flags
        keys = ("model", "domain", "width")          # what identifies a row (the summary groups on them)
        values = ("sink",)                           # what the summary averages across seeds (mean, SD)
        per_seed = ("n",)                            # kept in the per-seed CSV only
        shown = ("model", "domain", "width", "sink")  # the report.md columns
        published = None                             # or a function returning published rows (sinklab.published)

        def settings(self, plan): ...                # the setting names its jobs run (sinklab.experiments.settings)
        def table(self, raw, plan): ...              # the per-seed table, from the jobs' rows
        def figure(self, summary, published): ...    # an Altair chart, or None

Its plan options become Plan keywords (`Plan(..., widths=(2, 8))`, `plan.widths`) and `sinklab report` flags
(`--widths 2,8`); tables, output (CSVs, report.md), figures and the CLI read the registry, so nothing else
changes. What a job runs for it: `units(plan)` (default: one job per domain), `settings(plan)`, `ce` (the LM head
for cross-entropy), `keys_measured(plan)` (extra key positions) and `measure(job, lm, ids, band, batch)` (extra
rows, e.g. the pathway split). A wrong or missing declaration raises TypeError when the class is defined; a
table whose columns do not match its declaration raises DeclarationError when it is built (never a silent
wrong summary).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, NamedTuple

import pandas as pd

from ..errors import BadInput, SinklabError
from .markdown import summary_markdown

REGISTRY: dict[str, "Experiment"] = {}  # name -> the experiment (an instance), in definition order


class DeclarationError(SinklabError):
    """An experiment's table does not match what its class declares (a bug in the experiment, not the input)."""


@dataclass(frozen=True)
class Option:
    """A plan option an experiment reads: a Plan keyword and a `sinklab report` flag, declared once.

    kind: the type of one value (int, float or str); many: a tuple of values (comma-separated on the command
    line) or one value; low: the smallest value allowed (numbers); check: a further check of one value
    (raises BadInput); flag_parse: turns one command-line item into a value (default: kind)."""

    name: str
    default: Any
    help: str
    kind: type = str
    many: bool = True
    low: float | None = None
    check: Callable[[Any], Any] | None = None
    flag_parse: Callable[[str], Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def shown_default(self) -> str:
        values = self.default if self.many else (self.default,)
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)

    def parse(self, text: str):
        """A command-line value: 'a,b' -> (a, b) for a list option."""
        items = [t.strip() for t in text.split(",") if t.strip()] if self.many else [text.strip()]
        parse = self.flag_parse or (lambda t: t)
        out = []
        for t in items:
            try:
                out.append(parse(t))
            except ValueError:
                kind = {int: "integers", float: "numbers"}.get(self.kind, "values")
                raise BadInput(f"{self.name} must be {kind} separated by commas; got {t!r}") from None
        return tuple(out) if self.many else out[0]

    def validate(self, value):
        """The value checked and normalised (a tuple for a list option), or BadInput."""
        values = (value,) if isinstance(value, (str, int, float)) else tuple(value)
        if not self.many:
            if len(values) != 1:
                raise BadInput(f"{self.name} takes one value; got {value!r}")
        out = []
        for v in values:
            v = self._one(v)
            if self.check is not None:
                self.check(v)
            out.append(v)
        return tuple(out) if self.many else out[0]

    def _one(self, v):
        what = f"{self.name} ({self.flag})"
        if self.kind is int:
            if isinstance(v, bool) or not isinstance(v, (int, str)) or not str(v).strip().lstrip("-").isdigit():
                raise BadInput(f"{self.name} must be integers; got {v!r}")
            v = int(v)
        elif self.kind is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                at_least = f" >= {self.low:g}" if self.low is not None else ""
                raise BadInput(f"{self.name} must be numbers{at_least}; got {v!r}")
        elif not isinstance(v, str) or not v.strip():
            raise BadInput(f"{what} must be non-empty strings; got {v!r}")
        if self.low is not None and v < self.low:
            raise BadInput(f"{self.name} must be {'integers' if self.kind is int else 'numbers'} >= {self.low:g}; "
                           f"got {v!r}")
        return v


class Raw(NamedTuple):
    """What a plan's jobs returned, gathered: every job's sweep rows (examples) and the rows each experiment's
    `measure` added (measured[name])."""

    examples: pd.DataFrame
    measured: dict[str, pd.DataFrame]


class Experiment:
    """Base class: subclass it with `name=` and the declarations below (see the module docstring)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""  # the first paragraph of the docstring
    options: ClassVar[tuple[Option, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()  # options that have no default: `--experiments all` skips it without them
    ce: ClassVar[bool] = False  # its jobs run the LM head (cross-entropy)
    keys: ClassVar[tuple[str, ...]] = ()
    values: ClassVar[tuple[str, ...]] = ()  # a name ending in * stands for every column with that prefix
    per_seed: ClassVar[tuple[str, ...]] = ()
    carried: ClassVar[dict[str, str]] = {}  # column -> "first" (kept as is) or "share" (its mean, <column>_share)
    shown: ClassVar[tuple[str, ...]] = ()  # report.md: these columns of the summary (values: mean ± SD)
    pooled_only: ClassVar[bool] = False  # report.md shows the domains pooled ("all") only
    published: ClassVar[Callable[[], pd.DataFrame] | None] = None
    published_in_report: ClassVar[bool] = True  # report.md lists the published rows after its section (False: its
    #                                             markdown shows them itself)
    states_definitions: ClassVar[bool] = False  # report.md says how (i)/(j) were defined, here and by the publishers
    also_written_as: ClassVar[tuple[str, ...]] = ()  # more file names for its per-seed CSV

    def __init_subclass__(cls, name: str = "", **kw):
        super().__init_subclass__(**kw)
        if not name:
            return  # an abstract base for several experiments
        cls.name = name
        if inspect.isfunction(cls.__dict__.get("published")):  # a plain function, not a method of the experiment
            cls.published = staticmethod(cls.__dict__["published"])
        doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
        cls.description = doc.split("\n\n")[0].replace("\n", " ").rstrip(".")
        _check(cls)
        old = REGISTRY.get(name)
        if old is not None and type(old).__qualname__ != cls.__qualname__:
            raise TypeError(f"experiment name {name!r} is taken by {type(old).__name__}")
        REGISTRY[name] = cls()

    # ------------------------------------------------------------------ what its jobs run
    def units(self, plan) -> Iterable[tuple[str | None, str, int]]:
        """(revision, regime, length) of every job it needs per model and seed (default: one per domain)."""
        return [(None, d, plan.n_tokens) for d in plan.domains]

    def settings(self, plan) -> tuple[str, ...]:
        raise NotImplementedError

    def keys_measured(self, plan) -> Iterable[int]:
        """Key positions measured beside 0 and each setting's own (columns at_<k>)."""
        return ()

    def measure(self, job, lm, ids, band: tuple[int, int], batch_size: int) -> pd.DataFrame | None:
        """Extra rows of one job besides the sweep (identity columns are added); BadInput: not on this model."""
        return None

    def validate(self, plan) -> None:
        """Refuse a plan this experiment cannot run (BadInput), beyond its options' own checks."""
        for option in self.required:
            if not getattr(plan, option):
                raise BadInput(f"the {self.name} experiment needs --{option.replace('_', '-')}")

    @property
    def own_bos(self) -> bool:
        """Whether it puts a BOS token first itself (it declares an option named *_bos, as structural's
        --structural-bos): its `measure` then gets the inputs as drawn, without the plan's --bos."""
        return any(o.name.endswith("_bos") for o in self.options)

    # ------------------------------------------------------------------ what it makes of them
    def table(self, raw: Raw, plan) -> pd.DataFrame:
        raise NotImplementedError

    def figure(self, summary: pd.DataFrame, published: pd.DataFrame | None):
        """Its Altair chart from the across-seed summary (None: no figure)."""
        return None

    def markdown(self, res, table: pd.DataFrame, summary: pd.DataFrame, published) -> list[str]:
        """Its report.md section (after the heading and description): the summary's shown columns."""
        return [summary_markdown(self, summary, len(res.plan.seeds)), ""]

    # ------------------------------------------------------------------ the declaration, checked
    def columns_of(self, table: pd.DataFrame) -> tuple[list[str], list[str]]:
        """(keys, values) of a table built by this experiment, in the table's column order; DeclarationError for a
        column its declaration does not classify, or a declared key or value it lacks."""
        declared = {"seed", *self.keys, *self.per_seed, *self.carried}
        values = [c for c in table.columns if _is_value(c, self.values)]
        unknown = [c for c in table.columns if c not in declared and c not in values]
        missing = [c for c in (*self.keys, *(v for v in self.values if not v.endswith("*"))) if c not in table.columns]
        if unknown or missing:
            raise DeclarationError(
                f"the {self.name} experiment's table does not match its declaration: "
                + (f"columns {unknown} are neither keys, values, per_seed nor carried" if unknown else "")
                + ("; " if unknown and missing else "")
                + (f"declared columns {missing} are missing" if missing else "")
                + f" (declare them in {type(self).__module__}.{type(self).__name__})")
        return [c for c in table.columns if c in self.keys], values


def _is_value(column: str, values) -> bool:
    return any(column.startswith(v[:-1]) if v.endswith("*") else column == v for v in values)


def _check(cls) -> None:
    """An experiment's declarations, checked when its class is defined."""
    where = f"experiment {cls.name!r} ({cls.__module__}.{cls.__name__})"
    if not cls.description:
        raise TypeError(f"{where}: write its description as the first paragraph of its docstring")
    for attr in ("keys", "values", "per_seed", "shown", "options", "required", "also_written_as"):
        if not isinstance(getattr(cls, attr), tuple):
            raise TypeError(f"{where}: {attr} must be a tuple; got {getattr(cls, attr)!r}")
    if not cls.keys or not cls.values:
        raise TypeError(f"{where}: declare its keys (what identifies a row) and its values (what the summary "
                        "averages across seeds)")
    groups = {"keys": set(cls.keys), "values": set(cls.values), "per_seed": set(cls.per_seed),
              "carried": set(cls.carried)}
    names = list(groups)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if groups[a] & groups[b]:
                raise TypeError(f"{where}: {sorted(groups[a] & groups[b])} declared both in {a} and {b}")
    if "seed" in set().union(*groups.values()):
        raise TypeError(f"{where}: 'seed' is what the summary averages over; do not declare it")
    for column, how in cls.carried.items():
        if how not in ("first", "share"):
            raise TypeError(f"{where}: carried[{column!r}] must be 'first' or 'share'; got {how!r}")
    bad = [c for c in cls.shown if c not in cls.keys and not _is_value(c, cls.values) and c not in cls.carried]
    if bad:
        raise TypeError(f"{where}: shown columns {bad} are neither keys, values nor carried")
    for method in ("settings", "table"):
        if getattr(cls, method) is getattr(Experiment, method):
            raise TypeError(f"{where}: implement {method}(self, ...)")
    if cls.published is not None and not callable(cls.published):
        raise TypeError(f"{where}: published must be a function returning the published rows, or None")
    for o in cls.options:
        if not isinstance(o, Option):
            raise TypeError(f"{where}: options are Option(...) declarations; got {o!r}")
        for other in REGISTRY.values():
            for p in other.options:
                if p.name == o.name and p != o:
                    raise TypeError(f"{where}: option {o.name!r} is declared differently by {other.name!r} "
                                    "(share the same Option object)")
    for r in cls.required:
        if r not in {o.name for o in cls.options}:
            raise TypeError(f"{where}: required option {r!r} is not among its options")


def options() -> dict[str, Option]:
    """Every registered experiment's options, by name (an option shared by several experiments once)."""
    out: dict[str, Option] = {}
    for e in REGISTRY.values():
        for o in e.options:
            out.setdefault(o.name, o)
    return out


def unregister(name: str) -> None:
    """Remove an experiment from the registry (tests that define one)."""
    del REGISTRY[name]
