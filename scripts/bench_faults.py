"""Fault test: ``molgym train`` and ``molgym compare`` killed with SIGKILL at random moments, each
time rerun with the same command, end equal to an uninterrupted run, with no file half-written
and no process left behind.

    python scripts/bench_faults.py --kills 12 --seed 0 --out runs/faults

For each command: one uninterrupted reference run, then attempts with the same command line on
a fresh output directory, each killed (SIGKILL to the command's own process only: its worker
processes are orphaned, as when a shell or a machine kills the parent) a delay drawn uniformly
from [0, the reference's wall time] after it made its output directory (its start-up over),
until an attempt ends by itself; that output must
equal the reference's (oracle logs byte for byte; logs, results and metrics except wall times)
and hold no temporary file. Then again on another fresh directory, until ``--kills`` kills were
made. After each kill the command's process group must be empty within 5 s. Prints one line per kill and a summary; ``--json FILE`` writes it.

The commands (``train`` of ``tests.agents_for_tests:ChainAgent`` with a checkpoint every 3
updates; ``compare`` of ``random`` and that agent, 3 seeds, 2 workers) run from the repository
root, so the test agents are importable; ``--train-agent`` and ``--train-config`` run another.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHAIN = "tests.agents_for_tests:ChainAgent"
WALL = {"wall_time", "seconds_act", "seconds_env", "seconds_learn"}  # columns that differ between equal runs


def _say(line: str) -> None:
    print(line, flush=True)  # a log file shows each kill as it happens


def train_command(
    out: Path, agent: str = CHAIN, config: tuple[str, ...] = ("pause=0.02",), budget: int = 60
) -> list[str]:
    return [
        "train",
        agent,
        "--task",
        "qed",
        "--budget",
        str(budget),
        "--checkpoint-every",
        "3",
        "--out",
        str(out),
        "--config",
        *config,
    ]


def compare_command(out: Path, budget: int = 30, seeds: int = 3, workers: int = 2) -> list[str]:
    return [
        "compare",
        "--agents",
        f"random,{CHAIN}",
        "--budget",
        str(budget),
        "--seeds",
        str(seeds),
        "--propose",
        "5",
        "--workers",
        str(workers),
        "--out",
        str(out),
    ]


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "molgym.cli", *argv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _group_alive(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are still running (zombies do not count)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def _wait_group_empty(pgid: int, seconds: float = 5.0) -> float:
    """Seconds until no process of the group runs; ``AssertionError`` after ``seconds``."""
    began = time.monotonic()
    while _group_alive(pgid):
        if time.monotonic() - began > seconds:
            left = _group_alive(pgid)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"processes {left} of the killed command still ran after {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - began


def run_to_end(argv: list[str]) -> float:
    """Run the command uninterrupted; its wall time. ``AssertionError`` if it fails."""
    began = time.monotonic()
    process = _start(argv)
    _, err = process.communicate()
    assert process.returncode == 0, f"molgym {' '.join(argv)} failed: {err[-2000:]}"
    return time.monotonic() - began


def _started_writing(process: subprocess.Popen, out: Path) -> None:
    """Wait until the command has made its output directory (its start-up, in which a kill can
    harm nothing, is over) or has ended."""
    deadline = time.monotonic() + 120
    while not out.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


def kill_until_done(argv: list[str], kills: int, longest: float, rng: np.random.Generator, say=_say) -> list[dict]:
    """Attempts of ``argv``, each SIGKILLed a random delay in [0, ``longest``] s after it started
    writing its ``--out``, until one ends by itself or ``kills`` were made (then one is left to
    finish). One record per kill."""
    out = Path(argv[argv.index("--out") + 1])
    records: list[dict] = []
    while len(records) < kills:
        delay = float(rng.uniform(0.0, longest))
        process = _start(argv)
        _started_writing(process, out)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            cleared = _wait_group_empty(process.pid)
            records.append({"command": argv[0], "after_s": round(delay, 3), "cleared_s": round(cleared, 3)})
            say(f"  kill: {argv[0]} {delay:.2f} s into its work; its processes gone {cleared:.2f} s later")
            continue
        if process.returncode != 0:
            raise AssertionError(f"an attempt of molgym {' '.join(argv)} failed: {process.stderr.read()[-2000:]}")
        return records
    run_to_end(argv)
    return records


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in WALL} for row in csv.DictReader(f)]


def _json(path: Path):
    value = json.loads(path.read_text())
    if isinstance(value, dict):
        value.pop("wall_time", None)
    return value


def differences(reference: Path, resumed: Path) -> list[str]:
    """How the output in ``resumed`` differs from ``reference`` (empty: equal), and leftovers."""
    problems = []
    files = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    for name in files:
        a, b = reference / name, resumed / name
        if not b.is_file():
            problems.append(f"{name} is missing")
        elif name.name in ("oracle_log.csv", "proposed.csv", "counters.json", "run.json", "task.json", "agent.json"):
            if a.read_bytes() != b.read_bytes():
                problems.append(f"{name} differs")
        elif name.suffix == ".csv":
            if _csv_rows(a) != _csv_rows(b):
                problems.append(f"{name} differs (beyond wall times)")
        elif name.name in ("metrics.json", "result.json", "loop.json"):
            if _json(a) != _json(b):
                problems.append(f"{name} differs (beyond wall time)")
    for path in sorted(resumed.rglob("*")):
        if path.name.endswith((".tmp", ".old")):
            problems.append(f"{path.relative_to(resumed)} was left behind")
    return problems


def fault_test(
    work: Path,
    kills: int | dict[str, int],
    seed: int,
    say=_say,
    train_agent: str = CHAIN,
    train_config: tuple[str, ...] = ("pause=0.02",),
    train_budget: int = 60,
    compare_budget: int = 30,
    compare_seeds: int = 3,
    compare_workers: int = 2,
    run_reference=None,
) -> dict:
    """Kill ``train`` and ``compare`` ``kills`` times each (or as ``{"train": k, "compare": k}`` says),
    on as many fresh output directories as it
    takes (each killed until an attempt finishes, then checked); a summary. ``AssertionError`` if
    any output differs from the uninterrupted run's or a process outlives its kill by 5 s.
    ``run_reference(argv)`` makes the uninterrupted runs (default: as a command, like the others)."""
    rng = np.random.default_rng(seed)
    summary = {"seed": seed, "kills": [], "commands": {}, "rounds": {}}
    for name, make in (
        ("train", lambda out: train_command(out, train_agent, train_config, train_budget)),
        ("compare", lambda out: compare_command(out, compare_budget, compare_seeds, compare_workers)),
    ):
        wanted = kills[name] if isinstance(kills, dict) else kills
        reference = work / f"{name}_reference"
        began = time.monotonic()
        (run_reference or run_to_end)(make(reference))
        seconds = time.monotonic() - began
        say(f"{name}: uninterrupted run {seconds:.1f} s; killing it {wanted} times")
        made, rounds = [], 0
        while len(made) < wanted:
            resumed = work / f"{name}_killed{rounds}"
            made += kill_until_done(make(resumed), wanted - len(made), seconds, rng, say)
            rounds += 1
            problems = differences(reference, resumed)
            if problems:
                raise AssertionError(f"{name}: the killed and rerun output differs: {'; '.join(problems)}")
            say(
                f"{name}: output {rounds} equals the uninterrupted run's after {len(made)} kills so far; "
                "nothing left behind"
            )
        summary["kills"] += made
        summary["rounds"][name] = rounds
        summary["commands"][name] = "molgym " + " ".join(make(Path(f"OUT/{name}")))
    summary["survived"] = len(summary["kills"])
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=12, help="kills per command")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--out", default="runs/faults", help="working directory (emptied first)")
    parser.add_argument("--train-agent", default=CHAIN, help="the agent that molgym train runs")
    parser.add_argument("--train-config", nargs="*", default=["pause=0.02"], help="its --config")
    parser.add_argument("--json", default=None, help="write the summary here")
    args = parser.parse_args()
    import shutil

    work = Path(args.out).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    began = time.monotonic()
    summary = fault_test(
        work, args.kills, args.seed, train_agent=args.train_agent, train_config=tuple(args.train_config)
    )
    summary["wall_time"] = round(time.monotonic() - began, 1)
    summary["made_by"] = "python " + " ".join(sys.argv)
    print(
        f"{summary['survived']} kills survived (train and compare {args.kills} each), every output equal to an "
        f"uninterrupted run, no process left behind; {summary['wall_time']:.0f} s"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
