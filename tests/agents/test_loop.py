"""The stall rule: a run that stops paying for new molecules ends, with its reason, instead of
running on (PMO ends stalled runs the same way; the AUC is padded with the last value)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from molgym.cli import main
from molgym.loop import Callback
from molgym.tasks import make_task
from tests.agents_for_tests import StallingAgent, TricklingAgent


def test_an_agent_that_stops_paying_ends_after_its_patience():
    agent = StallingAgent(make_task("qed"))
    agent.patience = 4
    oracle = agent.task.oracle(100)
    agent.train(oracle)
    assert oracle.calls == 3 and agent.steps == 3 + 4 and agent.updates == 3 + 4  # train() counts its updates
    assert agent.stop_reason == "stalled: under 5% of the molecules scored were new in 4 updates in a row"


def test_train_hands_each_updates_statistics_to_its_callbacks():
    class Seen(Callback):
        def on_update(self, agent, oracle, loop, stats):
            seen.append(stats)
            return False

    agent, seen = StallingAgent(make_task("qed")), []
    agent.patience = 2
    agent.train(agent.task.oracle(100), [Seen()])
    assert [round(stats["reward"], 4) for stats in seen] == [
        round(agent.task.oracle(100)(s), 4) for s in ("C", "CC", "CCC", "CCC", "CCC")
    ]


def test_a_trickle_of_new_molecules_is_a_stall_too():
    """A collapsed policy that still finds one new molecule per update among 40 repeats (2.4%) ends
    after its patience; one that finds 3 (7%) keeps going until its budget is spent."""
    agent = TricklingAgent(make_task("qed"), new_per_update=1)
    agent.patience = 6
    oracle = agent.task.oracle(30)
    agent.train(oracle)
    assert oracle.calls == 5 + 6 and oracle.requests == 44 + 6 * 41  # every molecule asked for, repeats included
    assert agent.stop_reason == "stalled: under 5% of the molecules scored were new in 6 updates in a row"

    agent = TricklingAgent(make_task("qed"), new_per_update=3)
    agent.patience = 6
    oracle = agent.task.oracle(30)
    agent.train(oracle)
    assert oracle.calls == 30 and agent.stop_reason == "budget spent (30 oracle calls)"


def test_train_and_compare_state_why_a_run_ended(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "tests.agents_for_tests:StallingAgent", "--budget", "100", "--out", str(out)]) == 0
    assert (
        "stopped: stalled: under 5% of the molecules scored were new in 20 updates in a row" in capsys.readouterr().out
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stop_reason"].startswith("stalled")
    # the share of new molecules per update: 1 in the first three updates, 0 in the 20 stalled ones
    assert metrics["new_share_min"] == 0.0 and metrics["new_share_mean"] == 3 / 23
    assert json.loads((out / "checkpoint" / "loop.json").read_text())["idle"] == 20

    cmp = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                "--agents",
                "tests.agents_for_tests:StallingAgent,random",
                "--budget",
                "5",
                "--seeds",
                "1",
                "--propose",
                "0",
                "--workers",
                "1",
                "--out",
                str(cmp),
            ]
        )
        == 0
    )
    runs = json.loads((cmp / "results.json").read_text())["runs"]
    assert [r["stop_reason"] for r in runs] == [
        "stalled: under 5% of the molecules scored were new in 20 updates in a row",
        "budget spent (5 oracle calls)",
    ]
    stalling = runs[0]["metrics"]
    assert stalling["new_share_min"] == 0.0 and stalling["new_share_mean"] == 3 / 23  # from its log.csv
    report = (cmp / "results.md").read_text()
    assert (
        "- tests.agents_for_tests:StallingAgent seed 0 (3 of 5 calls): stalled: under 5% of the molecules scored were new in 20 updates in a row"
        in report
    )
    assert "random seed 0" not in report.split("ended before their budget")[1]


def test_the_best_policy_is_the_weights_at_the_end_of_the_best_window_of_training_rewards():
    import torch

    from molgym.loop import BestPolicy

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
