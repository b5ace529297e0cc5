"""The GCPN benchmark's run store: finished runs are kept, reused, and ``--report`` trains nothing."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from molgym.compare import machine
from molgym.rewards import ConstrainedImprovement
from molgym.tasks import Task
from molgym.training import BestPolicy
from scripts.bench_gcpn import Store

SETTINGS = {"budget": 10, "seeds": 3, "tasks": "qed", "out": "x", "report": False}


def test_a_finished_run_is_written_at_once_and_reused_by_a_later_command(tmp_path):
    made = []
    first = Store(tmp_path, "cpu", SETTINGS, "first command")
    first.run("qed seed 0", lambda: made.append(0) or {"seed": 0, "top": 0.9})
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["runs"]["qed seed 0"] == {"seed": 0, "top": 0.9}
    assert saved["made_by"]["qed seed 0"] == "first command" and saved["machines"]["qed seed 0"] == machine()
    # another command (other seeds, --report) with the same settings reads it back and makes nothing
    later = Store(tmp_path, "cpu", {**SETTINGS, "seeds": 1, "report": True}, "report command", train=False)
    runs = later.runs([(f"qed seed {s}", lambda s=s: made.append(s) or {"seed": s}) for s in range(3)])
    assert runs == [{"seed": 0, "top": 0.9}] and made == [0]


def test_runs_made_with_other_settings_are_refused(tmp_path):
    Store(tmp_path, "cpu", SETTINGS, "a command").run("qed seed 0", lambda: {"seed": 0})
    with pytest.raises(SystemExit, match="other settings"):
        Store(tmp_path, "cpu", {**SETTINGS, "budget": 20}, "another command")


def test_the_best_policy_is_the_weights_at_the_end_of_the_best_window_of_training_rewards():
    policy = torch.nn.Linear(2, 1)
    best = BestPolicy(window=3)
    rewards = [0.0, float("nan"), 1.0, 5.0, 6.0, 4.0, 0.0, -1.0, 2.0]  # best window: updates 4-6 (mean 5)
    for update, reward in enumerate(rewards, start=1):
        with torch.no_grad():
            policy.weight.fill_(update)  # the weights after this update
        best.on_update(SimpleNamespace(policy=policy), None, {}, {"reward": reward})
    assert best.update == 6 and best.reward == 5.0
    assert torch.equal(best.state["weight"], torch.full((1, 2), 6.0))  # a copy, not the live weights
    assert torch.equal(policy.weight, torch.full((1, 2), 9.0))


def test_a_run_killed_mid_way_goes_on_from_its_last_checkpoint_as_if_never_stopped(monkeypatch, tmp_path):
    """A crash after update 3 (checkpoints every 2 updates): the same call again resumes from update 2
    and ends with the oracle log, the stop reason, the update count and the best policy of an
    uninterrupted run."""
    from scripts import bench_gcpn

    monkeypatch.setattr(bench_gcpn, "CHECKPOINT_EVERY", 2)
    starts = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccccc1"]  # episodes of 4 steps: every update has training rewards
    task = Task(
        "constrained",
        ConstrainedImprovement(0.4),
        "MolOpt-v0",
        {"start_smiles": starts, "threshold": 0.4, "max_steps": 4},
    )
    config = {"num_envs": 4, "num_steps": 4, "minibatch_size": 8, "epochs": 1}

    def run(folder):
        return bench_gcpn.train(task, 0, 60, "cpu", "test", config, tmp_path / folder)

    whole = run("whole")
    after = BestPolicy.on_update

    def crash_after_update_3(self, agent, oracle, loop, stats):
        after(self, agent, oracle, loop, stats)
        if len(self.rewards) == 3:
            raise RuntimeError("killed")

    monkeypatch.setattr(BestPolicy, "on_update", crash_after_update_3)
    with pytest.raises(RuntimeError, match="killed"):
        run("split")
    assert json.loads((tmp_path / "split" / "checkpoint" / "loop.json").read_text())["updates"] == 2
    monkeypatch.setattr(BestPolicy, "on_update", after)
    resumed = run("split")
    (agent, oracle, _, _, best), (agent2, oracle2, _, _, best2) = whole, resumed
    assert oracle2.log == oracle.log and len(oracle.log) > 0
    assert agent2.updates == agent.updates > 3 and agent2.stop_reason == agent.stop_reason
    np.testing.assert_equal(best2.rewards, best.rewards)  # NaN where an update finished no episode
    assert best2.update == best.update and best.state is not None
    assert all(torch.equal(best.state[k], best2.state[k]) for k in best.state)


def test_an_unknown_config_setting_is_refused_before_any_run(monkeypatch, tmp_path):
    from scripts import bench_gcpn

    monkeypatch.setattr("sys.argv", ["bench_gcpn.py", "--tasks", "qed", "--out", str(tmp_path), "--config", "nope=1"])
    with pytest.raises(SystemExit, match="--config: unknown gcpn setting 'nope'"):
        bench_gcpn.main()
    assert not (tmp_path / "results.json").exists()


def test_throughput_trains_with_the_config_settings(monkeypatch, capsys):
    from scripts import bench_gcpn

    monkeypatch.setattr(
        "sys.argv",
        [
            "bench_gcpn.py",
            "--throughput",
            "--updates",
            "1",
            "--num-envs",
            "2",
            "--config",
            "num_steps=4",
            "minibatch_size=4",
            "epochs=1",
        ],
    )
    bench_gcpn.main()
    out = capsys.readouterr().out
    assert "8 env steps" in out and "2 molecules x 4 steps per update" in out and "num_steps=4" in out


def test_seed_picks_single_seeds_in_place_of_the_first_n(monkeypatch, capsys, tmp_path):
    from scripts import bench_gcpn

    monkeypatch.setattr(
        "sys.argv",
        ["bench_gcpn.py", "--tasks", "qed", "--out", str(tmp_path), "--report", "--seed", "2", "--seed", "4"],
    )
    bench_gcpn.main()
    out = capsys.readouterr().out
    assert "seeds 2, 4," in out and "qed seed 2: not in" in out and "qed seed 4: not in" in out
    assert "seed 0" not in out and "seed 1" not in out


def test_runs_of_the_old_default_epochs_never_mix_with_runs_of_the_new_one(monkeypatch, tmp_path):
    """Runs made when 4 epochs was the default recorded no config: ``--config epochs=4`` adds to
    them, the default (2 epochs) is refused there."""
    from scripts import bench_gcpn

    def bench(*config):
        monkeypatch.setattr(
            "sys.argv", ["bench_gcpn.py", "--tasks", "qed", "--out", str(tmp_path), "--report", *config]
        )
        bench_gcpn.main()

    bench("--config", "epochs=4")
    assert "config" not in json.loads((tmp_path / "results.json").read_text())["args"]
    with pytest.raises(SystemExit, match="other settings.*use another --out"):
        bench()
    bench("--config", "epochs=4")  # accepted again
    other = tmp_path / "new"
    monkeypatch.setattr("sys.argv", ["bench_gcpn.py", "--tasks", "qed", "--out", str(other), "--report"])
    bench_gcpn.main()
    assert json.loads((other / "results.json").read_text())["args"]["config"] == {"epochs": 2}
