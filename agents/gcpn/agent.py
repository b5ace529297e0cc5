"""GCPN as an agent (``gcpn``): PPO of the GCPN policy on the task's native batched env."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from molgym.agent import UpdatingAgent, check_settings, read_checkpoint
from molgym.loop import BestPolicy
from molgym.oracle import Oracle, OracleTerm
from molgym.rewards import Adversarial
from molgym.rollout import rollout
from molgym.tasks import Task
from molgym_agents.gcpn.discriminator import OnlineDiscriminator
from molgym_agents.gcpn.expert import expert_data as expert_data_of
from molgym_agents.gcpn.expert import pretrain
from molgym_agents.gcpn.policy import GCPNPolicy
from molgym_agents.gcpn.ppo import PPO, PPOConfig, obs_tensors

__all__ = ["GCPNAgent", "load_weights", "PRETRAINED"]


#: The checkpoint shipped with the package (see ``checkpoints/README.md`` for how it was made).
PRETRAINED = Path(__file__).with_name("checkpoints") / "gcpn_moses.pt"


class GCPNAgent(UpdatingAgent):
    """Config: ``num_envs`` (molecules per batch), ``hidden``, ``layers``, ``rank`` (policy size),
    ``init`` (checkpoint to start from: ``"pretrained"``, the shipped one and the default, used
    when the task has its vocabulary and ``max_atoms``; a path; or ``None`` for random weights),
    ``adversarial`` (GCPN's adversarial reward: ``"none"``, the default, ``"final"``, ``"step"`` or
    ``"both"``), ``adversarial_coef`` (its weight on the final reward; ``coef / max_atoms`` per
    step, the scale of the step-validity reward), ``real`` and ``real_molecules`` (the
    discriminator's real molecules: ``"nci"``, ``"moses"`` or a SMILES file, and how many) and
    ``repeat_penalty`` (subtracted from the reward of a molecule the oracle had already scored, so
    that the policy keeps looking for new ones instead of collapsing onto its best; each update logs
    ``new_molecules``, the paid calls it made), ``best_window`` (> 0: keep the policy's weights at the
    end of its best that many updates by training reward, :class:`molgym.loop.BestPolicy`, in
    ``agent.best``, saved with the agent) and the :class:`PPOConfig` fields. With ``expert_coef`` > 0, GCPN's expert loss (behaviour cloning
    on the construction sequences of ``expert_molecules`` real molecules of ``expert_data``:
    ``"moses"``, ``"nci"`` or a SMILES file) is added to every PPO minibatch and logged as
    ``expert_loss``."""

    name = "gcpn"
    #: PPO settings that differ from :class:`PPOConfig`'s for GCPN: 32 molecules x 32 steps per update,
    #: and 2 epochs (why, and what they were before: CHANGELOG.md)
    PPO_DEFAULTS = {"num_steps": 32, "minibatch_size": 256, "epochs": 2}

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        num_envs: int = 32,
        hidden: int = 128,
        layers: int = 3,
        rank: int = 32,
        init: str | None = "pretrained",
        adversarial: str = "none",
        adversarial_coef: float = 1.0,
        real: str = "nci",
        real_molecules: int = 5000,
        expert_data: str = "moses",
        expert_molecules: int = 2000,
        repeat_penalty: float = 0.0,
        best_window: int = 0,
        **ppo,
    ):
        if adversarial not in ADVERSARIAL:
            raise ValueError(f"adversarial must be one of {', '.join(ADVERSARIAL)}, got {adversarial!r}")
        check_settings(type(self), ppo)
        config = {**self._ppo_defaults(), **ppo}
        super().__init__(
            task,
            seed,
            device,
            num_envs=num_envs,
            hidden=hidden,
            layers=layers,
            rank=rank,
            init=init,
            adversarial=adversarial,
            adversarial_coef=adversarial_coef,
            real=real,
            real_molecules=real_molecules,
            expert_data=expert_data,
            expert_molecules=expert_molecules,
            repeat_penalty=repeat_penalty,
            best_window=best_window,
            **config,
        )
        self.ppo_config = PPOConfig(**config)
        spec = task.edit_spec()
        self.vocab, self.layout = spec.vocab, spec.layout
        torch.manual_seed(seed)
        self.policy = GCPNPolicy(
            len(self.vocab),
            self.layout.max_atoms,
            self.layout.num_bond_choices,
            max_free=int(self.vocab.max_valence.max()),
            hidden=hidden,
            layers=layers,
            rank=rank,
        )
        self.rng = np.random.default_rng(seed)
        self.discriminator = None
        if adversarial != "none":
            real_graphs = _real_molecules(real, real_molecules, self.vocab, self.layout.max_atoms)
            self.discriminator = OnlineDiscriminator(real_graphs, len(self.vocab), device=device, seed=seed)
        self.expert = None  # (ExpertData, layout, vocab) of the expert loss
        if self.ppo_config.expert_coef > 0:
            graphs = _real_molecules(expert_data, expert_molecules, self.vocab, self.layout.max_atoms)
            self.expert = (expert_data_of(graphs, self.layout, seed=seed), self.layout, self.vocab)
        self._ppo: PPO | None = None
        self._oracle: Oracle | None = None
        self.best = BestPolicy(best_window) if best_window > 0 else None  # the policy at its best window
        self._saved_ppo: dict | None = None  # a loaded run's PPO state, applied when training resumes
        if init == "pretrained":
            sizes = {"hidden": hidden, "layers": layers, "rank": rank}
            fits = PRETRAINED.is_file() and sizes == {"hidden": 128, "layers": 3, "rank": 32}
            if fits and self.vocab.names == _pretrained_meta()[0] and self.layout.max_atoms == _pretrained_meta()[1]:
                self._load_policy(PRETRAINED)
        elif init is not None:
            self._load_policy(Path(init))

    @classmethod
    def _ppo_defaults(cls) -> dict:
        """Every :class:`PPOConfig` field, with GCPN's own defaults (``PPO_DEFAULTS``) where they differ."""
        return asdict(PPOConfig(**cls.PPO_DEFAULTS))

    @classmethod
    def settings(cls) -> dict:
        return {**super().settings(), **cls._ppo_defaults()}

    @classmethod
    def _config_for_load(cls, config: dict) -> dict:
        return {**config, "init": None}  # the saved weights replace whatever the run started from

    @classmethod
    def pretrain(cls, smiles: list[str], out: Path, command: str, **options) -> str:
        return pretrain(smiles, out, command, **options)

    @classmethod
    def from_pretrained(cls, state: dict, path: Path, task: Task, seed: int = 0, device: str = "cpu") -> GCPNAgent:
        return cls(task, seed=seed, device=device, init=str(path), **state.get("sizes", {}))

    def update(self, oracle: Oracle) -> dict[str, float]:
        """One PPO round (``num_steps`` steps of ``num_envs`` molecules), then the discriminator's steps."""
        if self._ppo is None or self._oracle is not oracle:
            self._start(oracle)
        calls = oracle.calls
        stats = self._ppo.update()
        self.steps += self.ppo_config.num_steps * self.config["num_envs"]
        out = {
            "reward": float(np.mean(stats.finished)) if stats.finished else float("nan"),
            "episodes": float(len(stats.finished)),
            "new_molecules": float(oracle.calls - calls),
            "policy_loss": stats.policy_loss,
            "value_loss": stats.value_loss,
            "entropy": stats.entropy,
            "approx_kl": stats.approx_kl,
            "clip_fraction": stats.clip_fraction,
        }
        if self.expert is not None:
            out["expert_loss"] = stats.expert_loss
        out.update({f"seconds_{phase}": value for phase, value in stats.seconds.items()})  # where the time went
        if self.discriminator is not None:
            out["discriminator_loss"] = self.discriminator.update(stats.final_types, stats.final_bonds)
        return out

    def _start(self, oracle: Oracle) -> None:
        reward, step = OracleTerm(oracle, self.task.name, self.config["repeat_penalty"]), None
        mode, coef = self.config["adversarial"], self.config["adversarial_coef"]
        if mode in ("final", "both"):
            reward = reward + Adversarial(self.discriminator, final=True) * coef
        if mode in ("step", "both"):
            step = Adversarial(self.discriminator, final=False) * (coef / self.layout.max_atoms)
        if self._ppo is not None:
            self._ppo.env.close()
        env = self.task.make_vector_env(None, num_envs=self.config["num_envs"], reward=reward, step_reward=step)
        self._ppo = PPO(
            self.policy,
            env,
            self.ppo_config,
            device=self.device,
            seed=int(self.rng.integers(2**31)),
            expert=self.expert,
        )
        self._oracle = oracle
        if self._saved_ppo is not None:
            self._ppo.load_state_dict(self._saved_ppo)
            self._saved_ppo = None

    def callbacks(self) -> list:
        return [self.best] if self.best is not None else []

    def propose(self, n: int) -> list[str]:
        return self.rollouts(n)

    def propose_from(self, start: str, n: int) -> list[str]:
        return self.propose_from_each([start], n)[0]

    def propose_from_each(
        self, starts: Sequence[str], n: int, greedy: bool = False, episodes: int = 256
    ) -> list[list[str]]:
        """The final molecules of ``n`` episodes of the policy from each molecule of ``starts``
        (constrained optimisation), about ``episodes`` episodes per batch."""
        if n < 1:
            return [[] for _ in starts]
        per_batch = max(1, episodes // n)
        out: list[list[str]] = []
        for first in range(0, len(starts), per_batch):
            out += self._episodes_from(list(starts[first : first + per_batch]), n, greedy)
        return out

    @torch.no_grad()
    def rollouts(self, n: int, greedy: bool = False) -> list[str]:
        """The final molecules of ``n`` episodes of the policy from the task's start molecules,
        ``num_envs`` episodes at a time."""
        env = self.task.make_vector_env(None, num_envs=min(n, self.config["num_envs"]), reward=[])
        out: list[str] = []
        while len(out) < n:
            out += rollout(env, self._acting(env, greedy), seed=int(self.rng.integers(2**31))).smiles
        env.close()
        return out[:n]

    @torch.no_grad()
    def _episodes_from(self, starts: list[str], n: int, greedy: bool) -> list[list[str]]:
        """One batch of ``n`` episodes from each of ``starts``: the final molecules, per start."""
        env = self.task.make_vector_env(None, num_envs=len(starts) * n, start_smiles=starts, reward=[])
        episodes = rollout(
            env,
            self._acting(env, greedy),
            seed=int(self.rng.integers(2**31)),
            options={"start_index": np.repeat(np.arange(len(starts)), n)},
        )
        env.close()
        return [episodes.smiles[i * n : (i + 1) * n] for i in range(len(starts))]

    def _acting(self, env, greedy: bool):
        """The policy as :func:`molgym.rollout.rollout`'s ``act``: flat actions of the rows asked for."""

        def act(obs, rows: np.ndarray) -> np.ndarray:
            if len(rows) < env.num_envs:
                obs = {k: v[rows] for k, v in obs.items()}
            return (
                self.policy.act(
                    obs_tensors(obs, self.device), torch.tensor(env.mask[rows], device=self.device), greedy=greedy
                )
                .cpu()
                .numpy()
            )

        return act

    def _save_state(self, path: Path) -> None:
        sizes = {k: self.config[k] for k in ("hidden", "layers", "rank")}
        ppo = self._ppo.state_dict() if self._ppo is not None else self._saved_ppo
        torch.save(
            {
                "policy": self.policy.state_dict(),
                "ppo": ppo,
                "sizes": sizes,
                "vocab": self.vocab.names,
                "max_atoms": self.layout.max_atoms,
                "steps": self.steps,
                "updates": self.updates,
                "discriminator": self.discriminator.state_dict() if self.discriminator else None,
                "best": self.best.state_dict() if self.best is not None else None,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": self.rng.bit_generator.state,
            },
            path / "gcpn.pt",
        )

    def _load_state(self, path: Path) -> None:
        state = self._load_policy(path / "gcpn.pt")
        self._saved_ppo, self._ppo = state.get("ppo"), None
        self.steps, self.updates = state.get("steps", 0), state.get("updates", 0)
        if self.discriminator is not None and state.get("discriminator"):
            self.discriminator.load_state_dict(state["discriminator"])
        if self.best is not None and state.get("best"):
            self.best.load_state_dict(state["best"])
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]

    def _load_policy(self, file: Path) -> dict:
        sizes = {k: self.config[k] for k in ("hidden", "layers", "rank")}
        return load_weights(self.policy, file, sizes, self.vocab.names, self.layout.max_atoms, self.device)


def load_weights(
    policy: GCPNPolicy, file: Path | str, sizes: dict, vocab: list[str] | None, max_atoms: int, device: str = "cpu"
) -> dict:
    """Load a GCPN checkpoint (a ``molgym pretrain`` ``.pt``, a run's ``gcpn.pt``, the shipped one)
    into ``policy``, checking its sizes, atom types (unless ``vocab`` is None) and ``max_atoms``;
    a checkpoint without bond removal fills a policy with it. Returns the checkpoint's dict."""
    file = Path(file)
    state = read_checkpoint(file, "GCPN", device)
    if "policy" not in state:
        raise ValueError(f"cannot read GCPN checkpoint {file}: no policy weights in it")
    if state.get("sizes", sizes) != sizes:
        raise ValueError(f"checkpoint {file} has policy sizes {state['sizes']}; this policy uses {sizes}")
    types_differ = state.get("vocab") != vocab if vocab is not None else len(state.get("vocab") or ()) != policy.T
    if types_differ or state.get("max_atoms") != max_atoms:
        raise ValueError(
            f"checkpoint {file} is for atom types {state.get('vocab')} and max_atoms {state.get('max_atoms')}; "
            f"this policy uses {vocab if vocab is not None else f'{policy.T} types'} and {max_atoms}"
        )
    weights = state["policy"]
    saved_choices = weights["bond_query.weight"].shape[0] // sizes["rank"]
    if saved_choices < policy.C:  # e.g. the shipped checkpoint on a task with bond removal
        weights = _extend_bond_choices(weights, policy.state_dict(), saved_choices)
    policy.load_state_dict(weights)
    return state


def _extend_bond_choices(saved: dict, current: dict, choices: int) -> dict:
    """Weights of a policy with fewer bond choices (no removal) in a policy with more: the bond
    heads keep the saved choices' slices; the new choices keep their fresh initialisation."""
    out = dict(saved)
    for key in ("bond_query.weight", "bond_query.bias", "bond_key.weight", "bond_key.bias"):
        rows = saved[key].shape[0]
        out[key] = torch.cat([saved[key], current[key][rows:]])
    return out


#: Values of the ``adversarial`` setting.
ADVERSARIAL = ("none", "final", "step", "both")


def _real_molecules(source: str, limit: int, vocab, max_atoms: int):
    """Real molecules (the discriminator's, the expert loss's), encoded for the env (those that fit)."""
    from molgym.data import encode_smiles, load_smiles

    encoded = encode_smiles(load_smiles(source, limit=limit), vocab, max_atoms)
    if not encoded.graphs:
        raise ValueError(f"no molecule of {source!r} fits this task's atom types and max_atoms {max_atoms}")
    return encoded.graphs


@lru_cache(maxsize=1)
def _pretrained_meta() -> tuple[list[str], int]:
    """Atom types and max_atoms of the shipped checkpoint."""
    state = torch.load(PRETRAINED, map_location="cpu", weights_only=False)
    return state["vocab"], state["max_atoms"]
