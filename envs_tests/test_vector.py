"""The native batched env against a SyncVectorEnv of single envs: identical in every output."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import molgym
from molgym.envs.vector import MolEditVectorEnv

CONFIGS = {
    "qed-smiles-every-step": ("MolEdit-v0", {"min_steps": 6, "max_steps": 40}),
    "plogp-final-smiles": ("MolEdit-PLogP-v0", {"min_steps": 3, "max_steps": 30, "info_smiles": "end"}),
    "molopt-removal": (
        "MolOpt-v0",
        {"start_smiles": ["CCO", "C1CCC(O)CC1", "C[NH+]1CCC(C(=O)[O-])CC1"], "max_steps": 25},
    ),
    # few atom types, P and I frequent: exercises the rewrite rules, with removal too
    "tricky-removal": (
        "MolEdit-v0",
        {
            "atom_types": ["C", "N", "O", "P", "I", "O+", "N+"],
            "allow_removal": True,
            "max_atoms": 14,
            "min_steps": 4,
            "info_smiles": "none",
        },
    ),
}


def _compare_info(native: dict, sync: dict, where: str) -> None:
    assert set(native) == set(sync), f"{where}: keys {sorted(native)} != {sorted(sync)}"
    for key, value in sync.items():
        if isinstance(value, dict):
            _compare_info(native[key], value, f"{where}.{key}")
        elif key.startswith("_"):
            assert np.array_equal(native[key], value), f"{where}.{key}"
        else:
            present = sync[f"_{key}"]
            a, b = native[key][present], value[present]
            if a.dtype == object:
                assert list(a) == list(b), f"{where}.{key}"
            elif a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=f"{where}.{key}")
            else:
                assert np.array_equal(a, b), f"{where}.{key}"


def _actions(rng, masks, layout, n_atoms):
    """Mostly legal actions, some raw ones inside the space (most get rejected), some stops."""
    out = []
    for mask, n in zip(masks, n_atoms):
        u = rng.random()
        if u < 0.75:
            out.append(layout.to_multidiscrete(int(rng.choice(np.flatnonzero(mask)))))
        elif u < 0.95:
            nvec = layout.nvec
            out.append([rng.integers(max(n, 1) + 1), rng.integers(min(n + 3, nvec[1])), rng.integers(nvec[2]), 0])
        else:
            out.append([0, 0, 0, 1])
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("name", sorted(CONFIGS) + ["reset-options"])
def test_native_batched_env_matches_sync_vector_env(name):
    reset_options = None
    if name == "reset-options":  # the first episodes start from this molecule, autoresets from the start set
        name, reset_options = "molopt-removal", {"smiles": "CC(=O)Nc1ccc(O)cc1"}
    env_id, kwargs = CONFIGS[name]
    num_envs, steps = 8, 400
    native = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    assert isinstance(native, MolEditVectorEnv)
    assert native.metadata["autoreset_mode"] == sync.metadata["autoreset_mode"]
    obs_n, info_n = native.reset(seed=11, options=reset_options)
    obs_s, info_s = sync.reset(seed=11, options=reset_options)
    _compare_info(info_n, info_s, "reset")
    rng = np.random.default_rng(5)
    seen = {"rejected": 0, "done": 0, "stop": 0}
    for t in range(steps):
        for key in obs_s:
            assert np.array_equal(obs_n[key], obs_s[key]), f"step {t}: obs {key}"
        masks = native.action_masks()
        sync_masks = np.stack([e.unwrapped.action_masks() for e in sync.envs])
        assert np.array_equal(masks, sync_masks), f"step {t}: masks"
        actions = _actions(rng, masks, native.layout, obs_n["num_atoms"][:, 0])
        obs_n, rew_n, term_n, trunc_n, info_n = native.step(actions)
        obs_s, rew_s, term_s, trunc_s, info_s = sync.step(actions)
        np.testing.assert_allclose(rew_n, rew_s, rtol=1e-12, atol=0, err_msg=f"step {t}: rewards")
        assert np.array_equal(term_n, term_s) and np.array_equal(trunc_n, trunc_s), f"step {t}: ends"
        _compare_info(info_n, info_s, f"step {t}")
        seen["rejected"] += int((info_s["_valid"] & ~info_s["valid"]).sum())
        seen["done"] += int((term_s | trunc_s).sum())
        seen["stop"] += int(((actions[:, 3] == 1) & info_s["valid"] & info_s["_valid"]).sum())
    assert seen["rejected"] > 100 and seen["done"] > 20, seen  # rejections and autoresets were exercised
    native.close()
    sync.close()


def test_seeded_batched_resets_match_single_envs():
    starts = ["CCO", "CCN", "CCCl", "CCS", "c1ccccc1"]
    native = MolEditVectorEnv(molgym.envs.MolOptEnv, num_envs=5, start_smiles=starts)
    _, info = native.reset(seed=3)
    singles = [molgym.envs.MolOptEnv(start_smiles=starts).reset(seed=3 + i)[1]["smiles"] for i in range(5)]
    assert list(info["smiles"]) == singles


def test_reset_from_chosen_start_molecules():
    """``reset(options={"start_index": ...})``: each molecule starts from the named start molecule
    (one index for all, or one per molecule), in the batched env as in the single env; bad indices
    are refused in one line."""
    starts = ["CCO", "CCN", "c1ccccc1"]
    native = MolEditVectorEnv(molgym.envs.MolOptEnv, num_envs=4, start_smiles=starts)
    _, info = native.reset(seed=0, options={"start_index": [2, 0, 0, 1]})
    assert list(info["smiles"]) == ["c1ccccc1", "CCO", "CCO", "CCN"]
    _, info = native.reset(options={"start_index": 1})
    assert list(info["smiles"]) == ["CCN"] * 4
    single = molgym.envs.MolOptEnv(start_smiles=starts)
    assert [single.reset(options={"start_index": i})[1]["smiles"] for i in (2, 0)] == ["c1ccccc1", "CCO"]
    for bad, message in [([0, 1], "one index or 4"), ([0, 1, 2, 3], r"must be in \[0, 3\)"), (0.5, "must be integers")]:
        with pytest.raises(ValueError, match=message):
            native.reset(options={"start_index": bad})
    with pytest.raises(ValueError, match="not both"):
        single.reset(options={"start_index": 0, "smiles": "CC"})


def test_batched_env_torch_outputs_on_a_device():
    torch = pytest.importorskip("torch")
    env = MolEditVectorEnv(num_envs=3, device="cpu")
    obs, _ = env.reset(seed=0)
    assert isinstance(obs["bonds"], torch.Tensor) and obs["bonds"].shape == (3, 38, 38)
    masks = env.action_masks()
    assert masks.dtype == torch.bool and masks.shape == (3, env.layout.size)
    if torch.cuda.is_available():  # pragma: no cover - only on a machine with a GPU
        env = MolEditVectorEnv(num_envs=3, device="cuda")
        obs, _ = env.reset(seed=0)
        assert obs["bonds"].is_cuda and env.action_masks().is_cuda


def test_masks_are_handed_out_without_copies_and_never_written_afterwards():
    """The batched env hands out its mask array itself (``info["action_mask"]``, ``mask``): it is
    read-only, and every step makes a new one, so a kept mask stays what it was, through autoresets
    and a restored state. ``action_masks()`` is a writable copy."""
    env = MolEditVectorEnv(num_envs=4, max_steps=5, reward=[])
    _, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    kept = []
    for t in range(14):
        masks = info["action_mask"]
        assert masks is env.mask and not masks.flags.writeable
        copy = env.action_masks()
        assert copy is not masks and copy.flags.writeable and np.array_equal(copy, masks)
        with pytest.raises(ValueError, match="read-only"):
            masks[0, 0] = True
        kept.append((masks, masks.copy()))
        if t == 7:
            env.set_state(env.get_state())
            assert not env.mask.flags.writeable and np.array_equal(env.mask, masks)
        _, _, _, _, info = env.step(env.layout.sample(masks, rng))
    assert all(np.array_equal(mask, snapshot) for mask, snapshot in kept)
    assert len({snapshot.tobytes() for _, snapshot in kept}) > 10  # the masks did change


def test_batched_env_rejects_malformed_actions():
    env = MolEditVectorEnv(num_envs=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        env.step(np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="integers"):
        env.step(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="env 1 out of range: second=99"):
        env.step(np.array([[0, 0, 0, 0], [0, 99, 0, 0]]))
    with pytest.raises(ValueError, match=rf"flat action of env 0 out of range: {env.layout.size} not in"):
        env.step(np.array([env.layout.size, 0]))
    with pytest.raises(ValueError, match=r"shape \(2, 4\) \(MultiDiscrete\) or \(2,\) \(flat\)"):
        env.step(np.zeros(3, dtype=np.int64))


def test_flat_actions_step_exactly_as_their_multidiscrete_form():
    flat, multi = MolEditVectorEnv(num_envs=5), MolEditVectorEnv(num_envs=5)
    flat.reset(seed=4)
    multi.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(40):
        masks = flat.action_masks()
        assert np.array_equal(masks, multi.action_masks())
        k = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        a = flat.layout.to_multidiscrete_many(k)
        assert np.array_equal(flat.layout.from_multidiscrete_many(a), k)
        assert [flat.layout.from_multidiscrete(row) for row in a] == k.tolist()
        one, two = flat.step(k), multi.step(a)
        for x, y in zip(one[:4], two[:4]):
            assert all(np.array_equal(x[key], y[key]) for key in x) if isinstance(x, dict) else np.array_equal(x, y)


def test_final_rewards_scored_by_worker_processes_match_in_process():
    kwargs = {"min_steps": 2, "max_steps": 12}
    one = MolEditVectorEnv(molgym.envs.MolEditPLogPEnv, num_envs=6, n_workers=0, **kwargs)
    two = MolEditVectorEnv(molgym.envs.MolEditPLogPEnv, num_envs=6, n_workers=2, **kwargs)
    try:
        one.reset(seed=1)
        two.reset(seed=1)
        rng = np.random.default_rng(0)
        finished = 0
        for _ in range(60):
            masks = one.action_masks()
            actions = np.stack([one.layout.to_multidiscrete(int(rng.choice(np.flatnonzero(m)))) for m in masks])
            _, r1, t1, u1, _ = one.step(actions)
            _, r2, t2, u2, _ = two.step(actions)
            assert np.array_equal(r1, r2) and np.array_equal(t1, t2) and np.array_equal(u1, u2)
            finished += int((t1 | u1).sum())
        assert finished > 10
    finally:
        one.close()
        two.close()


def test_worker_pool_needs_picklable_rewards():
    with pytest.raises(ValueError, match="pickled"):
        MolEditVectorEnv(num_envs=2, n_workers=1, reward=lambda mol: 1.0)


def test_batched_sampler_is_uniform_over_legal_actions():
    from molgym.chem import ActionLayout

    layout = ActionLayout(4, 2)
    masks = np.zeros((3, layout.size), dtype=bool)
    masks[0, [3, 40, layout.stop]] = True  # few legal actions
    masks[1, :] = True  # all legal
    masks[2, [7]] = True
    rng = np.random.default_rng(0)
    draws = np.stack([[layout.from_multidiscrete(a) for a in layout.sample(masks, rng)] for _ in range(3000)])
    assert set(draws[:, 0]) == {3, 40, layout.stop} and set(draws[:, 2]) == {7}
    counts = np.bincount(draws[:, 0], minlength=layout.size)[[3, 40, layout.stop]]
    assert counts.min() > 900  # about 1000 each
    assert len(set(draws[:, 1])) > layout.size * 0.9  # the full row is covered
    masks[1] = False
    with pytest.raises(ValueError, match="mask row 1 has no legal action"):
        layout.sample(masks, rng)


@pytest.mark.parametrize("allow_removal", [False, True])
def test_engine_matches_the_reference_rules_on_thousands_of_states(allow_removal, monkeypatch):
    """The engine (:mod:`molgym.chem.engine`, one batch) against the plain-Python reference rules
    (``envs_tests/reference_rules.py``, one molecule at a time): masks and transitions.

    Random walks over C, N, O, O+, P, Cl and I (so P=O, P=C, I=O and halogens with only O neighbours are
    frequent) give 1,600 states, masked as one batch and one by one; the rewrite rules must have
    cleared edits in many of them (about 100 with additions only, 70 with removal), or this
    test would not be testing them. Then one random legal edit per state is applied by both.
    """
    from envs_tests import reference_rules
    from molgym.chem import apply_edits, edit_masks, free_valence
    from molgym.envs import MolEditEnv

    env = MolEditEnv(
        atom_types=["C", "N", "O", "O+", "P", "Cl", "I"],
        allow_removal=allow_removal,
        max_atoms=16,
        min_steps=30,
        max_steps=40,
        reward=[],
        info_smiles="none",
    )
    rng = np.random.default_rng(7)
    graphs = []
    env.reset(seed=7)
    while len(graphs) < 1600:
        legal = np.flatnonzero(env.action_masks()[:-1])
        if legal.size == 0:
            env.reset()
            continue
        _, _, terminated, truncated, _ = env.step(env.layout.to_multidiscrete(int(rng.choice(legal))))
        if terminated or truncated:
            env.reset()
        else:
            graphs.append(env.graph.copy())
    types = np.stack([g.atom_types for g in graphs])
    bonds = np.stack([g.bonds for g in graphs])
    n = np.array([g.num_atoms for g in graphs], dtype=np.int64)
    free = free_valence(types, bonds, n, env.vocab)
    batched, _ = edit_masks(types, bonds, n, free, env.vocab, env.layout)
    rewritten = 0
    picks = []
    for i, g in enumerate(graphs):
        assert np.array_equal(
            free[i, : g.num_atoms], g.vocab.max_valence[g.atom_types[: g.num_atoms]] - g.bonds.sum(1)[: g.num_atoms]
        )
        single = reference_rules.edit_mask(g, env.layout)
        assert np.array_equal(batched[i, :-1], single.reshape(-1)), f"state {i}: {g.smiles()}"
        with monkeypatch.context() as m:
            m.setattr(reference_rules, "forbid_rewriting_edits", lambda *args: None)
            rewritten += int(not np.array_equal(reference_rules.edit_mask(g, env.layout), single))
        legal = np.flatnonzero(single.reshape(-1))
        picks.append(int(rng.choice(legal)) if legal.size else env.layout.stop)
    assert rewritten > 50
    rows = np.flatnonzero(np.array(picks) != env.layout.stop)
    first, second, bond, _ = env.layout.to_multidiscrete_many(np.array(picks)[rows]).T
    n_before = n.copy()
    grown = apply_edits(types, bonds, n, free, env.vocab, rows, first, second, bond)
    for r, i in enumerate(rows.tolist()):
        g = graphs[i]
        before = g.num_atoms
        reference_rules.apply_edit(g, int(first[r]), int(second[r]), int(bond[r]))
        assert (types[i] == g.atom_types).all() and (bonds[i] == g.bonds).all() and n[i] == g.num_atoms, i
        assert np.array_equal(free[i, : g.num_atoms], g.free_valence()) and not free[i, g.num_atoms :].any()
        assert grown[r] == (g.num_atoms > before)
    assert grown.sum() > 100
    if allow_removal:  # removals that strand an atom drop it, in both
        assert (n < n_before).sum() > 10


def test_spec_is_the_envs_own_and_the_vector_env_builds_no_single_env(monkeypatch):
    """``Task.edit_spec`` and ``MolEditEnv.settings`` give what the envs use, without building an env."""
    from molgym.envs import MolEditEnv, MolOptEnv
    from molgym.envs.vector import MolEditVectorEnv
    from molgym.tasks import make_task

    starts = ["CCO", "c1ccccc1O"]
    single = MolOptEnv(start_smiles=starts, threshold=0.2, max_atoms=20)
    task = make_task("constrained", start_smiles=starts, threshold=0.2)

    def refuse(self, *args, **kwargs):
        raise AssertionError("an env was built")

    monkeypatch.setattr(MolEditEnv, "__init__", refuse)
    spec = task.edit_spec(max_atoms=20)
    assert spec.vocab == single.vocab and spec.max_atoms == 20 and spec.layout.size == single.layout.size
    assert spec.layout.allow_removal and (spec.min_steps, spec.max_steps) == (single.min_steps, single.max_steps)
    assert list(spec.start_graphs) == single.start_graphs
    assert spec.observation_space() == single.observation_space and spec.action_space() == single.action_space
    vector = MolEditVectorEnv(MolOptEnv, num_envs=3, start_smiles=starts, threshold=0.2, max_atoms=20)
    assert vector.edit_spec == spec and vector.single_observation_space == single.observation_space
    assert "ConstrainedImprovement(threshold=0.2)" in repr(vector.scorer.reward)
    with pytest.raises(ValueError, match="needs start molecules"):
        MolOptEnv.parse_arguments()


def test_the_single_and_the_vector_env_share_one_compiled_engine():
    """A batch of one and a batch of many call the engine's kernels with the same array types, so
    each kernel is compiled (or loaded from the cache) once: the vector env after a single env
    costs no second compilation. In a fresh process, since other tests may call the kernels with
    other types."""
    import ast
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from molgym.chem import engine\n"
        "from molgym.envs import MolEditEnv\n"
        "from molgym.envs.vector import MolEditVectorEnv\n"
        "env = MolEditEnv(reward=[]); env.reset(seed=0)\n"
        "env.step(int(np.flatnonzero(env.action_masks())[0]))\n"
        "vec = MolEditVectorEnv(MolEditEnv, num_envs=3, reward=[]); vec.reset(seed=0)\n"
        "vec.step(vec.layout.sample(vec.mask, np.random.default_rng(0)))\n"
        "kernels = [getattr(engine, k) for k in dir(engine) if hasattr(getattr(engine, k), 'signatures')]\n"
        "print({k.__name__: len(k.signatures) for k in kernels if k.signatures})\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    counts = ast.literal_eval(out)  # kernel -> compiled variants (those called from Python)
    assert {"_mask_many", "_step_many", "_free_many"} <= counts.keys()
    assert all(n == 1 for n in counts.values()), counts


def test_a_saved_state_of_another_batch_size_is_refused_naming_the_shapes():
    small, large = MolEditVectorEnv(num_envs=2), MolEditVectorEnv(num_envs=4)
    small.reset(seed=0)
    large.reset(seed=0)
    with pytest.raises(ValueError, match=r"does not fit this env \(2 molecules.*saved types has shape \(4, 38\)"):
        small.set_state(large.get_state())
