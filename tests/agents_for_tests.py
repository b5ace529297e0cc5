"""Agents that tests name as ``module:Class``, the way users plug in their own."""

from __future__ import annotations

from agents.base import Agent
from molgym.oracle import BudgetExhausted


class ListAgent(Agent):
    """Scores a fixed list of molecules in order (repeats included), then proposes the best one."""

    name = "list"
    molecules = ["CCO", "CCO", "not a molecule", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN", "CCCl"]

    def train(self, oracle):
        self.best = None
        try:
            for smiles in self.molecules:
                score = oracle(smiles)
                if self.best is None or score > self.best[1]:
                    self.best = (smiles, score)
        except BudgetExhausted:
            pass

    def propose(self, n):
        return [self.best[0]] * n


class BrokenAgent(Agent):
    """Fails in the middle of training."""

    name = "broken"

    def train(self, oracle):
        oracle("CCO")
        raise RuntimeError("the policy diverged")

    def propose(self, n):
        return []


def nitrogen_share(mol):
    """A simple reward with a known optimum: the share of nitrogen atoms."""
    return sum(a.GetSymbol() == "N" for a in mol.GetAtoms()) / mol.GetNumAtoms()
