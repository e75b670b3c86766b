"""Course helpers shared by the tutorials (tutorials/NN_*.py): course material, not library.

    import course
    course.offline_charts()                     # once, in the setup cell: charts render without a network
    course.reveal(guess, answer, evidence)      # predict-then-reveal: the model's answer, from its numbers
    course.Checkpoint(question, answer, why)    # one checkpoint question per notebook, answered live
    course.declared_noops(lm)                   # interventions that run but can change nothing here
    course.meanings_here(lm, labels)            # what each intervention does on this model's family

Nothing here measures anything: the numbers come from sinklab; these helpers only show them
(the checkpoint's answer and the reveal are computed by the notebook from the model in use).
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

_SHOWN = False


# ----------------------------------------------------------------------------- charts that render offline
def vega_versions() -> dict[str, str]:
    """The vega / vega-lite / vega-embed versions altair's HTML output asks for (its VEGA_DEBUG keys)."""
    import altair as alt

    return {"vega_version": alt.VEGA_VERSION, "vegalite_version": alt.VEGALITE_VERSION,
            "vegaembed_version": alt.VEGAEMBED_VERSION}


def offline_html() -> str:
    """An HTML snippet that defines vega, vega-lite and vega-embed on the page and records their versions in
    VEGA_DEBUG, so that every altair chart below it skips loading them from the CDN (altair's "universal"
    template: maybeLoadScript resolves at once when VEGA_DEBUG holds the version it wants).

    The bundle is the one altair itself inlines for `chart.save(..., inline=True)`: vl_convert.javascript_bundle
    (vega-embed with vega and vega-lite, no external dependency). It is wrapped in a function so that its
    top-level names cannot collide with another script on the page."""
    import vl_convert as vlc

    try:  # the vega-lite version altair's own inline HTML asks vl-convert for
        from altair.utils._importers import vl_version_for_vl_convert

        bundle = vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())
    except Exception:  # noqa: BLE001 - an older/newer altair: vl-convert's default (latest) bundle
        bundle = vlc.javascript_bundle()
    versions = vega_versions()
    note = ("Charts in this notebook use vega {vega_version}, vega-lite {vegalite_version} and vega-embed "
            "{vegaembed_version}, inlined here so that they render without a network.").format(**versions)
    return ('<div class="sinklab-offline-vega" style="font-size:smaller;color:#666">' + html.escape(note) + "</div>\n"
            "<script type=\"text/javascript\">\n(function () {\n" + bundle.replace("</script", "<\\/script")
            + "\n})();\nwindow.VEGA_DEBUG = window.VEGA_DEBUG || {};\n"
            + "".join(f"window.VEGA_DEBUG[{json.dumps(k)}] = {json.dumps(v)};\n" for k, v in versions.items())
            + "</script>")


class _Offline:
    """The snippet as a displayable object (HTML for the notebook, one line for text outputs)."""

    def _repr_html_(self) -> str:
        return offline_html()

    def __repr__(self) -> str:
        v = vega_versions()
        return (f"vega {v['vega_version']}, vega-lite {v['vegalite_version']}, vega-embed {v['vegaembed_version']} "
                "inlined for offline charts")


def offline_charts() -> None:
    """Display the vega bundle once per notebook (a kernel restart displays it again: its outputs are new)."""
    global _SHOWN
    from IPython.display import display

    if not _SHOWN:
        display(_Offline())
        _SHOWN = True


# ----------------------------------------------------------------------------- predict, then reveal
def _say(x: Any) -> str:
    if isinstance(x, (set, frozenset)):
        return ", ".join(sorted(map(str, x))) or "none"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)


def _same(mine: Any, answer: Any, tol: float) -> bool:
    if isinstance(answer, (set, frozenset)):  # any one of several right answers (or all of them)
        if isinstance(mine, (set, frozenset, list, tuple)):
            return {str(m).strip().lower() for m in mine} == {str(a).lower() for a in answer}
        return str(mine).strip().lower() in {str(a).lower() for a in answer}
    if isinstance(answer, bool):
        if isinstance(mine, str):
            mine = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}.get(mine.strip().lower())
        return mine is not None and bool(mine) == answer
    if isinstance(answer, (int, float)) and not isinstance(mine, (str, bool)) and mine is not None:
        try:
            return abs(float(mine) - float(answer)) <= tol * max(1.0, abs(float(answer)))
        except (TypeError, ValueError):
            return False
    return str(mine).strip().lower() == str(answer).strip().lower()


def reveal(guess: Any, answer: Any, evidence: str, tol: float = 0.05) -> bool | None:
    """Print the model's answer to a prediction asked before the computation, with the numbers behind it.
    Returns whether the guess was right (None when no guess was written)."""
    said = "yes" if answer is True else "no" if answer is False else _say(answer)
    if guess is None:
        print(f"Reveal: {said}. {evidence}")
        print("   (no prediction written: set `guess` before the computation next time, then compare.)")
        return None
    ok = _same(guess, answer, tol)
    print(f"Reveal: {said}. {evidence}")
    print(f"   you predicted {_say(guess)!r}: " + ("right." if ok else "not this time: what did you expect, and why?"))
    return ok


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint question, answered from the model's live numbers. Shown with the answer folded away
    (an HTML <details>, also in the rendered notebook); `check(mine)` compares your answer with it."""

    question: str
    answer: Any
    why: str  # the numbers behind the answer, in words
    options: tuple = ()  # a multiple choice, if any
    tol: float = 0.05  # relative tolerance for a numeric answer

    def _repr_html_(self) -> str:
        opts = "".join(f"<li>{html.escape(str(o))}</li>" for o in self.options)
        return (f"<div style='border-left:4px solid #4c78a8;padding:4px 10px'><b>Checkpoint.</b> "
                f"{html.escape(self.question)}" + (f"<ul>{opts}</ul>" if opts else "") +
                f"<details><summary>Answer on this model (computed)</summary><b>{html.escape(_say(self.answer))}</b>"
                f" — {html.escape(self.why)}</details></div>")

    def __repr__(self) -> str:
        opts = "".join(f"\n   - {o}" for o in self.options)
        return f"Checkpoint. {self.question}{opts}\n   answer on this model (computed): {_say(self.answer)} — {self.why}"

    def check(self, mine: Any = None) -> "Checkpoint":
        """Print whether `mine` is this model's answer (and the answer); return self, which the notebook shows."""
        if mine is not None:
            ok = _same(mine, self.answer, self.tol)
            print(("✔ right: " if ok else f"✘ not quite (you said {_say(mine)!r}): ") + f"{_say(self.answer)} — {self.why}")
        return self


# ----------------------------------------------------------------------------- what an intervention means here
def declared_noops(lm) -> dict[str, str]:
    """{label: what it means here} for the interventions that run on lm but are declared to change nothing on
    its family (sinklab.interventions.meanings: e.g. (b) without a query bias b_Q)."""
    from sinklab.interventions import meanings

    m = meanings(lm.model)
    noop = m[m["applies"] & m["meaning"].str.startswith("a no-op")]
    return dict(zip(noop["label"], noop["meaning"]))


def meanings_here(lm, labels) -> pd.DataFrame:
    """What each of `labels` does on lm's family (sinklab.interventions.meanings), one row each."""
    from sinklab.interventions import meanings

    m = meanings(lm.model).set_index("label")
    return m.loc[[label for label in labels if label in m.index], ["title", "applies", "meaning"]]
