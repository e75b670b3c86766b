"""Tooling moved out of the library into scripts/: the math-corpus generator reproduces the shipped file.

(The sinklab-mini training script is exercised by tests/integration/test_mini.py.)
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from sinklab.inputs import corpora

ROOT = Path(__file__).resolve().parents[2]
MATH_SCRIPT = ROOT / "scripts" / "make_math_problems.py"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_math_file_is_reproduced_by_the_script():
    gen = _load(MATH_SCRIPT)
    assert gen.MATH_FILE.resolve() == corpora.MATH_FILE.resolve()
    assert list(corpora.offline_texts("math")) == gen.generate_math_problems(120, seed=0)
    assert gen.generate_math_problems(10, seed=1) == gen.generate_math_problems(10, seed=1)
    assert gen.generate_math_problems(10, seed=1) != gen.generate_math_problems(10, seed=2)


def test_math_script_writes_a_file_the_library_reads(tmp_path: Path):
    out = tmp_path / "math.txt"
    subprocess.run([sys.executable, str(MATH_SCRIPT), "--n", "5", "--seed", "3", "--out", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#") and "scripts/make_math_problems.py" in "".join(lines[:2])
    assert [ln for ln in lines if not ln.startswith("#")] == _load(MATH_SCRIPT).generate_math_problems(5, seed=3)


def test_the_library_only_reads_the_shipped_file():
    for name in ("generate_math_problems", "_math_templates", "_PEOPLE", "write_math_file"):
        assert not hasattr(corpora, name), f"sinklab.inputs.corpora.{name} belongs to scripts/make_math_problems.py"


TRAIN_SCRIPT = ROOT / "scripts" / "train_mini.py"


def test_train_script_save_steps_are_checked():
    import pytest

    train = _load(TRAIN_SCRIPT)
    args = train.parse_args(["--out", "x", "--steps", "60", "--save-steps", "60,0,20,20"])
    assert args.save_steps == (0, 20, 60)
    assert train.parse_args(["--out", "x"]).save_steps == ()
    for bad in ("0,x", "-1", "61"):
        with pytest.raises(SystemExit):
            train.parse_args(["--out", "x", "--steps", "60", "--save-steps", bad])
