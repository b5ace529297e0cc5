"""The GCPN benchmark through molgym compare's runs: the paper's evaluators read from the run
directories, a repeated command trains nothing, ``--report`` trains nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import bench_gcpn

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TINY = ["--config", "num_envs=4", "num_steps=4", "minibatch_size=8", "epochs=1"]


def _bench(monkeypatch, *argv) -> None:
    monkeypatch.setattr("sys.argv", ["bench_gcpn.py", *argv])
    bench_gcpn.main()


@pytest.mark.skipif(not (SHARED / "zinc_low_plogp_800.txt").is_file(), reason="needs ../shared/data")
def test_each_task_is_a_compare_run_evaluated_from_its_directory_and_a_repeat_trains_nothing(
    monkeypatch, tmp_path, capsys
):
    out = tmp_path / "bench"
    argv = [
        "--tasks",
        "qed,logp_target,constrained",
        "--budget",
        "12",
        "--seeds",
        "1",
        "--propose",
        "20",
        "--constrained-molecules",
        "3",
        "--constrained-budget",
        "12",
        "--rollouts",
        "2",
        "--thresholds",
        "0.4",
        "--out",
        str(out),
        *TINY,
        "best_window=2",
    ]
    _bench(monkeypatch, *argv)
    saved = json.loads((out / "results.json").read_text())
    qed, target, constrained = saved["results"]
    assert qed["runs"][0]["calls"] == 12 and len(qed["runs"][0]["top3"]) == 3
    assert 0 <= target["runs"][0]["success"] <= 1 and len(target["runs"][0]["proposals"]["quartiles"]) == 5
    row = constrained["rows"][0]
    assert row["molecules"] == 3 and row["eval_scored"] > 0 and "best_policy" in row
    for folder in ("qed", "logp_target", "constrained_0.4"):  # compare's run directories and report
        assert (out / folder / "gcpn" / "seed0" / "result.json").is_file() and (out / folder / "results.md").is_file()
    assert (out / "constrained_0.4" / "gcpn" / "seed0" / "agent" / "agent.json").is_file()
    table = (out / "results.md").read_text()
    assert "| qed | top-3" in table and "| constrained, threshold 0.4, seed 0 |" in table and "best policy" in table
    capsys.readouterr()

    again = tmp_path / "again"  # the same command: every run and evaluation read back, nothing trained
    _bench(monkeypatch, *argv)
    assert json.loads((out / "results.json").read_text())["results"] == saved["results"]
    _bench(monkeypatch, *argv[: -len(TINY) - 1], "--out", str(again), "--report", *TINY, "best_window=2")
    assert "qed seed 0: not in" in capsys.readouterr().out and not (again / "qed" / "gcpn").exists()


def test_other_settings_in_the_same_folder_are_refused(monkeypatch, tmp_path):
    _bench(monkeypatch, "--tasks", "qed", "--budget", "6", "--seeds", "1", "--out", str(tmp_path), *TINY)
    with pytest.raises(SystemExit, match="holds a run with budget 6"):
        _bench(monkeypatch, "--tasks", "qed", "--budget", "8", "--seeds", "1", "--out", str(tmp_path), *TINY)


def test_an_unknown_config_setting_is_refused_before_any_run(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="--config: unknown gcpn setting 'nope'"):
        _bench(monkeypatch, "--tasks", "qed", "--out", str(tmp_path), "--config", "nope=1")
    assert not (tmp_path / "results.json").exists()


def test_throughput_trains_with_the_config_settings(monkeypatch, capsys):
    _bench(
        monkeypatch,
        "--throughput",
        "--updates",
        "1",
        "--num-envs",
        "2",
        "--config",
        "num_steps=4",
        "minibatch_size=4",
        "epochs=1",
    )
    out = capsys.readouterr().out
    assert "8 env steps" in out and "2 molecules x 4 steps per update" in out and "num_steps=4" in out


def test_seed_picks_single_seeds_in_place_of_the_first_n(monkeypatch, capsys, tmp_path):
    _bench(monkeypatch, "--tasks", "qed", "--out", str(tmp_path), "--report", "--seed", "2", "--seed", "4")
    out = capsys.readouterr().out
    assert "seeds 2, 4," in out and "qed seed 2: not in" in out and "qed seed 4: not in" in out
    assert "seed 0" not in out and "seed 1" not in out


def test_another_agent_runs_the_tasks_it_can_and_constrained_optimisation_is_refused(monkeypatch, tmp_path, capsys):
    small = ["batch_size=4", "offspring=4", "local_search=4", "replay_size=8", "replay_batch=4"]
    argv = ["--agent", "genetic_gcpn", "--budget", "16", "--seeds", "1", "--propose", "10", "--out", str(tmp_path)]
    _bench(monkeypatch, *argv, "--tasks", "qed,logp_target", "--config", *small)
    qed, target = json.loads((tmp_path / "results.json").read_text())["results"]
    assert qed["runs"][0]["calls"] == 16 and 0 <= target["runs"][0]["success"] <= 1
    assert (tmp_path / "logp_target" / "genetic_gcpn" / "seed0" / "proposed.csv").is_file()
    assert (tmp_path / "results.md").read_text().startswith("genetic_gcpn on GCPN's paper's tasks")
    with pytest.raises(SystemExit, match="constrained optimisation is evaluated with GCPN's policy"):
        _bench(monkeypatch, *argv, "--tasks", "constrained")
    with pytest.raises(SystemExit, match="--agent: unknown agent 'nope'"):
        _bench(monkeypatch, *argv, "--agent", "nope")
