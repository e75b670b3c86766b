"""Warm interaction latency of the app: change a slider -> page re-rendered (Streamlit AppTest).

Not a test. Targets (issue 5): median <= 300 ms on the offline default ("textbook") and <= 1 s on a
GPT-2-small-shaped model, on 2 CPU cores. The GPT-2-small-shaped model is a randomly initialised
GPT2Config() (12 layers, 12 heads, d=768, 1024 positions) with sinklab's byte tokenizer (vocab 257),
saved in a temporary directory and opened as a local-directory model.

Scenarios, each after one warm-up run of the page:
  start/rerun          Start page, rerun with nothing changed (lesson cached; charts cached since issue 11)
  start/layer          Start page, move the layer slider (the lesson is cached: charts + rerun only)
  decomposition/head   Decomposition page, move the head slider (a new lesson call each time)
  interventions/alpha  Interventions page, move α to a new value each time (a new forward pass each time)
  interventions/amplify  (real models, no b_Q) Interventions page on "Amplify variance at k", move its factor
  origin/factor        Structural origin page, move the amplification factor

Real models (issue 17: the single-prompt pages <= 1 s per slider move): --real (or --only-real) adds
SmolLM2-135M and Gemma 3 270M (from their wheels; the Decomposition page stops early on them: no scenario).

Run:  python benchmarks/bench_app.py [--repeats 7] [--threads 1] [--skip-gpt2-shaped] [--real | --only-real]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
TARGETS = {"textbook": 0.300, "gpt2-small-shaped": 1.0, "smollm2-135m": 1.0, "gemma-3-270m": 1.0}
REAL = {"smollm2-135m": (30, 9), "gemma-3-270m": (18, 4)}  # the real models (issue 17): single-prompt pages <= 1 s


def gpt2_small_shaped(dirname: str) -> str:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from sinklab.model.bytetok import byte_tokenizer

    torch.manual_seed(0)
    tok = byte_tokenizer()
    cfg = GPT2Config(vocab_size=257, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    model = GPT2LMHeadModel(cfg).eval()
    model.save_pretrained(dirname)
    tok.save_pretrained(dirname)
    return dirname


def time_slider(model: str, page: str | None, pick, values, timeout: float = 600, setup=None) -> list[float]:
    """Open `page` (then `setup(at)`, e.g. pick an intervention), warm it up, then time at.run() after setting
    the widget `pick(at)` to each value."""
    from streamlit.testing.v1 import AppTest

    os.environ["SINKLAB_MODEL"] = model
    at = AppTest.from_file(str(APP), default_timeout=timeout).run()
    if page:
        at.switch_page(page).run()
    if setup is not None:
        setup(at)
        at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    times = []
    for v in values:
        if pick is not None:
            pick(at).set_value(v)
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return times


def scenarios(n_layer: int, n_head: int, repeats: int, positional: bool = True):
    layers = [(i % (n_layer - 1)) + 1 if i % 2 else 0 for i in range(repeats)]
    heads = [(i + 1) % n_head for i in range(repeats)]
    alphas = [round(0.05 * (i + 1), 2) for i in range(repeats)]
    factors = [1.0 + i for i in range(repeats)]
    pick_amplify = lambda at: at.main.selectbox(key="iv").set_value("amplify")  # noqa: E731
    out = [
        ("start/rerun", None, None, [None] * repeats),
        ("start/layer", None, lambda at: at.main.slider(key="layer"), layers),
        ("decomposition/head", "lesson_pages/3_decomposition.py", lambda at: at.main.slider(key="dhead"), heads),
        ("interventions/alpha", "lesson_pages/6_interventions.py", lambda at: at.main.slider(key="alpha"), alphas),
        # no b_Q on the real models: (b) does not run there; amplifying position k's variance does
        ("interventions/amplify", "lesson_pages/6_interventions.py", lambda at: at.main.slider(key="factor"),
         factors, pick_amplify),
        ("origin/factor", "lesson_pages/8_origin.py", lambda at: at.main.slider(key="factor"), factors),
    ]
    out = [o if len(o) == 5 else (*o, None) for o in out]
    if positional:
        return [o for o in out if o[0] != "interventions/amplify"]
    return [o for o in out if o[0] not in ("decomposition/head", "interventions/alpha")]  # rotary, no b_Q


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="SINKLAB_THREADS for the app (torch threads)")
    p.add_argument("--skip-gpt2-shaped", action="store_true")
    p.add_argument("--real", action="store_true", help="also the two real models (SmolLM2-135M, Gemma 3 270M)")
    p.add_argument("--only-real", action="store_true", help="only the two real models")
    args = p.parse_args(argv)

    os.environ["SINKLAB_THREADS"] = str(args.threads)  # read when the app's common module is imported
    import torch

    torch.set_num_threads(args.threads)
    print(f"torch threads: {args.threads}; load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = [] if args.only_real else [("textbook", "textbook", 6, 4)]
        if args.real or args.only_real:
            models += [(name, name, L, H) for name, (L, H) in REAL.items()]
        if not args.skip_gpt2_shaped and not args.only_real:
            t0 = time.perf_counter()
            models.append(("gpt2-small-shaped", gpt2_small_shaped(tmp), 12, 12))
            print(f"built the GPT-2-small-shaped model in {time.perf_counter() - t0:.1f} s")
        for label, spec, L, H in models:
            for name, page, pick, values, setup in scenarios(L, H, args.repeats, positional=label not in REAL):
                ts = time_slider(spec, page, pick, values, setup=setup)
                med = statistics.median(ts)
                rows.append((label, name, med, min(ts), max(ts), TARGETS[label]))
                print(f"{label:18s} {name:22s} median {med * 1000:7.0f} ms  (min {min(ts) * 1000:.0f}, "
                      f"max {max(ts) * 1000:.0f}, n={len(ts)})  target {TARGETS[label] * 1000:.0f} ms  "
                      f"ratio {med / TARGETS[label]:.2f}", flush=True)
    print("\nmodel               scenario                median_ms  target_ms  ratio")
    for label, name, med, lo, hi, target in rows:
        print(f"{label:18s}  {name:22s}  {med * 1000:9.0f}  {target * 1000:9.0f}  {med / target:5.2f}")


if __name__ == "__main__":
    main()
