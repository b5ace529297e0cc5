"""Ctrl-C as a user presses it (SIGINT to the command's whole process group): ``train`` saves a
checkpoint and says how to resume; ``compare`` stops its workers within seconds, keeps finished
runs and leaves no process behind; both exit 130 with one line."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from molgym.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _start(argv: list[str], env: dict | None = None, stderr=subprocess.PIPE) -> subprocess.Popen:
    """``molgym argv`` in its own process group, as a terminal runs it: with SIGINT's default
    handling, which a test runner started in the background (``pytest &``) would otherwise pass on
    as "ignored"."""
    return subprocess.Popen(
        [sys.executable, "-m", "molgym.cli", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(condition, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _ctrl_c(process: subprocess.Popen) -> tuple[float, str]:
    """SIGINT to the process group; seconds until the command ended, and its stderr."""
    began = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # leave nothing behind, then fail
        raise
    return time.monotonic() - began, err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path))) if path.is_file() else []


def test_ctrl_c_on_train_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "run"
    process = _start(
        ["train", "tests.agents_for_tests:ChainAgent", "--budget", "500", "--config", "pause=0.1", "--out", str(out)]
    )
    _wait_for(lambda: len(_rows(out / "log.csv")) >= 3)
    seconds, err = _ctrl_c(process)
    assert process.returncode == 130 and seconds < 10
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("molgym train: interrupted after update") and "--resume" in last
    loop = json.loads((out / "checkpoint" / "loop.json").read_text())
    stopped = loop["updates"]
    assert stopped == len(_rows(out / "log.csv")) >= 3  # checkpoint at the update where it stopped, not every 10
    assert (
        main(["train", "tests.agents_for_tests:ChainAgent", "--out", str(out), "--resume", "--steps", str(stopped + 2)])
        == 0
    )
    rows = _rows(out / "log.csv")
    assert [int(r["update"]) for r in rows] == list(range(1, stopped + 3))
    calls = _rows(out / "oracle_log.csv")
    assert [r["smiles"] for r in calls] == ["C" * k for k in range(1, stopped + 3)]


def test_ctrl_c_on_compare_stops_workers_and_keeps_finished_runs(tmp_path):
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--agents",
        "random,tests.agents_for_tests:WaitingAgent",
        "--budget",
        "3",
        "--seeds",
        "1",
        "--propose",
        "0",
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    env = {"MOLGYM_TEST_DIR": str(tmp_path)}
    process = _start(argv, env)
    finished = out / "random" / "seed0" / "result.json"
    _wait_for(lambda: finished.is_file() and (tmp_path / "pid").is_file())
    waiting = int((tmp_path / "pid").read_text())
    assert _alive(waiting)
    seconds, err = _ctrl_c(process)
    assert process.returncode == 130 and seconds < 10, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"molgym compare: interrupted; 1 of 2 runs finished and are kept in {out}; the same command resumes"
    )
    _wait_for(lambda: not _alive(waiting), seconds=5)
    kept = finished.read_text()
    # the same command resumes: the finished run is kept, the interrupted one is done now
    (tmp_path / "go").write_text("")
    os.environ["MOLGYM_TEST_DIR"] = str(tmp_path)
    try:
        assert main([*argv[:-4], "--workers", "1", "--out", str(out)]) == 0
    finally:
        del os.environ["MOLGYM_TEST_DIR"]
    assert finished.read_text() == kept
    assert (
        json.loads((out / "tests.agents_for_tests_WaitingAgent" / "seed0" / "result.json").read_text())["status"]
        == "ok"
    )


def _double_ctrl_c_on_train(tmp_path: Path, budget: int, checkpoint_every: int, ready) -> tuple[Path, str]:
    """``molgym train`` of the chain agent (1 s an update) in the background; once ``ready(out,
    stderr)``, two Ctrl-C 0.3 s apart, as an impatient user presses them. The run directory and
    the last line the command wrote."""
    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    argv = [
        "train",
        "tests.agents_for_tests:ChainAgent",
        "--budget",
        str(budget),
        "--config",
        "pause=1.0",
        "--checkpoint-every",
        str(checkpoint_every),
        "--out",
        str(out),
    ]
    process = _start(argv, stderr=log.open("w"))
    _wait_for(lambda: ready(out, log.read_text()))
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.3)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=60)
    err = log.read_text()
    assert process.returncode == 130 and "Traceback" not in err, err
    return out, err.strip().splitlines()[-1]


def test_a_double_ctrl_c_before_any_checkpoint_says_so_and_the_same_command_starts_over(tmp_path):
    # in the training loop (its progress bar is up), before the first checkpoint
    out, last = _double_ctrl_c_on_train(tmp_path, 2, 100, lambda out, err: "chain on qed" in err)
    assert last == (
        "molgym train: stopped at once, before any checkpoint: nothing to continue from; the same command "
        "starts the run over"
    )
    assert not (out / "checkpoint").exists()
    assert (
        main(
            [
                "train",
                "tests.agents_for_tests:ChainAgent",
                "--budget",
                "2",
                "--config",
                "pause=1.0",
                "--checkpoint-every",
                "100",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert [r["smiles"] for r in _rows(out / "oracle_log.csv")] == ["C", "CC"]


def test_a_double_ctrl_c_after_a_checkpoint_names_it_and_resume_goes_on(tmp_path):
    out, last = _double_ctrl_c_on_train(tmp_path, 3, 1, lambda out, err: (out / "checkpoint" / "loop.json").is_file())
    assert last.startswith(
        f"molgym train: stopped at once; the last checkpoint is in {out}/checkpoint; continue "
        f"with: molgym train tests.agents_for_tests:ChainAgent --out {out} --resume"
    )
    assert main(["train", "tests.agents_for_tests:ChainAgent", "--out", str(out), "--resume"]) == 0
    assert [r["smiles"] for r in _rows(out / "oracle_log.csv")] == ["C", "CC", "CCC"]


def test_train_and_compare_killed_at_random_moments_end_as_if_never_killed(tmp_path):
    """The fault test of ``scripts/bench_faults.py``, small: SIGKILL at seeded random moments, the
    same command rerun, the output equal to an uninterrupted run's, no process left behind."""
    from scripts.bench_faults import differences, fault_test

    def in_this_process(argv):  # the uninterrupted runs, without a command's start-up time
        assert main(argv) == 0

    summary = fault_test(
        tmp_path,
        kills=1,
        seed=1,
        say=lambda line: None,
        train_budget=12,
        compare_budget=6,
        compare_seeds=1,
        compare_workers=1,
        run_reference=in_this_process,
    )  # the benchmark: 2 workers
    assert summary["survived"] == 2 and all(k["cleared_s"] < 5 for k in summary["kills"])
    # the comparison can fail: a changed oracle log and a left-over temporary file are found
    killed = tmp_path / "train_killed0"
    (killed / "oracle_log.csv").write_text("call,smiles,score\n1,C,0.5\n")
    (killed / ".metrics.json.tmp").write_text("{")
    assert differences(tmp_path / "train_reference", killed) == [
        "oracle_log.csv differs",
        ".metrics.json.tmp was left behind",
    ]
