"""What the edit actions do: legality, rejection, stop, termination, removal, start molecules."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdkit import Chem

import molgym
from envs_tests.conftest import make, masked_action, shared_file
from molgym.chem import MolGraph, StereoDropped, canonical_smiles, rdkit_accepts
from molgym.data import read_smiles
from molgym.envs import MolEditEnv, MolOptEnv
from molgym.wrappers import FlatAction


def _state(env):
    g = env.unwrapped.graph
    return g.atom_types.tobytes(), g.bonds.tobytes(), g.num_atoms


@pytest.mark.parametrize("allow_removal", [False, True])
def test_thousands_of_masked_steps_keep_every_state_valid(allow_removal):
    """Every reachable state sanitizes unchanged, and info agrees with the state."""
    env = make("MolEdit-v0", allow_removal=allow_removal, max_atoms=24, min_steps=5)
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=0)
    finals = 0
    for _ in range(3000):
        obs, reward, terminated, truncated, info = env.step(masked_action(env, rng))
        g = env.unwrapped.graph
        assert info["valid"]
        assert rdkit_accepts(g.atom_types, g.bonds, g.num_atoms, g.vocab)
        assert Chem.MolFromSmiles(info["smiles"]) is not None
        assert info["num_atoms"] == obs["num_atoms"][0] == g.num_atoms
        assert np.array_equal(obs["bonds"], obs["bonds"].T)
        n = g.num_atoms
        assert np.all(obs["atom_types"][n:] == -1) and np.all(obs["atom_types"][:n] >= 0)
        free = g.vocab.max_valence[g.atom_types[:n]] - g.bonds[:n, :n].sum(axis=1)
        assert np.array_equal(obs["free_valence"][:n], free) and np.all(free >= 0)
        assert reward == pytest.approx(sum(info["reward_terms"].values()))
        if terminated or truncated:
            finals += 1
            assert "qed" in info["reward_terms"]
            env.reset()
    assert finals > 10


def test_mask_predicts_acceptance_for_random_unmasked_actions():
    """Raw random actions (most illegal): accepted exactly when the mask said legal, else nothing changes."""
    env = make("MolEdit-v0", allow_removal=True, min_steps=3)
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    accepted = rejected = 0
    for _ in range(3000):
        # bias toward existing atoms and small second indices, so that many actions are legal
        n = env.unwrapped.graph.num_atoms
        nvec = env.unwrapped.layout.nvec
        action = np.array(
            [rng.integers(max(n, 1)), rng.integers(min(n + 14, nvec[1])), rng.integers(nvec[2]), rng.random() < 0.05]
        )
        layout = env.unwrapped.layout
        k = layout.from_multidiscrete(action)
        legal = env.unwrapped.action_masks()[k]
        before = _state(env)
        steps_before = env.unwrapped.steps
        _, reward, terminated, truncated, info = env.step(action)
        assert info["valid"] == legal
        if legal:
            accepted += 1
        else:
            rejected += 1
            assert _state(env) == before
            assert info["reward_terms"]["step_validity"] == pytest.approx(-1 / 38)
            assert env.unwrapped.steps == steps_before + 1
        if terminated or truncated:
            env.reset()
    assert accepted > 300 and rejected > 300


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 37), st.integers(0, 51), st.integers(0, 2), st.integers(0, 1)), max_size=60))
def test_any_action_sequence_never_crashes(actions):
    env = MolEditEnv(min_steps=4, max_steps=40)
    env.reset(seed=0)
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(np.array(a))
        assert env.observation_space.contains(obs)
        g = env.graph
        assert rdkit_accepts(g.atom_types, g.bonds, g.num_atoms, g.vocab)
        if terminated or truncated:
            env.reset()


def test_adding_atoms_and_bonds():
    env = MolEditEnv(reward=[], min_steps=0)
    env.reset(seed=0, options={"smiles": "CC"})
    T = len(env.vocab)
    o = env.vocab.names.index("O")
    _, _, _, _, info = env.step(np.array([1, 2 + o, 1, 0]))  # double-bond a new O to atom 1
    assert info["valid"] and info["smiles"] == "CC=O"
    _, _, _, _, info = env.step(np.array([1, 0, 0, 0]))  # atoms 1 and 0 are already bonded
    assert not info["valid"] and info["smiles"] == "CC=O"
    _, _, _, _, info = env.step(np.array([2, 2, 0, 0]))  # self-loop
    assert not info["valid"]
    _, _, _, _, info = env.step(np.array([2, 3 + o, 1, 0]))  # O=C already uses the O's valence
    assert not info["valid"]
    _, _, _, _, info = env.step(np.array([0, 3 + T, 0, 0]))  # past the last new-atom slot
    assert not info["valid"]
    _, _, _, _, info = env.step(np.array([5, 3, 0, 0]))  # first atom does not exist
    assert not info["valid"]


def test_stop_only_after_min_steps():
    env = MolEditEnv(min_steps=3)
    env.reset(seed=0)
    stop = np.array([0, 0, 0, 1])
    for _ in range(3):
        _, reward, terminated, _, info = env.step(stop)
        assert not terminated and not info["valid"]
    _, reward, terminated, _, info = env.step(stop)
    assert terminated and info["valid"]
    assert reward == pytest.approx(1 / 38 + info["reward_terms"]["qed"])


def test_stop_is_allowed_when_no_edit_is():
    env = MolEditEnv(min_steps=100, max_atoms=2, atom_types=["C", "F"])
    env.reset(options={"smiles": "FF"})
    mask = env.action_masks()
    assert mask[-1] and not mask[:-1].any()


def test_reaching_max_atoms_terminates():
    env = MolEditEnv(max_atoms=3, min_steps=100)
    env.reset(seed=0)
    _, _, terminated, _, _ = env.step(np.array([0, 1, 0, 0]))
    assert not terminated
    _, _, terminated, _, info = env.step(np.array([1, 2, 0, 0]))
    assert terminated and info["num_atoms"] == 3 and info["smiles"] == "CCC"


def test_removal_keeps_one_fragment_and_drops_lone_atoms():
    env = MolOptEnv(start_smiles="CC(C)O", reward=[], step_reward=None)
    env.reset(seed=0)
    layout = env.layout
    mask = env.action_masks()
    assert mask[layout.encode(1, 3, 3)]  # removing C-O strands the O: legal, the O is dropped
    _, _, _, _, info = env.step(np.array([1, 3, 3, 0]))
    assert info["valid"] and info["smiles"] == "CCC" and info["num_atoms"] == 3
    env.reset(options={"smiles": "C1CCCCC1"})
    _, _, _, _, info = env.step(np.array([0, 1, 3, 0]))  # opening a ring keeps one fragment
    assert info["valid"] and info["smiles"] == "CCCCCC"
    env.reset(options={"smiles": "CCCC"})
    assert not env.action_masks()[layout.encode(1, 2, 3)]  # would leave two 2-atom fragments
    _, _, _, _, info = env.step(np.array([1, 2, 3, 0]))
    assert not info["valid"] and info["smiles"] == "CCCC"


def test_all_800_charged_start_molecules_round_trip():
    smiles = read_smiles(shared_file("zinc_low_plogp_800.txt"))
    assert len(smiles) == 800
    with pytest.warns(StereoDropped) as dropped:  # stereochemistry is dropped, and said
        env = MolOptEnv(start_smiles=smiles)
        charged = charged_in_rdkit = 0
        for s in smiles:
            _, info = env.reset(options={"smiles": s})
            original = Chem.MolFromSmiles(s)
            assert info["smiles"] == canonical_smiles(original)
            charged += any(a.GetFormalCharge() for a in env.mol.GetAtoms())
            charged_in_rdkit += any(a.GetFormalCharge() for a in original.GetAtoms())
    assert charged == charged_in_rdkit > 600  # every charge kept (682 of the 800 are charged)
    stereo = sum("@" in s or "/" in s or "\\" in s for s in smiles)
    assert str(dropped[0].message).endswith(f"dropped from {stereo} of 800 start molecules (a state is a 2D graph)")
    assert len(dropped) == 1 + stereo  # then one per reset to a molecule with stereo marks


def test_start_molecules_are_sampled_with_the_env_rng():
    env = MolOptEnv(start_smiles=["CCO", "CCN", "CCCl", "CCS"])
    seen = {env.reset(seed=s)[1]["smiles"] for s in range(20)}
    assert seen == {"CCO", "CCN", "CCCl", "CCS"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_smiles": "C1CC"}, "invalid SMILES"),
        ({"start_smiles": "C[Se]C"}, "not in the vocabulary"),
        ({"start_smiles": "C" * 40}, "more than max_atoms"),
        ({"atom_types": ["C", "Xq"]}, "unknown element"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_constructor_input_is_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MolEditEnv(**kwargs)


@pytest.mark.parametrize(
    ("mode", "expected"), [("step", [True, True, True]), ("end", [True, False, True]), ("none", [False] * 3)]
)
def test_info_smiles_modes(mode, expected):
    env = MolEditEnv(info_smiles=mode, min_steps=1)
    _, info = env.reset(seed=0)
    seen = ["smiles" in info]
    _, _, _, _, info = env.step(np.array([0, 0, 0, 0]))  # a new carbon
    seen.append("smiles" in info)
    _, _, terminated, _, info = env.step(np.array([0, 0, 0, 1]))  # stop
    seen.append("smiles" in info)
    assert terminated and seen == expected
    with pytest.raises(ValueError, match="info_smiles"):
        MolEditEnv(info_smiles="always")


def test_molopt_without_start_molecules_says_so():
    with pytest.raises(ValueError, match="needs start molecules"):
        gym.make("MolOpt-v0")


def test_bad_reset_smiles_is_a_clear_value_error():
    env = MolEditEnv()
    with pytest.raises(ValueError, match="invalid SMILES 'not a molecule'"):
        env.reset(options={"smiles": "not a molecule"})


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.array([0, 0, 0]), "shape"),
        (np.array([0.0, 1.0, 0.0, 0.0]), "integers"),
        (np.array([38, 0, 0, 0]), "first=38"),
        (np.array([0, 0, 3, 0]), "bond=3"),
        (np.array([0, 0, 0, -1]), "stop=-1"),
        (np.int64(38 * 52 * 3 + 1), r"flat action out of range: 5929 not in \[0, 5929\)"),
    ],
)
def test_malformed_action_is_a_clear_value_error(action, message):
    env = MolEditEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_flat_indices_step_exactly_as_their_multidiscrete_form():
    """``step`` takes a flat index into the mask as it is: same molecules, rewards and infos."""
    flat, multi = MolEditEnv(min_steps=3, allow_removal=True), MolEditEnv(min_steps=3, allow_removal=True)
    flat.reset(seed=4)
    multi.reset(seed=4)
    rng = np.random.default_rng(4)
    for _ in range(300):
        legal = np.flatnonzero(flat.action_masks())
        k = int(rng.integers(flat.layout.size)) if rng.random() < 0.3 else int(rng.choice(legal))  # some illegal
        a = flat.step(np.int64(k))
        b = multi.step(flat.layout.to_multidiscrete(k))
        assert a[1:4] == b[1:4] and a[4]["valid"] == b[4]["valid"] and flat.smiles == multi.smiles
        assert flat.steps == multi.steps and np.array_equal(a[0]["bonds"], b[0]["bonds"])
        if a[2] or a[3]:
            flat.reset()
            multi.reset()


def test_flat_action_wrapper_matches_the_multidiscrete_actions():
    env = FlatAction(gym.make("MolEdit-v0", min_steps=2))
    env.reset(seed=0)
    layout = env.unwrapped.layout
    assert env.action_space.n == layout.size == 38 * (38 + 14) * 3 + 1
    rng = np.random.default_rng(0)
    for _ in range(200):
        mask = env.action_masks()
        k = int(rng.choice(np.flatnonzero(mask)))
        first, second, bond, stop = env.decode_action(k)
        assert k == (layout.stop if stop else layout.encode(first, second, bond))
        assert molgym.decode_action(k) == (first, second, bond, stop)
        _, _, terminated, truncated, info = env.step(k)
        assert info["valid"]
        if terminated or truncated:
            env.reset()
    with pytest.raises(ValueError):
        env.step(layout.size)


def test_reward_plugins_receive_the_molecule():
    seen = []

    def heavy_atoms(mol):
        seen.append(Chem.MolToSmiles(mol))
        return mol.GetNumAtoms()

    env = gym.make("MolEdit-v0", reward=heavy_atoms, min_steps=0)
    env.reset(seed=0, options={"smiles": "CCO"})
    _, reward, terminated, _, info = env.step(np.array([0, 0, 0, 1]))
    assert terminated and seen == ["CCO"]
    assert info["reward_terms"] == {"step_validity": pytest.approx(1 / 38), "heavy_atoms": 3.0}
    assert MolGraph.from_smiles("CCO", env.unwrapped.vocab, 38) == env.unwrapped.graph
