"""Genetic GCPN (``genetic_gcpn``): GCPN's graph-editing policy tuned off-policy on the augmented
likelihood, with a rank-based replay of its best molecules and a genetic search over them.

The policy is GCPN's (:class:`~molgym_agents.gcpn.policy.GCPNPolicy`, from the shipped pretrained
weights, which also stay as the frozen prior). Each update:

1. the policy builds ``batch_size`` molecules in the task's editing env (one episode each,
   :func:`molgym.rollout.rollout`), and the oracle scores them;
2. ``offspring`` children are bred from the replay (Graph GA's crossover and mutations,
   :func:`molgym_agents.graph_ga.operators.offspring`) and scored;
3. the molecules of both, and ``replay_batch`` molecules drawn from the replay by rank (weight
   ``1 / (rank_weight * R + rank)``), are turned into env trajectories
   (:mod:`molgym.chem.construction`: a random legal order of edits that rebuilds each one from a
   carbon), and the policy is moved towards REINVENT's augmented likelihood over them:

       log P_aug(x) = log P_prior(x) + sigma * S(x)
       loss = mean_x (log P_aug(x) - log P_agent(x))^2

   where ``log P(x)`` is the log-probability of ``x``'s trajectory, a sum over its steps;
4. the replay keeps the ``replay_size`` best molecules scored so far.

So the policy learns from molecules it did not make (the offspring, the replay) as well as its own,
while the prior term keeps it from collapsing onto a few molecules. Tasks that start from given
molecules (constrained optimisation) are not supported yet.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from rdkit import rdBase

from molgym.agent import UpdatingAgent
from molgym.chem import MolGraph
from molgym.oracle import Oracle
from molgym.rollout import rollout
from molgym.tasks import Task
from molgym_agents.gcpn.agent import PRETRAINED, load_weights
from molgym_agents.gcpn.expert import expert_batch, expert_data
from molgym_agents.gcpn.policy import GCPNPolicy
from molgym_agents.gcpn.ppo import obs_tensors
from molgym_agents.graph_ga.operators import offspring
from molgym_agents.reinvent.agent import augmented_likelihood_loss

__all__ = ["GeneticGCPNAgent"]


class GeneticGCPNAgent(UpdatingAgent):
    """Config: ``batch_size`` (molecules the policy builds per update), ``offspring`` (children bred
    from the replay per update), ``mutation_rate``, ``replay_size`` (best molecules kept),
    ``replay_batch`` (of them relearned per update), ``rank_weight``, ``sigma`` (the score's weight
    in the augmented likelihood), ``lr``, ``init`` (the starting and prior weights: ``"pretrained"``,
    the shipped GCPN checkpoint, or a path), ``patience``.

    ``steps`` counts the env steps of the policy's episodes; one :meth:`update` is one round.
    """

    name = "genetic_gcpn"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        batch_size: int = 64,
        offspring: int = 64,
        mutation_rate: float = 0.067,
        replay_size: int = 128,
        replay_batch: int = 64,
        rank_weight: float = 0.01,
        sigma: float = 100.0,
        lr: float = 1e-4,
        init: str = "pretrained",
        patience: int = 20,
    ):
        if task.start_smiles is not None:
            raise ValueError(f"genetic_gcpn builds molecules from scratch; task {task.name!r} edits given molecules")
        super().__init__(
            task,
            seed,
            device,
            batch_size=batch_size,
            offspring=offspring,
            mutation_rate=mutation_rate,
            replay_size=replay_size,
            replay_batch=replay_batch,
            rank_weight=rank_weight,
            sigma=sigma,
            lr=lr,
            init=init,
            patience=patience,
        )
        self.patience = patience
        spec = task.edit_spec()
        self.vocab, self.layout = spec.vocab, spec.layout
        torch.manual_seed(seed)
        sizes = {"hidden": 128, "layers": 3, "rank": 32}
        self.prior = GCPNPolicy(
            len(self.vocab),
            self.layout.max_atoms,
            self.layout.num_bond_choices,
            max_free=int(self.vocab.max_valence.max()),
            **sizes,
        )
        load_weights(
            self.prior,
            PRETRAINED if init == "pretrained" else init,
            sizes,
            self.vocab.names,
            self.layout.max_atoms,
            device,
        )
        self.prior.to(device).requires_grad_(False)
        self.policy = copy.deepcopy(self.prior).requires_grad_(True)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)
        self.replay: list[tuple[str, float]] = []  # the best molecules scored, best first
        self._env = None  # the env the policy builds molecules in (unscored: the oracle scores them)

    # Learning ---------------------------------------------------------------------------------
    def update(self, oracle: Oracle) -> dict[str, float]:
        cfg = self.config
        made = self._build(cfg["batch_size"])
        self.steps += int(made.steps.sum())
        own = [(s, oracle(s)) for s in made.smiles]  # the budget may run out here
        children = offspring(self.replay, cfg["offspring"], cfg["mutation_rate"], self.rng) if self.replay else []
        bred = [(s, oracle(s)) for s in children]
        replayed = self._from_replay(cfg["replay_batch"])
        fresh = dict(own + bred)
        self.replay = sorted({**dict(self.replay), **fresh}.items(), key=lambda item: -item[1])[: cfg["replay_size"]]
        loss, fit, agent_ll = self._learn(list(fresh.items()) + replayed)
        scores = [v for _, v in own]
        return {
            "reward": float(np.mean(scores)),
            "offspring_reward": float(np.mean([v for _, v in bred])) if bred else float("nan"),
            "replay_best": self.replay[0][1],
            "unique": len(set(made.smiles)) / len(made.smiles),
            "loss": fit,
            "agent_likelihood": agent_ll,
        }

    def _from_replay(self, count: int) -> list[tuple[str, float]]:
        """``count`` molecules of the replay (fewer when it is smaller), drawn by rank."""
        if not self.replay or count < 1:
            return []
        ranks = np.arange(1, len(self.replay) + 1)
        weights = 1.0 / (self.config["rank_weight"] * len(self.replay) + ranks)
        picked = self.rng.choice(
            len(self.replay), size=min(count, len(self.replay)), replace=False, p=weights / weights.sum()
        )
        return [self.replay[i] for i in picked]

    def _learn(self, molecules: list[tuple[str, float]]) -> tuple[float, float, float]:
        """One step of the augmented-likelihood loss over the trajectories of ``molecules``."""
        graphs, scores = [], []
        with rdBase.BlockLogs():
            for smiles, score in molecules:
                try:
                    graphs.append(MolGraph.from_smiles(smiles, self.vocab, self.layout.max_atoms))
                except ValueError:  # not in the vocabulary, too large, ...: no trajectory of this env
                    continue
                scores.append(score)
        data = expert_data(graphs, self.layout, seed=int(self.rng.integers(2**31)))
        if len(data) == 0:
            return float("nan"), float("nan"), float("nan")
        kept = np.unique(data.molecule)  # molecules with a legal construction order
        score = torch.as_tensor(np.array(scores)[kept], dtype=torch.float32, device=self.device)
        owner = torch.as_tensor(np.searchsorted(kept, data.molecule), device=self.device)
        obs, mask, actions = expert_batch(data, np.arange(len(data)), self.layout, self.vocab, self.device)
        with torch.no_grad():
            prior_steps = self.prior.log_prob(obs, mask, actions)
        agent_steps = self.policy.log_prob(obs, mask, actions)
        prior_ll = torch.zeros(len(kept), device=self.device).index_add(0, owner, prior_steps)
        agent_ll = torch.zeros(len(kept), device=self.device).index_add(0, owner, agent_steps)
        loss, fit = augmented_likelihood_loss(agent_ll, prior_ll, score, self.config["sigma"])
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
        self.optimizer.step()
        return loss.item(), fit.item(), agent_ll.mean().item()

    # Molecules --------------------------------------------------------------------------------
    @torch.no_grad()
    def _build(self, n: int):
        """One episode of the policy in each of ``n`` rows of the task's env (unscored)."""
        if self._env is None or self._env.num_envs != n:
            self._env = self.task.make_vector_env(None, num_envs=n, reward=[])
        env = self._env

        def act(obs, rows: np.ndarray) -> np.ndarray:
            if len(rows) < env.num_envs:
                obs = {k: v[rows] for k, v in obs.items()}
            mask = torch.tensor(env.mask[rows], device=self.device)
            return self.policy.act(obs_tensors(obs, self.device), mask).cpu().numpy()

        return rollout(env, act, seed=int(self.rng.integers(2**31)))

    def propose(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            out += self._build(min(n - len(out), self.config["batch_size"])).smiles
        return out

    # Checkpoints ------------------------------------------------------------------------------
    def _save_state(self, path: Path) -> None:
        torch.save(
            {
                "policy": self.policy.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "replay": self.replay,
                "steps": self.steps,
                "updates": self.updates,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": self.rng.bit_generator.state,
            },
            path / "genetic_gcpn.pt",
        )

    def _load_state(self, path: Path) -> None:
        from molgym.agent import read_checkpoint

        state = read_checkpoint(path / "genetic_gcpn.pt", "genetic_gcpn", self.device)
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay = [(s, v) for s, v in state["replay"]]
        self.steps, self.updates = state["steps"], state["updates"]
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
