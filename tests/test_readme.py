"""Every code block of the README runs as written, as a user would run it: Python blocks as
scripts, shell blocks in bash, from a fresh directory beside ``shared/`` (the set-up part of the
two fresh-machine commands is the one thing left out: the test runs inside that set-up)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SETUP = "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e '.[dev]' && "
TESTS = "python -m pytest"


def _blocks() -> list[tuple[int, str, str]]:
    """(line, language, code) of each fenced block."""
    text = README.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group(1), m.group(2))
            for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)]


BLOCKS = _blocks()


def test_the_readme_has_runnable_blocks_and_ci_runs_its_test_command():
    languages = {lang for _, lang, _ in BLOCKS}
    assert languages <= {"python", "bash"}, languages
    assert sum(SETUP + TESTS == code.strip() for _, _, code in BLOCKS) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert SETUP + TESTS in ci


@pytest.mark.parametrize("line, language, code", [b for b in BLOCKS if b[2].strip() != SETUP + TESTS],
                         ids=[f"line{b[0]}-{b[1]}" for b in BLOCKS if b[2].strip() != SETUP + TESTS])
def test_readme_block_runs(line, language, code, tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("agents", "scripts"):  # what a block may name by path in a checkout
        (work / name).symlink_to(ROOT / name)
    if (ROOT.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    elif "../shared" in code:
        pytest.skip("../shared is not beside this checkout")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONUNBUFFERED": "1"}
    if language == "python":
        script = work / f"readme_line{line}.py"
        script.write_text(code)
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", code.replace(SETUP, "")]
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"README block at line {line} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
