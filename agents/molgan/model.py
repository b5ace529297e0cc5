"""MolGAN's networks (De Cao & Kipf, 2018): generator, relational-GCN critic and reward network.

Graphs are dense and one-hot: ``adjacency (B, N, N, C + 1)`` over bond classes (0 none, then
single, double, triple) and ``nodes (B, N, T + 1)`` over atom classes (0 no atom, then the
vocabulary's types). The critic and the reward network take soft (probabilities) or hard
(one-hot) graphs of any ``N``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Generator", "GraphCritic", "one_hot_graphs", "hard_graphs"]


class Generator(nn.Module):
    """MLP from ``z (B, z_dim)`` to edge logits ``(B, N, N, C + 1)`` (symmetric, no self-loops) and node logits ``(B, N, T + 1)``."""

    def __init__(
        self,
        z_dim: int,
        max_atoms: int,
        num_types: int,
        bond_types: int = 3,
        hidden: tuple[int, ...] = (128, 256, 512),
        dropout: float = 0.0,
    ):
        super().__init__()
        self.z_dim, self.N, self.T, self.C = z_dim, max_atoms, num_types, bond_types
        layers, width = [], z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh(), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.edges = nn.Linear(width, max_atoms * max_atoms * (bond_types + 1))
        self.nodes = nn.Linear(width, max_atoms * (num_types + 1))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(z)
        B, N = z.shape[0], self.N
        edges = self.edges(h).view(B, N, N, self.C + 1)
        edges = (edges + edges.transpose(1, 2)) / 2
        eye = torch.eye(N, dtype=torch.bool, device=z.device)[None, :, :, None]
        no_bond = torch.zeros(self.C + 1, device=z.device)
        no_bond[1:] = -1e4  # the diagonal is "no bond"
        edges = torch.where(eye, no_bond, edges)
        return edges, self.nodes(h).view(B, N, self.T + 1)

    def sample(self, z: torch.Tensor, hard: bool = False, tau: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Gumbel-softmax graphs (straight-through one-hot with ``hard``), symmetric adjacency."""
        edges, nodes = self(z)
        upper = torch.triu(torch.ones(self.N, self.N, dtype=torch.bool, device=z.device), diagonal=1)
        adjacency = F.gumbel_softmax(edges, tau=tau, hard=hard, dim=-1)
        adjacency = torch.where(upper[None, :, :, None], adjacency, adjacency.transpose(1, 2))  # one draw per pair
        return adjacency, F.gumbel_softmax(nodes, tau=tau, hard=hard, dim=-1)


class GraphCritic(nn.Module):
    """MolGAN's discriminator (``sigmoid=False``, a WGAN critic) or reward network (``sigmoid=True``).

    Relational graph convolutions with one weight matrix per bond type plus a self term, the atom
    features re-concatenated at every layer; gated sum aggregation
    ``tanh(sum_v sigmoid(i(h_v, x_v)) * tanh(j(h_v, x_v)))``; dense tanh layers to one output.
    """

    def __init__(
        self,
        num_types: int,
        bond_types: int = 3,
        conv: tuple[int, ...] = (64, 32),
        aggregate: int = 128,
        dense: tuple[int, ...] = (128, 64),
        sigmoid: bool = False,
    ):
        super().__init__()
        self.C, self.sigmoid = bond_types, sigmoid
        features = num_types + 1
        self.relations, self.selfs = nn.ModuleList(), nn.ModuleList()
        width = 0
        for out in conv:
            self.relations.append(nn.Linear(features + width, out * bond_types))
            self.selfs.append(nn.Linear(features + width, out))
            width = out
        self.gate = nn.Linear(features + width, aggregate)
        self.value = nn.Linear(features + width, aggregate)
        layers, width = [], aggregate
        for h in dense:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.dense = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, adjacency: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        """``(B,)`` outputs (probabilities with ``sigmoid``)."""
        A = adjacency[..., 1:].permute(0, 3, 1, 2)  # (B, C, N, N)
        B, N = nodes.shape[:2]
        h = None
        for relation, self_term in zip(self.relations, self.selfs, strict=True):
            inp = nodes if h is None else torch.cat([h, nodes], dim=-1)
            messages = relation(inp).view(B, N, self.C, -1).permute(0, 2, 1, 3)  # (B, C, N, out)
            h = torch.tanh((A @ messages).sum(dim=1) + self_term(inp))
        inp = torch.cat([h, nodes], dim=-1)
        graph = torch.tanh((torch.sigmoid(self.gate(inp)) * torch.tanh(self.value(inp))).sum(dim=1))
        out = self.dense(graph).squeeze(-1)
        return torch.sigmoid(out) if self.sigmoid else out


def one_hot_graphs(
    types: np.ndarray, bonds: np.ndarray, num_types: int, size: int | None = None, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Env graphs (``types (B, N)`` with -1 for no atom, ``bonds (B, N, N)``) as one-hot tensors, cut or padded to ``size`` atoms."""
    types, bonds = np.asarray(types), np.asarray(bonds)
    N = size or types.shape[1]
    if types.shape[1] < N:
        pad = N - types.shape[1]
        types = np.pad(types, ((0, 0), (0, pad)), constant_values=-1)
        bonds = np.pad(bonds, ((0, 0), (0, pad), (0, pad)))
    t = torch.as_tensor(types[:, :N].astype(np.int64) + 1, device=device)
    b = torch.as_tensor(bonds[:, :N, :N].astype(np.int64), device=device)
    return F.one_hot(b, 4).float(), F.one_hot(t, num_types + 1).float()


def hard_graphs(adjacency: torch.Tensor, nodes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """One-hot (or soft) graphs as env-style arrays: ``types (B, N)`` (-1 none) and ``bonds (B, N, N)``."""
    types = nodes.argmax(dim=-1).cpu().numpy().astype(np.int64) - 1
    bonds = adjacency.argmax(dim=-1).cpu().numpy().astype(np.int64)
    absent = types < 0
    bonds[absent, :] = 0
    bonds.transpose(0, 2, 1)[absent, :] = 0
    return types, bonds
