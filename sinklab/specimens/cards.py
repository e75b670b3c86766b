"""What the model on screen is: a compact card every page shows (planted / trained / pretrained, tokens,
where its sink comes from if known, whether its predictions mean anything)."""
from __future__ import annotations

from dataclasses import dataclass

from ..model import families
from ..model.loading import LoadedModel
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
                    predictions_meaningful=True, position_embeddings=pe, shape=shape)
    gpt2 = is_gpt2_small(i)
    return Card(name=i.name, kind="pretrained",
                summary="GPT-2 small, pretrained by OpenAI" if gpt2 else f"pretrained checkpoint ({i.source})",
                tokens=f"BPE, {i.vocab_size} tokens",
                sink_route=("the circuit paper's subject: its route is what the paper measured and these pages "
                            "re-measure" if gpt2 else "not known in advance: the pages measure it"),
                predictions_meaningful=True, position_embeddings=pe, shape=shape)
