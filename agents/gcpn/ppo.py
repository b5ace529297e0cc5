"""PPO for the GCPN policy on the native batched env, readable top to bottom (CleanRL's shape).

One update: collect ``num_steps`` steps of every molecule with the current policy, storing each
action's log-probability (the old policy, frozen for the whole update), compute GAE advantages,
then ``epochs`` passes of minibatch gradient steps on the clipped surrogate, the value loss, the
entropy bonus and, optionally, the expert behaviour-cloning loss (GCPN mixes it into PPO).

The env autoresets on the step after an episode ends (Gymnasium's default): that step's action
does nothing, so its transition is left out of the loss, and the episode's last observation
(returned by the ending step) bootstraps the value of truncated episodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from molgym.envs.vector import MolEditVectorEnv

__all__ = ["PPOConfig", "PPO"]


@dataclass
class PPOConfig:
    num_steps: int = 64
    epochs: int = 4
    minibatch_size: int = 256
    learning_rate: float = 3e-4
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    expert_coef: float = 0.0
    max_grad_norm: float = 0.5


@dataclass
class UpdateStats:
    """What one update did (for logs and tests)."""

    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clip_fraction: float
    finished: list[float] = field(default_factory=list)  # final rewards of the episodes that ended
    transitions: int = 0  # transitions learned from (autoreset steps excluded)
    final_types: np.ndarray | None = None  # (M, N) the molecules the episodes ended with
    final_bonds: np.ndarray | None = None  # (M, N, N)
    expert_loss: float = float("nan")  # mean expert negative log-likelihood mixed in (nan: none)


def obs_tensors(obs: dict[str, np.ndarray], device) -> dict[str, torch.Tensor]:
    """The policy's inputs from an env observation, as tensors on ``device``."""
    return {k: torch.as_tensor(obs[k], device=device) for k in ("atom_types", "bonds", "free_valence")}


class PPO:
    """PPO of ``policy`` in ``env``; :meth:`update` runs one collect-and-learn round."""

    def __init__(self, policy, env: MolEditVectorEnv, config: PPOConfig | None = None, device: str = "cpu",
                 seed: int = 0, expert=None):
        self.policy, self.env, self.config, self.device = policy.to(device), env, config or PPOConfig(), device
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=self.config.learning_rate, eps=1e-5)
        self.expert = expert  # (ExpertData, layout, vocab) for the expert loss, or None
        self.rng = np.random.default_rng(seed)
        self.obs, _ = env.reset(seed=seed)
        self.ended = np.zeros(env.num_envs, dtype=bool)  # the next step of these envs is an autoreset

    def update(self) -> UpdateStats:
        cfg, env, device = self.config, self.env, self.device
        T, B = cfg.num_steps, env.num_envs
        keys = ("atom_types", "bonds", "free_valence")
        store = {k: np.zeros((T, *self.obs[k].shape), dtype=self.obs[k].dtype) for k in keys}
        masks = np.zeros((T, B, env.layout.size), dtype=bool)
        actions = np.zeros((T, B), dtype=np.int64)
        logprobs = np.zeros((T, B), dtype=np.float32)
        values = np.zeros((T + 1, B), dtype=np.float32)
        rewards = np.zeros((T, B), dtype=np.float32)
        terminated = np.zeros((T, B), dtype=bool)
        valid = np.zeros((T, B), dtype=bool)  # False: the autoreset step, whose action did nothing
        finished: list[float] = []
        final_types, final_bonds = [], []

        # 1. collect with the current policy (its log-probabilities are the frozen old policy)
        for t in range(T):
            for k in keys:
                store[k][t] = self.obs[k]
            masks[t] = env.mask
            valid[t] = ~self.ended
            with torch.no_grad():
                dist, value = self.policy.distribution(obs_tensors(self.obs, device), torch.as_tensor(masks[t], device=device))
                action = dist.sample()
            actions[t] = action.cpu().numpy()
            logprobs[t] = dist.log_prob(action).cpu().numpy()
            values[t] = value.cpu().numpy()
            self.obs, reward, term, trunc, _ = env.step(env.layout.to_multidiscrete_many(actions[t]))
            rewards[t], terminated[t] = reward, term
            done = term | trunc
            finished.extend(reward[done].tolist())
            final_types.append(self.obs["atom_types"][done])
            final_bonds.append(self.obs["bonds"][done])
            self.ended = done
        with torch.no_grad():
            _, last = self.policy.distribution(obs_tensors(self.obs, device), torch.as_tensor(env.mask, device=device))
        values[T] = last.cpu().numpy()
        ends = {"final_types": np.concatenate(final_types), "final_bonds": np.concatenate(final_bonds)}

        # 2. GAE; an autoreset step has advantage 0, which also stops the sum at episode ends
        advantages = np.zeros((T, B), dtype=np.float32)
        running = np.zeros(B, dtype=np.float32)
        for t in reversed(range(T)):
            delta = rewards[t] + cfg.gamma * values[t + 1] * ~terminated[t] - values[t]
            running = np.where(valid[t], delta + cfg.gamma * cfg.gae_lambda * ~terminated[t] * running, 0.0)
            advantages[t] = running
        returns = advantages + values[:T]

        # 3. learn on the valid transitions
        index = np.flatnonzero(valid.reshape(-1))
        if index.size == 0:
            return UpdateStats(*[float("nan")] * 5, finished, 0, **ends)
        flat = {k: v.reshape(T * B, *v.shape[2:]) for k, v in store.items()}
        stats = {"policy": [], "value": [], "entropy": [], "kl": [], "clipped": [], "expert": []}
        for _ in range(cfg.epochs):
            order = self.rng.permutation(index)
            for start in range(0, len(order), cfg.minibatch_size):
                mb = order[start : start + cfg.minibatch_size]
                obs = {k: torch.as_tensor(flat[k][mb], device=device) for k in keys}
                dist, value = self.policy.distribution(obs, torch.as_tensor(masks.reshape(T * B, -1)[mb], device=device))
                act = torch.as_tensor(actions.reshape(-1)[mb], device=device)
                ratio = torch.exp(dist.log_prob(act) - torch.as_tensor(logprobs.reshape(-1)[mb], device=device))
                adv = torch.as_tensor(advantages.reshape(-1)[mb], device=device)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8) if len(mb) > 1 else adv
                policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
                value_loss = (value - torch.as_tensor(returns.reshape(-1)[mb], device=device)).pow(2).mean()
                entropy = dist.entropy().mean()
                loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
                if self.expert is not None and cfg.expert_coef > 0:  # GCPN: behaviour cloning in every minibatch
                    expert_loss = self._expert_loss(len(mb))
                    loss = loss + cfg.expert_coef * expert_loss
                    stats["expert"].append(expert_loss.item())
                self.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    stats["policy"].append(policy_loss.item())
                    stats["value"].append(value_loss.item())
                    stats["entropy"].append(entropy.item())
                    stats["kl"].append(((ratio - 1) - ratio.log()).mean().item())
                    stats["clipped"].append(((ratio - 1).abs() > cfg.clip).float().mean().item())
        means = (float(np.mean(stats[k])) for k in ("policy", "value", "entropy", "kl", "clipped"))
        expert = float(np.mean(stats["expert"])) if stats["expert"] else float("nan")
        return UpdateStats(*means, finished, int(index.size), **ends, expert_loss=expert)

    def state_dict(self) -> dict:
        """Everything the next update depends on besides the policy: optimizer, generator, env state."""
        return {"optimizer": self.optimizer.state_dict(), "rng": self.rng.bit_generator.state,
                "obs": {k: v.copy() for k, v in self.obs.items()}, "ended": self.ended.copy(),
                "env": self.env.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.env.set_state(state["env"])
        self.obs, self.ended = {k: v.copy() for k, v in state["obs"].items()}, state["ended"].copy()

    def _expert_loss(self, size: int) -> torch.Tensor:
        from agents.gcpn.expert import expert_batch

        data, layout, vocab = self.expert
        index = self.rng.integers(len(data), size=size)
        obs, mask, actions = expert_batch(data, index, layout, vocab, self.device)
        dist, _ = self.policy.distribution(obs, mask)
        return -dist.log_prob(actions).mean()
