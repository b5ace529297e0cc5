"""Genetic GCPN (``genetic_gcpn``): GCPN's graph-editing policy tuned off-policy towards its prior
reweighted by the score (by trajectory balance, or REINVENT's augmented likelihood), with a
rank-based replay of its best molecules, a local search in which the policy rebuilds parts of them,
and a genetic search over them.

The policy is GCPN's (:class:`~molgym_agents.gcpn.policy.GCPNPolicy`, from the shipped pretrained
weights, which also stay as the frozen prior). Each update:

1. the policy builds ``batch_size`` molecules from one carbon in the task's editing env (one
   episode each, :func:`molgym.rollout.rollout`), and the oracle scores them;
2. local search: ``local_search`` molecules are drawn from the replay by rank, each is cut back to
   a connected part of itself (its trajectory's first 40-90% of steps), and the policy builds on
   from there (the trajectory-level local search of Kim et al., ICLR 2024, with GCPN's edits);
   the oracle scores the results;
3. ``offspring`` children are bred from the replay (Graph GA's crossover and mutations,
   :func:`molgym_agents.graph_ga.operators.offspring`), their parents drawn in proportion to their
   scores (``selection="score"``, Graph GA's) or to the replay's rank weights (``"rank"``), and
   scored;
4. the replay keeps the ``replay_size`` best molecules scored so far;
5. the molecules of all three (``learn_new="all"``; ``"kept"``: only those that entered the
   replay), and ``replay_batch`` molecules drawn from the replay as it was by rank (weight
   ``1 / (rank_weight * R + rank)``), are turned into env trajectories
   (:mod:`molgym.chem.construction`: a random legal order of edits that rebuilds each one from a
   carbon, made once per molecule and kept with its prior log-likelihood while the molecule is in
   the replay), and the policy takes one Adam step per ``learn_batch`` of them on one of two losses
   (``loss``), both towards the distribution ``P_prior(x) exp(sigma S(x))`` (the best one of reward
   ``sigma S`` with a KL penalty to the prior):

   - ``"trajectory_balance"`` (the default), a GFlowNet's (Malkin et al., 2022) with the prior
     inside the reward, as Genetic GFN's KL-regularised one, with a learned normaliser ``log Z``::

         loss = mean_x (log Z + log P_agent(x) - log P_prior(x) - sigma * S(x))^2

     The one construction order per molecule stands for all of them (backward probability 1, as
     for a sequence); ``log Z`` starts at the first batch's mean gap and learns at ``LOG_Z_LR``.
   - ``"augmented_likelihood"``, REINVENT's: the same without ``log Z``::

         loss = mean_x (log P_prior(x) + sigma * S(x) - log P_agent(x))^2

   where ``log P(x)`` is the log-probability of ``x``'s trajectory, a sum over its steps.

The first update seeds the replay: the policy builds ``batch_size + local_search + offspring``
molecules, or only ``batch_size`` with the rest drawn at random from ``data`` (a dataset's name or a
SMILES file, :func:`molgym.data.load_smiles`, as Graph GA starts).

So the policy learns from molecules it did not make (the offspring, the replay) as well as its own,
while the prior term keeps it from collapsing onto a few molecules. Tasks that start from given
molecules (constrained optimisation) are not supported yet.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rdkit import rdBase

from molgym.agent import UpdatingAgent
from molgym.chem import MolGraph
from molgym.oracle import BudgetExhausted, Oracle
from molgym.rollout import rollout
from molgym.tasks import Task
from molgym_agents.gcpn.agent import PRETRAINED, load_weights
from molgym_agents.gcpn.expert import ExpertData, expert_batch, expert_data
from molgym_agents.gcpn.policy import GCPNPolicy
from molgym_agents.gcpn.ppo import obs_tensors
from molgym_agents.graph_ga.agent import sample_molecules
from molgym_agents.graph_ga.operators import offspring
from molgym_agents.reinvent.agent import augmented_likelihood_loss

__all__ = ["GeneticGCPNAgent"]

LOSSES = ("trajectory_balance", "augmented_likelihood")
LEARN_NEW = ("all", "kept")  # which of an update's new molecules the policy learns from
SELECTIONS = ("score", "rank")  # how offspring's parents are drawn from the replay
LOG_Z_LR = 0.1  # Adam's step for log Z under trajectory balance (the policy's is ``lr``)


class GeneticGCPNAgent(UpdatingAgent):
    """Config: ``batch_size`` (molecules the policy builds from scratch per update), ``offspring``
    (children bred from the replay per update), ``mutation_rate``, ``replay_size`` (best molecules
    kept), ``replay_batch`` (of them relearned per update), ``learn_new`` (which of an update's
    new molecules the policy learns from: ``"all"``, or ``"kept"``, those that enter the replay),
    ``rank_weight``, ``sigma`` (the score's weight in the target), ``loss``
    (``"trajectory_balance"`` or ``"augmented_likelihood"``), ``lr``, ``learn_batch`` (molecules
    per gradient step), ``local_search`` (replay molecules the policy rebuilds in part per update),
    ``init`` (the starting and prior weights: ``"pretrained"``, the shipped GCPN checkpoint, or a path),
    ``data`` (where the first update's searches' share is drawn from; ``None``: the policy builds
    it), ``selection`` (how offspring's parents are drawn: ``"score"`` or ``"rank"``), ``patience``.

    ``steps`` counts the env steps of the policy's episodes; one :meth:`update` is one round.
    """

    name = "genetic_gcpn"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        batch_size: int = 16,
        offspring: int = 64,
        mutation_rate: float = 0.067,
        replay_size: int = 128,
        replay_batch: int = 64,
        learn_new: str = "all",
        rank_weight: float = 0.01,
        sigma: float = 100.0,
        loss: str = "trajectory_balance",
        lr: float = 5e-4,
        learn_batch: int = 32,
        local_search: int = 48,
        init: str = "pretrained",
        data: str | None = "moses",
        selection: str = "rank",
        patience: int = 20,
    ):
        if task.start_smiles is not None:
            raise ValueError(f"genetic_gcpn builds molecules from scratch; task {task.name!r} edits given molecules")
        if loss not in LOSSES:
            raise ValueError(f"genetic_gcpn: unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        if learn_new not in LEARN_NEW:
            raise ValueError(f"genetic_gcpn: unknown learn_new {learn_new!r}; choose one of {', '.join(LEARN_NEW)}")
        if selection not in SELECTIONS:
            raise ValueError(f"genetic_gcpn: unknown selection {selection!r}; choose one of {', '.join(SELECTIONS)}")
        super().__init__(
            task,
            seed,
            device,
            batch_size=batch_size,
            offspring=offspring,
            mutation_rate=mutation_rate,
            replay_size=replay_size,
            replay_batch=replay_batch,
            learn_new=learn_new,
            rank_weight=rank_weight,
            sigma=sigma,
            loss=loss,
            lr=lr,
            learn_batch=learn_batch,
            local_search=local_search,
            init=init,
            data=data,
            selection=selection,
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
        self.log_z = None  # trajectory balance's normaliser, set from the first batch
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)
        self.replay: list[tuple[str, float]] = []  # the best molecules scored, best first
        self._trajectories: dict[str, _Trajectory] = {}  # of the replay's molecules
        self._env = None  # the env the policy builds molecules in (unscored: the oracle scores them)

    # Learning ---------------------------------------------------------------------------------
    def update(self, oracle: Oracle) -> dict[str, float]:
        cfg = self.config
        # the first update makes a whole update's worth of molecules, the replay the searches start
        # from: all built by the policy, or the searches' share drawn from ``data``
        searches = cfg["local_search"] + cfg["offspring"]
        drawn = sample_molecules(cfg["data"], searches, self.rng) if not self.replay and cfg["data"] else []
        made = self._build(cfg["batch_size"] if self.replay or drawn else cfg["batch_size"] + searches)
        self.steps += int(made.steps.sum())
        fresh: dict[str, float] = {}  # this update's molecules and their scores

        def score(smiles: list[str]) -> list[tuple[str, float]]:
            for s in smiles:
                fresh[s] = oracle(s)
            return [(s, fresh[s]) for s in smiles]

        try:
            own = score(made.smiles)
            bred = score(drawn)
            parents = [m for m, _ in self._from_replay(cfg["local_search"]) if m in self._trajectories]
            completed = self._complete(parents) if parents else None
            if completed is not None:
                self.steps += int(completed.steps.sum())
            searched = score(completed.smiles) if completed is not None else []
            children = (
                offspring(self._parents(), cfg["offspring"], cfg["mutation_rate"], self.rng) if self.replay else []
            )
            bred += score(children)
            replayed = self._from_replay(cfg["replay_batch"])  # from the replay as it was
        except BudgetExhausted:  # what was scored before the budget ran out still enters the replay
            self._keep(fresh)
            self._prune()
            raise
        self._keep(fresh)
        kept = dict(self.replay)
        learned = [(s, v) for s, v in fresh.items() if cfg["learn_new"] == "all" or s in kept]
        fit, agent_ll = self._learn(learned + replayed)
        self._prune()
        scores = [v for _, v in own]
        return {
            "reward": float(np.mean(scores)),
            "search_reward": float(np.mean([v for _, v in searched])) if searched else float("nan"),
            "offspring_reward": float(np.mean([v for _, v in bred])) if bred else float("nan"),
            "replay_best": self.replay[0][1],
            "unique": len(set(made.smiles)) / len(made.smiles),
            "loss": fit,
            "agent_likelihood": agent_ll,
        }

    def _keep(self, scored: dict[str, float]) -> None:
        """The replay becomes the ``replay_size`` best of itself and ``scored``."""
        merged = {**dict(self.replay), **scored}
        self.replay = sorted(merged.items(), key=lambda item: -item[1])[: self.config["replay_size"]]

    def _prune(self) -> None:
        """Drop the trajectories of molecules no longer in the replay."""
        kept = dict(self.replay)
        self._trajectories = {s: t for s, t in self._trajectories.items() if s in kept}

    def _rank_weights(self) -> np.ndarray:
        """``(len(replay),)`` weights ``1 / (rank_weight * R + rank)`` of the replay's molecules, best first."""
        return 1.0 / (self.config["rank_weight"] * len(self.replay) + np.arange(1, len(self.replay) + 1))

    def _parents(self) -> list[tuple[str, float]]:
        """The replay with the weights offspring draws parents by: the scores, or the rank weights."""
        if self.config["selection"] == "score":
            return self.replay
        return [(s, w) for (s, _), w in zip(self.replay, self._rank_weights())]

    def _from_replay(self, count: int) -> list[tuple[str, float]]:
        """``count`` molecules of the replay (fewer when it is smaller), drawn by rank."""
        if not self.replay or count < 1:
            return []
        weights = self._rank_weights()
        picked = self.rng.choice(
            len(self.replay), size=min(count, len(self.replay)), replace=False, p=weights / weights.sum()
        )
        return [self.replay[i] for i in picked]

    def _learn(self, molecules: list[tuple[str, float]]) -> tuple[float, float]:
        """Minibatch steps (``learn_batch`` molecules each) of the augmented-likelihood loss over the
        trajectories of ``molecules``; returns the mean fit (the loss's first term) and the mean
        agent log-likelihood over the steps."""
        self._add_trajectories([smiles for smiles, _ in molecules])
        known = [(smiles, score) for smiles, score in molecules if smiles in self._trajectories]
        if not known:
            return float("nan"), float("nan")
        fits, lls = [], []
        size = self.config["learn_batch"]
        for chunk in np.array_split(self.rng.permutation(len(known)), -(-len(known) // size)):
            trajectories = [self._trajectories[known[i][0]] for i in chunk]
            score = torch.tensor([known[i][1] for i in chunk], dtype=torch.float32, device=self.device)
            prior_ll = torch.tensor([t.prior_ll for t in trajectories], dtype=torch.float32, device=self.device)
            agent_ll = self._log_likelihood(self.policy, [t.data for t in trajectories])
            if self.config["loss"] == "augmented_likelihood":
                loss, fit = augmented_likelihood_loss(agent_ll, prior_ll, score, self.config["sigma"])
            else:
                loss = fit = self._trajectory_balance(agent_ll, prior_ll, score)
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
            self.optimizer.step()
            fits.append(fit.item())
            lls.append(agent_ll.mean().item())
        return float(np.mean(fits)), float(np.mean(lls))

    def _trajectory_balance(self, agent_ll: torch.Tensor, prior_ll: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        """The trajectory-balance loss of a batch ``(B,)`` (the formula above); the first call makes
        ``log Z``, at the batch's mean gap, and gives it to the optimizer."""
        target = prior_ll + self.config["sigma"] * score
        if self.log_z is None:
            start = (target - agent_ll).mean().detach()
            self.log_z = torch.nn.Parameter(start.reshape(()))
            self.optimizer.add_param_group({"params": [self.log_z], "lr": LOG_Z_LR})
        return (self.log_z + agent_ll - target).pow(2).mean()

    def _add_trajectories(self, smiles: list[str]) -> None:
        """Make the env trajectory of each new molecule of ``smiles`` (a random legal construction
        order, :mod:`molgym.chem.construction`) and its prior log-likelihood, once: they are kept
        while the molecule stays in the replay. Molecules the env cannot build (outside the
        vocabulary, too large, no legal order) get none."""
        graphs, names = [], []
        with rdBase.BlockLogs():
            for s in dict.fromkeys(smiles):
                if s in self._trajectories:
                    continue
                try:
                    graphs.append(MolGraph.from_smiles(s, self.vocab, self.layout.max_atoms))
                except ValueError:
                    continue
                names.append(s)
        if not graphs:
            return
        data = expert_data(graphs, self.layout, seed=int(self.rng.integers(2**31)))
        built = [_select(data, data.molecule == m) for m in range(len(graphs))]
        made = [(name, d) for name, d in zip(names, built) if len(d)]
        size = self.config["learn_batch"]
        with torch.no_grad():
            for start in range(0, len(made), size):
                part = made[start : start + size]
                prior_ll = self._log_likelihood(self.prior, [d for _, d in part]).tolist()
                for (name, d), ll in zip(part, prior_ll):
                    self._trajectories[name] = _Trajectory(d, ll)

    def _log_likelihood(self, policy: GCPNPolicy, trajectories: list[ExpertData]) -> torch.Tensor:
        """``(len(trajectories),)`` log-probabilities of whole trajectories under ``policy``: the
        sums of their steps' log-probabilities."""
        data = _concatenate(trajectories)
        obs, mask, actions = expert_batch(data, np.arange(len(data)), self.layout, self.vocab, self.device)
        steps = policy.log_prob(obs, mask, actions)
        owner = torch.as_tensor(data.molecule, device=self.device)
        return torch.zeros(len(trajectories), device=self.device).index_add(0, owner, steps)

    # Molecules --------------------------------------------------------------------------------
    @torch.no_grad()
    def _build(self, n: int):
        """One episode of the policy in each of ``n`` rows of the task's env (unscored)."""
        if self._env is None or self._env.num_envs != n:
            self._env = self.task.make_vector_env(None, num_envs=n, reward=[])
        return self._play(self._env)

    @torch.no_grad()
    def _complete(self, parents: list[str]):
        """The policy's completions of partial molecules: each parent's trajectory is cut after a
        share of its steps drawn from ``U(0.4, 0.9)`` (a connected part of the molecule, in the
        order the policy learned to build in), and the policy builds on from there, free to stop at
        once (``min_steps=0``)."""
        partial = []
        for smiles in parents:
            data = self._trajectories[smiles].data
            k = int(self.rng.integers(max(1, int(0.4 * len(data))), max(2, int(0.9 * len(data)) + 1)))
            k = min(k, len(data) - 1)
            graph = MolGraph(data.types[k].copy(), data.bonds[k].copy(), int(data.num_atoms[k]), self.vocab)
            partial.append(graph.smiles())
        env = self.task.make_vector_env(None, num_envs=len(partial), reward=[], start_smiles=partial, min_steps=0)
        try:
            return self._play(env, {"start_index": np.arange(len(partial))})
        finally:
            env.close()

    def _play(self, env, options=None):
        """One episode of the policy in every row of ``env``."""

        def act(obs, rows: np.ndarray) -> np.ndarray:
            if len(rows) < env.num_envs:
                obs = {k: v[rows] for k, v in obs.items()}
            mask = torch.tensor(env.mask[rows], device=self.device)
            return self.policy.act(obs_tensors(obs, self.device), mask).cpu().numpy()

        return rollout(env, act, seed=int(self.rng.integers(2**31)), options=options)

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
                "log_z": None if self.log_z is None else self.log_z.item(),
                "optimizer": self.optimizer.state_dict(),
                "replay": self.replay,
                "trajectories": {
                    smiles: (t.data.types, t.data.bonds, t.data.num_atoms, t.data.actions, t.prior_ll)
                    for smiles, t in self._trajectories.items()
                },
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
        if state.get("log_z") is not None:  # the optimizer's state holds its group
            self.log_z = torch.nn.Parameter(torch.tensor(state["log_z"], device=self.device))
            self.optimizer.add_param_group({"params": [self.log_z], "lr": LOG_Z_LR})
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay = [(s, v) for s, v in state["replay"]]
        self._trajectories = {
            smiles: _Trajectory(ExpertData(types, bonds, n, actions, np.zeros(len(actions), dtype=np.int64)), ll)
            for smiles, (types, bonds, n, actions, ll) in state["trajectories"].items()
        }
        self.steps, self.updates = state["steps"], state["updates"]
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]


@dataclass
class _Trajectory:
    """One molecule's env trajectory (its (state, action) pairs) and its prior log-likelihood."""

    data: ExpertData
    prior_ll: float


def _select(data: ExpertData, rows: np.ndarray) -> ExpertData:
    """The pairs ``rows`` (a boolean or index array) of ``data``."""
    return ExpertData(data.types[rows], data.bonds[rows], data.num_atoms[rows], data.actions[rows], data.molecule[rows])


def _concatenate(parts: list[ExpertData]) -> ExpertData:
    """One :class:`ExpertData` of ``parts``, its ``molecule`` the index of each pair's part."""
    return ExpertData(
        np.concatenate([p.types for p in parts]),
        np.concatenate([p.bonds for p in parts]),
        np.concatenate([p.num_atoms for p in parts]),
        np.concatenate([p.actions for p in parts]),
        np.repeat(np.arange(len(parts)), [len(p) for p in parts]),
    )
