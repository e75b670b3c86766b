"""Command line: `sinklab report --model M [--model M2 ...] --n N --out DIR [experiment options]`.

Without experiment options it writes the paper's Table 1 for each model (table.csv, examples.csv,
report.md, table1.png/svg). Every list option takes comma-separated values. Exit status: 0 when results
were written (failed jobs and settings that do not apply are listed in errors.csv, and on stderr grouped
by reason), 2 when the arguments are wrong or nothing at all could be computed.

Configuration is read once, here (sinklab.config.Config.load(): the environment and sinklab.toml): its
`model` is the default --model, `threads` the default --threads, and `offline` keeps the run off the hub
(corpora from sinklab's offline sets, models from the local cache only). Flags win.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import warnings

from huggingface_hub import constants
from tqdm import tqdm

from .analyses import bands
from .config import Config
from .errors import BadInput, SinklabError
from . import experiments
from .experiments import REGISTRY, Plan
from .experiments.engine import ENGINES, make_engine
from .experiments.experiment import options as experiment_options
from .experiments.jobs import DTYPES
from .experiments.output import markdown
from .experiments.plan import BOS, EXPERIMENTS
from .experiments.tables import not_run


def _list(text: str | None) -> list[str]:
    return [] if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _numbers(text: str | None, what: str, kind: type = float) -> tuple | None:
    """'0,0.5,1' -> (0.0, 0.5, 1.0) (kind int: integers); None for a flag not given."""
    if text is None:
        return None
    out = []
    for t in _list(text):
        try:
            out.append(kind(t))
        except ValueError:
            raise BadInput(f"{what} must be {'integers' if kind is int else 'numbers'} separated by commas; "
                           f"got {t!r}") from None
    return tuple(out)


def parser() -> argparse.ArgumentParser:
    """`sinklab report`'s arguments: the plan's own, then every registered experiment's options (their flags,
    help and defaults declared by the experiments), then the engine's."""
    ap = argparse.ArgumentParser(prog="sinklab", description="Measure and break attention sinks in transformer LMs.")
    sub = ap.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("report", help="run every intervention over the NL / math / code corpora, and experiments",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="experiments:\n" + "\n".join(f"  {k:<11} {v}" for k, v in EXPERIMENTS.items()))
    rp.add_argument("--model", action="append", default=None,
                    help="HF id, local directory, or a bundled name; repeat or separate by commas for several "
                         "models in one run (default: SINKLAB_MODEL, else textbook)")
    rp.add_argument("--n", type=int, default=100, help="inputs per domain / regime (default 100)")
    rp.add_argument("--tokens", type=int, default=40, help="tokens per input (default 40)")
    rp.add_argument("--seed", type=int, default=42, help="data seed (default 42)")
    rp.add_argument("--seeds", default=None, help="several data seeds, e.g. 0,1,2: summaries are mean ± SD across them")
    rp.add_argument("--source", choices=["auto", "offline", "online"], default=None,
                    help="corpora: auto (the paper's when the hub is reachable), offline or online (default auto; "
                         "offline when SINKLAB_OFFLINE=1)")
    rp.add_argument("--target", type=int, default=1, help="0-indexed position for transplant/isolate/amplify")
    rp.add_argument("--metric", choices=["paper", "gu", "mass"], default="paper")
    rp.add_argument("--band", default=bands.DEFAULT,
                    help="layer band of the sink score: drop-quarter [L//4, L-1) (the default: the paper's layers "
                         "4-11 of 12 at any depth, as the app), drop-3 [3, L-1) (the spec's 'drop the first 3 "
                         "layers and the last'; the extension's rule), authors [3, min(11, L)) (the authors' code), "
                         "or A-B (0-indexed [A, B)). Older names: paper = drop-quarter (deprecated), "
                         "extension = drop-3")
    rp.add_argument("--bos", choices=list(BOS), default="no",
                    help="the inputs' first token: no (default: the text's own, no BOS added, the paper's "
                         "convention), yes (the model's BOS token, else its end-of-text token, e.g. GPT-2's "
                         "<|endoftext|>), auto (a BOS only where the model's tokenizer adds one, e.g. Gemma's "
                         "<bos>); the BOS takes the first of the --tokens positions. The structural experiment "
                         "follows its own --structural-bos")
    rp.add_argument("--experiments", default="table1",
                    help=f"comma list of {', '.join(EXPERIMENTS)}, or all (default table1)")
    rp.add_argument("--domains", default=None, help="domains of the domain experiments (default nl,math,code)")
    for o in experiment_options().values():
        default = f" (default {o.shown_default()})" if o.shown_default() else ""
        rp.add_argument(o.flag, dest=o.name, default=None, help=o.help + default)
    rp.add_argument("--coords", default=None,
                    help="(i), (j), b∧i, scale_wk: explicit W_k coordinates, e.g. 138,378,447 (needed on models "
                         "without position embeddings: Llama, Qwen2)")
    rp.add_argument("--i-top", type=int, default=None,
                    help="(i) and its kin: the N largest |EPE_0| coordinates (the authors' code: 3) instead of the "
                         "mean + kσ rule")
    rp.add_argument("--i-ksigma", type=float, default=None,
                    help="(i) and its kin: k of the mean + kσ·std rule for massive EPE_0 coordinates (default 3)")
    rp.add_argument("--j-per-layer", action="store_true",
                    help="(j): re-draw the random coordinates in every layer, over all coordinates, from a torch "
                         "generator seeded by (seed, layer) (sinklab's per-layer draw; default: one draw for every "
                         "layer, never a massive coordinate)")
    rp.add_argument("--j-authors", action="store_true",
                    help="(j): the circuit authors' exact draw: Python's random.seed(SEED), then in every layer "
                         "from layer 0 randint(0, d_model-1) per coordinate, over all coordinates (their code; "
                         "with --i-top 3 --j-seed 42 it draws their coordinates)")
    rp.add_argument("--j-seed", type=int, default=0,
                    help="(j): seed of the random draw (default 0; the authors and the extension: 42)")
    rp.add_argument("--dtype", choices=list(DTYPES), default="float32",
                    help="weights' dtype (default float32; float16 / bfloat16 are for GPUs)")
    rp.add_argument("--engine", choices=list(ENGINES), default="local",
                    help="local: in this process (default); dask: Dask distributed")
    rp.add_argument("--address", default=None, help="Dask scheduler address, e.g. tcp://host:8786 (default: a "
                                                    "LocalCluster on this machine)")
    rp.add_argument("--workers", type=int, default=2, help="LocalCluster workers for --engine dask (default 2)")
    rp.add_argument("--threads", type=int, default=None,
                    help="torch threads per job (default: SINKLAB_THREADS, 1)")
    rp.add_argument("--batch-size", type=int, default=32)
    rp.add_argument("--formats", default="png,svg", help="figure formats: png,svg or none")
    rp.add_argument("--device", default=None)
    rp.add_argument("--out", default="report", help="output directory")
    return ap


def plan_from(args, config=None) -> Plan:
    """The Plan of parsed arguments; config (a sinklab.config.Config) gives the defaults flags leave open."""
    config = config or Config()
    models = [m for spec in (args.model or [config.model or "textbook"]) for m in _list(spec)]
    exps = _list(args.experiments)
    declared = experiment_options()
    given = {name: o.parse(getattr(args, name)) for name, o in declared.items()
             if getattr(args, name, None) is not None}
    if exps == ["all"]:  # every experiment whose required options are given
        exps = [e for e, exp in REGISTRY.items() if all(given.get(r) for r in exp.required)]
    kw = {}
    if args.domains:
        kw["domains"] = tuple(_list(args.domains))
    seeds = tuple(_list(args.seeds)) if args.seeds else (args.seed,)
    source = args.source or ("offline" if config.offline else "auto")
    return Plan(models=tuple(models), experiments=tuple(exps), seeds=seeds, n=args.n, n_tokens=args.tokens,
                band=args.band, metric=args.metric, source=source, target=args.target,
                batch_size=args.batch_size, device=args.device, dtype=args.dtype,
                coords=_numbers(args.coords, "--coords", int), i_top=args.i_top, i_k_sigma=args.i_ksigma,
                j_per_layer=args.j_per_layer, j_seed=args.j_seed, j_authors=args.j_authors, bos=args.bos,
                **kw, **given)


@contextlib.contextmanager
def _offline(on: bool):
    """SINKLAB_OFFLINE=1 at the edge: while the report runs, the hub client of this process, and of the worker
    processes it starts, never goes online (models come from the local cache, directories or the bundled ones);
    both are restored afterwards (a notebook or test calling main() stays as it was)."""
    if not on:
        yield
        return
    before_env, before = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"  # inherited by a LocalCluster's worker processes
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
        if before_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before_env


def report(args, config=None) -> int:
    config = config or Config()
    band = args.band.strip() if isinstance(args.band, str) else args.band
    if band in bands.DEPRECATED:
        print(f"sinklab: {bands.DEPRECATED[band]}", file=sys.stderr)
    with warnings.catch_warnings():  # said once above, on stderr
        warnings.simplefilter("ignore", FutureWarning)
        plan = plan_from(args, config)
    formats = () if args.formats.strip().lower() == "none" else tuple(_list(args.formats))
    for f in formats:
        if f not in ("png", "svg"):
            raise BadInput(f"figure formats are png and svg (or none); got {f!r}")
    jobs = plan.jobs()
    threads = args.threads if args.threads is not None else config.threads
    with _offline(config.offline):
        engine = make_engine(args.engine, address=args.address, workers=args.workers, threads=threads)
        try:
            bar = tqdm(total=len(jobs), desc="jobs", unit="job", file=sys.stderr)

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            results = engine.map(jobs, progress=progress)
            bar.close()
            res = experiments.assemble(plan, results)
            res.engine = engine.describe()
            res.command = shlex.join(["sinklab", *sys.argv[1:]]) if sys.argv[1:2] == ["report"] else ""
        finally:
            engine.close()
    out = experiments.write(res, args.out, formats=formats)
    computed = any(len(t) for t in res.tables.values())
    if computed:
        print(markdown(res))
    if len(res.errors):  # one line per (model, reason), not per job and setting
        for r in not_run(res.errors, models=True).itertuples():
            print(f"sinklab: not run on {r.model}: {r.what} (T = {r.lengths}): {r.why}", file=sys.stderr)
    if not computed:
        print("sinklab: nothing could be computed (see the errors above)", file=sys.stderr)
        return 2
    files = sorted(p.name for p in out.iterdir())
    print(f"written to {out}/ ({', '.join(files)})")
    if len(res.errors):
        print(f"{len(res.errors)} job(s) or setting(s) did not run: see {out}/errors.csv")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return report(args, Config.load())  # configuration is read once, here
    except SinklabError as e:
        print(f"sinklab: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
