"""Cost of sinklab's transparent forward over a bare HF forward (GPT-2-small shape, random weights).

Run: python benchmarks/bench_forward.py [--repeats 5]
Targets (issue 2): full Trace <= 1.2x a bare HF forward; one batch carrying 10 different
interventions <= 1.3x ten bare batched forwards.
"""
from __future__ import annotations

import argparse
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import sinklab
from sinklab.interventions import make

TEN = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]


def gpt2_small_random(seed: int = 0):
    torch.manual_seed(seed)
    cfg = GPT2Config()  # 12 layers, 12 heads, d=768, 1024 positions, 50257 tokens
    cfg._attn_implementation = "eager"
    return GPT2LMHeadModel(cfg).eval()


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = gpt2_small_random()
    g = torch.Generator().manual_seed(0)
    print(f"torch threads: {torch.get_num_threads()}, device: cpu")
    for b in (1, 32):
        ids = torch.randint(0, 50257, (b, args.tokens), generator=g)

        def hf():
            with torch.inference_mode():
                model(ids)

        bare = median_time(hf, args.repeats)
        full = median_time(lambda: sinklab.run(model, ids), args.repeats)
        print(f"full Trace vs bare HF forward, batch {b:2d}: {full * 1e3:8.1f} ms / {bare * 1e3:8.1f} ms"
              f" = {full / bare:.2f}x (target <= 1.2x)")

    ids = torch.randint(0, 50257, (10, args.tokens), generator=g)
    ivs = [make(x) for x in TEN]
    big = ids.repeat_interleave(len(ivs), 0)  # [inputs * interventions, pos]
    per = ivs * len(ids)

    def bare10():
        with torch.inference_mode():
            for _ in ivs:
                model(ids)

    mixed = median_time(lambda: sinklab.run(model, big, per_example=per, names=["logits"]), args.repeats)
    bare = median_time(bare10, args.repeats)
    print(f"one batch with 10 interventions (10 inputs each) vs 10 bare batched forwards: "
          f"{mixed * 1e3:.1f} ms / {bare * 1e3:.1f} ms = {mixed / bare:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
