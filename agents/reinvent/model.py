"""REINVENT's SMILES language model: a tokenizer, its vocabulary and a GRU over tokens.

A SMILES string becomes tokens (bracket atoms such as ``[nH]`` or ``[C@@H]``, ``Cl``, ``Br``, ``%12``
ring closures, and single characters), framed as ``^ tokens $``. The model is

    e_t = E[x_t];  h_t = GRU(e_t, h_{t-1}) (``layers`` stacked);  p(x_{t+1} | x_{<=t}) = softmax(W h_t + b)

and a sequence's log-likelihood is ``sum_t log p(x_{t+1} | x_{<=t})`` up to and including ``$``.
"""

from __future__ import annotations

import re

import torch
from torch import nn

__all__ = ["Vocabulary", "SmilesRNN", "tokenize"]

PAD, BOS, EOS = "<pad>", "^", "$"
_TOKENS = re.compile(r"\[[^\]]+\]|Br|Cl|%\d\d|.")


def tokenize(smiles: str) -> list[str]:
    """``"CC(Cl)[nH]1"`` -> ``["C", "C", "(", "Cl", ")", "[nH]", "1"]``."""
    return _TOKENS.findall(smiles)


class Vocabulary:
    """Token <-> index; 0 is padding, 1 the start ``^``, 2 the end ``$``."""

    def __init__(self, tokens: list[str]):
        self.tokens = [PAD, BOS, EOS] + [t for t in tokens if t not in (PAD, BOS, EOS)]
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_smiles(cls, smiles: list[str]) -> Vocabulary:
        return cls(sorted({t for s in smiles for t in tokenize(s)}))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, smiles: str) -> list[int] | None:
        """``[^, tokens..., $]`` as indices; ``None`` when a token is not in the vocabulary."""
        try:
            return [1] + [self.index[t] for t in tokenize(smiles)] + [2]
        except KeyError:
            return None

    def decode(self, ids) -> str:
        """The SMILES of one row of indices (after ``^``, up to ``$`` or padding)."""
        out = []
        for i in ids[1:]:
            i = int(i)
            if i in (0, 2):
                break
            out.append(self.tokens[i])
        return "".join(out)

    def batch(self, encoded: list[list[int]], device: str | torch.device = "cpu") -> torch.Tensor:
        """Rows of indices padded with 0: ``(B, T)``."""
        width = max(map(len, encoded))
        out = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            out[row, : len(ids)] = torch.as_tensor(ids)
        return out.to(device)


class SmilesRNN(nn.Module):
    """Embedding, ``layers`` stacked GRUs of width ``hidden``, and a linear read-out to the vocabulary."""

    def __init__(self, vocab_size: int, embedding: int = 128, hidden: int = 256, layers: int = 3):
        super().__init__()
        self.sizes = {"vocab_size": vocab_size, "embedding": embedding, "hidden": hidden, "layers": layers}
        self.embed = nn.Embedding(vocab_size, embedding)
        self.gru = nn.GRU(embedding, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` for the token after each of ``tokens (B, T)``, and the GRU state."""
        hidden, state = self.gru(self.embed(tokens), state)
        return self.out(hidden), state

    def log_likelihood(self, sequences: torch.Tensor) -> torch.Tensor:
        """``(B,)``: log p of each row of ``sequences (B, T)`` (``^ ... $`` then padding)."""
        logits, _ = self(sequences[:, :-1])
        targets = sequences[:, 1:]
        log_p = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return (log_p * (targets != 0)).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, max_length: int = 100, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sequences ``(n, T <= max_length + 1)``: ``^``, sampled tokens up to ``$``, then padding
        (a row that reaches ``max_length`` without ``$`` is cut there)."""
        device = self.out.weight.device
        token = torch.full((n, 1), 1, dtype=torch.long, device=device)
        rows, state = [token], None
        done = torch.zeros(n, dtype=torch.bool, device=device)
        for _ in range(max_length):
            logits, state = self(token, state)
            probs = torch.softmax(logits[:, -1], dim=-1)
            token = torch.multinomial(probs.cpu(), 1, generator=generator).to(device)
            token[done] = 0
            rows.append(token)
            done |= token.squeeze(1) == 2
            if bool(done.all()):
                break
        return torch.cat(rows, dim=1)
