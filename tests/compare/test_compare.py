"""`molgym compare` end to end on a tiny budget: every output, resumption, a failing agent."""

from __future__ import annotations

import csv
import json
import os

from PIL import Image

from molgym.cli import main
from molgym.compare import machine


def test_compare_writes_every_output_and_resumes(tmp_path, capfd):
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--task",
        "qed",
        "--agents",
        "random,tests.agents_for_tests:ListAgent,tests.agents_for_tests:BrokenAgent",
        "--budget",
        "5",
        "--seeds",
        "2",
        "--propose",
        "5",
        "--out",
        str(out),
    ]
    assert main(argv) == 1  # some runs failed: scripts and CI can tell
    captured = capfd.readouterr()  # the workers' output too
    assert "4 of 6 runs finished" in captured.out
    lines = captured.err.strip().splitlines()
    assert lines[-1] == f"molgym compare: 2 of 6 runs failed (errors in {out}/results.md)"
    # redirected (not a terminal): no progress bars at screen positions, a line per run as it ends
    assert "\x1b[" not in captured.err and "%|" not in captured.err
    assert sum(" finished, 5 oracle calls, " in line for line in lines) == 4
    assert sum(line.endswith(": failed: RuntimeError: the policy diverged") for line in lines) == 2

    for name in (
        "results.md",
        "results.csv",
        "results.json",
        "curves.png",
        "top_random.png",
        "top_tests.agents_for_tests_ListAgent.png",
    ):
        assert (out / name).is_file(), name
    assert Image.open(out / "curves.png").size[0] > 400

    for seed in (0, 1):
        log = list(csv.DictReader(open(out / "random" / f"seed{seed}" / "oracle_log.csv")))
        assert [r["call"] for r in log] == ["1", "2", "3", "4", "5"]
        listed = list(csv.DictReader(open(out / "tests.agents_for_tests_ListAgent" / f"seed{seed}" / "oracle_log.csv")))
        assert [r["smiles"] for r in listed] == ["CCO", "Oc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCN", "CCCl"]

    report = json.loads((out / "results.json").read_text())
    assert report["task"] == "qed" and report["budget"] == 5 and report["device"] == "cpu" and report["wall_time"] > 0
    assert report["machine"] == machine() and f"{os.cpu_count()} cores" in report["machine"]
    assert report["commands"] == [f"molgym {' '.join(argv)}"]  # the report says which command made it
    assert f"Made by: `molgym {' '.join(argv)}`" in (out / "results.md").read_text()
    summary = report["summary"]
    assert summary["tests.agents_for_tests:BrokenAgent"]["failed"] == 2
    assert summary["tests.agents_for_tests:BrokenAgent"]["errors"] == ["RuntimeError: the policy diverged"]
    listed = summary["tests.agents_for_tests:ListAgent"]
    assert listed["calls"]["mean"] == 5 and listed["uniqueness"]["mean"] == 0.2  # it proposes one molecule 5 times
    best = max(
        float(r["score"])
        for r in csv.DictReader(open(out / "tests.agents_for_tests_ListAgent" / "seed0" / "oracle_log.csv"))
    )
    assert listed["top1"]["mean"] == best

    md = (out / "results.md").read_text()
    assert "RuntimeError: the policy diverged" in md and "**" in md
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok", "error"}

    # a repeated command does not rerun finished pairs (their results stay byte for byte), and retries failed ones
    before = (out / "random" / "seed0" / "result.json").read_text()
    assert main(argv) == 1
    assert (out / "random" / "seed0" / "result.json").read_text() == before


def test_compare_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["compare", "--agents", "nonexistent", "--budget", "5", "--out", str(tmp_path)]) == 2
    assert "unknown agent 'nonexistent'" in capsys.readouterr().err
    assert main(["compare", "--task", "constrained", "--budget", "5", "--out", str(tmp_path)]) == 2
    assert "needs start molecules" in capsys.readouterr().err


def test_compare_never_mixes_settings(tmp_path, capsys):
    out = tmp_path / "c"
    starts = tmp_path / "starts.smi"
    starts.write_text("CCO\nc1ccccc1N\n")
    base = [
        "compare",
        "--agents",
        "random",
        "--budget",
        "4",
        "--seeds",
        "1",
        "--propose",
        "0",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    constrained = ["--task", "constrained", "--start", str(starts)]
    assert main([*base, *constrained]) == 0
    capsys.readouterr()
    result = out / "random" / "seed0" / "result.json"
    before = result.read_text()
    row = next(line for line in (out / "results.md").read_text().splitlines() if line.startswith("| random |"))
    assert "+-" not in row  # one seed: no spread to show
    other = tmp_path / "other.smi"
    other.write_text("CCO\nc1ccccc1O\n")
    for change, says in (
        (["--task", "qed"], "task 'constrained' (now 'qed')"),
        ([*constrained, "--budget", "5"], "budget 4 (now 5)"),
        ([*constrained, "--propose", "2"], "propose 0 (now 2)"),
        ([*constrained, "--config", "patience=5"], "config {} (now {'patience': 5})"),
        ([*constrained, "--training-set", str(starts)], "training_set 'nci'"),
        ([*constrained, "--threshold", "0.6"], "'threshold': 0.4"),
        (["--task", "constrained", "--start", str(other)], "start_smiles"),
    ):
        argv = [*base, *change]
        assert main(argv) == 2, change
        err = capsys.readouterr().err
        assert says in err and "choose another --out" in err and err.count("\n") == 1
        assert result.read_text() == before
    # the same settings reuse the run, and another seed joins the comparison
    assert main([*base[:5], "--seeds", "2", *base[7:], *constrained]) == 0
    assert result.read_text() == before
    report = json.loads((out / "results.json").read_text())
    assert [(r["seed"], r["status"]) for r in report["runs"]] == [(0, "ok"), (1, "ok")]
    row = next(line for line in (out / "results.md").read_text().splitlines() if line.startswith("| random |"))
    assert " +- " in row


def test_compare_exits_non_zero_when_every_run_fails_or_the_objective_raises(tmp_path, capsys):
    argv = [
        "compare",
        "--agents",
        "tests.agents_for_tests:ListAgent",
        "--budget",
        "5",
        "--seeds",
        "1",
        "--propose",
        "0",
        "--workers",
        "1",
        "--task",
        "custom",
        "--reward",
        "tests.agents_for_tests:no_benzene",
    ]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 1
    captured = capsys.readouterr()
    assert "0 of 1 runs finished" in captured.out and "1 of 1 runs failed" in captured.err
    result = json.loads((tmp_path / "a" / "tests.agents_for_tests_ListAgent" / "seed0" / "result.json").read_text())
    assert "RewardError" in result["error"] and "aromatic rings are not scored" in result["error"]
    assert not (tmp_path / "a" / "curves.png").exists()  # no empty picture


def test_train_then_sample(tmp_path, capsys):
    out = tmp_path / "trained"
    assert main(["train", "random", "--task", "qed", "--budget", "12", "--seed", "1", "--out", str(out)]) == 0
    assert (out / "agent.json").is_file() and len(list(csv.DictReader(open(out / "oracle_log.csv")))) == 12
    samples = tmp_path / "samples.csv"
    assert main(["sample", "--checkpoint", str(out), "-n", "7", "--out", str(samples)]) == 0
    rows = list(csv.DictReader(open(samples)))
    assert len(rows) == 7 and all(0 <= float(r["qed"]) <= 1 for r in rows)
    assert main(["sample", "--checkpoint", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s2.csv")]) == 2
    assert f"--checkpoint {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_compare_on_a_process_pool(tmp_path):
    out = tmp_path / "pool"
    argv = [
        "compare",
        "--agents",
        "random,tests.agents_for_tests:ListAgent",
        "--budget",
        "4",
        "--seeds",
        "1",
        "--propose",
        "2",
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    report = json.loads((out / "results.json").read_text())
    assert [(r["agent"], r["status"]) for r in report["runs"]] == [
        ("random", "ok"),
        ("tests.agents_for_tests:ListAgent", "ok"),
    ]
    assert all(r["metrics"]["calls"] == 4 for r in report["runs"])


def test_a_run_killed_mid_way_goes_on_from_its_last_checkpoint(tmp_path):
    """An agent that learns in updates is checkpointed every 10 updates: killed before update 15, the
    same command takes the run up at update 10 (not from the start) and ends as an uninterrupted run."""
    import subprocess
    import sys

    markers = tmp_path / "markers"
    markers.mkdir()
    agent = "tests.agents_for_tests:KilledOnceAgent"

    def compare(out, marker_dir):
        argv = [
            "compare",
            "--agents",
            agent,
            "--budget",
            "25",
            "--seeds",
            "1",
            "--propose",
            "0",
            "--workers",
            "1",
            "--training-set",
            "nci",
            "--config",
            f"marker_dir={marker_dir}",
            "--out",
            str(out),
        ]
        return subprocess.run([sys.executable, "-m", "molgym.cli", *argv], capture_output=True, text=True)

    killed = compare(tmp_path / "run", markers)
    assert killed.returncode == -9 and not (tmp_path / "run" / "results.md").exists()
    run = tmp_path / "run" / "tests.agents_for_tests_KilledOnceAgent" / "seed0"
    assert (run / "training" / "checkpoint" / "loop.json").is_file() and not (run / "result.json").exists()
    assert compare(tmp_path / "run", markers).returncode == 0
    assert (markers / "started_at").read_text().split() == ["0", "10"]  # taken up at its last checkpoint
    assert not (run / "training").exists()  # removed once the run finished

    whole = tmp_path / "whole-markers"
    whole.mkdir()
    (whole / "killed").touch()  # never killed
    assert compare(tmp_path / "whole", whole).returncode == 0
    uninterrupted = tmp_path / "whole" / "tests.agents_for_tests_KilledOnceAgent" / "seed0"
    assert (run / "oracle_log.csv").read_text() == (uninterrupted / "oracle_log.csv").read_text()

    # log.csv: one row per update, the ones after the checkpoint redone once, as in the uninterrupted run
    def updates(directory):
        return [(r["update"], r["oracle_calls"], r["reward"]) for r in csv.DictReader(open(directory / "log.csv"))]

    assert updates(run) == updates(uninterrupted)
    assert [u for u, _, _ in updates(run)] == [str(k) for k in range(1, 26)]
