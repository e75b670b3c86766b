"""Command line: `sinklab report --model M --n N --out DIR`."""
from __future__ import annotations

import argparse
import sys

from .errors import SinklabError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sinklab", description="Measure and break GPT-2's attention sink.")
    sub = ap.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("report", help="run every intervention over the NL / math / code corpora")
    rp.add_argument("--model", default="textbook", help="HF id, local directory, or a bundled name")
    rp.add_argument("--n", type=int, default=100, help="inputs per domain (default 100)")
    rp.add_argument("--tokens", type=int, default=40, help="tokens per input (default 40)")
    rp.add_argument("--seed", type=int, default=42)
    rp.add_argument("--source", choices=["auto", "offline", "online"], default="auto")
    rp.add_argument("--target", type=int, default=1, help="0-indexed position for transplant/isolate/amplify")
    rp.add_argument("--metric", choices=["paper", "gu", "mass"], default="paper")
    rp.add_argument("--device", default=None)
    rp.add_argument("--out", default="report", help="output directory")
    args = ap.parse_args(argv)
    try:
        from tqdm import tqdm

        from .loading import load_model
        from .report import build_report, write_report

        lm = load_model(args.model, device=args.device)
        bars: dict = {}

        def progress(domain: str, frac: float) -> None:
            bar = bars.setdefault(domain, tqdm(total=100, desc=domain, unit="%"))
            bar.update(round(frac * 100) - bar.n)

        rep = build_report(lm, n=args.n, n_tokens=args.tokens, seed=args.seed, source=args.source,
                           target=args.target, metric=args.metric, progress=progress)
        for bar in bars.values():
            bar.close()
        out = write_report(rep, args.out)
        print(rep.markdown)
        print(f"written to {out}/ (table.csv, examples.csv, report.md)")
        return 0
    except SinklabError as e:
        print(f"sinklab: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
