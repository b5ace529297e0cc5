"""The GCPN policy: a relational GCN over the molecule and four masked heads, composed exactly.

GCPN (You et al., NeurIPS 2018) chooses an action in four steps: stop or not, a first atom, a
second atom (existing, or a new atom of a type), a bond type. Here the four heads are composed
into the exact joint log-probability of every flat action of the env (``(B, K)``, the env's
bond-major indexing), with illegal actions at ``-inf``. Sampling, log-probabilities, entropy and
greedy decoding all come from that one distribution, so training sees exactly the distribution
that acted (the original sampled with a shifted stop logit and trained on the unshifted one).

Shapes: ``N`` atoms, ``T`` atom types, ``S = N + T`` second-atom candidates (existing atoms, then
one candidate node per atom type, at the positions the env's action layout gives them), ``C``
bond choices, ``K = C * N * S + 1`` flat actions.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["GCPNPolicy"]


class RelationalGraphConv(nn.Module):
    """``h_i' = relu(W h_i + sum_r sum_{j in N_r(i)} W_r h_j / deg_i)`` with one relation per bond order.

    Dense over the padded ``(B, N, N)`` bond matrix: no per-molecule graph objects, and fast for
    the small ``N`` of molecules on CPU and GPU alike.
    """

    def __init__(self, hidden: int, relations: int = 3):
        super().__init__()
        self.self_loop = nn.Linear(hidden, hidden)
        self.relation = nn.Linear(hidden, hidden * relations, bias=False)
        self.relations = relations

    def forward(self, h: torch.Tensor, adjacency: torch.Tensor, degree: torch.Tensor) -> torch.Tensor:
        B, N, H = h.shape
        messages = self.relation(h).view(B, N, self.relations, H)  # W_r h_j for every j and r
        gathered = torch.einsum("brij,bjrh->bih", adjacency, messages)
        return torch.relu(self.self_loop(h) + gathered / degree.unsqueeze(-1))


class GCPNPolicy(nn.Module):
    """Actor-critic over MolEdit observations.

    Args:
        num_types: ``T``; max_atoms: ``N``; bond_choices: ``C`` (3, or 4 with removal);
        max_free: the largest free valence (observation ``free_valence`` bound); hidden: width;
        layers: graph convolutions; rank: width of the bilinear pair scores.
    """

    def __init__(self, num_types: int, max_atoms: int, bond_choices: int = 3, max_free: int = 8,
                 hidden: int = 128, layers: int = 3, rank: int = 32):
        super().__init__()
        self.T, self.N, self.C, self.rank = num_types, max_atoms, bond_choices, rank
        self.max_free = max_free
        self.atom_embedding = nn.Embedding(num_types + 1, hidden)  # index 0: padding
        self.free_embedding = nn.Embedding(max_free + 1, hidden)
        self.new_atom_embedding = nn.Embedding(num_types, hidden)  # GCPN's candidate nodes
        self.convs = nn.ModuleList([RelationalGraphConv(hidden) for _ in range(layers)])
        self.candidate = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.stop_head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.value_head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.first_head = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.second_query = nn.Linear(hidden, rank)
        self.second_key = nn.Linear(hidden, rank)
        self.second_bias = nn.Linear(hidden, 1)
        self.bond_query = nn.Linear(hidden, bond_choices * rank)
        self.bond_key = nn.Linear(hidden, bond_choices * rank)

    @property
    def num_actions(self) -> int:
        return self.C * self.N * (self.N + self.T) + 1

    def encode(self, atom_types: torch.Tensor, bonds: torch.Tensor, free_valence: torch.Tensor):
        """Node embeddings ``(B, N, H)``, candidate embeddings ``(B, S, H)``, graph embedding ``(B, 2H)``."""
        types = atom_types.long()
        bonds = bonds.long()
        B, N = types.shape
        present = types >= 0
        n = present.sum(dim=1)
        h = self.atom_embedding(types + 1) + self.free_embedding(free_valence.long().clamp(0, self.max_free))
        adjacency = F.one_hot(bonds, 4)[..., 1:].permute(0, 3, 1, 2).to(h.dtype)  # (B, 3, N, N)
        degree = adjacency.sum(dim=(1, 3)).clamp(min=1)
        for conv in self.convs:
            h = h + conv(h, adjacency, degree)
        h = h * present.unsqueeze(-1)
        mean = h.sum(dim=1) / n.clamp(min=1).unsqueeze(-1)
        largest = h.masked_fill(~present.unsqueeze(-1), float("-inf")).max(dim=1).values
        largest = torch.where(torch.isfinite(largest), largest, torch.zeros_like(largest))
        graph = torch.cat([mean, largest], dim=1)
        # second-atom candidates at the env's positions: atom j for j < n, a new type-(j - n) atom after
        S = N + self.T
        j = torch.arange(S, device=h.device).unsqueeze(0)  # (1, S)
        is_atom = j < n.unsqueeze(1)
        kind = (j - n.unsqueeze(1)).clamp(0, self.T - 1)
        new = self.new_atom_embedding(kind)  # (B, S, H)
        atoms = h.gather(1, j.clamp(max=N - 1).expand(B, S).unsqueeze(-1).expand(B, S, h.shape[-1]))
        context = graph.unsqueeze(1).expand(B, S, graph.shape[-1])
        candidates = self.candidate(torch.cat([torch.where(is_atom.unsqueeze(-1), atoms, new), context], dim=-1))
        nodes = torch.cat([h, graph.unsqueeze(1).expand(B, N, graph.shape[-1])], dim=-1)
        return h, nodes, candidates, graph

    def forward(self, obs: dict[str, torch.Tensor], mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint log-probabilities ``(B, K)`` of the flat actions (``-inf`` where ``mask`` is False) and values ``(B,)``."""
        h, nodes, candidates, graph = self.encode(obs["atom_types"], obs["bonds"], obs["free_valence"])
        B, N = h.shape[:2]
        S, C, r = N + self.T, self.C, self.rank
        legal = mask[:, :-1].reshape(B, C, N, S).bool()
        stop_ok = mask[:, -1].bool()
        pair_ok = legal.any(dim=1)  # (B, N, S)
        first_ok = pair_ok.any(dim=2)  # (B, N)
        edit_ok = first_ok.any(dim=1)  # (B,)

        first = self.first_head(nodes).squeeze(-1)
        second = torch.einsum("bnr,bsr->bns", self.second_query(h), self.second_key(candidates)) / math.sqrt(r)
        second = second + self.second_bias(candidates).squeeze(-1).unsqueeze(1)
        bond = torch.einsum("bncr,bscr->bcns", self.bond_query(h).view(B, N, C, r),
                            self.bond_key(candidates).view(B, S, C, r)) / math.sqrt(r)

        lp_first = _masked_log_softmax(first, first_ok, dim=1)  # (B, N)
        lp_second = _masked_log_softmax(second, pair_ok, dim=2)  # (B, N, S)
        lp_bond = _masked_log_softmax(bond, legal, dim=1)  # (B, C, N, S)
        stop_logit = self.stop_head(graph).squeeze(-1)
        both = stop_ok & edit_ok
        lp_stop = torch.where(both, F.logsigmoid(stop_logit), torch.where(stop_ok, 0.0, float("-inf")))
        lp_edit = torch.where(both, F.logsigmoid(-stop_logit), torch.where(edit_ok, 0.0, float("-inf")))
        joint = lp_edit[:, None, None, None] + lp_first[:, None, :, None] + lp_second[:, None] + lp_bond
        joint = joint.masked_fill(~legal, float("-inf"))
        logits = torch.cat([joint.reshape(B, -1), lp_stop.unsqueeze(1)], dim=1)
        return logits, self.value_head(graph).squeeze(-1)

    def distribution(self, obs: dict[str, torch.Tensor], mask: torch.Tensor):
        """``(Categorical over the K flat actions, values)``: sample, ``log_prob`` and ``entropy`` from it."""
        logits, values = self(obs, mask)
        return torch.distributions.Categorical(logits=logits), values

    @torch.no_grad()
    def act(self, obs: dict[str, torch.Tensor], mask: torch.Tensor, greedy: bool = False) -> torch.Tensor:
        """Flat actions ``(B,)``: sampled, or the most probable with ``greedy``."""
        dist, _ = self.distribution(obs, mask)
        return dist.probs.argmax(dim=1) if greedy else dist.sample()


def _masked_log_softmax(logits: torch.Tensor, allowed: torch.Tensor, dim: int) -> torch.Tensor:
    """Log-softmax over the allowed entries (``-inf`` elsewhere; 0 where nothing is allowed)."""
    none = ~allowed.any(dim=dim, keepdim=True)
    masked = logits.masked_fill(~allowed, float("-inf"))
    masked = torch.where(none, torch.zeros_like(masked), masked)  # finite rows: no NaN, even in gradients
    return torch.where(none, torch.zeros_like(masked), torch.log_softmax(masked, dim=dim))
