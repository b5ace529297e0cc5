"""GCPN (You et al., NeurIPS 2018): graph convolutional policy network.

Built so far: the policy (``GCPNPolicy``: exact joint distribution over the env's flat actions)
and expert behaviour cloning from construction sequences (``expert``). PPO training, the
adversarial discriminator and the ``gcpn`` agent of the registry come next (issue 5).
"""

from agents.gcpn.policy import GCPNPolicy

__all__ = ["GCPNPolicy"]
