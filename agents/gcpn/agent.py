"""GCPN as an agent (``gcpn``): PPO of the GCPN policy on the task's native batched env."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from agents.base import Agent
from agents.gcpn.policy import GCPNPolicy
from agents.gcpn.ppo import PPO, PPOConfig, obs_tensors
from molgym.oracle import BudgetExhausted, Oracle
from molgym.tasks import Task

__all__ = ["GCPNAgent"]


#: The checkpoint shipped with the package (see ``checkpoints/README.md`` for how it was made).
PRETRAINED = Path(__file__).with_name("checkpoints") / "gcpn_moses.pt"


class GCPNAgent(Agent):
    """Config: ``num_envs`` (molecules per batch), ``hidden``, ``layers``, ``rank`` (policy size),
    ``init`` (checkpoint to start from: ``"pretrained"``, the shipped one and the default, used
    when the task has its vocabulary and ``max_atoms``; a path; or ``None`` for random weights)
    and the :class:`PPOConfig` fields."""

    name = "gcpn"

    def __init__(self, task: Task, seed: int = 0, device: str = "cpu", num_envs: int = 32, hidden: int = 128,
                 layers: int = 3, rank: int = 32, init: str | None = "pretrained", **ppo):
        config = {**asdict(PPOConfig(num_steps=32, minibatch_size=256)), **ppo}
        super().__init__(task, seed, device, num_envs=num_envs, hidden=hidden, layers=layers, rank=rank, init=init, **config)
        self.ppo_config = PPOConfig(**config)
        probe = task.make_vector_env(None, num_envs=1, reward=[])
        self.vocab, self.layout = probe.vocab, probe.layout
        torch.manual_seed(seed)
        self.policy = GCPNPolicy(len(self.vocab), self.layout.max_atoms, self.layout.num_bond_choices,
                                 max_free=int(self.vocab.max_valence.max()), hidden=hidden, layers=layers, rank=rank)
        self.optimizer_state = None
        self.rng = np.random.default_rng(seed)
        if init == "pretrained":
            sizes = {"hidden": hidden, "layers": layers, "rank": rank}
            fits = PRETRAINED.is_file() and sizes == {"hidden": 128, "layers": 3, "rank": 32}
            if fits and self.vocab.names == _pretrained_meta()[0] and self.layout.max_atoms == _pretrained_meta()[1]:
                self._load_policy(PRETRAINED)
        elif init is not None:
            self._load_policy(Path(init))

    @classmethod
    def _config_for_load(cls, config: dict) -> dict:
        return {**config, "init": None}  # the saved weights replace whatever the run started from

    def train(self, oracle: Oracle) -> None:
        env = self.task.make_vector_env(oracle, num_envs=self.config["num_envs"])
        ppo = PPO(self.policy, env, self.ppo_config, device=self.device, seed=int(self.rng.integers(2**31)))
        if self.optimizer_state is not None:
            ppo.optimizer.load_state_dict(self.optimizer_state)
        try:
            while True:
                ppo.update()
        except BudgetExhausted:
            pass
        finally:
            self.optimizer_state = ppo.optimizer.state_dict()
            env.close()

    @torch.no_grad()
    def propose(self, n: int) -> list[str]:
        env = self.task.make_vector_env(None, num_envs=min(n, self.config["num_envs"]), reward=[])
        obs, _ = env.reset(seed=int(self.rng.integers(2**31)))
        out: list[str] = []
        while len(out) < n:
            actions = self.policy.act(obs_tensors(obs, self.device), torch.as_tensor(env.mask, device=self.device))
            actions = actions.cpu().numpy()
            obs, _, terminated, truncated, _ = env.step(env.layout.to_multidiscrete_many(actions))
            out.extend(env.smiles_of(np.flatnonzero(terminated | truncated)))
        env.close()
        return out[:n]

    def _save_state(self, path: Path) -> None:
        sizes = {k: self.config[k] for k in ("hidden", "layers", "rank")}
        torch.save({"policy": self.policy.state_dict(), "optimizer": self.optimizer_state, "sizes": sizes,
                    "vocab": self.vocab.names, "max_atoms": self.layout.max_atoms,
                    "torch_rng": torch.get_rng_state(), "numpy_rng": self.rng.bit_generator.state}, path / "gcpn.pt")

    def _load_state(self, path: Path) -> None:
        state = self._load_policy(path / "gcpn.pt")
        self.optimizer_state = state.get("optimizer")
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]

    def _load_policy(self, file: Path) -> dict:
        try:
            state = torch.load(file, map_location=self.device, weights_only=False)
        except (OSError, RuntimeError, EOFError) as err:
            raise ValueError(f"cannot read GCPN checkpoint {file}: {err}") from None
        sizes = {k: self.config[k] for k in ("hidden", "layers", "rank")}
        if state.get("sizes", sizes) != sizes:
            raise ValueError(f"checkpoint {file} has policy sizes {state['sizes']}; this agent uses {sizes}")
        if state.get("vocab") != self.vocab.names or state.get("max_atoms") != self.layout.max_atoms:
            raise ValueError(
                f"checkpoint {file} is for atom types {state.get('vocab')} and max_atoms {state.get('max_atoms')}; "
                f"this task uses {self.vocab.names} and {self.layout.max_atoms}"
            )
        self.policy.load_state_dict(state["policy"])
        return state


@lru_cache(maxsize=1)
def _pretrained_meta() -> tuple[list[str], int]:
    """Atom types and max_atoms of the shipped checkpoint."""
    state = torch.load(PRETRAINED, map_location="cpu", weights_only=False)
    return state["vocab"], state["max_atoms"]
