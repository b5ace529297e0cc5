"""REINVENT (``reinvent``): a SMILES language model tuned by policy gradient on the augmented
likelihood (Olivecrona et al., 2017), with PMO's settings.

Each update samples ``batch_size`` SMILES from the agent (a copy of the prior at the start), drops
repeated sequences, and scores the valid ones through the oracle (an invalid SMILES is free and
scores 0). With the prior's log-likelihood ``log P_prior(x)``, the score ``S(x)`` and ``sigma``:

    log P_aug(x) = log P_prior(x) + sigma * S(x)
    loss = mean_x (log P_aug(x) - log P_agent(x))^2  -  c * mean_x 1 / log P_agent(x)

the second term (c = 5e3, REINVENT's) penalising sequences the agent finds very likely. With
``experience`` > 0, that many molecules are drawn each update from the best ones scored so far
(experience replay, up to 100 kept) and enter the first term too.

With ``stop_unchanged = k`` (PMO's REINVENT: 5) a run ends once more than 1,000 calls are paid and
the scores of the best 100 molecules so far stayed the same for k batches in a row: the agent only
repeats what it has already found. PMO's AUC then counts the last top-k for the unspent calls, as
``molgym.metrics`` does for every run that ends early.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem, rdBase

from molgym.agent import UpdatingAgent, read_checkpoint
from molgym.oracle import Oracle
from molgym.tasks import Task
from molgym_agents.reinvent.prior import DEFAULT_PRIOR, MAX_TOKENS, load_prior, pretrain

__all__ = ["ReinventAgent", "augmented_likelihood_loss"]

LIKELIHOOD_PENALTY = 5e3
REPLAY_SIZE = 100


def augmented_likelihood_loss(
    agent_ll: torch.Tensor, prior_ll: torch.Tensor, score: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINVENT's loss over a batch ``(B,)`` (the formula above) and its first term alone."""
    fit = (prior_ll + sigma * score - agent_ll).pow(2).mean()
    return fit - LIKELIHOOD_PENALTY * (1.0 / agent_ll).mean(), fit


class ReinventAgent(UpdatingAgent):
    """Config: ``prior`` (a ``.pt`` of ``molgym pretrain reinvent``; default the shipped MOSES prior),
    ``batch_size``, ``sigma``, ``lr``, ``experience``, ``stop_unchanged`` (PMO's: 64, 500, 5e-4, 24, 5),
    ``patience``.

    ``steps`` counts the SMILES sampled; one :meth:`update` is one batch.
    """

    name = "reinvent"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        prior: str = str(DEFAULT_PRIOR),
        batch_size: int = 64,
        sigma: float = 500.0,
        lr: float = 5e-4,
        experience: int = 24,
        stop_unchanged: int = 5,
        patience: int = 20,
    ):
        if task.start_smiles is not None:
            raise ValueError(f"reinvent writes molecules from scratch; task {task.name!r} edits given start molecules")
        if stop_unchanged < 0:
            raise ValueError(f"reinvent: stop_unchanged must be >= 0 (0: never stop early), not {stop_unchanged}")
        super().__init__(
            task,
            seed,
            device,
            prior=prior,
            batch_size=batch_size,
            sigma=sigma,
            lr=lr,
            experience=experience,
            stop_unchanged=stop_unchanged,
            patience=patience,
        )
        self.patience = patience
        self.prior, self.vocab, _ = load_prior(prior, device)
        self.model = copy.deepcopy(self.prior)  # the agent starts as the prior and is tuned; the prior stays
        self.prior.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.replay: list[tuple[str, float]] = []  # the best molecules scored, best first
        self.unchanged = 0  # batches in a row that left the best 100 scores as they were

    @classmethod
    def pretrain(cls, smiles: list[str], out: Path, command: str, **options) -> str:
        return pretrain(smiles, out, command, **options)

    @classmethod
    def from_pretrained(cls, state: dict, path: Path, task: Task, seed: int = 0, device: str = "cpu") -> ReinventAgent:
        return cls(task, seed=seed, device=device, prior=str(path))

    def _smiles(self, sequences: torch.Tensor) -> list[str | None]:
        """Canonical SMILES of each row, ``None`` where it is not a valid molecule."""
        out = []
        with rdBase.BlockLogs():
            for row in sequences.cpu():
                mol = Chem.MolFromSmiles(self.vocab.decode(row))
                out.append(Chem.MolToSmiles(mol) if mol is not None else None)
        return out

    def update(self, oracle: Oracle) -> dict[str, float]:
        cfg = self.config
        sequences = torch.unique(self.model.sample(cfg["batch_size"], MAX_TOKENS, self.generator), dim=0)
        sequences = sequences[torch.randperm(len(sequences), generator=self.generator).to(sequences.device)]
        self.steps += cfg["batch_size"]
        smiles = self._smiles(sequences)
        scores = [oracle(s) if s is not None else 0.0 for s in smiles]  # the budget may run out here
        if cfg["experience"] and self.replay:
            picked = self.rng.choice(len(self.replay), size=min(cfg["experience"], len(self.replay)), replace=False)
            replayed = [self.replay[i] for i in picked]
            encoded = [self.vocab.encode(s) for s, _ in replayed]
            keep = [i for i, ids in enumerate(encoded) if ids is not None]
            if keep:
                replay_rows = self.vocab.batch([encoded[i] for i in keep], sequences.device)
                width = max(sequences.shape[1], replay_rows.shape[1])
                pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]))  # noqa: E731
                sequences = torch.cat([pad(sequences), pad(replay_rows)])
                scores = scores + [replayed[i][1] for i in keep]
        score = torch.as_tensor(scores, dtype=torch.float32, device=sequences.device)
        with torch.no_grad():
            prior_ll = self.prior.log_likelihood(sequences)
        agent_ll = self.model.log_likelihood(sequences)
        loss, fit = augmented_likelihood_loss(agent_ll, prior_ll, score, cfg["sigma"])
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        fresh = {s: v for s, v in zip(smiles, scores) if s is not None}
        before, self.replay = (
            self.replay,
            sorted({**dict(self.replay), **fresh}.items(), key=lambda item: -item[1])[:REPLAY_SIZE],
        )
        self._stop_when_unchanged([v for _, v in before], [v for _, v in self.replay], oracle.calls)
        valid = [v for s, v in zip(smiles, scores) if s is not None]
        return {
            "reward": float(np.mean(valid)) if valid else 0.0,
            "valid": len(valid) / len(smiles),
            "unique": len(smiles) / cfg["batch_size"],
            "loss": fit.item(),
            "agent_likelihood": agent_ll.mean().item(),
        }

    def _stop_when_unchanged(self, before: list[float], after: list[float], calls: int) -> None:
        limit = self.config["stop_unchanged"]
        if calls <= 1000 or not limit:
            return
        self.unchanged = self.unchanged + 1 if after == before else 0
        if self.unchanged >= limit:
            self.finished = f"best {REPLAY_SIZE} scores unchanged for {self.unchanged} batches"

    def propose(self, n: int) -> list[str]:
        """``n`` SMILES sampled from the agent, not scored, as the model wrote them: the invalid ones
        too (canonical where valid), so that a comparison's validity counts what the agent generated."""
        with torch.no_grad():
            sequences = self.model.sample(n, MAX_TOKENS, self.generator)
        return [
            smiles if smiles is not None else self.vocab.decode(row)
            for row, smiles in zip(sequences.cpu(), self._smiles(sequences))
        ]

    def _save_state(self, path: Path) -> None:
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(),
                "rng": self.rng.bit_generator.state,
                "replay": self.replay,
                "steps": self.steps,
                "updates": self.updates,
                "unchanged": self.unchanged,
                "tokens": self.vocab.tokens,
            },
            path / "reinvent.pt",
        )

    def _load_state(self, path: Path) -> None:
        file = path / "reinvent.pt"
        state = read_checkpoint(file, "reinvent", self.device)
        if state["tokens"] != self.vocab.tokens:
            raise ValueError(
                f"checkpoint {file} was trained from another prior (its tokens differ from {self.config['prior']})"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        self.replay, self.steps, self.updates = [tuple(r) for r in state["replay"]], state["steps"], state["updates"]
        self.unchanged = state.get("unchanged", 0)
