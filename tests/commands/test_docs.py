"""The documentation as a user meets it: every code block of the README and of ``docs/`` runs as
written (Python blocks as scripts, shell blocks in bash, from a fresh directory beside ``shared/``;
the set-up part of the fresh-machine commands is the one thing left out: the test runs inside that
set-up), and the docs site builds offline with no warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(p for p in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(p.parts))]
SETUP = "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e '.[dev]' && "
TESTS = "python -m pytest"
MAIN_JOB = "molgym compare --task qed --agents random,gcpn --budget 200 --seeds 2"


def _blocks(page: Path) -> list[tuple[str, int, str, str]]:
    """(page, line, info, code) of each fenced block of a page, the info string being the block's
    language or a MyST directive (``{toctree}``, ``{include}``)."""
    blocks, fence = [], None
    for number, text in enumerate(page.read_text().splitlines(), start=1):
        if fence is None and text.startswith("```"):
            fence, first, body = text[3:].strip(), number, []
        elif fence is not None and text.strip() == "```":
            blocks.append((page.relative_to(ROOT).as_posix(), first, fence, "\n".join(body) + "\n"))
            fence = None
        elif fence is not None:
            body.append(text)
    assert fence is None, f"{page}: the block opened at line {first} is never closed"
    return blocks


BLOCKS = [block for page in PAGES for block in _blocks(page)]
README_BLOCKS = [(line, lang, code) for page, line, lang, code in BLOCKS if page == "README.md"]
CODE = [b for b in BLOCKS if b[2] in ("python", "bash") and b[3].strip() != SETUP + TESTS]


def test_the_readme_has_runnable_blocks_and_ci_runs_its_test_command():
    kinds = {info.split()[0] for _, _, info, _ in BLOCKS}
    assert kinds <= {"python", "bash", "{toctree}", "{include}", "{eval-rst}"}, kinds  # every code block runs
    assert sum(SETUP + TESTS == code.strip() for _, _, code in README_BLOCKS) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert SETUP + TESTS in ci


@pytest.mark.parametrize("page, line, language, code", CODE, ids=[f"{b[0]}:{b[1]}-{b[2]}" for b in CODE])
def test_block_runs(page, line, language, code, tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("agents", "scripts", "docs", "benchmarks", "molgym"):  # what a block may name by path in a checkout
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
        script = work / f"block_line{line}.py"
        script.write_text(code)
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", code.replace(SETUP, "")]
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{page} block at line {line} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
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


def test_the_docs_build_offline_with_no_warning(tmp_path):
    """Sphinx with warnings as errors: a broken reference, a docstring that does not parse, a page
    left out of every table of contents or a generated page that fails all fail this test."""
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    built = {p.relative_to(tmp_path / "html").as_posix() for p in (tmp_path / "html").rglob("*.html")}
    import molgym
    from molgym.agent import registered_agents

    assert {f"_generated/env-{env_id}.html" for env_id in molgym.ENV_IDS} <= built  # one page per registered id
    assert {f"agents/{name}.html" for name in registered_agents()} <= built  # one page per registered agent
    assert "_generated/benchmarks.html" in built and "api.html" in built
