"""A GNN features extractor for SB3 policies over the MolEdit ``Dict`` observation."""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from torch_geometric.nn import RGCNConv

__all__ = ["MolGraphExtractor", "padded_to_graph"]


def padded_to_graph(atom_types: torch.Tensor, bonds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edges of a padded batch, without building per-molecule ``Data`` objects.

    Args:
        atom_types: ``(B, N)`` type ids, ``-1`` for padding.
        bonds: ``(B, N, N)`` bond orders 0-3.

    Returns:
        ``node_mask (B, N)`` bool, ``edge_index (2, E)`` over the ``B * N`` flattened atom slots
        (both directions, as the matrix is symmetric) and ``edge_type (E,)`` = bond order - 1.
    """
    B, N = atom_types.shape
    b, i, j = torch.nonzero(bonds > 0, as_tuple=True)
    edge_index = torch.stack([b * N + i, b * N + j])
    edge_type = bonds[b, i, j] - 1
    return atom_types >= 0, edge_index, edge_type


class MolGraphExtractor(BaseFeaturesExtractor):
    """Relational GCN over atoms (nodes) and bonds (edges typed single/double/triple).

    Node input: an embedding of the atom type plus one of its free valence. ``layers`` RGCN
    layers with residual connections, then masked mean and max pooling over the real atoms, and a
    linear layer to ``features_dim``. Use it as
    ``policy_kwargs=dict(features_extractor_class=MolGraphExtractor)`` with a MolEdit env (through
    ``molgym.wrappers.FlatAction`` for MaskablePPO).

    Shapes: observations ``atom_types (B, N)``, ``bonds (B, N, N)``, ``free_valence (B, N)`` (SB3
    hands them over as floats); output ``(B, features_dim)``.
    """

    def __init__(self, observation_space: spaces.Dict, features_dim: int = 128, hidden: int = 64, layers: int = 3):
        super().__init__(observation_space, features_dim)
        num_types = int(observation_space["atom_types"].high.max()) + 1
        self.max_free = int(observation_space["free_valence"].high.max())
        self.type_embedding = nn.Embedding(num_types + 1, hidden)  # index 0: padding
        self.free_embedding = nn.Embedding(self.max_free + 1, hidden)
        self.convs = nn.ModuleList([RGCNConv(hidden, hidden, num_relations=3) for _ in range(layers)])
        self.head = nn.Sequential(nn.Linear(2 * hidden, features_dim), nn.ReLU())

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        types = observations["atom_types"].long()
        bonds = observations["bonds"].long()
        free = observations["free_valence"].long().clamp(0, self.max_free)
        B, N = types.shape
        node_mask, edge_index, edge_type = padded_to_graph(types, bonds)
        x = (self.type_embedding(types + 1) + self.free_embedding(free)).reshape(B * N, -1)
        for conv in self.convs:
            x = x + torch.relu(conv(x, edge_index, edge_type))
        x = x.reshape(B, N, -1)
        mask = node_mask.unsqueeze(-1)
        count = mask.sum(dim=1).clamp(min=1)
        mean = (x * mask).sum(dim=1) / count
        largest = x.masked_fill(~mask, float("-inf")).max(dim=1).values
        largest = torch.where(torch.isfinite(largest), largest, torch.zeros_like(largest))
        return self.head(torch.cat([mean, largest], dim=1))
