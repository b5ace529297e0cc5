"""GraphRNN as a policy (``graphrnn``): maximum-likelihood pretraining on BFS sequences of real
molecules, then REINFORCE with a baseline on the task's rewards.

Each node step becomes env actions: the first bond adds the new atom, the others close rings.
Types and bond classes are masked with the env's valence arithmetic (a type only if some atom in
the bandwidth can still bond; a bond class only if both atoms have that much free valence; "none"
is barred on the last slot that could connect a still unconnected node), so every sampled edit
is legal; the env checks them anyway, and its count of rejected edits is logged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from molgym.agent import UpdatingAgent, read_checkpoint
from molgym.oracle import Oracle
from molgym.tasks import Task
from molgym_agents.graphrnn.model import GraphRNN, make_sequences
from molgym_agents.replay import STOP, Episodes, check_one_atom_start, run_episodes

__all__ = ["GraphRNNAgent"]


class GraphRNNAgent(UpdatingAgent):
    """Config: ``bandwidth`` (M), ``hidden``, ``edge_hidden``, ``data`` / ``pretrain_molecules`` /
    ``pretrain_epochs`` (maximum likelihood before the first update; 0 epochs: none), ``batch_size``
    (molecules per policy-gradient update), ``lr``, ``entropy_coef``, ``baseline_decay``."""

    name = "graphrnn"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        bandwidth: int = 12,
        hidden: int = 128,
        edge_hidden: int = 64,
        data: str = "nci",
        pretrain_molecules: int = 2000,
        pretrain_epochs: int = 2,
        batch_size: int = 32,
        lr: float = 1e-3,
        pretrain_lr: float = 3e-3,
        entropy_coef: float = 0.0,
        baseline_decay: float = 0.9,
    ):
        super().__init__(
            task,
            seed,
            device,
            bandwidth=bandwidth,
            hidden=hidden,
            edge_hidden=edge_hidden,
            data=data,
            pretrain_molecules=pretrain_molecules,
            pretrain_epochs=pretrain_epochs,
            batch_size=batch_size,
            lr=lr,
            pretrain_lr=pretrain_lr,
            entropy_coef=entropy_coef,
            baseline_decay=baseline_decay,
        )
        spec = task.edit_spec()
        self.vocab, self.max_atoms = spec.vocab, spec.max_atoms
        self.root_type = check_one_atom_start(spec, self.name)
        self.max_valence = torch.as_tensor(self.vocab.max_valence, dtype=torch.long, device=device)
        torch.manual_seed(seed)
        self.model = GraphRNN(len(self.vocab), bandwidth, hidden, edge_hidden).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)
        self.pretrained = pretrain_epochs == 0
        self.baseline: float | None = None
        self.pretrain_losses: list[float] = []

    # pretraining ------------------------------------------------------------------------------
    def pretrain(self, progress: bool = False) -> list[float]:
        """Maximum likelihood on ``data`` in random-start BFS order; mean loss per epoch."""
        from molgym.data import encode_smiles, load_smiles

        cfg = self.config
        graphs = encode_smiles(
            load_smiles(cfg["data"], limit=cfg["pretrain_molecules"]), self.vocab, self.max_atoms
        ).graphs
        seqs = make_sequences(graphs, self.root_type, cfg["bandwidth"], self.max_atoms, self.rng)
        if len(seqs) == 0:
            raise ValueError(
                f"no molecule of {cfg['data']!r} fits the task's atom types, max_atoms and bandwidth "
                f"{cfg['bandwidth']} ({seqs.skipped} skipped)"
            )
        optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg["pretrain_lr"])
        as_tensor = lambda a: torch.as_tensor(a, device=self.device)  # noqa: E731
        losses = []
        for _ in tqdm(range(cfg["pretrain_epochs"]), desc="graphrnn pretraining", unit="epoch", disable=not progress):
            order, total = self.rng.permutation(len(seqs)), 0.0
            for start in range(0, len(order), 64):
                index = order[start : start + 64]
                length = int(seqs.lengths[index].max())
                loss = self.model.nll(
                    as_tensor(seqs.types[index, :length]),
                    as_tensor(seqs.edges[index, :length]),
                    as_tensor(seqs.lengths[index]),
                )
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                optimizer.step()
                total += loss.item() * len(index)
            losses.append(total / len(seqs))
        self.pretrained, self.pretrain_losses = True, losses
        return losses

    # policy gradient --------------------------------------------------------------------------
    def update(self, oracle: Oracle) -> dict[str, float]:
        if not self.pretrained:
            self.pretrain()
        cfg = self.config
        env = self.task.make_vector_env(oracle, num_envs=cfg["batch_size"])
        try:
            episodes, logp, entropy = self._sample(env, grad=True)
        finally:
            env.close()
        rewards = torch.as_tensor(episodes.last_rewards, dtype=torch.float32, device=self.device)
        mean = float(rewards.mean())
        baseline = mean if self.baseline is None else self.baseline
        advantage = rewards - baseline
        advantage = advantage / (rewards.std() + 1e-8) if len(rewards) > 1 else advantage
        loss = -(advantage * logp).mean() - cfg["entropy_coef"] * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.baseline = (
            mean
            if self.baseline is None
            else cfg["baseline_decay"] * self.baseline + (1 - cfg["baseline_decay"]) * mean
        )
        self.steps += cfg["batch_size"]
        return {
            "reward": mean,
            "best_batch": float(rewards.max()),
            "loss": loss.item(),
            "entropy": entropy.mean().item(),
            "rejected_edits": float(episodes.rejected),
            "unique": len(set(episodes.smiles)) / len(episodes.smiles),
        }

    def _sample(self, env, grad: bool) -> tuple[Episodes, torch.Tensor, torch.Tensor]:
        """One episode per row of ``env``: the episodes, each one's log-probability and entropy (summed over its choices)."""
        B, M, dev = env.num_envs, self.config["bandwidth"], self.device
        model = self.model
        state = {
            "h": torch.zeros(B, model.node_gru.hidden_size, device=dev),
            "prev_type": torch.full((B,), self.root_type, dtype=torch.long, device=dev),
            "prev_edges": torch.zeros(B, M, dtype=torch.long, device=dev),
            "logp": torch.zeros(B, device=dev),
            "entropy": torch.zeros(B, device=dev),
        }

        def next_actions(rows: np.ndarray) -> list[list[tuple[int, int, int, int]]]:
            with torch.set_grad_enabled(grad):
                return self._node_step(env, rows, state)

        episodes = run_episodes(env, next_actions, seed=int(self.rng.integers(2**31)))
        return episodes, state["logp"], state["entropy"]

    def _node_step(self, env, rows: np.ndarray, state: dict) -> list[list[tuple[int, int, int, int]]]:
        T, M, dev, model = len(self.vocab), self.config["bandwidth"], self.device, self.model
        r = torch.as_tensor(rows, device=dev)
        n = torch.as_tensor(env.num_atoms[rows], device=dev)  # the new node's index
        free = torch.as_tensor(env.free[rows].astype(np.int64), device=dev)  # (R, N)
        types_env = torch.as_tensor(env.types[rows].astype(np.int64), device=dev)
        slots = n[:, None] - 1 - torch.arange(M, device=dev)[None, :]  # (R, M) node of each slot, < 0: none
        exists = slots >= 0
        slot_free = torch.where(exists, free.gather(1, slots.clamp(min=0)), 0)
        slot_type = torch.where(exists, types_env.gather(1, slots.clamp(min=0)), T)

        h = model.node_step(state["h"][r], state["prev_type"][r], state["prev_edges"][r])
        type_mask = torch.ones(len(rows), T + 1, dtype=torch.bool, device=dev)
        can_grow = (slot_free > 0).any(dim=1) & (n < env.max_atoms)
        type_mask[:, :T] = can_grow[:, None]
        dist = torch.distributions.Categorical(logits=model.type_logits(h).masked_fill(~type_mask, float("-inf")))
        new_type = dist.sample()
        logp, entropy = dist.log_prob(new_type), dist.entropy()
        growing = new_type < T
        kind = new_type.clamp(max=T - 1)

        remaining = self.max_valence[kind].clone()
        connected = torch.zeros(len(rows), dtype=torch.bool, device=dev)
        last_slot = torch.where(slot_free > 0, torch.arange(M, device=dev)[None, :], -1).max(dim=1).values
        g = model.edge_start(h, kind)
        prev = torch.zeros(len(rows), dtype=torch.long, device=dev)
        classes = torch.zeros(len(rows), M, dtype=torch.long, device=dev)
        bond_order = torch.arange(4, device=dev)[None, :]
        for k in range(M):
            logits, g = model.edge_step(g, prev, slot_type[:, k])
            allowed = (bond_order <= slot_free[:, k : k + 1]) & (bond_order <= remaining[:, None])
            allowed[:, 0] = ~((k == last_slot) & ~connected)  # the last chance to connect must bond
            active = growing & exists[:, k]
            allowed = torch.where(active[:, None], allowed, bond_order == 0)
            edge = torch.distributions.Categorical(logits=logits.masked_fill(~allowed, float("-inf")))
            cls = edge.sample()
            logp = logp + torch.where(active, edge.log_prob(cls), 0.0)
            entropy = entropy + torch.where(active, edge.entropy(), 0.0)
            remaining = remaining - cls
            connected = connected | (cls > 0)
            classes[:, k] = cls
            prev = cls

        state["h"] = state["h"].index_copy(0, r, h)
        state["prev_type"] = state["prev_type"].index_copy(0, r, kind.detach())
        state["prev_edges"] = state["prev_edges"].index_copy(0, r, classes)
        state["logp"] = state["logp"].index_add(0, r, logp)
        state["entropy"] = state["entropy"].index_add(0, r, entropy)

        out = []
        for row in range(len(rows)):
            if not bool(growing[row]):
                out.append([STOP])
                continue
            new, t = int(n[row]), int(kind[row])
            links = [(int(slots[row, k]), int(classes[row, k])) for k in range(M) if int(classes[row, k]) > 0]
            (j, b), rest = links[0], links[1:]
            out.append([(j, new + t, b - 1, 0)] + [(new, jj, bb - 1, 0) for jj, bb in rest])
        return out

    @torch.no_grad()
    def propose(self, n: int) -> list[str]:
        if not self.pretrained:
            self.pretrain()
        out: list[str] = []
        while len(out) < n:
            env = self.task.make_vector_env(None, num_envs=min(n - len(out), self.config["batch_size"]), reward=[])
            out.extend(self._sample(env, grad=False)[0].smiles)
            env.close()
        return out

    # checkpoints ------------------------------------------------------------------------------
    def _save_state(self, path: Path) -> None:
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "pretrained": self.pretrained,
                "baseline": self.baseline,
                "steps": self.steps,
                "updates": self.updates,
                "vocab": self.vocab.names,
                "max_atoms": self.max_atoms,
                "pretrain_losses": self.pretrain_losses,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": self.rng.bit_generator.state,
            },
            path / "graphrnn.pt",
        )

    def _load_state(self, path: Path) -> None:
        file = path / "graphrnn.pt"
        state = read_checkpoint(file, "GraphRNN", self.device)
        if state["vocab"] != self.vocab.names or state["max_atoms"] != self.max_atoms:
            raise ValueError(
                f"checkpoint {file} is for atom types {state['vocab']} and max_atoms {state['max_atoms']}; "
                f"this task uses {self.vocab.names} and {self.max_atoms}"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.pretrained, self.baseline, self.pretrain_losses = (
            state["pretrained"],
            state["baseline"],
            state["pretrain_losses"],
        )
        self.steps, self.updates = state["steps"], state["updates"]
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
