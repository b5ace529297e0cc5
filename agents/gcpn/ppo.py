"""PPO for the GCPN policy on the native batched env, readable top to bottom (CleanRL's shape).

One update: collect ``num_steps`` steps of every molecule with the current policy, storing each
action's log-probability (the old policy, frozen for the whole update), compute GAE advantages,
then ``epochs`` passes of minibatch gradient steps on the clipped surrogate, the value loss, the
entropy bonus and, optionally, the expert behaviour-cloning loss (GCPN mixes it into PPO).

With ``normalize_returns`` the value head predicts returns in units of the running standard
deviation of the rewards-to-go seen so far (:class:`ReturnScale`, this rollout's included): GAE
runs on the raw rewards with the values scaled back, and the value loss compares scaled values
with scaled returns, so that the update no longer depends on the reward's scale. Without it a
task whose scores spread widely (constrained optimisation: scores with std ~3.7, against QED's
~0.2) lets the value loss dominate the gradient of the encoder the heads share.

The env autoresets on the step after an episode ends (Gymnasium's default): that step's action
does nothing, so its transition is left out of the loss, and the episode's last observation
(returned by the ending step) bootstraps the value of truncated episodes.
"""

from __future__ import annotations

import time
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
    normalize_returns: bool = False  # the value head learns returns divided by their running std
    pieces: int = 4  # each minibatch is computed in this many pieces of similar-sized molecules (same gradient)


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
    seconds: dict[str, float] = field(default_factory=dict)  # where the time went: act, env, learn, expert


#: The observation keys the policy reads.
KEYS = ("atom_types", "bonds", "free_valence")


def obs_tensors(obs: dict[str, np.ndarray], device) -> dict[str, torch.Tensor]:
    """The policy's inputs from an env observation, as tensors on ``device``."""
    return {k: torch.as_tensor(obs[k], device=device) for k in KEYS}


class _Clock:
    """Seconds spent per phase: :meth:`lap` charges the time since the last lap to ``phase``
    (waiting for the GPU first, so its queued work is charged where it was queued)."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self.last
        self.last = now


def _pieces(sizes: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions ``0 .. len(sizes) - 1`` sorted by molecule size and cut into ``count`` pieces."""
    order = np.argsort(sizes, kind="stable")
    return [piece for piece in np.array_split(order, min(count, len(order))) if len(piece)]


class ReturnScale:
    """Running standard deviation of returns (count, mean and sum of squared deviations,
    merged batch by batch with Chan et al.'s formula); ``1`` before any return is seen."""

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, returns: np.ndarray) -> None:
        n = returns.size
        if n == 0:
            return
        mean, m2 = float(returns.mean()), float(((returns - returns.mean()) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.count + 1e-8)) if self.count else 1.0


class PPO:
    """PPO of ``policy`` in ``env``; :meth:`update` runs one collect-and-learn round."""

    def __init__(
        self,
        policy,
        env: MolEditVectorEnv,
        config: PPOConfig | None = None,
        device: str = "cpu",
        seed: int = 0,
        expert=None,
    ):
        self.policy, self.env, self.config, self.device = policy.to(device), env, config or PPOConfig(), device
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=self.config.learning_rate, eps=1e-5)
        self.expert = expert  # (ExpertData, layout, vocab) for the expert loss, or None
        self.rng = np.random.default_rng(seed)
        self.obs, _ = env.reset(seed=seed)
        self.ended = np.zeros(env.num_envs, dtype=bool)  # the next step of these envs is an autoreset
        self.return_scale = ReturnScale()  # used with normalize_returns

    def update(self) -> UpdateStats:
        cfg, env, device = self.config, self.env, self.device
        T, B = cfg.num_steps, env.num_envs
        # rollout storage: tensors on the policy's device, (T, B, ...) as the env's batch
        store = {
            k: torch.empty((T, *v.shape), dtype=v.dtype, device=device)
            for k, v in obs_tensors(self.obs, device).items()
        }
        masks = torch.empty((T, B, env.layout.size), dtype=torch.bool, device=device)
        actions = torch.empty((T, B), dtype=torch.long, device=device)
        logprobs = torch.empty((T, B), device=device)
        values = torch.empty((T + 1, B), device=device)
        rewards = np.zeros((T, B), dtype=np.float32)
        terminated = np.zeros((T, B), dtype=bool)
        valid = np.zeros((T, B), dtype=bool)  # False: the autoreset step, whose action did nothing
        finished: list[float] = []
        final_types, final_bonds = [], []
        clock = _Clock(device)

        # 1. collect with the current policy (its log-probabilities are the frozen old policy)
        for t in range(T):
            obs = obs_tensors(self.obs, device)
            for k in KEYS:
                store[k][t] = obs[k]
            masks[t] = torch.tensor(env.mask, device=device)
            valid[t] = ~self.ended
            with torch.no_grad():
                dist, values[t] = self.policy(obs, masks[t])
                actions[t] = dist.sample()
                logprobs[t] = dist.log_prob(actions[t])
            chosen = actions[t].cpu().numpy()
            clock.lap("act")
            self.obs, reward, term, trunc, _ = env.step(chosen)
            clock.lap("env")
            rewards[t], terminated[t] = reward, term
            done = term | trunc
            finished.extend(reward[done].tolist())
            final_types.append(self.obs["atom_types"][done])
            final_bonds.append(self.obs["bonds"][done])
            self.ended = done
        with torch.no_grad():
            values[T] = self.policy(obs_tensors(self.obs, device), torch.tensor(env.mask, device=device))[1]
        ends = {"final_types": np.concatenate(final_types), "final_bonds": np.concatenate(final_bonds)}
        clock.lap("act")

        # 2. GAE; an autoreset step has advantage 0, which also stops the sum at episode ends
        if cfg.normalize_returns:  # the value head's unit: the std of the rewards-to-go seen (no bootstrap)
            to_go, running = np.zeros((T, B), dtype=np.float32), np.zeros(B, dtype=np.float32)
            for t in reversed(range(T)):
                running = np.where(valid[t], rewards[t] + cfg.gamma * ~terminated[t] * running, 0.0)
                to_go[t] = running
            self.return_scale.update(to_go[valid])
        scale = self.return_scale.std if cfg.normalize_returns else 1.0
        value = values.cpu().numpy() * scale
        advantages = np.zeros((T, B), dtype=np.float32)
        running = np.zeros(B, dtype=np.float32)
        for t in reversed(range(T)):
            delta = rewards[t] + cfg.gamma * value[t + 1] * ~terminated[t] - value[t]
            running = np.where(valid[t], delta + cfg.gamma * cfg.gae_lambda * ~terminated[t] * running, 0.0)
            advantages[t] = running
        returns = advantages + value[:T]
        advantages = torch.as_tensor(advantages.reshape(-1), device=device)
        returns = torch.as_tensor(returns.reshape(-1) / scale, device=device)  # the value head's targets

        # 3. learn on the valid transitions
        index = np.flatnonzero(valid.reshape(-1))
        if index.size == 0:
            return UpdateStats(*[float("nan")] * 5, finished, 0, **ends, seconds=clock.seconds)
        flat = {k: v.reshape(T * B, *v.shape[2:]) for k, v in store.items()}
        masks, actions, logprobs = masks.reshape(T * B, -1), actions.reshape(-1), logprobs.reshape(-1)
        sizes = (flat["atom_types"] >= 0).sum(dim=1).cpu().numpy()
        stats = {"policy": [], "value": [], "entropy": [], "kl": [], "clipped": [], "expert": []}
        for _ in range(cfg.epochs):
            order = self.rng.permutation(index)
            for start in range(0, len(order), cfg.minibatch_size):
                mb = order[start : start + cfg.minibatch_size]
                adv = advantages[mb]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8) if len(mb) > 1 else adv
                self.optimizer.zero_grad()
                # the minibatch's loss, in pieces of similar-sized molecules (each cropped to its largest)
                totals = torch.zeros(5, device=device)
                for rows in _pieces(sizes[mb], cfg.pieces):
                    i = torch.as_tensor(mb[rows], device=device)
                    dist, value = self.policy({k: v[i] for k, v in flat.items()}, masks[i])
                    ratio = torch.exp(dist.log_prob(actions[i]) - logprobs[i])
                    a = adv[torch.as_tensor(rows, device=device)]
                    policy_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).sum()
                    value_loss = (value - returns[i]).pow(2).sum()
                    entropy = dist.entropy().sum()
                    loss = (policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy) / len(mb)
                    loss.backward()
                    with torch.no_grad():
                        totals += torch.stack(
                            [
                                policy_loss,
                                value_loss,
                                entropy,
                                ((ratio - 1) - ratio.log()).sum(),
                                ((ratio - 1).abs() > cfg.clip).sum(),
                            ]
                        )
                clock.lap("learn")
                if self.expert is not None and cfg.expert_coef > 0:  # GCPN: behaviour cloning in every minibatch
                    expert_loss = self._expert_loss(len(mb))
                    (cfg.expert_coef * expert_loss).backward()
                    stats["expert"].append(expert_loss.item())
                    clock.lap("expert")
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                for key, total in zip(("policy", "value", "entropy", "kl", "clipped"), (totals / len(mb)).tolist()):
                    stats[key].append(total)
                clock.lap("learn")
        means = (float(np.mean(stats[k])) for k in ("policy", "value", "entropy", "kl", "clipped"))
        expert = float(np.mean(stats["expert"])) if stats["expert"] else float("nan")
        return UpdateStats(*means, finished, int(index.size), **ends, expert_loss=expert, seconds=clock.seconds)

    def state_dict(self) -> dict:
        """Everything the next update depends on besides the policy: optimizer, generator, env state."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "obs": {k: v.copy() for k, v in self.obs.items()},
            "ended": self.ended.copy(),
            "env": self.env.get_state(),
            "return_scale": vars(self.return_scale).copy(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.env.set_state(state["env"])
        self.obs, self.ended = {k: v.copy() for k, v in state["obs"].items()}, state["ended"].copy()
        vars(self.return_scale).update(state.get("return_scale", {}))

    def _expert_loss(self, size: int) -> torch.Tensor:
        from molgym_agents.gcpn.expert import expert_batch

        data, layout, vocab = self.expert
        index = self.rng.integers(len(data), size=size)
        obs, mask, actions = expert_batch(data, index, layout, vocab, self.device)
        dist, _ = self.policy(obs, mask)
        return -dist.log_prob(actions).mean()
