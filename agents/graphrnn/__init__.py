"""GraphRNN (You et al., ICML 2018) used as a policy in the env, as the ``graphrnn`` agent."""

from molgym_agents.graphrnn.agent import GraphRNNAgent
from molgym_agents.graphrnn.model import GraphRNN

__all__ = ["GraphRNN", "GraphRNNAgent"]
