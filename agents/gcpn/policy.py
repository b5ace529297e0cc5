"""The GCPN policy: a relational GCN over the molecule and four masked heads, composed exactly.

GCPN (You et al., NeurIPS 2018) chooses an action in four steps: stop or not, a first atom, a
second atom (existing, or a new atom of a type), a bond type. Each head is normalised over the
choices that have a legal completion, so their product is the exact distribution over the legal
flat actions of the env (the env's bond-major indexing). Sampling, log-probabilities, entropy and
greedy decoding all come from that one distribution (:class:`ActionDistribution`), so training
sees exactly the distribution that acted (the original sampled with a shifted stop logit and
trained on the unshifted one). They are computed from the heads, never from the joint over all
``K`` actions, on the batch cropped to its largest molecule, and the graph convolutions run on
the real atoms only (:class:`Graphs`): the cost follows the molecules' sizes, not ``max_atoms``.

Shapes: ``N`` atoms, ``T`` atom types, ``S = N + T`` second-atom candidates (existing atoms, then
one candidate node per atom type, at the positions the env's action layout gives them), ``C``
bond choices, ``K = C * N * S + 1`` flat actions.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["GCPNPolicy", "ActionDistribution", "Graphs"]


class Graphs:
    """A batch of ``B`` molecules packed atom by atom: only the ``M`` real atoms are rows, so the
    per-atom layers cost what the molecules' sizes cost, not ``B * N``.

    ``batch``, ``position`` ``(M,)``: each atom's molecule and index in it; ``source``, ``target``,
    ``relation`` ``(E,)``: the bonds, once per direction, as packed rows and bond order - 1;
    ``degree`` ``(M,)``: bonded neighbours (at least 1); ``size`` ``(B,)``: atoms per molecule;
    ``shape``: ``(B, N)`` of the padded batch.
    """

    def __init__(self, atom_types: torch.Tensor, bonds: torch.Tensor):
        present = atom_types >= 0
        self.shape = present.shape
        self.size = present.sum(dim=1)
        self.batch, self.position = present.nonzero(as_tuple=True)
        row = torch.full(self.shape, -1, dtype=torch.long, device=present.device)
        row[self.batch, self.position] = torch.arange(len(self.batch), device=present.device)
        b, i, j = bonds.nonzero(as_tuple=True)
        self.target, self.source, self.relation = row[b, i], row[b, j], bonds[b, i, j].long() - 1
        self.degree = torch.bincount(self.target, minlength=len(self.batch)).clamp(min=1)

    def pad(self, x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """``(B, N, ...)`` from packed rows ``(M, ...)``, ``fill`` at the padding."""
        out = x.new_full((*self.shape, *x.shape[1:]), fill)
        return out.index_put((self.batch, self.position), x)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, 2H)``: the mean and the elementwise max of each molecule's rows of ``h`` ``(M, H)``
        (zeros for a molecule without atoms)."""
        mean = h.new_zeros(self.shape[0], h.shape[1]).index_add(0, self.batch, h) / self.size.clamp(min=1).unsqueeze(1)
        largest = self.pad(h, float("-inf")).max(dim=1).values
        return torch.cat([mean, torch.where(torch.isfinite(largest), largest, torch.zeros_like(largest))], dim=1)


class RelationalGraphConv(nn.Module):
    """``h_i' = relu(W h_i + sum_r sum_{j in N_r(i)} W_r h_j / deg_i)`` with one relation per bond order.

    Over the packed atoms of :class:`Graphs`: the messages ``W_r h_j`` are gathered along the bonds
    and summed into their targets, so the cost is one ``(M, H) x (H, 4H)`` product plus ``O(E H)``.
    """

    def __init__(self, hidden: int, relations: int = 3):
        super().__init__()
        self.self_loop = nn.Linear(hidden, hidden)
        self.relation = nn.Linear(hidden, hidden * relations, bias=False)
        self.relations = relations

    def forward(self, h: torch.Tensor, graphs: Graphs) -> torch.Tensor:
        M, H = h.shape
        messages = self.relation(h).view(M, self.relations, H)[graphs.source, graphs.relation]  # (E, H)
        gathered = h.new_zeros(M, H).index_add(0, graphs.target, messages)
        return torch.relu(self.self_loop(h) + gathered / graphs.degree.unsqueeze(1))


class GCPNPolicy(nn.Module):
    """Actor-critic over MolEdit observations.

    Args:
        num_types: ``T``; max_atoms: ``N``; bond_choices: ``C`` (3, or 4 with removal);
        max_free: the largest free valence (observation ``free_valence`` bound); hidden: width;
        layers: graph convolutions; rank: width of the bilinear pair scores.
    """

    def __init__(
        self,
        num_types: int,
        max_atoms: int,
        bond_choices: int = 3,
        max_free: int = 8,
        hidden: int = 128,
        layers: int = 3,
        rank: int = 32,
    ):
        super().__init__()
        self.T, self.N, self.C, self.rank = num_types, max_atoms, bond_choices, rank
        self.max_free = max_free
        self.atom_embedding = nn.Embedding(
            num_types + 1, hidden
        )  # row 0 (padding) unused since atoms are packed; kept for checkpoints
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

    def encode(self, graphs: Graphs, atom_types: torch.Tensor, free_valence: torch.Tensor):
        """Atom embeddings ``(M, H)`` of the packed atoms and the graph embeddings ``(B, 2H)``
        (mean and max readout), from padded ``atom_types`` and ``free_valence`` ``(B, N)``."""
        at = (graphs.batch, graphs.position)
        h = _lookup(self.atom_embedding, atom_types[at].long() + 1) + _lookup(
            self.free_embedding, free_valence[at].long().clamp(0, self.max_free)
        )
        for conv in self.convs:
            h = h + conv(h, graphs)
        return h, graphs.readout(h)

    def scores(self, graphs: Graphs, h: torch.Tensor, graph: torch.Tensor):
        """First-atom logits ``(B, n)``, pair queries ``(B, n, (1 + C) r)`` and candidate keys
        ``(B, n + T, (1 + C) r + 1)``, padded (zeros at the padding).

        The first-atom and candidate MLPs read ``[x, graph]``; their first layers are applied to
        the parts (``W [x; g] = W_x x + W_g g``), so the graph term is computed once per molecule
        and the new-atom term once per atom type. Candidates sit at the env's positions: atom
        ``j`` of a molecule of ``m`` atoms at ``j``, a new atom of type ``t`` at ``m + t``.
        """
        H = h.shape[1]
        B, n = graphs.shape
        layer, _, last = self.first_head
        first = last(
            torch.relu(
                F.linear(h, layer.weight[:, :H]) + F.linear(graph, layer.weight[:, H:], layer.bias)[graphs.batch]
            )
        )
        query = torch.cat([self.second_query(h), self.bond_query(h)], dim=1)
        layer, _, last = self.candidate
        context = F.linear(graph, layer.weight[:, H:], layer.bias)  # (B, H)
        atoms = last(torch.relu(F.linear(h, layer.weight[:, :H]) + context[graphs.batch]))  # (M, H)
        new = last(
            torch.relu(F.linear(self.new_atom_embedding.weight, layer.weight[:, :H]) + context[:, None])
        )  # (B, T, H)
        atom_keys, new_keys = ([self.second_key(x), self.bond_key(x), self.second_bias(x)] for x in (atoms, new))
        keys = h.new_zeros(B, n + self.T, self.rank * (1 + self.C) + 1)
        keys = keys.index_put((graphs.batch, graphs.position), torch.cat(atom_keys, dim=-1))
        molecule = torch.arange(B, device=h.device).repeat_interleave(self.T)
        slot = (graphs.size.unsqueeze(1) + torch.arange(self.T, device=h.device)).reshape(-1)
        keys = keys.index_put((molecule, slot), torch.cat(new_keys, dim=-1).reshape(B * self.T, -1))
        return graphs.pad(first.squeeze(-1)), graphs.pad(query), keys

    def forward(self, obs: dict[str, torch.Tensor], mask: torch.Tensor) -> tuple[ActionDistribution, torch.Tensor]:
        """The action distribution of a batch and its values ``(B,)``.

        The atoms are packed (:class:`Graphs`) for the per-atom layers, and the pair scores are
        computed on the batch cropped to its largest molecule (``n`` atoms, ``n + T`` second-atom
        candidates): every legal action lies inside the crop, and padding never touches the real
        atoms, so neither changes anything but the cost.
        """
        types = obs["atom_types"]
        B, N = types.shape
        n = max(int((types >= 0).sum(dim=1).max()), 1)
        s = n + self.T
        graphs = Graphs(types[:, :n], obs["bonds"][:, :n, :n])
        h, graph = self.encode(graphs, types[:, :n], obs["free_valence"][:, :n])
        first, query, keys = self.scores(graphs, h, graph)
        C, r = self.C, self.rank
        legal = mask[:, :-1].reshape(B, C, N, N + self.T)[:, :, :n, :s].bool()
        stop_ok = mask[:, -1].bool()
        pair_ok = legal.any(dim=1)  # (B, n, s)
        first_ok = pair_ok.any(dim=2)  # (B, n)
        edit_ok = first_ok.any(dim=1)  # (B,)

        second = torch.einsum("bnr,bsr->bns", query[..., :r], keys[..., :r]) / math.sqrt(r)
        second = second + keys[..., -1].unsqueeze(1)
        bond = torch.einsum(
            "bncr,bscr->bcns", query[..., r:].reshape(B, n, C, r), keys[..., r:-1].reshape(B, s, C, r)
        ) / math.sqrt(r)
        stop_logit = self.stop_head(graph).squeeze(-1)
        both = stop_ok & edit_ok
        dist = ActionDistribution(
            stop=torch.where(both, F.logsigmoid(stop_logit), torch.where(stop_ok, 0.0, float("-inf"))),
            edit=torch.where(both, F.logsigmoid(-stop_logit), torch.where(edit_ok, 0.0, float("-inf"))),
            first=_masked_log_softmax(first, first_ok, dim=1),
            second=_masked_log_softmax(second, pair_ok, dim=2),
            bond=_masked_log_softmax(bond, legal, dim=1),
            max_atoms=N,
        )
        return dist, self.value_head(graph).squeeze(-1)

    def log_prob(self, obs: dict[str, torch.Tensor], mask: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``(B,)`` log-probabilities of the flat ``actions`` (``-inf`` for an illegal one): the same
        as ``self(obs, mask)[0].log_prob(actions)``, but the second-atom and bond heads are scored
        only at the chosen first atom and pair (``O(B s + B C)`` rather than ``O(B C n s)``), for
        learning from given trajectories."""
        types = obs["atom_types"]
        B, N = types.shape
        n = max(int((types >= 0).sum(dim=1).max()), 1)
        s = n + self.T
        C, r = self.C, self.rank
        graphs = Graphs(types[:, :n], obs["bonds"][:, :n, :n])
        h, graph = self.encode(graphs, types[:, :n], obs["free_valence"][:, :n])
        first_logits, query, keys = self.scores(graphs, h, graph)
        legal = mask[:, :-1].reshape(B, C, N, N + self.T)[:, :, :n, :s].bool()
        stop_ok = mask[:, -1].bool()
        pair_ok = legal.any(dim=1)  # (B, n, s)
        first_ok = pair_ok.any(dim=2)  # (B, n)
        edit_ok = first_ok.any(dim=1)  # (B,)
        stop_logit = self.stop_head(graph).squeeze(-1)
        both = stop_ok & edit_ok
        log_stop = torch.where(both, F.logsigmoid(stop_logit), torch.where(stop_ok, 0.0, float("-inf")))
        log_edit = torch.where(both, F.logsigmoid(-stop_logit), torch.where(edit_ok, 0.0, float("-inf")))

        S = N + self.T
        row, second = actions.div(S, rounding_mode="floor"), actions % S
        bond, first = row.div(N, rounding_mode="floor").clamp(max=C - 1), row % N
        outside = (first >= n) | (second >= s)
        first, second = first.clamp(max=n - 1), second.clamp(max=s - 1)
        b = torch.arange(B, device=types.device)
        log_first = _masked_log_softmax(first_logits, first_ok, dim=1)[b, first]
        q = query[b, first]  # (B, (1 + C) r): the chosen first atom's queries
        second_logits = torch.einsum("br,bsr->bs", q[:, :r], keys[..., :r]) / math.sqrt(r) + keys[..., -1]
        log_second = _masked_log_softmax(second_logits, pair_ok[b, first], dim=1)[b, second]
        bond_logits = torch.einsum("bcr,bcr->bc", q[:, r:].reshape(B, C, r), keys[b, second, r:-1].reshape(B, C, r))
        log_bond = _masked_log_softmax(bond_logits / math.sqrt(r), legal[b, :, first, second], dim=1)[b, bond]
        edit = log_edit + log_first + log_second + log_bond
        stop_index = C * N * S
        return torch.where(actions == stop_index, log_stop, edit.masked_fill(outside, float("-inf")))

    @torch.no_grad()
    def act(self, obs: dict[str, torch.Tensor], mask: torch.Tensor, greedy: bool = False) -> torch.Tensor:
        """Flat actions ``(B,)``: sampled, or the most probable with ``greedy``."""
        dist, _ = self(obs, mask)
        return dist.mode() if greedy else dist.sample()


class ActionDistribution:
    """The policy's distribution over the env's flat actions, held as its four conditional heads.

    ``p(stop)``, or ``p(edit) p(first) p(second | first) p(bond | first, second)`` for the edit
    ``(bond, first, second)``; each head is normalised over the choices with a legal completion,
    so the product is the exact joint over the legal actions. Log-probabilities, entropy, sampling
    and the mode come from the heads (``O(B C n s)``); :meth:`logits` builds the joint ``(B, K)``.

    Shapes (of a batch cropped to ``n`` atoms, ``s = n + T`` candidates): ``stop``, ``edit``
    ``(B,)``; ``first`` ``(B, n)``; ``second`` ``(B, n, s)``; ``bond`` ``(B, C, n, s)``; all log-
    probabilities, ``-inf`` where illegal. ``max_atoms``: ``N`` of the env's layout.
    """

    def __init__(self, stop, edit, first, second, bond, max_atoms: int):
        self.stop, self.edit, self.first, self.second, self.bond = stop, edit, first, second, bond
        self.N = max_atoms
        self.C, self.n, self.s = bond.shape[1:]
        self.S = max_atoms + self.s - self.n  # N + T
        self.stop_index = self.C * self.N * self.S

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``(B,)`` log-probabilities of flat actions ``(B,)`` (``-inf`` for an illegal one)."""
        row, second = actions.div(self.S, rounding_mode="floor"), actions % self.S
        bond, first = row.div(self.N, rounding_mode="floor").clamp(max=self.C - 1), row % self.N
        outside = (first >= self.n) | (second >= self.s)  # illegal: no atom or candidate there
        first, second = first.clamp(max=self.n - 1), second.clamp(max=self.s - 1)
        b = torch.arange(len(actions), device=actions.device)
        edit = self.edit + self.first[b, first] + self.second[b, first, second] + self.bond[b, bond, first, second]
        return torch.where(actions == self.stop_index, self.stop, edit.masked_fill(outside, float("-inf")))

    def entropy(self) -> torch.Tensor:
        """``(B,)`` exact entropy: ``H(stop) + p(edit) [H(first) + E_first[H(second) + E_second H(bond)]]``."""
        h_bond = -_plogp(self.bond).sum(dim=1)  # (B, n, s)
        p_second = self.second.exp()
        h_second = -_plogp(self.second).sum(dim=2) + (p_second * h_bond).sum(dim=2)  # (B, n)
        h_first = -_plogp(self.first).sum(dim=1) + (self.first.exp() * h_second).sum(dim=1)  # (B,)
        return -_plogp(self.stop) - _plogp(self.edit) + self.edit.exp() * h_first

    def sample(self) -> torch.Tensor:
        """``(B,)`` flat actions drawn from the distribution (stop, then each head in turn)."""
        B = len(self.stop)
        b = torch.arange(B, device=self.stop.device)
        stop = torch.rand(B, device=self.stop.device) < self.stop.exp()
        first = _gumbel_argmax(self.first)
        second = _gumbel_argmax(self.second[b, first])
        bond = _gumbel_argmax(self.bond[b, :, first, second])
        return self._flat(stop, bond, first, second)

    def mode(self) -> torch.Tensor:
        """``(B,)`` the most probable flat actions."""
        B = len(self.stop)
        joint = self._cropped_joint().reshape(B, -1)
        best, where = joint.max(dim=1)
        bond, rest = where.div(self.n * self.s, rounding_mode="floor"), where % (self.n * self.s)
        first, second = rest.div(self.s, rounding_mode="floor"), rest % self.s
        return self._flat(self.stop >= best, bond, first, second)

    def logits(self) -> torch.Tensor:
        """``(B, K)`` the joint log-probabilities of every flat action of the env's layout."""
        B = len(self.stop)
        full = self.stop.new_full((B, self.C, self.N, self.S), float("-inf"))
        full[:, :, : self.n, : self.s] = self._cropped_joint()
        return torch.cat([full.reshape(B, -1), self.stop.unsqueeze(1)], dim=1)

    def _cropped_joint(self) -> torch.Tensor:
        joint = self.edit[:, None, None, None] + self.first[:, None, :, None] + self.second[:, None] + self.bond
        return joint.masked_fill(self.bond == float("-inf"), float("-inf"))

    def _flat(self, stop, bond, first, second) -> torch.Tensor:
        edit = (bond * self.N + first) * self.S + second
        return torch.where(stop, torch.full_like(edit, self.stop_index), edit)


def _lookup(embedding: nn.Embedding, index: torch.Tensor) -> torch.Tensor:
    """``embedding(index)`` as a one-hot matmul: the backward pass is a matmul rather than a scatter."""
    return F.one_hot(index, embedding.num_embeddings).to(embedding.weight.dtype) @ embedding.weight


def _plogp(logp: torch.Tensor) -> torch.Tensor:
    """``p log p`` elementwise, 0 where ``p = 0`` (with finite gradients there)."""
    finite = torch.isfinite(logp)
    safe = logp.masked_fill(~finite, 0.0)
    return (safe.exp() * safe).masked_fill(~finite, 0.0)


def _gumbel_argmax(logp: torch.Tensor) -> torch.Tensor:
    """A draw from each row of log-probabilities ``(..., k)`` (the Gumbel-max trick; rows of all
    ``-inf`` give index 0, unused: those rows stop)."""
    gumbel = -torch.empty_like(logp).exponential_().log()
    return (logp + gumbel).argmax(dim=-1)


def _masked_log_softmax(logits: torch.Tensor, allowed: torch.Tensor, dim: int) -> torch.Tensor:
    """Log-softmax over the allowed entries (``-inf`` elsewhere; 0 where nothing is allowed)."""
    none = ~allowed.any(dim=dim, keepdim=True)
    masked = logits.masked_fill(~allowed, float("-inf"))
    masked = torch.where(none, torch.zeros_like(masked), masked)  # finite rows: no NaN, even in gradients
    return torch.where(none, torch.zeros_like(masked), torch.log_softmax(masked, dim=dim))
