"""Oracle accounting: unique molecules cost, repeats and invalid ones are free, the budget stops agents."""

from __future__ import annotations

import csv

import pytest

from molgym.oracle import BudgetExhausted, Oracle
from molgym.rewards import QED, FunctionTerm
from molgym.tasks import TASKS, make_task


def test_calls_are_counted_on_unique_canonical_smiles():
    seen = []
    oracle = Oracle(FunctionTerm(lambda mol: seen.append(mol.GetNumAtoms()) or float(mol.GetNumAtoms())), budget=3)
    assert oracle("CCO") == 3.0
    assert oracle("OCC") == 3.0  # the same molecule: free, cached
    assert oracle("not a molecule") == 0.0  # invalid: free, scores 0
    assert oracle("c1ccccc1") == 6.0
    assert oracle.calls == 2 and seen == [3, 6]
    assert [row[:2] for row in oracle.log] == [(1, "CCO"), (2, "c1ccccc1")]


def test_the_budget_stops_new_molecules_but_not_repeats():
    oracle = Oracle(QED(), budget=2)
    oracle("CCO")
    oracle("CCN")
    assert oracle.exhausted
    with pytest.raises(BudgetExhausted):
        oracle("CCCl")
    assert oracle("OCC") == oracle.log[0][2]  # a repeat is still answered, from the cache
    assert oracle.calls == 2


def test_the_oracle_log_is_written_in_call_order(tmp_path):
    oracle = Oracle(QED(), budget=5)
    for s in ("CCO", "c1ccccc1", "CCO", "CC(=O)O"):
        oracle(s)
    oracle.write_log(tmp_path / "oracle_log.csv")
    rows = list(csv.DictReader(open(tmp_path / "oracle_log.csv")))
    assert [r["call"] for r in rows] == ["1", "2", "3"]
    assert [r["smiles"] for r in rows] == ["CCO", "c1ccccc1", "CC(=O)O"]


def test_an_env_built_for_the_oracle_raises_budget_exhausted_from_step():
    import numpy as np

    task = make_task("qed")
    oracle = task.oracle(budget=1)
    env = task.make_env(oracle, min_steps=0)
    env.reset(seed=0, options={"smiles": "CCO"})
    _, reward, terminated, _, info = env.step(np.array([0, 0, 0, 1]))
    assert terminated and reward == oracle.log[0][2] and oracle.calls == 1
    env.reset(options={"smiles": "CCN"})
    with pytest.raises(BudgetExhausted):
        env.step(np.array([0, 0, 0, 1]))


def test_tasks_registry():
    for name in ("qed", "plogp", "logp_target", "mw_target"):
        task = make_task(name)
        assert task.name == name and task.make_env() is not None
    constrained = make_task("constrained", start_smiles=["CCO", "CCN"], threshold=0.6)
    assert constrained.objective.threshold == 0.6 and constrained.make_env().unwrapped.layout.allow_removal
    custom = make_task("custom", reward="tests.rewards.test_oracle:heavy_atoms")
    assert custom.objective.name == "heavy_atoms"
    with pytest.raises(ValueError, match="needs start molecules"):
        make_task("constrained")
    with pytest.raises(ValueError, match="cannot load reward"):
        make_task("custom", reward="tests.rewards.test_oracle:nothing_here")
    with pytest.raises(ValueError, match="unknown task"):
        make_task("solubility")
    assert set(TASKS) >= {"qed", "plogp", "logp_target", "mw_target", "constrained", "custom"}


def heavy_atoms(mol):
    return float(mol.GetNumAtoms())


def test_a_wall_time_limit_ends_a_run_with_its_reason():
    import time

    from molgym.oracle import budget_spent

    oracle = Oracle(QED(), budget=100, time_limit=0.05)
    oracle("CCO")
    time.sleep(0.1)
    with pytest.raises(BudgetExhausted, match="wall-time limit of 0.05 s passed after 1 oracle calls"):
        oracle("CCN")
    assert oracle.timed_out and budget_spent(oracle).startswith("wall-time limit")
    with pytest.raises(ValueError, match="time limit must be positive"):
        Oracle(QED(), budget=5, time_limit=0)


def test_the_repeat_penalty_applies_to_molecules_already_scored():
    from molgym.oracle import OracleTerm
    from molgym.rewards import Context

    oracle = Oracle(QED(), budget=10)
    term = OracleTerm(oracle, "qed", repeat_penalty=0.25)
    first = term(Context.of("CCO"))
    assert first == QED()("CCO") and oracle.calls == 1
    assert term(Context.of("OCC")) == pytest.approx(first - 0.25) and oracle.calls == 1  # the same molecule
    assert OracleTerm(oracle, "qed")(Context.of("CCO")) == first  # no penalty by default
