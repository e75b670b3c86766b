"""What the model on screen is: a compact card every page shows (planted / trained / pretrained, tokens,
where its sink comes from if known, whether its predictions mean anything)."""
from __future__ import annotations

from dataclasses import dataclass

from ..model import families, layout
from ..model.loading import LoadedModel
from ..model.tokens import prepends_bos  # noqa: F401  (a card says it; the function lives with the tokens)
from ..published.reference import is_gpt2_small

ROUTE_SUMMARIES = {  # a planted specimen's route (sinklab.interventions.ROUTES), for its card
    "positional": "planted through the first position embedding: p_0 → first MLP's super neurons → massive "
                  "coordinates of EPE_0 → aligned b_Q·W_k (the circuit paper's route)",
    "structural": "planted through value aggregation: position 0's single-value attention output → super "
                  "neuron → massive coordinates → keys (the structural-origin paper's route)",
}


@dataclass(frozen=True)
class Card:
    """One model described for a learner."""

    name: str
    kind: str  # "planted" | "trained" | "pretrained"
    summary: str  # one line, for a model picker
    tokens: str
    sink_route: str  # where the sink comes from, or that it is not known
    predictions_meaningful: bool
    position_embeddings: bool
    shape: str
    facts: tuple[tuple[str, str], ...] = ()  # (what, value) rows of the full card, computed from the model
    real: bool = False  # a real language model trained on text (not planted, not sinklab's tiny one)

    @property
    def label(self) -> str:
        """The few words a model picker shows: "planted", "trained (tiny)" or "real, trained"."""
        return {"planted": "planted", "trained": "trained (tiny)"}.get(self.kind, "real, trained")

    @property
    def ce_note(self) -> str:
        """How to read a cross-entropy change on this model."""
        if self.predictions_meaningful:
            return "its next-token loss is meaningful: a rise means the intervention hurt the model"
        return ("its predictions are meaningless (planted weights, not trained), so a cross-entropy change only "
                "says the output moved, not that the model got worse")


def introduce(lm: LoadedModel, note: str = "") -> str:
    """What a notebook prints first: the loading note (why this model, if it is a fallback), then the card."""
    c = card(lm)
    return "\n".join(filter(None, [note, f"{c.name} ({c.kind}): {c.summary}; {c.shape}", f"its sink: {c.sink_route}"]))


def card(lm: LoadedModel) -> Card:
    """The card of a loaded model, from its metadata (bundled specimens) or its shape (anything else)."""
    meta = lm.meta or {}
    i = lm.info
    shape = f"{i.n_layer} layers × {i.n_head} heads, d_model {i.d_model}, {i.n_positions} positions"
    pe = families.has_position_embeddings(lm.model)
    if meta.get("kind") == "planted":
        return Card(name=i.name, kind="planted", summary=meta.get("summary", "planted specimen"),
                    tokens="bytes (one token per UTF-8 byte)",
                    sink_route=ROUTE_SUMMARIES.get(meta.get("route"), "planted"),
                    predictions_meaningful=False, position_embeddings=pe, shape=shape)
    if meta.get("kind") == "trained":
        return Card(name=i.name, kind="trained", summary=meta.get("summary", "trained by sinklab"),
                    tokens="bytes (one token per UTF-8 byte)",
                    sink_route="emerged in training; not planted, so its route is what the pages measure",
                    predictions_meaningful=True, position_embeddings=pe, shape=shape, facts=facts(lm), real=True)
    if meta.get("real"):
        src = meta.get("source", {})
        return Card(name=i.display, kind="pretrained", summary=src.get("about", "a real language model"),
                    tokens=tokens_text(lm),
                    sink_route="not planted and not published: the pages measure it on this model",
                    predictions_meaningful=True, position_embeddings=pe, shape=shape, facts=facts(lm), real=True)
    gpt2 = is_gpt2_small(i)
    return Card(name=i.name, kind="pretrained",
                summary="GPT-2 small, pretrained by OpenAI" if gpt2 else f"pretrained checkpoint ({i.source})",
                tokens=f"BPE, {i.vocab_size} tokens",
                sink_route=("the circuit paper's subject: its route is what the paper measured and these pages "
                            "re-measure" if gpt2 else "not known in advance: the pages measure it"),
                predictions_meaningful=True, position_embeddings=pe, shape=shape, facts=facts(lm), real=True)


def tokens_text(lm: LoadedModel) -> str:
    """The tokenizer in a few words: kind, vocabulary, BOS behaviour."""
    t = lm.tokenizer
    bos = t.bos_token if getattr(t, "bos_token", None) else None
    said = (f"its tokenizer prepends {bos} (sinklab's BOS switch follows it)" if prepends_bos(t)
            else "nothing prepended (as its tokenizer does)")
    return f"subword, {lm.info.vocab_size:,} tokens; {said}"


def facts(lm: LoadedModel) -> tuple[tuple[str, str], ...]:
    """The full card of a pretrained model, computed from its config, its weights and its source file:
    what it is, where the file comes from, what dequantization means, tokenizer, and the architecture
    facts the two papers turn on (query bias, positions, norms, QK-norm, windows)."""
    fam = families.of(lm.model)
    cfg = lm.model.config
    t = fam.traits()
    i = lm.info
    src = (lm.meta or {}).get("source", {})
    rows: list[tuple[str, str]] = []
    if src:
        rows.append(("what it is", f"{src.get('title', i.name)}: {src.get('about', '')}"))
        if src.get("trained_by"):
            rows.append(("trained by", src["trained_by"]))
        if src.get("licence"):
            rows.append(("licence", src["licence"]))
        where = (f"package{'s' if len(src.get('packages', [])) > 1 else ''} "
                 f"{', '.join(src['packages'])} {src.get('version', '')} from the package index, file "
                 if src.get("packages") else "file ")
        rows.append(("weights", f"{where}{src.get('file', '?')} (SHA-256 {src.get('sha256', '?')})"))
        quant = src.get("quant") or src.get("quant_type", "?")
        rows.append(("quantization", f"{quant} in the file; dequantized once to float32. The numbers are this "
                                     "quantized model's, exact to float32 rounding, not the original bf16 "
                                     "weights': they differ from them by the quantization error"))
    n = sum(p.numel() for p in lm.model.parameters())
    rows.append(("size", f"{n / 1e6:.0f}M parameters, {n * 4 / 2 ** 30:.2f} GiB in float32"))
    rows.append(("architecture", f"{fam.title}: {i.n_layer} layers, {i.n_head} query heads "
                                 f"({fam.n_kv_head} key/value head{'s' if fam.n_kv_head != 1 else ''}), d_model "
                                 f"{i.d_model}, d_head {fam.d_head}, d_mlp {fam.mlp_in_columns(0).shape[1]}"))
    rows.append(("tokenizer", tokens_text(lm)))
    rows.append(("query bias b_Q", "yes" if t.query_bias else "none: the circuit paper's first wire is absent"))
    if t.positions == "rotary":
        rows.append(("positions", "rotary (a rotation of q and k by position): no position embedding, so no "
                                  "EPE and no first-position embedding p_0"))
    else:
        rows.append(("positions", "learned table" + ("" if families.has_position_embeddings(lm.model) else " (all zero)")))
    norm = "RMSNorm" if fam.norm is not layout.layer_norm else "LayerNorm"
    if t.qk_norm:
        norm += "; QK-norm (q and k RMS-normalised per head before the scores)"
    if t.post_norms:
        norm += "; post-norms on each attention and MLP output"
    rows.append(("normalisation", norm))
    windows = [fam.window(l) for l in range(i.n_layer)]
    local = [l for l, w in enumerate(windows) if w is not None]
    if local:
        rows.append(("attention", f"{len(local)} of {i.n_layer} layers see only the last {windows[local[0]]} keys "
                                  f"(sliding window); layers {', '.join(str(l) for l in range(i.n_layer) if windows[l] is None)} "
                                  "are global"))
    rows.append(("scores scaled by", f"{fam.attn_scale(0):.4g}"))
    rows.append(("tied embeddings", "yes" if getattr(cfg, "tie_word_embeddings", False) else "no"))
    return tuple(rows)


def markdown(lm: LoadedModel) -> str:
    """The full card as a markdown table (the app's expander, a notebook's display)."""
    c = card(lm)
    rows = c.facts or (("kind", c.kind), ("tokens", c.tokens), ("shape", c.shape))
    esc = lambda v: str(v).replace("|", "\\|")  # noqa: E731
    return "| | |\n|---|---|\n" + "\n".join(f"| {esc(k)} | {esc(v)} |" for k, v in rows)
