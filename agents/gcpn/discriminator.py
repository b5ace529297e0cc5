"""GCPN's adversarial reward: a GCN discriminator trained online, real molecules against generated ones.

:class:`OnlineDiscriminator` is the scorer of :class:`molgym.rewards.Adversarial`: called on a
batch of graphs it returns the probability that each is a real molecule. After every PPO update
the agent hands it the molecules its episodes finished with, and it takes gradient steps on the
binary cross-entropy of real (a dataset) against those generated molecules.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from molgym.chem import MolGraph
from molgym_agents.gcpn.policy import Graphs, RelationalGraphConv

__all__ = ["GraphDiscriminator", "OnlineDiscriminator"]


class GraphDiscriminator(nn.Module):
    """Relational GCN over ``atom_types (B, N)`` and ``bonds (B, N, N)``; mean and max readout; a logit ``(B,)``."""

    def __init__(self, num_types: int, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(num_types + 1, hidden)
        self.convs = nn.ModuleList([RelationalGraphConv(hidden) for _ in range(layers)])
        self.out = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, atom_types: torch.Tensor, bonds: torch.Tensor) -> torch.Tensor:
        graphs = Graphs(atom_types, bonds)
        h = self.embedding(atom_types[graphs.batch, graphs.position].long() + 1)
        for conv in self.convs:
            h = h + conv(h, graphs)
        return self.out(graphs.readout(h)).squeeze(-1)


class OnlineDiscriminator:
    """A :class:`GraphDiscriminator` with its real molecules, optimizer and generator.

    Args:
        real: the real molecules (encoded with the env's vocabulary and ``max_atoms``).
        num_types: vocabulary size; device, lr, hidden, layers; seed: minibatch draws.
        batch_size: real and generated molecules per gradient step; steps: gradient steps per update.
    """

    def __init__(
        self,
        real: list[MolGraph],
        num_types: int,
        device: str = "cpu",
        lr: float = 1e-3,
        hidden: int = 64,
        layers: int = 2,
        batch_size: int = 64,
        steps: int = 1,
        seed: int = 0,
    ):
        if not real:
            raise ValueError("the discriminator needs real molecules; none could be encoded")
        self.real_types = np.stack([g.atom_types for g in real])
        self.real_bonds = np.stack([g.bonds for g in real])
        self.device, self.batch_size, self.steps = device, batch_size, steps
        self.model = GraphDiscriminator(num_types, hidden, layers).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.rng = np.random.default_rng(seed)

    @torch.no_grad()
    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Probability of being real, ``(B,)``, for a :data:`molgym.rewards.adversarial.GraphBatch`."""
        logits = self.model(
            torch.as_tensor(batch["atom_types"], device=self.device),
            torch.as_tensor(batch["bonds"], device=self.device),
        )
        return torch.sigmoid(logits).double().cpu().numpy()

    def update(self, fake_types: np.ndarray, fake_bonds: np.ndarray) -> float:
        """Gradient steps on real vs the generated ``(M, N)`` / ``(M, N, N)`` molecules; mean loss (NaN if none)."""
        if len(fake_types) == 0:
            return float("nan")
        losses = []
        for _ in range(self.steps):
            real = self.rng.integers(len(self.real_types), size=self.batch_size)
            fake = self.rng.integers(len(fake_types), size=self.batch_size)
            types = np.concatenate([self.real_types[real], fake_types[fake]])
            bonds = np.concatenate([self.real_bonds[real], fake_bonds[fake]])
            labels = torch.cat([torch.ones(self.batch_size), torch.zeros(self.batch_size)]).to(self.device)
            logits = self.model(torch.as_tensor(types, device=self.device), torch.as_tensor(bonds, device=self.device))
            loss = F.binary_cross_entropy_with_logits(logits, labels)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
