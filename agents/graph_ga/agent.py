"""Graph GA (``graph_ga``): Jensen's genetic algorithm on molecular graphs, with PMO's settings.

No training and no env: a population of scored molecules, drawn at first from a real set (MOSES
here, ZINC in PMO), breeds each generation ``offspring_size`` children. Each child's parents are
drawn from the population with probability proportional to their scores; the child is their
crossover, mutated with probability ``mutation_rate`` (:mod:`molgym_agents.graph_ga.operators`). The
oracle scores the children (repeats are free), and the best ``population_size`` distinct molecules
of population and children form the next population. With ``stop_unchanged = k`` a run ends once
the population has stayed the same for ``k`` generations in a row (PMO's ``mol_opt`` ends its
Graph GA runs so, with 5, the default here, and pads the rest of the AUC with the last value, as
molgym does; 0 never stops early).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase

from molgym.agent import UpdatingAgent
from molgym.oracle import Oracle
from molgym.storage import read_json
from molgym.tasks import Task
from molgym_agents.graph_ga.operators import offspring

__all__ = ["GraphGAAgent"]


@lru_cache(maxsize=1)
def _molecules(data: str) -> list[str]:
    """The starting set (read once per process: MOSES is 1.6M SMILES, ~20 s to read)."""
    from molgym.data import load_smiles

    return load_smiles(data)


def sample_molecules(data: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct molecules of ``data`` (a name or path, :func:`molgym.data.load_smiles`) drawn
    uniformly by ``rng``, as canonical SMILES (unparsable ones dropped)."""
    pool = _molecules(data)
    picked = rng.choice(len(pool), size=min(len(pool), n), replace=False)
    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(pool[i]) for i in picked]
    return [Chem.MolToSmiles(m) for m in mols if m is not None]


class GraphGAAgent(UpdatingAgent):
    """Config: ``population_size``, ``offspring_size``, ``mutation_rate`` (PMO's tuned values:
    120, 70, 0.067), ``data`` (the set the first population is drawn from: ``moses``, ``nci``,
    ``zinc250k`` or a file), ``patience`` (generations in a row with under 5% new molecules that
    end a run), ``stop_unchanged`` (generations in a row with the population unchanged that end a
    run; PMO's 5; 0: never).

    One :meth:`update` is one generation (the first scores the starting population); ``steps``
    counts the molecules made.
    """

    name = "graph_ga"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        population_size: int = 120,
        offspring_size: int = 70,
        mutation_rate: float = 0.067,
        data: str = "moses",
        patience: int = 20,
        stop_unchanged: int = 5,
    ):
        if task.start_smiles is not None:
            raise ValueError(
                f"graph_ga breeds molecules from a population; task {task.name!r} edits given start molecules"
            )
        if population_size < 2 or offspring_size < 1 or not 0.0 <= mutation_rate <= 1.0 or stop_unchanged < 0:
            raise ValueError(
                "graph_ga needs population_size >= 2, offspring_size >= 1, 0 <= mutation_rate <= 1 "
                "and stop_unchanged >= 0"
            )
        super().__init__(
            task,
            seed,
            device,
            population_size=population_size,
            offspring_size=offspring_size,
            mutation_rate=mutation_rate,
            data=data,
            patience=patience,
            stop_unchanged=stop_unchanged,
        )
        self.patience = patience
        self.rng = np.random.default_rng(seed)
        self.population: list[tuple[str, float]] = []  # (canonical SMILES, score), best first
        self.unchanged = 0  # generations in a row that left the population as it was

    def update(self, oracle: Oracle) -> dict[str, float]:
        if not self.population:
            children = self._starting_population()
        else:
            children = self._offspring(self.population)
        self.steps += len(children)
        scored = [(smiles, oracle(smiles)) for smiles in children]  # the budget may run out here
        merged = dict(self.population)
        merged.update(scored)
        ranked = sorted(merged.items(), key=lambda item: -item[1])
        before, self.population = self.population, ranked[: self.config["population_size"]]
        self.unchanged = self.unchanged + 1 if self.population == before else 0
        limit = self.config["stop_unchanged"]
        if limit and self.unchanged >= limit:
            self.finished = f"population unchanged for {self.unchanged} generations"
        scores = [score for _, score in self.population]
        return {
            "reward": float(np.mean([score for _, score in scored])) if scored else 0.0,
            "population_mean": float(np.mean(scores)),
            "population_best": scores[0],
            "children": float(len(children)),
        }

    def _starting_population(self) -> list[str]:
        return sample_molecules(self.config["data"], self.config["population_size"], self.rng)

    def _offspring(self, parents: list[tuple[str, float]]) -> list[str]:
        """``offspring_size`` children of ``parents`` (fewer when the operators fail), as canonical SMILES."""
        return offspring(parents, self.config["offspring_size"], self.config["mutation_rate"], self.rng)

    def propose(self, n: int) -> list[str]:
        """``n`` children bred from the population, not scored (before training: from a starting
        population drawn from ``data``, equally weighted). Should the operators fail on every pair,
        the population's own molecules fill the rest."""
        parents = self.population or [(smiles, 1.0) for smiles in self._starting_population()]
        out: list[str] = []
        while len(out) < n:
            children = self._offspring(parents)
            if not children:
                out += [smiles for smiles, _ in parents]
            out += children
        return out[:n]

    def _save_state(self, path: Path) -> None:
        (path / "graph_ga.json").write_text(
            json.dumps(
                {
                    "population": self.population,
                    "steps": self.steps,
                    "updates": self.updates,
                    "unchanged": self.unchanged,
                    "rng": self.rng.bit_generator.state,
                }
            )
        )

    def _load_state(self, path: Path) -> None:
        state = read_json(path / "graph_ga.json", "graph_ga checkpoint")
        self.population = [(smiles, score) for smiles, score in state["population"]]
        self.steps, self.updates, self.unchanged = state["steps"], state["updates"], state.get("unchanged", 0)
        self.rng.bit_generator.state = state["rng"]
