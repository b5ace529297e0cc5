"""GCPN (You et al., NeurIPS 2018): graph convolutional policy network.

``policy`` (the exact joint distribution over the env's flat actions), ``expert`` (construction
sequences and behaviour cloning), ``ppo`` (PPO on the native batched env), ``discriminator`` (the
online adversarial reward) and ``agent`` (``gcpn`` in the registry).
"""

from molgym_agents.gcpn.policy import GCPNPolicy

__all__ = ["GCPNPolicy"]
