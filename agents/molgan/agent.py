"""MolGAN as an agent (``molgan``): WGAN-GP generator of whole graphs with a learned reward network.

One update: score a batch of generated graphs by building each through the env (the oracle
pays, as for every agent); fit the reward network to the scores of real and generated molecules;
``n_critic`` critic steps (WGAN with gradient penalty, real molecules against generated graphs);
one generator step on ``lambda_wgan * L_WGAN + (1 - lambda_wgan) * L_RL``, ``L_RL = -R(G(z))``
rescaled to ``L_WGAN``'s magnitude as in the original.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import torch

from molgym.agent import UpdatingAgent, read_checkpoint
from molgym.oracle import Oracle
from molgym.tasks import Task
from molgym_agents.molgan.model import Generator, GraphCritic, hard_graphs, one_hot_graphs
from molgym_agents.replay import STOP, check_one_atom_start, run_episodes

__all__ = ["MolGANAgent", "GraphPlan"]


_START = -1  # the env's start atom, when the graph has no atom of its type


class GraphPlan:
    """Env actions that build a generated graph: a breadth-first walk over its bonds from an atom
    of the env's start atom's type (a carbon), one action per bond; a graph with no such atom is
    attached to the start atom by a single bond. ``next(num_atoms)`` is the env's current atom
    count, which tells whether the previous new atom was accepted (a rejected one stays unplaced
    and may be reached again by another bond)."""

    def __init__(self, types: np.ndarray, bonds: np.ndarray, root_type: int):
        present = np.flatnonzero(types >= 0)
        self.types, self.bonds = types, bonds
        roots = [i for i in present.tolist() if types[i] == root_type]
        self.index: dict[int, int] = {}
        self.queue: deque[int] = deque()
        self.edges: deque[tuple[int, int]] = deque()
        self.seen: set[tuple[int, int]] = set()
        self.pending: int | None = None
        self.count = 1
        if roots:
            self._place(roots[0], 0)
        elif present.size:  # no atom of the start's type: the start atom bonds to the graph's first atom
            self.index[_START] = 0
            self.edges.append((_START, int(present[0])))

    def _place(self, atom: int, env_index: int) -> None:
        self.index[atom] = env_index
        for v in np.flatnonzero(self.bonds[atom]).tolist():
            key = (min(atom, v), max(atom, v))
            if self.types[v] >= 0 and key not in self.seen:
                self.seen.add(key)
                self.edges.append((atom, v))

    def next(self, num_atoms: int) -> tuple[int, int, int, int]:
        if self.pending is not None and num_atoms > self.count:
            self._place(self.pending, num_atoms - 1)
        self.pending, self.count = None, num_atoms
        while self.edges:
            u, v = self.edges.popleft()
            bond = 0 if u == _START else int(self.bonds[u, v]) - 1
            if v in self.index:
                return (self.index[u], self.index[v], bond, 0)
            self.pending = v
            return (self.index[u], num_atoms + int(self.types[v]), bond, 0)
        return STOP


class MolGANAgent(UpdatingAgent):
    """Config: ``max_atoms`` (generated graph size; 9 as on QM9), ``data`` (real molecules:
    ``"nci"``, ``"moses"`` or a file; those that fit are kept), ``real_scored`` (real molecules
    scored through the oracle to train the reward network; they count), ``batch_size``,
    ``z_dim``, ``lr``, ``n_critic``, ``gp_weight``, ``lambda_wgan`` (weight of the GAN term; 0, pure
    RL, by default: in ``tests/agents/test_molgan.py``'s tiny setting 0 learns the reward in all seeds
    tried while 0.5 collapsed in two of three), ``tau`` (Gumbel temperature)."""

    name = "molgan"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        max_atoms: int = 9,
        data: str = "nci",
        real_scored: int = 64,
        batch_size: int = 32,
        z_dim: int = 32,
        lr: float = 1e-3,
        n_critic: int = 5,
        gp_weight: float = 10.0,
        lambda_wgan: float = 0.0,
        tau: float = 1.0,
        limit: int = 20000,
    ):
        super().__init__(
            task,
            seed,
            device,
            max_atoms=max_atoms,
            data=data,
            real_scored=real_scored,
            batch_size=batch_size,
            z_dim=z_dim,
            lr=lr,
            n_critic=n_critic,
            gp_weight=gp_weight,
            lambda_wgan=lambda_wgan,
            tau=tau,
            limit=limit,
        )
        if not 0.0 <= lambda_wgan <= 1.0:
            raise ValueError(f"lambda_wgan must be in [0, 1], got {lambda_wgan}")
        spec = task.edit_spec()
        self.vocab, self.root_type = spec.vocab, check_one_atom_start(spec, self.name)
        if max_atoms > spec.max_atoms:
            raise ValueError(f"max_atoms {max_atoms} is larger than the task's env ({spec.max_atoms})")
        from molgym.data import encode_smiles, load_smiles

        real = encode_smiles(load_smiles(data, limit=limit), self.vocab, max_atoms)
        if not real.graphs:
            raise ValueError(f"no molecule of {data!r} has at most {max_atoms} atoms of the task's types")
        self.real_smiles = real.smiles
        self.real_types = np.stack([g.atom_types for g in real.graphs])
        self.real_bonds = np.stack([g.bonds for g in real.graphs])
        torch.manual_seed(seed)
        T = len(self.vocab)
        self.generator = Generator(z_dim, max_atoms, T).to(device)
        self.critic = GraphCritic(T).to(device)
        self.reward_net = GraphCritic(T, sigmoid=True).to(device)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_r = torch.optim.Adam(self.reward_net.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)
        # molecules with known scores (real ones once scored, generated ones as built): the reward net's data
        self.scored_types = np.zeros((0, max_atoms), dtype=np.int8)
        self.scored_bonds = np.zeros((0, max_atoms, max_atoms), dtype=np.int8)
        self.scores = np.zeros(0)
        self.real_done = False
        self._env = None

    # training ---------------------------------------------------------------------------------
    def update(self, oracle: Oracle) -> dict[str, float]:
        cfg = self.config
        if not self.real_done:
            self._score_real(oracle)
        with torch.no_grad():
            adjacency, nodes = self.generator.sample(self._z(cfg["batch_size"]), hard=True, tau=cfg["tau"])
        generated = hard_graphs(adjacency, nodes)
        episodes = self.build(*generated, oracle)
        # the reward network learns the score of what the generator emits (as MolGAN does): a graph
        # the env cannot build as drawn scores what the env made of it
        self._remember(*generated, episodes.last_rewards)
        self.steps += cfg["batch_size"]
        reward_loss = self._fit_reward_net()
        critic_loss = np.mean([self._critic_step() for _ in range(cfg["n_critic"])])
        wgan, rl = self._generator_step()
        valid = np.mean([s is not None and s != self.vocab.names[self.root_type] for s in episodes.smiles])
        return {
            "reward": float(episodes.last_rewards.mean()),
            "best_batch": float(episodes.last_rewards.max()),
            "unique": len(set(episodes.smiles)) / len(episodes.smiles),
            "rejected_edits": float(episodes.rejected),
            "non_trivial": float(valid),
            "critic_loss": float(critic_loss),
            "reward_loss": reward_loss,
            "generator_wgan": wgan,
            "generator_rl": rl,
        }

    def build(self, types: np.ndarray, bonds: np.ndarray, oracle: Oracle | None):
        """Build generated graphs through the task's env (scored by ``oracle``; unscored with ``None``)."""
        env = self.task.make_vector_env(oracle, num_envs=len(types), **({} if oracle is not None else {"reward": []}))
        plans = [GraphPlan(t, b, self.root_type) for t, b in zip(types, bonds, strict=True)]
        try:
            return run_episodes(
                env,
                lambda rows: [[plans[i].next(int(env.num_atoms[i]))] for i in rows.tolist()],
                seed=int(self.rng.integers(2**31)),
            )
        finally:
            env.close()

    def _score_real(self, oracle: Oracle) -> None:
        """Score ``real_scored`` real molecules with the oracle (paid calls) for the reward network."""
        k = min(self.config["real_scored"], len(self.real_smiles))
        pick = self.rng.choice(len(self.real_smiles), size=k, replace=False)
        scores = []
        for i in pick.tolist():
            scores.append(oracle(self.real_smiles[i]))
        self._remember(self.real_types[pick], self.real_bonds[pick], np.array(scores))
        self.real_done = True

    def _remember(self, types, bonds, scores) -> None:
        self.scored_types = np.concatenate([self.scored_types, types])
        self.scored_bonds = np.concatenate([self.scored_bonds, bonds])
        self.scores = np.concatenate([self.scores, scores])

    def _z(self, n: int) -> torch.Tensor:
        return torch.as_tensor(
            self.rng.standard_normal((n, self.config["z_dim"])), dtype=torch.float32, device=self.device
        )

    def _targets(self, scores: np.ndarray) -> np.ndarray:
        """Scores mapped to [0, 1] with the range seen so far (the reward net ends in a sigmoid)."""
        low, high = self.scores.min(), self.scores.max()
        return (scores - low) / (high - low) if high > low else np.full_like(scores, 0.5)

    def _fit_reward_net(self) -> float:
        index = self.rng.integers(len(self.scores), size=min(len(self.scores), 2 * self.config["batch_size"]))
        adjacency, nodes = one_hot_graphs(
            self.scored_types[index], self.scored_bonds[index], len(self.vocab), device=self.device
        )
        target = torch.as_tensor(self._targets(self.scores[index]), dtype=torch.float32, device=self.device)
        loss = (self.reward_net(adjacency, nodes) - target).pow(2).mean()
        self.opt_r.zero_grad()
        loss.backward()
        self.opt_r.step()
        return loss.item()

    def _critic_step(self) -> float:
        cfg = self.config
        index = self.rng.integers(len(self.real_types), size=cfg["batch_size"])
        real_a, real_n = one_hot_graphs(
            self.real_types[index], self.real_bonds[index], len(self.vocab), device=self.device
        )
        with torch.no_grad():
            fake_a, fake_n = self.generator.sample(self._z(cfg["batch_size"]), tau=cfg["tau"])
        eps = torch.as_tensor(self.rng.random(cfg["batch_size"]), dtype=torch.float32, device=self.device)
        mix_a = (eps[:, None, None, None] * real_a + (1 - eps[:, None, None, None]) * fake_a).requires_grad_(True)
        mix_n = (eps[:, None, None] * real_n + (1 - eps[:, None, None]) * fake_n).requires_grad_(True)
        grads = torch.autograd.grad(self.critic(mix_a, mix_n).sum(), [mix_a, mix_n], create_graph=True)
        norm = torch.cat([g.flatten(1) for g in grads], dim=1).norm(dim=1)
        loss = (
            self.critic(fake_a, fake_n).mean()
            - self.critic(real_a, real_n).mean()
            + cfg["gp_weight"] * (norm - 1).pow(2).mean()
        )
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        return loss.item()

    def _generator_step(self) -> tuple[float, float]:
        cfg = self.config
        adjacency, nodes = self.generator.sample(self._z(cfg["batch_size"]), hard=True, tau=cfg["tau"])
        wgan = -self.critic(adjacency, nodes).mean()
        rl = -self.reward_net(adjacency, nodes).mean()
        scale = wgan.detach().abs() / rl.detach().abs().clamp(min=1e-8)  # the RL term at the GAN term's magnitude
        loss = cfg["lambda_wgan"] * wgan + (1 - cfg["lambda_wgan"]) * scale * rl
        self.opt_g.zero_grad()
        loss.backward()
        self.opt_g.step()
        return wgan.item(), rl.item()

    # use --------------------------------------------------------------------------------------
    @torch.no_grad()
    def propose(self, n: int) -> list[str]:
        adjacency, nodes = self.generator.sample(self._z(n), hard=True, tau=self.config["tau"])
        return self.build(*hard_graphs(adjacency, nodes), None).smiles

    def reward_term(self, name: str = "molgan_reward"):
        """The trained reward network as a reward term (a cheap learned surrogate of the task's score,
        in the units of the scores seen in training)."""
        from molgym.rewards import Surrogate

        low, high = (float(self.scores.min()), float(self.scores.max())) if len(self.scores) else (0.0, 1.0)
        return Surrogate(RewardNetScorer(self.reward_net, len(self.vocab), self.device, low, high), name=name)

    # checkpoints ------------------------------------------------------------------------------
    def _save_state(self, path: Path) -> None:
        torch.save(
            {
                "generator": self.generator.state_dict(),
                "critic": self.critic.state_dict(),
                "reward_net": self.reward_net.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                "opt_r": self.opt_r.state_dict(),
                "scored": (self.scored_types, self.scored_bonds, self.scores),
                "real_done": self.real_done,
                "steps": self.steps,
                "updates": self.updates,
                "vocab": self.vocab.names,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": self.rng.bit_generator.state,
            },
            path / "molgan.pt",
        )

    def _load_state(self, path: Path) -> None:
        file = path / "molgan.pt"
        state = read_checkpoint(file, "MolGAN", self.device)
        if state["vocab"] != self.vocab.names:
            raise ValueError(f"checkpoint {file} is for atom types {state['vocab']}; this task uses {self.vocab.names}")
        for key, module in (
            ("generator", self.generator),
            ("critic", self.critic),
            ("reward_net", self.reward_net),
            ("opt_g", self.opt_g),
            ("opt_d", self.opt_d),
            ("opt_r", self.opt_r),
        ):
            module.load_state_dict(state[key])
        self.scored_types, self.scored_bonds, self.scores = state["scored"]
        self.real_done, self.steps, self.updates = state["real_done"], state["steps"], state["updates"]
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]


class RewardNetScorer:
    """A reward network as a graph scorer: env graphs in, scores in the task's units out."""

    def __init__(self, net: GraphCritic, num_types: int, device: str, low: float, high: float):
        self.net, self.num_types, self.device, self.low, self.high = net, num_types, device, low, high

    @torch.no_grad()
    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        adjacency, nodes = one_hot_graphs(batch["atom_types"], batch["bonds"], self.num_types, device=self.device)
        return self.low + (self.high - self.low) * self.net(adjacency, nodes).double().cpu().numpy()
