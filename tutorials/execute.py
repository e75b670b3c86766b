"""Execute tutorials (Jupytext percent files) on a chosen model and keep the executed notebooks.

    .venv/bin/python tutorials/execute.py --model smollm2-135m --out reports/tutorials/smollm2-135m 01_start.py 08_origin.py
    .venv/bin/python tutorials/execute.py --model textbook --out /tmp/nb --html 01_start.py

Each notebook runs in a fresh kernel started in tutorials/ (as JupyterLab and nbmake start it, so that
`import feedback`, `import course` and `from solutions import ...` work), with SINKLAB_MODEL set to the model
and SINKLAB_SOLUTIONS=1 (the exercises' reference solutions, as in CI) unless the environment says otherwise.
The executed notebook is written to --out even when a cell fails (outputs up to the failure, the error
included); with --html it is also rendered next to it by nbconvert, the way .ci/run renders the tutorials.
Prints one line per notebook (wall and CPU seconds, ok / the failing cell's error); the exit status is 1 if any
failed.
Used by tests/integration/test_tutorials_*.py (in a subprocess, with a timeout).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def execute(path: Path, out: Path, cell_timeout: int = 300) -> tuple[bool, float, float, str]:
    """Run one notebook; write the executed .ipynb to out/<stem>.ipynb. (ok, wall seconds, the kernel's CPU seconds,
    error summary). CPU time does not grow when other jobs share the cores; wall time does."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(path)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}})
    start, cpu = time.perf_counter(), _children_cpu()
    error = ""
    try:
        client.execute()
    except CellExecutionError as e:  # the failing cell's error, its last line (e.g. "AssertionError: ...")
        lines = [line for line in str(e).splitlines() if line.strip()]
        error = lines[-1] if lines else type(e).__name__
    except Exception as e:  # noqa: BLE001 - a kernel that died or timed out: report it, keep the partial notebook
        error = f"{type(e).__name__}: {e}"
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu  # the kernel is reaped at shutdown
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / f"{path.stem}.ipynb")
    return not error, seconds, cpu, error


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def render(ipynb: Path) -> Path:
    """HTML beside the notebook, with .ci/run's nbconvert command (hidden check cells' code removed)."""
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(ipynb.parent),
                    "--TagRemovePreprocessor.remove_input_tags=remove-input", str(ipynb)],
                   check=True, capture_output=True, text=True)
    return ipynb.with_suffix(".html")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", help="tutorials/NN_topic.py files (a bare name is looked up in tutorials/)")
    ap.add_argument("--model", help="SINKLAB_MODEL for the kernels (default: the environment's)")
    ap.add_argument("--out", required=True, help="directory for the executed notebooks")
    ap.add_argument("--cell-timeout", type=int, default=300, help="seconds per cell (default 300, as CI's nbmake)")
    ap.add_argument("--html", action="store_true", help="also render each executed notebook to HTML")
    args = ap.parse_args(argv)
    if args.model:
        os.environ["SINKLAB_MODEL"] = args.model
    os.environ.setdefault("SINKLAB_SOLUTIONS", "1")
    out = Path(args.out)
    failed = 0
    for name in args.notebooks:
        path = Path(name) if Path(name).exists() else HERE / name
        ok, seconds, cpu, error = execute(path, out, args.cell_timeout)
        if args.html:
            render(out / f"{path.stem}.ipynb")
        failed += not ok
        print(f"{path.name}: {seconds:.1f} s ({cpu:.1f} s CPU) on {os.environ.get('SINKLAB_MODEL', '(default model)')}: "
              + ("ok" if ok else f"FAILED: {error}"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
