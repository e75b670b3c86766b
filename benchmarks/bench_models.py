"""Load times of the real models from the package index (issue 17): cold (dequantize the GGUF and write the
float32 cache) and warm (read the cache), each in a fresh Python process so the measured time is what a new
notebook kernel, `sinklab report` or app server pays, imports included; and a second load in the same process.

Not a test. Target: a warm load <= 3 s (a fresh process, imports included, is reported beside it).

Run:  .venv/bin/python benchmarks/bench_models.py [--models smollm2-135m,gemma-3-270m] [--repeats 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARM_TARGET = 3.0  # s
CHILD = """
import json, sys, time
t0 = time.perf_counter()
import sinklab
t1 = time.perf_counter()
lm = sinklab.load_model(sys.argv[1], cache_dir=sys.argv[2])
t2 = time.perf_counter()
lm = sinklab.load_model(sys.argv[1], cache_dir=sys.argv[2])
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "again": t3 - t2}))
"""


def child(name: str, cache: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, name, cache], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="smollm2-135m,gemma-3-270m")
    ap.add_argument("--repeats", type=int, default=3, help="warm loads (fresh processes) per model")
    ap.add_argument("--json", default=None, help="write the measurements to this file")
    args = ap.parse_args()
    record = {}
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as cache:
            cold = child(name, cache)  # converts into the empty cache
            warm = [child(name, cache) for _ in range(args.repeats)]
        w = statistics.median(r["load"] for r in warm)
        again = statistics.median(r["again"] for r in warm)
        imp = statistics.median(r["import"] for r in warm)
        record[name] = {"cold_s": cold["load"], "warm_fresh_process_s": w, "warm_same_process_s": again,
                        "import_sinklab_s": imp}
        print(f"{name}: cold {cold['load']:.1f} s (dequantize + cache); warm {w:.2f} s in a fresh process "
              f"(ratio to the {WARM_TARGET:.0f} s target {w / WARM_TARGET:.2f}, {'met' if w <= WARM_TARGET else 'NOT met'}); "
              f"again in the same process {again:.2f} s; `import sinklab` {imp:.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
