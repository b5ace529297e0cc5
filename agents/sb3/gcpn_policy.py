"""The GCPN policy as an sb3-contrib ``MaskablePPO`` policy over ``FlatAction`` MolEdit envs.

``MaskablePPO(GCPNMaskablePolicy, FlatAction(env))`` trains the same network as the ``gcpn``
agent (:class:`molgym_agents.gcpn.GCPNPolicy`: a relational GCN and GCPN's four action heads), starting
from the shipped pretrained weights by default, with SB3's PPO. The action distribution is the
GCPN policy's own (exact over the legal flat actions, from its heads), so SB3 samples, scores and
regularises exactly what acts.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.distributions import MaskableCategoricalDistribution
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

from molgym_agents.gcpn.agent import PRETRAINED, load_weights
from molgym_agents.gcpn.policy import GCPNPolicy

__all__ = ["GCPNMaskablePolicy"]


class GCPNMaskablePolicy(MaskableActorCriticPolicy):
    """Actor-critic for ``MaskablePPO`` whose actor and critic are one :class:`GCPNPolicy`.

    Args (``policy_kwargs``): ``hidden``, ``layers``, ``rank`` (the policy's sizes); ``init``: the
    weights to start from: ``"pretrained"`` (the checkpoint shipped with the ``gcpn`` agent, the
    default), a checkpoint path (``molgym pretrain``'s ``.pt``, a ``gcpn`` run's ``gcpn.pt``) or
    ``None`` for random weights; ``atom_types``: the env's atom type names
    (``env.unwrapped.vocab.names``), checked against the checkpoint's when given. The sizes,
    number of atom types, ``max_atoms`` and bond choices come from the env's spaces.

    Shapes: observations ``atom_types (B, N)``, ``bonds (B, N, N)``, ``free_valence (B, N)``;
    actions ``(B,)`` flat indices; masks ``(B, K)``; values ``(B, 1)``.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Discrete,
        lr_schedule,
        hidden: int = 128,
        layers: int = 3,
        rank: int = 32,
        init: str | None = "pretrained",
        atom_types: list[str] | None = None,
        **kwargs,
    ):
        self.gcpn_config = {"hidden": hidden, "layers": layers, "rank": rank, "init": init, "atom_types": atom_types}
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule) -> None:
        types, free = self.observation_space["atom_types"], self.observation_space["free_valence"]
        N, T = types.shape[0], int(types.high.max()) + 1
        C, rest = divmod(self.action_space.n - 1, N * (N + T))
        if rest:
            raise ValueError(
                f"action space of {self.action_space.n} actions is not MolEdit's flat layout for "
                f"{N} atoms and {T} atom types (wrap the env in molgym.wrappers.FlatAction)"
            )
        c = self.gcpn_config
        sizes = {k: c[k] for k in ("hidden", "layers", "rank")}
        self.gcpn = GCPNPolicy(T, N, C, max_free=int(free.high.max()), **sizes)
        init = PRETRAINED if c["init"] == "pretrained" else c["init"]
        if init is not None:
            load_weights(self.gcpn, init, sizes, c["atom_types"], N)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict:
        return {**super()._get_constructor_parameters(), **self.gcpn_config}

    def _heads(self, obs: dict[str, torch.Tensor], action_masks) -> tuple:
        """The GCPN distribution and values ``(B, 1)``; without masks every action counts as legal."""
        B = obs["atom_types"].shape[0]
        if action_masks is None:
            mask = torch.ones((B, self.action_space.n), dtype=torch.bool, device=self.device)
        else:
            mask = torch.as_tensor(action_masks, device=self.device).reshape(B, -1).bool()
        dist, values = self.gcpn(obs, mask)
        return dist, values.unsqueeze(-1)

    def forward(self, obs, deterministic: bool = False, action_masks=None):
        dist, values = self._heads(obs, action_masks)
        actions = dist.mode() if deterministic else dist.sample()
        return actions, values, dist.log_prob(actions)

    def evaluate_actions(self, obs, actions: torch.Tensor, action_masks=None):
        dist, values = self._heads(obs, action_masks)
        return values, dist.log_prob(actions.long().flatten()), dist.entropy()

    def _predict(self, observation, deterministic: bool = False, action_masks=None) -> torch.Tensor:
        dist, _ = self._heads(observation, action_masks)
        return dist.mode() if deterministic else dist.sample()

    def get_distribution(self, obs, action_masks=None) -> MaskableCategoricalDistribution:
        """SB3's categorical over the joint ``(B, K)`` (for SB3 code that asks for one; this class's
        own methods use the GCPN heads directly)."""
        dist, _ = self._heads(obs, action_masks)
        out = MaskableCategoricalDistribution(self.action_space.n).proba_distribution(dist.logits())
        if action_masks is not None:
            out.apply_masking(action_masks)
        return out

    def predict_values(self, obs) -> torch.Tensor:
        return self._heads(obs, None)[1]
