"""Graph GA: its operators only make valid molecules, it improves its population, and resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from molgym.data import nci_smiles
from molgym.tasks import make_task
from molgym_agents.graph_ga import GraphGAAgent
from molgym_agents.graph_ga.operators import MUTATIONS, _kekulized, acceptable, crossover, mutate
from tests.agents_for_tests import whole_and_resumed


def _parents() -> list[Chem.Mol]:
    mols = [Chem.MolFromSmiles(s) for s in nci_smiles(limit=1500)]
    return [m for m in mols if m is not None and len(Chem.GetMolFrags(m)) == 1 and 2 <= m.GetNumAtoms() <= 40]


def _valid(mol: Chem.Mol) -> bool:
    smiles = Chem.MolToSmiles(mol)
    again = Chem.MolFromSmiles(smiles)
    rings = again.GetRingInfo().AtomRings() if again is not None else ()
    return (
        again is not None
        and Chem.MolToSmiles(again) == smiles
        and len(Chem.GetMolFrags(again)) == 1
        and not any(a.GetNumRadicalElectrons() for a in again.GetAtoms())
        and max(map(len, rings), default=0) <= 6
    )


def test_crossover_and_mutation_only_make_valid_molecules():
    parents, rng = _parents(), np.random.default_rng(0)
    children = []
    for _ in range(1500):
        a, b = parents[rng.integers(len(parents))], parents[rng.integers(len(parents))]
        child = crossover(a, b, rng)
        if child is not None:
            children.append(child)
            mutant = mutate(child, 1.0, rng)
            if mutant is not None:
                children.append(mutant)
    assert len(children) > 2500  # most pairs breed, most children mutate
    assert all(_valid(c) for c in children)
    smiles = {Chem.MolToSmiles(c) for c in children}
    assert len(smiles) > 0.9 * len(children)  # new molecules, not copies
    assert len(smiles & {Chem.MolToSmiles(p) for p in parents}) < 0.05 * len(smiles)


def test_every_mutation_edits_and_a_zero_rate_keeps_the_molecule():
    rng = np.random.default_rng(1)
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(OCC)cc1")
    for edit in MUTATIONS:
        made = set()
        for _ in range(30):
            edited = _kekulized(mol)
            if edit(edited, rng) and (child := acceptable(edited, rng)) is not None:
                made.add(Chem.MolToSmiles(child))
        made.discard(Chem.MolToSmiles(mol))
        assert made and all(_valid(Chem.MolFromSmiles(s)) for s in made), edit.__name__
    assert mutate(mol, 0.0, rng) is mol


def test_graph_ga_improves_its_population_under_the_budget():
    task = make_task("qed")
    agent = GraphGAAgent(task, seed=0, population_size=30, offspring_size=30, data="nci")
    oracle = task.oracle(330)
    agent.update(oracle)
    start = [score for _, score in agent.population]
    agent.train(oracle)
    assert oracle.calls == 330 and agent.stop_reason == "budget spent (330 oracle calls)"
    final = [score for _, score in agent.population]
    assert np.mean(final) > np.mean(start) + 0.15 and max(final) >= max(start)
    assert [s for _, s in agent.population] == sorted(final, reverse=True)
    proposed = agent.propose(5)
    assert len(proposed) == 5 and all(Chem.MolFromSmiles(s) is not None for s in proposed)
    assert oracle.calls == 330  # proposing scores nothing


def test_graph_ga_resumes_exactly(tmp_path):
    task = make_task("qed")
    make = lambda: GraphGAAgent(task, seed=2, population_size=20, offspring_size=20, data="nci")  # noqa: E731
    whole, resumed = whole_and_resumed(make, GraphGAAgent, task, tmp_path, steps=120, stop_at=60)
    assert resumed.population == whole.population and resumed.updates == whole.updates
    assert resumed.propose(4) == whole.propose(4)


def test_graph_ga_ends_when_its_population_stops_changing_as_pmo_does(tmp_path):
    """With every molecule scoring the same no child displaces a member: the population stays as it
    is, and ``stop_unchanged`` generations later the run ends with that reason, in ``train`` and in
    ``molgym train``'s loop alike; with 0 the budget is spent."""
    from molgym.rewards import FunctionTerm
    from molgym.tasks import Task
    from molgym.training import run_training

    task = Task("flat", FunctionTerm(lambda mol: 0.5, name="flat"))
    make = lambda **kw: GraphGAAgent(task, seed=0, population_size=10, offspring_size=10, data="nci", **kw)  # noqa: E731
    agent, oracle = make(stop_unchanged=3), task.oracle(1000)
    agent.train(oracle)
    assert agent.stop_reason == "population unchanged for 3 generations"
    assert agent.updates == 4 and oracle.calls < 60  # the starting population, then 3 generations
    looped, looped_oracle = make(stop_unchanged=3), task.oracle(1000)
    end = run_training(looped, looped_oracle, tmp_path / "run", progress=False)
    assert end["stopped"] == agent.stop_reason and looped_oracle.log == oracle.log
    never, never_oracle = make(stop_unchanged=0), task.oracle(60)
    never.train(never_oracle)
    assert never_oracle.calls == 60 and never.stop_reason == "budget spent (60 oracle calls)"


def test_graph_ga_refuses_tasks_that_edit_given_molecules():
    task = make_task("constrained", start_smiles=["CCO"])
    with pytest.raises(ValueError, match="edits given start molecules"):
        GraphGAAgent(task, data="nci")
