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

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SETUP = "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e '.[dev]' && "
TESTS = "python -m pytest"
MAIN_JOB = "molgym compare --task qed --agents random,gcpn --budget 200 --seeds 2"


def _blocks() -> list[tuple[int, str, str]]:
    """(line, language, code) of each fenced block."""
    text = README.read_text()
    return [
        (text[: m.start()].count("\n") + 1, m.group(1), m.group(2))
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)
    ]


BLOCKS = _blocks()


def test_the_readme_has_runnable_blocks_and_ci_runs_its_test_command():
    languages = {lang for _, lang, _ in BLOCKS}
    assert languages <= {"python", "bash"}, languages
    assert sum(SETUP + TESTS == code.strip() for _, _, code in BLOCKS) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert SETUP + TESTS in ci


@pytest.mark.parametrize(
    "line, language, code",
    [b for b in BLOCKS if b[2].strip() != SETUP + TESTS],
    ids=[f"line{b[0]}-{b[1]}" for b in BLOCKS if b[2].strip() != SETUP + TESTS],
)
def test_readme_block_runs(line, language, code, tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("agents", "scripts"):  # what a block may name by path in a checkout
        (work / name).symlink_to(ROOT / name)
    if (ROOT.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    elif "../shared" in code:
        pytest.skip("../shared is not beside this checkout")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONUNBUFFERED": "1",
    }
    if language == "python":
        script = work / f"readme_line{line}.py"
        script.write_text(code)
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", code.replace(SETUP, "")]
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"README block at line {line} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    # an example shows a real result: something scored, a loss that moved
    assert not re.search(r": 0 oracle calls", done.stdout), done.stdout
    for before, after in re.findall(r"loss (\d+\.\d+) -> (\d+\.\d+)", done.stdout):
        assert before != after, done.stdout
    if MAIN_JOB in code:  # the figure the README gives for the main job is the one it prints here
        claimed = re.search(r"random's top-1 QED (\d\.\d+)", README.read_text()).group(1)
        table = [row.split("|")[1:-1] for row in done.stdout.splitlines() if row.startswith("| ")]
        header = [cell.strip() for cell in table[0]]
        random_row = next(cells for cells in table if cells[0].strip() == "random")
        assert random_row[header.index("top1")].strip().startswith(claimed + " "), random_row
