"""Cost of sinklab's transparent forward over a bare HF forward (GPT-2-small shape, random weights).

Run: python benchmarks/bench_forward.py [--repeats 5] [--threads 1] [--skip-families] [--json OUT.json]
Targets (issue 2): full Trace <= 1.2x a bare HF forward; one batch carrying 10 different
interventions <= 1.3x ten bare batched forwards. (Issue 13): a metric-only analysis (the patterns
of the paper-metric layers, no LM head) <= 0.8x a bare HF forward. Every ratio is measured side by
side in one run, with the peak resident memory of each measurement (psutil, sampled every 5 ms; the
increase over the loaded model in brackets); the other families (random small-but-real-shaped configs)
are timed the same way. --json writes every measured row (for docs/research.md's record).
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import sinklab
from sinklab.model.families import random_model
from sinklab.interventions import make
from sinklab.analyses.metrics import paper_layers
from sinklab.model.names import act_name

from peak import PeakRSS  # benchmarks/peak.py (the script's folder is on sys.path)

TEN = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]


def gpt2_small_random(seed: int = 0):
    torch.manual_seed(seed)
    cfg = GPT2Config()  # 12 layers, 12 heads, d=768, 1024 positions, 50257 tokens
    cfg._attn_implementation = "eager"
    return GPT2LMHeadModel(cfg).eval()


def metric_names(n_layer: int) -> list[str]:
    """What a metric-only analysis keeps: the patterns of the paper-metric layers."""
    a, b = paper_layers(n_layer)
    return [act_name("pattern", l) for l in range(a, b)]


ROWS: list[dict] = []


def measure(fn, repeats: int) -> tuple[float, float, float]:
    """(median seconds, peak RSS MiB, MiB over the RSS before) of `fn` over `repeats` runs after a warm-up."""
    import gc

    gc.collect()
    with PeakRSS() as mem:
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return (sorted(times)[len(times) // 2], *mem.mib)


def median_time(fn, repeats: int) -> float:
    return measure(fn, repeats)[0]


def compare(what: str, fn, base_fn, repeats: int, target: float | None = None) -> float:
    """Time `fn` and `base_fn` side by side; print and record the ratio and both peaks."""
    t, peak, extra = measure(fn, repeats)
    b, bpeak, bextra = measure(base_fn, repeats)
    goal = f" (target <= {target}x{': met' if t / b <= target else ': NOT met'})" if target else ""
    print(f"{what}: {t * 1e3:8.1f} ms / {b * 1e3:8.1f} ms = {t / b:.2f}x{goal}; peak RSS {peak:.0f} MiB "
          f"(+{extra:.0f}) vs {bpeak:.0f} MiB (+{bextra:.0f})", flush=True)
    ROWS.append({"what": what, "ms": t * 1e3, "baseline_ms": b * 1e3, "ratio": t / b, "target": target,
                 "peak_rss_mib": peak, "peak_rss_increase_mib": extra, "baseline_peak_rss_mib": bpeak,
                 "baseline_peak_rss_increase_mib": bextra})
    return t / b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--batches", default="1,32", help="batch sizes of the Trace comparisons (default 1,32)")
    ap.add_argument("--skip-families", action="store_true", help="only GPT-2 small's shape")
    ap.add_argument("--json", default=None, help="write every measured row to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = gpt2_small_random()
    g = torch.Generator().manual_seed(0)
    print(f"torch threads: {torch.get_num_threads()}, device: cpu, {args.tokens} tokens, median of {args.repeats}")
    for b in (int(x) for x in args.batches.split(",")):
        ids = torch.randint(0, 50257, (b, args.tokens), generator=g)

        def hf():
            with torch.inference_mode():
                model(ids)

        compare(f"full Trace vs bare HF forward, batch {b:2d}", lambda: sinklab.run(model, ids), hf, args.repeats, 1.2)
        keep = metric_names(12)
        compare(f"metric-only (patterns of layers 3-10, no LM head) vs bare HF forward, batch {b:2d}",
                lambda: sinklab.run(model, ids, names=keep), hf, args.repeats, 0.8)

    ids = torch.randint(0, 50257, (10, args.tokens), generator=g)
    ivs = [make(x) for x in TEN]
    big = ids.repeat_interleave(len(ivs), 0)  # [inputs * interventions, pos]
    per = ivs * len(ids)

    def bare10():
        with torch.inference_mode():
            for _ in ivs:
                model(ids)

    compare("one batch with 10 interventions (10 inputs each) vs 10 bare batched forwards",
            lambda: sinklab.run(model, big, per_example=per, names=["logits"]), bare10, args.repeats, 1.3)

    if not args.skip_families:  # a 12-layer, d_model 768 shape of each family (random weights), batch 8
        del model
        ids = torch.randint(0, 50257, (8, args.tokens), generator=g)
        shapes = {
            "gpt_neo": dict(num_layers=12, num_heads=12, hidden_size=768, max_position_embeddings=2048,
                            window_size=256, attention_types=[[["global", "local"], 6]]),
            "opt": dict(num_hidden_layers=12, num_attention_heads=12, hidden_size=768, ffn_dim=3072,
                        max_position_embeddings=2048, word_embed_proj_dim=768),
            "qwen2": dict(num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=2, hidden_size=768,
                          intermediate_size=2048, max_position_embeddings=2048),
        }
        for name, shape in shapes.items():
            fam_model = random_model(name, vocab_size=50257, **shape)

            def hf_fam():
                with torch.inference_mode():
                    fam_model(ids)

            compare(f"{name:8s} batch 8: full Trace vs bare HF forward", lambda: sinklab.run(fam_model, ids), hf_fam,
                    args.repeats)
            compare(f"{name:8s} batch 8: metric-only vs bare HF forward",
                    lambda: sinklab.run(fam_model, ids, names=metric_names(12)), hf_fam, args.repeats)
            del fam_model
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": torch.get_num_threads(), "tokens": args.tokens, "repeats": args.repeats,
                       "rows": ROWS}, f, indent=2)
        print(f"written to {args.json}")


if __name__ == "__main__":
    main()
