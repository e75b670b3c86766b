"""Sweep speed, side by side in one run (ratios printed; not a timed test).

1. All ten paper interventions (a-j) over 300 inputs of 40 tokens on a random GPT-2-small-shaped model:
   sinklab's batched sweep vs the circuit authors' own per-input code (their public repository,
   intervention_analysis.py, dataset mode), same machine, same torch threads, same model and inputs.
   Their code is NOT part of sinklab: it is run from a checkout outside the project, in a SEPARATE venv
   (--authors-python), as a subprocess of this script (the `--authors-runner` mode below). Their main()
   loads "gpt2" from the hub and samples SST-2/GSM8K/HumanEval with `datasets`; the runner replaces
   exactly those two things, in their module's namespace only: `GPT2LMHeadModel`/`GPT2Tokenizer` by shims
   returning the benchmark's random model (saved with save_pretrained) and a tokenizer stub that maps each
   "sentence" to its pre-drawn 40 token ids, and `sample_benchmark_datasets` by a function returning
   those sentences split over their three dataset names. Everything else (their per-input loop
   `_run_sentences`, `run_all_interventions`, their metric and CSV writing) runs unchanged. Their code
   takes ~17 s per input here on one thread, so by default it runs on --authors-inputs inputs and its
   time for 300 is extrapolated linearly (its loop is strictly per input); --authors-inputs 300 runs all.
   The numbers of (a)-(i) are compared with sinklab's on the same inputs ((i) with n=3, their top-3 rule).

2. A full sweep (models × seeds × lengths × regimes × interventions) as independent jobs: in-process vs
   a Dask LocalCluster of 2 worker processes with 1 thread each; the tables are checked equal.

Setup of the authors' side (outside the project, never vendored):
    fetch github:YuvMilo/MechanisticAccountofSinks, then `git archive HEAD | tar -x -C /work/bench-authors-src`
    python3 -m venv /work/bench-authors-venv
    /work/bench-authors-venv/bin/pip install torch==2.13.0 transformers==5.3.0 matplotlib scikit-learn \
        pandas numpy datasets          # their requirements.txt, with sinklab's torch for a fair comparison
3. Shared-prefix reuse: per-layer interventions restricted to layers 3-10, resumed at block 3 vs run from the
   embeddings (tables checked equal). Peak resident memory is reported for every sinklab sweep and for the
   authors' process.

Run: python benchmarks/bench_sweep.py [--threads 1] [--authors-inputs 15] [--reuse-inputs 60] [--skip-dask]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak import PeakRSS  # benchmarks/peak.py (the script's folder is on sys.path)

HERE = Path(__file__).parent
AUTHORS_SRC = "/work/bench-authors-src"
AUTHORS_PY = "/work/bench-authors-venv/bin/python"
PAPER = "abcdefghij"


# ------------------------------------------------------------------------------------------ authors' side
def authors_runner(args) -> None:
    """Runs inside the authors' venv: their dataset mode on our model and inputs. Prints one JSON line."""
    import contextlib
    import io

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.authors_repo)
    import intervention_analysis as ia  # their module, from their checkout
    from transformers import GPT2LMHeadModel

    ids = torch.load(args.ids)[: args.inputs]  # [n, 40]
    sentences = [f"input {i}" for i in range(len(ids))]
    lookup = dict(zip(sentences, ids))

    class Tok:  # what their code calls: tokenizer(sentence, return_tensors="pt", add_special_tokens=False)
        def __call__(self, text, return_tensors=None, add_special_tokens=False):
            return {"input_ids": lookup[text][None].clone()}

    class ModelShim:
        @staticmethod
        def from_pretrained(name, **kw):
            return GPT2LMHeadModel.from_pretrained(args.model_dir, **kw)

    class TokShim:
        @staticmethod
        def from_pretrained(name, **kw):
            return Tok()

    per = len(sentences) // 3

    def sample(tokenizer, sample_size, cut_length, seed):  # replaces their hub download + sampling
        names = ["sst2", "gsm8k", "humaneval"]
        out = {n: sentences[i * per:(i + 1) * per] for i, n in enumerate(names)}
        return out, [{"dataset": n, "text": s} for n, ss in out.items() for s in ss]

    ia.GPT2LMHeadModel, ia.GPT2Tokenizer, ia.sample_benchmark_datasets = ModelShim, TokShim, sample
    timed = {}
    original = ia.dataset_analysis

    def dataset_analysis(*a, **kw):
        t0, c0 = time.perf_counter(), time.process_time()
        original(*a, **kw)
        timed["seconds"], timed["cpu"] = time.perf_counter() - t0, time.process_time() - c0

    ia.dataset_analysis = dataset_analysis
    sys.argv = ["intervention_analysis.py", "--mode", "dataset", "--sample-size", str(per), "--cut-length",
                str(ids.shape[1]), "--output-dir", args.out]
    with contextlib.redirect_stdout(io.StringIO()):
        ia.main()
    print(json.dumps({"seconds": timed["seconds"], "cpu": timed["cpu"], "inputs": 3 * per, "threads": torch.get_num_threads(),
                      "overall_csv": str(Path(args.out) / "dataset_analysis" / "bos_attention_stats_overall.csv")}))


# ------------------------------------------------------------------------------------------ sinklab's side
def random_gpt2_small(seed: int = 0):
    """GPT-2 small's shape, random weights, random non-zero biases and a distinct first position (the tests' builder)."""
    from transformers import GPT2Config

    sys.path.insert(0, str(HERE.parent / "tests"))
    from helpers import random_gpt2

    c = GPT2Config()
    return random_gpt2(n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, n_positions=c.n_positions,
                       vocab_size=c.vocab_size, seed=seed)


def compare_authors(args, model, ids, tmp: Path) -> None:
    import pandas as pd
    import torch

    from sinklab.analyses.effects import sweep
    from sinklab.interventions import make

    model_dir = tmp / "model"
    model.save_pretrained(model_dir)
    torch.save(ids, tmp / "ids.pt")
    settings = {k: (None if k == "a" else make(k)) for k in PAPER}
    sweep(model, ids[:2], settings)  # warm-up (EPE, massive-coordinate caches)
    band = (3, min(11, model.config.n_layer))  # the authors' band
    t0, c0 = time.perf_counter(), time.process_time()
    with PeakRSS() as mem_ce:
        sweep(model, ids, settings, batch_size=args.batch, layers=band, per_layer=False)
    with_ce, with_ce_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    with PeakRSS() as mem:
        sweep(model, ids, settings, batch_size=args.batch, layers=band, per_layer=False, ce=False)
    metric_only, metric_only_cpu = time.perf_counter() - t0, time.process_time() - c0

    k = args.authors_inputs
    if not (Path(args.authors_python).exists() and Path(args.authors_repo, "intervention_analysis.py").exists()):
        print(f"authors' code: not run (no {args.authors_python} or no checkout at {args.authors_repo}; see the "
              "module docstring for the setup)")
        print(f"sinklab sweep, 10 interventions x {len(ids)} inputs: {with_ce:.1f} s with CE, {metric_only:.1f} s "
              "metric only")
        return
    cmd = [args.authors_python, str(Path(__file__).resolve()), "--authors-runner", "--authors-repo", args.authors_repo,
           "--model-dir", str(model_dir), "--ids", str(tmp / "ids.pt"), "--inputs", str(k), "--threads",
           str(args.threads), "--out", str(tmp / "authors_out")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with PeakRSS(proc.pid) as their_mem:  # their process's own RSS, sampled (not getrusage: see PeakRSS)
        stdout, stderr = proc.communicate()
    authors_peak = their_mem.mib[0]
    if proc.returncode != 0:
        print("authors' code failed:\n" + stderr[-3000:])
        return
    res = json.loads(stdout.strip().splitlines()[-1])
    scale = len(ids) / res["inputs"]
    authors, authors_cpu = res["seconds"] * scale, res["cpu"] * scale
    label = "measured" if res["inputs"] == len(ids) else f"extrapolated from {res['inputs']} inputs"
    print(f"torch threads: sinklab {torch.get_num_threads()}, authors {res['threads']}; wall-clock and CPU seconds "
          "(CPU time is robust to other jobs on the machine; one thread each)")
    print(f"10 interventions x {len(ids)} inputs x {ids.shape[1]} tokens (GPT-2-small shape, random weights):")
    print(f"  authors' per-input code (their dataset mode): {authors:8.1f} s wall {authors_cpu:8.1f} s CPU ({label}; "
          f"{res['seconds'] / res['inputs']:.2f} s/input); peak RSS of their process {authors_peak:.0f} MiB")
    print(f"  sinklab sweep, metric + cross-entropy:        {with_ce:8.1f} s wall {with_ce_cpu:8.1f} s CPU = "
          f"{authors / with_ce:5.1f}x / {authors_cpu / with_ce_cpu:5.1f}x faster; {mem_ce.text}")
    print(f"  sinklab sweep, metric only (as theirs):       {metric_only:8.1f} s wall {metric_only_cpu:8.1f} s CPU = "
          f"{authors / metric_only:5.1f}x / {authors_cpu / metric_only_cpu:5.1f}x faster (target >= 15x); {mem.text}")
    # the same numbers? (a)-(i) on the inputs their run saw; (j) draws random rows differently
    theirs = pd.read_csv(res["overall_csv"]).assign(label=lambda d: d["intervention"].str.removeprefix("int_"))
    theirs = theirs.set_index("label")["mean_bos_attention"]
    same = {k2: (None if k2 == "a" else make("i", n=3) if k2 == "i" else make(k2)) for k2 in "abcdefghi"}
    ours = sweep(model, ids[: res["inputs"]], same, layers=band, per_layer=False, ce=False).examples
    ours = ours.groupby("intervention")["first"].mean()
    diff = max(abs(float(theirs[k2]) - float(ours[k2])) for k2 in "abcdefghi")
    print(f"  agreement on (a)-(i), {res['inputs']} inputs: max |authors - sinklab| = {diff:.2e} "
          "(their CSV keeps 6 decimals)")


def compare_reuse(args, model, ids) -> None:
    """Shared-prefix reuse: the per-layer interventions restricted to the authors' band [3, 11), so blocks 0-2
    are shared with the plain forward, with and without resuming there (the tables are checked equal)."""
    import pandas as pd

    from sinklab.analyses.effects import sweep
    from sinklab.interventions import make

    band = (3, min(11, model.config.n_layer))
    settings = {"a": None, **{k: make(k, layers=band) for k in ("b", "g", "i", "j", "isolate", "amplify", "rmsnorm")}}
    ids = ids[: args.reuse_inputs]
    out = {}
    for reuse in (False, True):
        c0 = time.process_time()
        with PeakRSS() as mem:
            out[reuse] = sweep(model, ids, settings, batch_size=args.batch, layers=band, per_layer=False, ce=False,
                               reuse=reuse)
        out[reuse, "cpu"], out[reuse, "mem"] = time.process_time() - c0, mem.text
    pd.testing.assert_frame_equal(out[False].examples, out[True].examples, atol=1e-5, rtol=0)
    print(f"shared-prefix reuse: 7 per-layer interventions in layers {band[0]}-{band[1] - 1} + baseline, "
          f"{len(ids)} inputs, metric only:")
    print(f"  every setting from the embeddings: {out[False, 'cpu']:7.1f} s CPU; {out[False, 'mem']}")
    print(f"  resumed at block {band[0]} (reuse):      {out[True, 'cpu']:7.1f} s CPU = "
          f"{out[False, 'cpu'] / out[True, 'cpu']:4.2f}x faster; {out[True, 'mem']}; tables equal: yes")


def compare_engines(args) -> None:
    import pandas as pd

    from sinklab import experiments as ex
    from sinklab.experiments.engine import make_engine

    plan = ex.Plan(models=("textbook", "sinklab-mini"), experiments=("lengths", "regimes", "table1"),
                   seeds=(0, 1), n=args.sweep_n, n_tokens=32, lengths=(16, 32, 64), domains=("nl", "math", "code"))
    jobs = plan.jobs()
    t0 = time.perf_counter()
    local = ex.run_plan(plan, engine=make_engine("local", threads=args.threads))
    t_local = time.perf_counter() - t0
    t0 = time.perf_counter()
    eng = make_engine("dask", workers=2, threads=1, processes=True)
    t_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    dask = ex.run_plan(plan, engine=eng)
    t_dask = time.perf_counter() - t0
    eng.close()
    for name in local.tables:
        pd.testing.assert_frame_equal(local.tables[name], dask.tables[name], check_exact=True)
    print(f"full sweep: 2 models x 2 seeds x (3 lengths + 7 regimes + 3 domains) = {len(jobs)} jobs, "
          f"{args.sweep_n} inputs each:")
    print(f"  local engine (1 process):                      {t_local:6.1f} s")
    print(f"  dask LocalCluster (2 processes x 1 thread):    {t_dask:6.1f} s = {t_local / t_dask:4.2f}x "
          f"(+ {t_start:.1f} s cluster start); tables equal to the serial run: yes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--authors-runner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--authors-repo", default=AUTHORS_SRC)
    ap.add_argument("--authors-python", default=AUTHORS_PY)
    ap.add_argument("--model-dir")
    ap.add_argument("--ids")
    ap.add_argument("--out")
    ap.add_argument("--inputs", type=int, default=300, help="inputs of the sinklab sweep (default 300)")
    ap.add_argument("--authors-inputs", type=int, default=15, help="inputs the authors' code runs (multiple of 3)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sweep-n", type=int, default=8)
    ap.add_argument("--skip-authors", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--reuse-inputs", type=int, default=60, help="inputs of the shared-prefix comparison (0: skip)")
    args = ap.parse_args()
    if args.authors_runner:
        return authors_runner(args)
    import torch

    torch.set_num_threads(args.threads)
    ids = torch.randint(0, 50257, (args.inputs, 40), generator=torch.Generator().manual_seed(0))
    model = random_gpt2_small() if not args.skip_authors or args.reuse_inputs else None
    if not args.skip_authors:
        with tempfile.TemporaryDirectory() as tmp:
            compare_authors(args, model, ids, Path(tmp))
    if args.reuse_inputs:
        compare_reuse(args, model, ids)
    if not args.skip_dask:
        compare_engines(args)


if __name__ == "__main__":
    main()
