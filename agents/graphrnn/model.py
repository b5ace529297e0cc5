"""GraphRNN (You et al., ICML 2018) over molecules: a graph-level GRU over nodes in BFS order and
an edge-level GRU over each new node's links to the previous ``M`` nodes (the bandwidth).

Per node ``i >= 1`` (node 0 is the env's start atom): the node GRU, fed node ``i - 1`` (its type
and its bonds to the ``M`` nodes before it), gives the type of node ``i`` or stop (class ``T``);
then the edge GRU, started from the node state and that type, walks slots ``k = 0 .. M - 1``
(node ``i - 1 - k``) and gives a bond class per slot: 0 none, 1 single, 2 double, 3 triple.

:meth:`GraphRNN.type_logits` / :meth:`GraphRNN.edge_step` are the pieces sampling uses with
valence masks; :meth:`GraphRNN.nll` is the teacher-forced loss of whole sequences.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from molgym.chem import MolGraph

__all__ = ["GraphRNN", "bfs_sequence", "Sequences"]

BOND_CLASSES = 4


class GraphRNN(nn.Module):
    def __init__(self, num_types: int, bandwidth: int = 12, hidden: int = 128, edge_hidden: int = 64):
        super().__init__()
        self.T, self.M = num_types, bandwidth
        self.node_input = nn.Linear(num_types + bandwidth * BOND_CLASSES, hidden)
        self.node_gru = nn.GRUCell(hidden, hidden)
        self.type_head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_types + 1))
        self.edge_init = nn.Linear(hidden + num_types, edge_hidden)
        self.edge_gru = nn.GRUCell(BOND_CLASSES + num_types + 1, edge_hidden)
        self.edge_head = nn.Linear(edge_hidden, BOND_CLASSES)

    def node_step(self, h: torch.Tensor, prev_type: torch.Tensor, prev_edges: torch.Tensor) -> torch.Tensor:
        """Next node state from ``h (B, H)``, the previous node's type ``(B,)`` and its bond classes ``(B, M)``."""
        x = torch.cat(
            [F.one_hot(prev_type, self.T).float(), F.one_hot(prev_edges, BOND_CLASSES).float().flatten(1)], dim=1
        )
        return self.node_gru(torch.relu(self.node_input(x)), h)

    def type_logits(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, T + 1)``: the new node's type, or stop (last class)."""
        return self.type_head(h)

    def edge_start(self, h: torch.Tensor, new_type: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.edge_init(torch.cat([h, F.one_hot(new_type, self.T).float()], dim=1)))

    def edge_step(
        self, g: torch.Tensor, prev_class: torch.Tensor, target_type: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One slot: ``(logits (B, 4), next edge state)``; ``target_type`` is the slot's node type, ``T`` if none."""
        x = torch.cat([F.one_hot(prev_class, BOND_CLASSES).float(), F.one_hot(target_type, self.T + 1).float()], dim=1)
        g = self.edge_gru(x, g)
        return self.edge_head(g), g

    def nll(self, types: torch.Tensor, edges: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per molecule of padded sequences: ``types (B, L)`` node types,
        ``edges (B, L, M)`` bond class of node ``i`` to node ``i - 1 - k``, ``lengths (B,)`` nodes."""
        B, L = types.shape
        h = torch.zeros(B, self.node_gru.hidden_size, device=types.device)
        total = torch.zeros(B, device=types.device)
        for i in range(1, L + 1):
            alive = lengths >= i  # node i exists, or i == length: the stop decision
            if not alive.any():
                break
            h = self.node_step(h, types[:, i - 1].clamp(min=0), edges[:, i - 1])
            is_node = lengths > i
            target = torch.where(is_node, types[:, min(i, L - 1)].clamp(min=0), torch.full_like(lengths, self.T))
            total = total + torch.where(alive, F.cross_entropy(self.type_logits(h), target, reduction="none"), 0.0)
            if i >= L or not is_node.any():
                continue
            g = self.edge_start(h, target.clamp(max=self.T - 1))
            prev = torch.zeros(B, dtype=torch.long, device=types.device)
            for k in range(min(i, self.M)):
                j = i - 1 - k
                logits, g = self.edge_step(g, prev, types[:, j].clamp(min=0))
                cls = edges[:, i, k]
                total = total + torch.where(is_node, F.cross_entropy(logits, cls, reduction="none"), 0.0)
                prev = cls
        return (total / lengths.clamp(min=1)).mean()


class Sequences:
    """Molecules as padded BFS sequences: ``types (n, L)`` (-1 past the end), ``edges (n, L, M)``, ``lengths (n,)``."""

    def __init__(self, types: np.ndarray, edges: np.ndarray, lengths: np.ndarray, skipped: int):
        self.types, self.edges, self.lengths, self.skipped = types, edges, lengths, skipped

    def __len__(self) -> int:
        return len(self.lengths)


def bfs_sequence(
    graph: MolGraph, root: int, bandwidth: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """Node types ``(n,)`` and bond classes ``(n, M)`` of ``graph`` in a BFS order from ``root``
    (neighbours in random order); ``None`` if a bond spans more than ``bandwidth`` positions."""
    n = graph.num_atoms
    order, seen, queue = [root], {root}, deque([root])
    while queue:
        u = queue.popleft()
        for v in rng.permutation(np.flatnonzero(graph.bonds[u, :n])).tolist():
            if v not in seen:
                seen.add(v)
                order.append(v)
                queue.append(v)
    if len(order) != n:
        return None  # not connected
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    edges = np.zeros((n, bandwidth), dtype=np.int64)
    for u, v in zip(*np.nonzero(np.triu(graph.bonds[:n, :n]))):
        i, j = sorted((position[u], position[v]), reverse=True)
        if i - 1 - j >= bandwidth:
            return None
        edges[i, i - 1 - j] = graph.bonds[u, v]
    return graph.atom_types[order].astype(np.int64), edges


def make_sequences(
    graphs: list[MolGraph], root_type: int, bandwidth: int, max_len: int, rng: np.random.Generator
) -> Sequences:
    """BFS sequences (from a random atom of the env's start type) of the molecules that fit."""
    types, edges, lengths, skipped = [], [], [], 0
    for graph in graphs:
        roots = np.flatnonzero(graph.atom_types[: graph.num_atoms] == root_type)
        seq = bfs_sequence(graph, int(rng.choice(roots)), bandwidth, rng) if roots.size else None
        if seq is None or len(seq[0]) > max_len:
            skipped += 1
            continue
        t, e = seq
        types.append(np.pad(t, (0, max_len - len(t)), constant_values=-1))
        edges.append(np.pad(e, ((0, max_len - len(t)), (0, 0))))
        lengths.append(len(t))
    if not lengths:
        return Sequences(
            np.zeros((0, max_len), np.int64),
            np.zeros((0, max_len, bandwidth), np.int64),
            np.zeros(0, np.int64),
            skipped,
        )
    return Sequences(np.stack(types), np.stack(edges), np.array(lengths), skipped)
