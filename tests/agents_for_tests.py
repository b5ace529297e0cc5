"""Agents that tests name as ``module:Class``, the way users plug in their own."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from molgym.agent import Agent, UpdatingAgent
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


def whole_and_resumed(make_agent, agent_cls, task, tmp_path, steps: int = 96, stop_at: int = 64):
    """The same run twice: uninterrupted to ``steps``, and stopped at ``stop_at`` then resumed from
    its checkpoint to ``steps``. Returns ``(whole, resumed)`` agents."""
    from molgym.training import load_checkpoint, run_training

    whole = make_agent()
    run_training(whole, task.oracle(1000), tmp_path / "whole", steps=steps, checkpoint_every=1, progress=False)
    run_training(make_agent(), task.oracle(1000), tmp_path / "split", steps=stop_at, checkpoint_every=1, progress=False)
    resumed, state, loop = load_checkpoint(tmp_path / "split", agent_cls, task)
    oracle = task.oracle(1000)
    oracle.load_state_dict(state)
    run_training(resumed, oracle, tmp_path / "split", steps=steps, loop=loop, progress=False)
    return whole, resumed


class ChainAgent(UpdatingAgent):
    """Each update scores one new molecule, a carbon chain one atom longer, after ``pause`` seconds.
    No torch: a command running it starts fast."""

    name = "chain"

    def __init__(self, task, seed: int = 0, device: str = "cpu", pause: float = 0.0):
        super().__init__(task, seed, device, pause=pause)

    def update(self, oracle):
        time.sleep(self.config["pause"])
        self.steps += 1
        return {"reward": oracle("C" * self.steps)}

    def propose(self, n):
        return ["C" * max(1, self.steps)] * n

    def _save_state(self, path):
        (path / "counters.json").write_text(json.dumps([self.steps, self.updates]))

    def _load_state(self, path):
        self.steps, self.updates = json.loads((path / "counters.json").read_text())


class KilledOnceAgent(ChainAgent):
    """A :class:`ChainAgent` whose process is killed (SIGKILL) before its update ``kill_at``, the first
    time only (a marker file in ``marker_dir``); each process writes the update it started from to
    ``marker_dir/started_at``: a run killed mid-way, and where the next command took it up."""

    name = "killed-once"

    def __init__(self, task, seed: int = 0, device: str = "cpu", marker_dir: str = "", kill_at: int = 15):
        UpdatingAgent.__init__(self, task, seed, device, marker_dir=marker_dir, kill_at=kill_at)
        self.started = False

    def update(self, oracle):
        folder = Path(self.config["marker_dir"])
        if not self.started:
            self.started = True
            with open(folder / "started_at", "a") as f:
                f.write(f"{self.updates}\n")
        if self.updates == self.config["kill_at"] and not (folder / "killed").exists():
            (folder / "killed").touch()
            os.kill(os.getpid(), 9)
        self.steps += 1
        return {"reward": oracle("C" * self.steps)}


class WaitingAgent(Agent):
    """Writes its process id to ``$MOLGYM_TEST_DIR/pid`` and waits for ``$MOLGYM_TEST_DIR/go``
    before scoring one molecule: a run that is still going when a test interrupts it."""

    name = "waiting"

    def train(self, oracle):
        folder = Path(os.environ["MOLGYM_TEST_DIR"])
        (folder / "pid").write_text(str(os.getpid()))
        while not (folder / "go").exists():
            time.sleep(0.05)
        oracle("CCO")

    def propose(self, n):
        return ["CCO"] * n


def no_benzene(mol):
    """A user objective that raises on some molecules (not on ethanol)."""
    if mol.GetRingInfo().NumRings():
        raise ValueError("aromatic rings are not scored")
    return mol.GetNumAtoms() / 10


class StallingAgent(UpdatingAgent):
    """Pays for three molecules (C, CC, CCC) in its first three updates, then keeps proposing CCC:
    a policy collapsed onto a molecule already scored."""

    name = "stalling"

    def update(self, oracle):
        self.steps += 1
        return {"reward": oracle("C" * min(self.steps, 3))}

    def propose(self, n):
        return ["CCC"] * n


class TricklingAgent(UpdatingAgent):
    """Pays for four new molecules in its first update, then ``new_per_update`` new ones per update
    among 40 repeats of ``C``: a collapsed policy that still trickles."""

    name = "trickling"

    def __init__(self, task, seed=0, device="cpu", new_per_update=1, **config):
        super().__init__(task, seed, device, new_per_update=new_per_update, **config)
        self.made = 0

    def update(self, oracle):
        fresh = 4 if self.steps == 0 else self.config["new_per_update"]
        self.steps += 1
        for _ in range(fresh):
            self.made += 1
            oracle("C" * (self.made + 1))
        return {"reward": sum(oracle("C") for _ in range(40)) / 40}

    def propose(self, n):
        return ["C"] * n


class DyingAgent(ListAgent):
    """Kills its own process while training, the first ``deaths`` times it runs (counted in files
    under ``marker_dir``), then scores the list: a worker lost mid-run."""

    name = "dying"

    def __init__(self, task, seed: int = 0, device: str = "cpu", marker_dir: str = "", deaths: int = 1):
        super().__init__(task, seed=seed, device=device)
        self.marker_dir, self.deaths = Path(marker_dir), deaths

    def train(self, oracle):
        oracle("CCO")
        tries = len(list(self.marker_dir.glob(f"seed{self.seed}-*")))
        if tries < self.deaths:
            (self.marker_dir / f"seed{self.seed}-{tries}").touch()
            os.kill(os.getpid(), 9)
        super().train(oracle)
