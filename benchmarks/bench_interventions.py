"""All ten paper interventions over 100 inputs of 40 tokens, batched, vs ten bare batched HF forwards.

Run: python benchmarks/bench_interventions.py [--inputs 100 --batch 100]
Target (issue 4): <= 1.3x, on a GPT-2-small-shaped random model. The sweep also computes the
sink metrics and the cross-entropy; the bare forwards compute only logits.
"""
from __future__ import annotations

import argparse
import time

import torch

from bench_forward import gpt2_small_random
from sinklab.analyses.effects import sweep
from sinklab.interventions import PAPER, make


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--batch", type=int, default=100, help="examples per batched pass of the sweep")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = gpt2_small_random()
    ids = torch.randint(0, 50257, (args.inputs, args.tokens), generator=torch.Generator().manual_seed(0))
    settings = {label: (None if label == "a" else make(label)) for label in PAPER}
    sweep(model, ids[:2], settings)  # warm-up (and the EPE / massive-coordinate caches)

    t0 = time.perf_counter()
    with torch.inference_mode():
        for _ in PAPER:
            model(ids)
    bare = time.perf_counter() - t0

    t0 = time.perf_counter()
    sweep(model, ids, settings, batch_size=args.batch)
    ours = time.perf_counter() - t0
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"10 interventions x {args.inputs} inputs x {args.tokens} tokens: sweep {ours:.2f} s, "
          f"10 bare batched HF forwards {bare:.2f} s = {ours / bare:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
