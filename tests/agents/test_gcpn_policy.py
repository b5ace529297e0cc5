"""The GCPN policy: one exact distribution over legal flat actions, for sampling and training alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molgym.envs.vector import MolEditVectorEnv
from molgym_agents.gcpn import GCPNPolicy
from molgym_agents.gcpn.policy import Graphs, RelationalGraphConv


def _batch(env_kwargs=None, steps=5, num_envs=6, seed=0):
    env = MolEditVectorEnv(num_envs=num_envs, info_smiles="none", **(env_kwargs or {"min_steps": 3}))
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs, *_ = env.step(env.sample_actions(rng))
    tensors = {k: torch.as_tensor(v) for k, v in obs.items()}
    return env, tensors, torch.as_tensor(env.action_masks())


def _policy(env, **kwargs):
    torch.manual_seed(0)
    return GCPNPolicy(
        len(env.vocab),
        env.max_atoms,
        env.layout.num_bond_choices,
        max_free=int(env.vocab.max_valence.max()),
        hidden=32,
        rank=8,
        **kwargs,
    )


def test_the_packed_graph_convolution_is_the_dense_formula():
    """``h_i' = relu(W h_i + sum_r sum_j A_r[i, j] W_r h_j / deg_i)`` on the padded batch, against
    the packed rows of :class:`Graphs` (real atoms only, bonds as edge lists)."""
    env, obs, _ = _batch(steps=10, num_envs=8)
    types, bonds = obs["atom_types"], obs["bonds"].long()
    graphs = Graphs(types, bonds)
    present = types >= 0
    assert len(graphs.batch) == int(present.sum()) < types.numel()  # padding is not a row
    torch.manual_seed(0)
    conv = RelationalGraphConv(16)
    h = torch.randn(*types.shape, 16)
    A = torch.stack([(bonds == r + 1).float() for r in range(3)], dim=1)  # (B, 3, N, N)
    W_r = conv.relation.weight.view(3, 16, 16)
    messages = torch.einsum("brij,rkh,bjh->bik", A, W_r, h)
    degree = A.sum(dim=(1, 3)).clamp(min=1)
    dense = torch.relu(conv.self_loop(h) + messages / degree.unsqueeze(-1))
    packed = conv(h[present], graphs)
    assert torch.allclose(packed, dense[present], atol=1e-5)
    assert torch.equal(graphs.pad(packed)[present], packed) and torch.all(graphs.pad(packed)[~present] == 0)
    mean = (dense * present.unsqueeze(-1)).sum(dim=1) / present.sum(dim=1, keepdim=True)
    largest = dense.masked_fill(~present.unsqueeze(-1), float("-inf")).max(dim=1).values
    assert torch.allclose(graphs.readout(packed), torch.cat([mean, largest], dim=1), atol=1e-5)


def test_probabilities_sum_to_one_over_exactly_the_legal_actions():
    env, obs, mask = _batch()
    policy = _policy(env)
    dist, values = policy(obs, mask)
    logits = dist.logits()
    assert logits.shape == mask.shape == (6, env.layout.size) and values.shape == (6,)
    probs = logits.exp()
    assert torch.allclose(probs.sum(dim=1), torch.ones(6, dtype=probs.dtype), atol=1e-5)
    assert torch.all(probs[~mask] == 0) and torch.all(probs[mask] > 0)


def test_sampled_actions_are_always_legal_and_logprob_is_the_sampling_distribution():
    env, obs, mask = _batch(steps=3)
    policy = _policy(env)
    dist, _ = policy(obs, mask)
    draws = torch.stack([dist.sample() for _ in range(4000)])  # (4000, B)
    assert torch.all(mask.gather(1, draws.T))
    # empirical frequency of the most likely action matches its probability
    probs = dist.logits().exp()
    top = probs.argmax(dim=1)
    freq = (draws == top).float().mean(dim=0)
    assert torch.allclose(freq, probs.gather(1, top[:, None]).squeeze(1), atol=0.03)
    assert torch.equal(policy.act(obs, mask, greedy=True), top)
    # the whole sampling distribution, pooled over the batch: frequencies of every drawn action
    counts = torch.zeros_like(probs).scatter_add_(1, draws.T, torch.ones_like(draws.T, dtype=probs.dtype)) / 4000
    assert (counts - probs).abs().sum(dim=1).max() < 0.15  # total variation < 0.075


def test_log_prob_and_entropy_from_the_heads_equal_those_of_the_joint():
    env, obs, mask = _batch(env_kwargs={"allow_removal": True, "min_steps": 0}, steps=8, num_envs=16)
    policy = _policy(env)
    dist, _ = policy(obs, mask)
    joint = torch.distributions.Categorical(logits=dist.logits())
    for _ in range(5):
        actions = dist.sample()
        assert torch.allclose(dist.log_prob(actions), joint.log_prob(actions), atol=1e-5)
    assert torch.allclose(dist.entropy(), joint.entropy(), atol=1e-4)
    illegal = (~mask).float().argmax(dim=1)  # an illegal action of every row
    assert torch.all(dist.log_prob(illegal) == float("-inf"))


@pytest.mark.parametrize("removal", [False, True])
def test_the_log_prob_of_given_actions_equals_the_distributions(removal):
    """``GCPNPolicy.log_prob`` scores the second-atom and bond heads only where the action went:
    the same values (and gradients flow), for legal actions, stops and illegal ones."""
    env, obs, mask = _batch(env_kwargs={"allow_removal": removal, "min_steps": 0}, steps=8, num_envs=16)
    policy = _policy(env)
    dist, _ = policy(obs, mask)
    stop = torch.full((16,), env.layout.stop)
    illegal = (~mask).float().argmax(dim=1)
    for actions in (dist.sample(), dist.sample(), stop, illegal):
        fast = policy.log_prob(obs, mask, actions)
        full = dist.log_prob(actions)
        assert torch.equal(torch.isinf(fast), torch.isinf(full))
        assert torch.allclose(fast[torch.isfinite(full)], full[torch.isfinite(full)], atol=1e-5)
    policy.log_prob(obs, mask, dist.sample()).sum().backward()
    assert all(p.grad is not None for p in policy.second_query.parameters())


def test_cropping_to_the_largest_molecule_changes_nothing():
    env, obs, mask = _batch(steps=12, num_envs=8)
    policy = _policy(env)
    sizes = (obs["atom_types"] >= 0).sum(dim=1)
    small, large = int(sizes.argmin()), int(sizes.argmax())
    assert sizes[small] < sizes[large]
    alone, value_alone = policy({k: v[[small]] for k, v in obs.items()}, mask[[small]])
    pair, value_pair = policy({k: v[[small, large]] for k, v in obs.items()}, mask[[small, large]])
    assert alone.first.shape[1] < pair.first.shape[1]  # cropped to a different size
    assert torch.allclose(alone.logits()[0], pair.logits()[0], atol=1e-5)
    assert torch.allclose(value_alone[0], value_pair[0], atol=1e-5)


def test_stop_only_and_edit_only_states():
    env, obs, mask = _batch()
    policy = _policy(env)
    only_stop = torch.zeros_like(mask)
    only_stop[:, -1] = True
    logits = policy(obs, only_stop)[0].logits()
    assert torch.allclose(logits[:, -1], torch.zeros(6))
    no_stop = mask.clone()
    no_stop[:, -1] = False
    logits = policy(obs, no_stop)[0].logits()
    assert torch.all(logits[:, -1] == float("-inf"))
    has_edit = no_stop.any(dim=1)  # a saturated molecule (e.g. N#N) has stop as its only legal action
    assert has_edit.sum() >= 4
    assert torch.allclose(logits[has_edit].exp().sum(dim=1), torch.ones(int(has_edit.sum())), atol=1e-5)


def test_gradients_are_finite_and_reach_every_head():
    env, obs, mask = _batch(env_kwargs={"allow_removal": True, "min_steps": 0})
    policy = _policy(env)
    dist, values = policy(obs, mask)
    actions = dist.sample()
    loss = -dist.log_prob(actions).mean() - 0.01 * dist.entropy().mean() + values.pow(2).mean()
    loss.backward()
    grads = {name: p.grad for name, p in policy.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    for head in ("first_head", "second_query", "bond_query", "stop_head", "value_head"):
        assert any(g.abs().sum() > 0 for name, g in grads.items() if name.startswith(head)), head


def test_padding_does_not_matter_and_the_device_is_a_choice():
    env, obs, mask = _batch()
    policy = _policy(env)
    logits = policy(obs, mask)[0].logits()
    shuffled = {k: v.clone() for k, v in obs.items()}
    n = int(obs["num_atoms"][0, 0])
    shuffled["free_valence"][0, n:] = 0
    again = policy(shuffled, mask)[0].logits()
    assert torch.allclose(logits[0], again[0])
    if torch.cuda.is_available():  # pragma: no cover - only on a machine with a GPU
        cuda = policy.to("cuda")
        out = cuda({k: v.cuda() for k, v in obs.items()}, mask.cuda())[0]
        assert torch.allclose(out.logits().cpu(), logits, atol=1e-4)
        actions = out.sample()
        assert actions.device.type == "cuda" and torch.all(mask.cuda().gather(1, actions[:, None]))


@pytest.mark.parametrize("greedy", [False, True])
def test_policy_drives_the_batched_env(greedy):
    env, obs, mask = _batch(steps=0)
    policy = _policy(env)
    rng_env = env
    for _ in range(30):
        actions = policy.act(obs, mask, greedy=greedy).numpy()
        obs_np, _, _, _, info = rng_env.step(env.layout.to_multidiscrete_many(actions))
        assert info["valid"][info["_valid"]].all()
        obs = {k: torch.as_tensor(v) for k, v in obs_np.items()}
        mask = torch.as_tensor(env.action_masks())
