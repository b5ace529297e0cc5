"""MolEditVectorEnv: B molecules edited at once, as batched arrays (the vector entry point of every id)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from molgym.chem import MolGraph
from molgym.chem.engine import apply_edits, edit_masks, free_valence
from molgym.envs.mol_edit import MolEditEnv, start_state
from molgym.rewards import Context
from molgym.rewards.scoring import BatchScorer

__all__ = ["MolEditVectorEnv"]

#: The per-molecule arrays of :meth:`MolEditVectorEnv.get_state`.
_STATE_ARRAYS = ("types", "bonds", "num_atoms", "free", "steps", "start_index", "mask", "_edit_any", "_autoreset")


class MolEditVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` molecules of one MolEdit environment, held as batched arrays and stepped together:
    the action masks, the valence checks, the transitions and the observations are array
    operations over the whole batch, so a policy on a GPU can be fed hundreds of molecules per
    forward pass. It behaves exactly like a ``SyncVectorEnv`` of the single environment (same
    observations, rewards, terminations, truncations, masks, SMILES and ``info`` layout, with
    Gymnasium's default next-step autoreset); ``envs_tests/test_vector.py`` checks this
    differentially.

    ## Arguments

    ``env_cls`` (the single environment's class, e.g. ``MolEditEnv``), ``num_envs``, ``device``
    (``None`` for NumPy outputs; ``"cpu"`` or ``"cuda"`` for observations and masks as torch
    tensors on that device), ``n_workers`` (processes that score the final rewards the cache does
    not hold, while this process computes the next masks; 0 scores in this process), and every
    argument of the single environment.

    ``gym.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point")`` builds it.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["ansi"]}

    def __init__(
        self,
        env_cls: type[MolEditEnv] = MolEditEnv,
        num_envs: int = 1,
        device: str | None = None,
        n_workers: int = 0,
        **kwargs,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        settings = env_cls.settings(**kwargs)  # the single env's own parsing, without building one
        self.edit_spec = spec = settings.spec
        self.spec = None
        self.num_envs = B = int(num_envs)
        self.vocab, self.layout = spec.vocab, spec.layout
        self.max_atoms, self.min_steps, self.max_steps = spec.max_atoms, spec.min_steps, spec.max_steps
        self.info_smiles = settings.info_smiles
        self.render_mode = settings.render_mode if settings.render_mode == "ansi" else None
        self.single_observation_space = spec.observation_space()
        self.single_action_space = spec.action_space()
        self.observation_space = batch_space(self.single_observation_space, B)
        self.action_space = batch_space(self.single_action_space, B)
        self.device = device
        self.scorer = BatchScorer(settings.total_reward, n_workers=n_workers)
        N = self.max_atoms
        self.start_graphs: list[MolGraph] = list(spec.start_graphs)  # the molecules episodes start from
        starts = self.start_graphs
        self._start_types = np.stack([g.atom_types for g in starts])
        self._start_bonds = np.stack([g.bonds for g in starts])
        self._start_n = np.array([g.num_atoms for g in starts], dtype=np.int64)
        self._start_free = free_valence(self._start_types, self._start_bonds, self._start_n, self.vocab)
        self.types = np.full((B, N), -1, dtype=np.int8)
        self.bonds = np.zeros((B, N, N), dtype=np.int8)
        self.num_atoms = np.zeros(B, dtype=np.int64)
        self.free = np.zeros((B, N), dtype=np.int8)
        self.steps = np.zeros(B, dtype=np.int64)
        self.start_index = np.zeros(B, dtype=np.int64)
        self.mask = np.zeros((B, self.layout.size), dtype=bool)
        self._edit_any = np.zeros(B, dtype=bool)
        self._autoreset = np.zeros(B, dtype=bool)
        self._option_start: MolGraph | None = None
        self._rngs = [seeding.np_random()[0] for _ in range(B)]
        self._smiles = np.full(B, None, dtype=object)  # canonical SMILES cache of the current states
        self._start_smiles = np.full(len(starts) + 1, None, dtype=object)  # of each start; [-1]: the reset option's
        self._step_contexts: dict[int, Context] = {}  # contexts built during the current step

    # Gymnasium API ----------------------------------------------------------------------------
    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} environments")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        options = options or {}
        self._option_start = None
        if options.get("smiles") is not None:
            self._option_start = start_state(options["smiles"], self.vocab, self.max_atoms)
        self._start_smiles[-1] = None
        everyone = np.arange(self.num_envs)
        self._reset_rows(everyone, self._option_start)
        self._refresh(everyone)
        self._refresh_stop()
        self._autoreset[:] = False
        info = self._reset_info(everyone, {})
        return self._observations(), info

    def step(self, actions):
        """One step of every molecule. ``actions``: ``(B, 4)`` MultiDiscrete actions (the
        ``action_space``'s), or ``(B,)`` flat indices into the action masks (what a policy over the
        masks samples; no conversion either way)."""
        k = self._flat_actions(actions)
        B, L = self.num_envs, self.layout
        self._step_contexts = {}
        resetting = np.flatnonzero(self._autoreset)
        active = ~self._autoreset
        self.steps[active] += 1
        valid = self.mask[np.arange(B), k] & active
        stop = valid & (k == L.stop)
        edit = np.flatnonzero(valid & (k != L.stop))
        terminated = stop.copy()
        if edit.size:
            first, second, bond, _ = L.to_multidiscrete_many(k[edit]).T
            grown = apply_edits(self.types, self.bonds, self.num_atoms, self.free, self.vocab, edit, first, second, bond)
            terminated[edit[grown]] = self.num_atoms[edit[grown]] == self.max_atoms
            self._smiles[edit] = None
        truncated = active & ~terminated & (self.steps >= self.max_steps)
        done = terminated | truncated
        finals = np.flatnonzero(done)
        # final rewards start now (on the workers, if any) while this process computes the masks
        pending = self.scorer.start_finals(self._contexts(finals)) if finals.size and self.scorer.has_finals else None
        changed = edit
        if resetting.size:  # autoresets start from the env's start set, as a single env's reset() does
            self._reset_rows(resetting, None)
            changed = np.concatenate([edit, resetting])
        self._refresh(changed)
        self._refresh_stop()

        rewards = np.zeros(B, dtype=np.float64)
        info: dict[str, Any] = {}
        acting = np.flatnonzero(active)
        if acting.size:
            terms = self.scorer.score(self._contexts, acting, valid[acting], finals, pending, B, self.max_atoms)
            rewards = terms.pop("__total__")
            info["reward_terms"] = terms
        smiles_rows = {"step": acting, "end": finals, "none": acting[:0]}[self.info_smiles]
        info = self._merge_step_info(info, valid, smiles_rows, acting)
        if resetting.size:
            info = self._reset_info(resetting, info)
        self._autoreset = done
        return self._observations(), rewards, terminated, truncated, info

    def action_masks(self):
        """``(B, K)`` bool masks of the legal flat actions (torch, on ``device``, if one is set)."""
        return self._to_device(self.mask.copy())

    def sample_actions(self, rng: np.random.Generator) -> np.ndarray:
        """``(B, 4)`` actions drawn uniformly from each molecule's legal actions (a random agent)."""
        return self.layout.sample(self.mask, rng)

    def render(self):
        if self.render_mode == "ansi":
            return "\n".join(self.smiles_of(np.arange(self.num_envs))) + "\n"
        return None

    def close_extras(self, **kwargs) -> None:
        self.scorer.close()

    # State ------------------------------------------------------------------------------------
    def graph(self, i: int) -> MolGraph:
        """Molecule ``i`` as a :class:`MolGraph` (a copy)."""
        return MolGraph(self.types[i].copy(), self.bonds[i].copy(), int(self.num_atoms[i]), self.vocab)

    def smiles_of(self, rows: np.ndarray) -> list[str]:
        """Canonical SMILES of molecules ``rows`` (computed once per state)."""
        out = []
        for i in rows.tolist():
            if self._smiles[i] is None:
                ctx = self._step_contexts.get(i) or self._context(i)
                self._smiles[i] = ctx.smiles
                if self.steps[i] == 0:  # a start molecule: its SMILES serves every later reset to it
                    self._start_smiles[self.start_index[i]] = ctx.smiles
            out.append(self._smiles[i])
        return out

    def get_state(self) -> dict[str, Any]:
        """Everything that decides the env's future (molecules, counters, masks, generators), to
        checkpoint a run mid-episode; :meth:`set_state` restores it exactly."""
        arrays = {key: getattr(self, key).copy() for key in _STATE_ARRAYS}
        return {**arrays, "rngs": [rng.bit_generator.state for rng in self._rngs], "option_start": self._option_start}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`get_state` of an env with the same ``num_envs``, ``max_atoms`` and vocabulary."""
        if state["types"].shape != self.types.shape or state["mask"].shape != self.mask.shape:
            raise ValueError(
                f"saved env state is for {state['types'].shape[0]} molecules of {state['types'].shape[1]} atoms and "
                f"{state['mask'].shape[1]} actions; this env has {self.num_envs}, {self.max_atoms} and {self.layout.size}"
            )
        for key in _STATE_ARRAYS:
            getattr(self, key)[...] = state[key]
        for rng, saved in zip(self._rngs, state["rngs"], strict=True):
            rng.bit_generator.state = saved
        self._option_start = state["option_start"]
        self._smiles[:] = None
        self._start_smiles[-1] = None
        self._step_contexts = {}

    def state_bytes(self) -> int:
        """Bytes of the per-molecule state arrays (graph, counters and action mask), all molecules."""
        arrays = (self.types, self.bonds, self.num_atoms, self.free, self.steps, self.start_index, self.mask)
        return sum(a.nbytes for a in arrays)

    # Internals --------------------------------------------------------------------------------
    def _flat_actions(self, actions) -> np.ndarray:
        """``(B,)`` flat indices of checked ``(B, 4)`` MultiDiscrete or ``(B,)`` flat actions."""
        a = np.asarray(actions)
        B = self.num_envs
        if a.shape not in ((B, 4), (B,)):
            raise ValueError(f"actions must have shape ({B}, 4) (MultiDiscrete) or ({B},) (flat), got {a.shape}")
        if a.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers, got dtype {a.dtype}")
        if a.ndim == 1:
            out_of_range = (a < 0) | (a >= self.layout.size)
            if out_of_range.any():
                i = int(np.argmax(out_of_range))
                raise ValueError(f"flat action of env {i} out of range: {int(a[i])} not in [0, {self.layout.size})")
            return a.astype(np.int64)
        out_of_range = (a < 0) | (a >= self.layout.nvec[None, :])
        if out_of_range.any():
            i, d = map(int, np.argwhere(out_of_range)[0])
            name = ("first", "second", "bond", "stop")[d]
            raise ValueError(f"action of env {i} out of range: {name}={int(a[i, d])} not in [0, {int(self.layout.nvec[d])})")
        return self.layout.from_multidiscrete_many(a)

    def _reset_rows(self, rows: np.ndarray, start: MolGraph | None) -> None:
        """Put molecules ``rows`` at ``start``, or at a start molecule drawn with each one's generator
        (the caller refreshes the masks)."""
        if start is not None:
            g = start
            self.types[rows], self.bonds[rows], self.num_atoms[rows] = g.atom_types, g.bonds, g.num_atoms
            self.free[rows] = free_valence(g.atom_types[None], g.bonds[None], np.array([g.num_atoms]), self.vocab)
            self.start_index[rows] = -1
        else:
            count = len(self._start_n)
            # one draw per molecule from its own generator, exactly as each single env does
            picks = np.array([int(self._rngs[i].integers(count)) for i in rows.tolist()], dtype=np.int64)
            self.types[rows] = self._start_types[picks]
            self.bonds[rows] = self._start_bonds[picks]
            self.num_atoms[rows] = self._start_n[picks]
            self.free[rows] = self._start_free[picks]
            self.start_index[rows] = picks
        self.steps[rows] = 0
        self._smiles[rows] = self._start_smiles[self.start_index[rows]]
        for i in rows.tolist():
            self._step_contexts.pop(i, None)

    def _refresh(self, rows: np.ndarray) -> None:
        if rows.size == 0:
            return
        _, edit_any = edit_masks(self.types, self.bonds, self.num_atoms, self.free, self.vocab, self.layout, rows, self.mask)
        self._edit_any[rows] = edit_any[rows]

    def _refresh_stop(self) -> None:
        self.mask[:, -1] = (self.steps >= self.min_steps) | ~self._edit_any

    def _context(self, i: int) -> Context:
        start = self._option_start if self.start_index[i] < 0 else self.start_graphs[self.start_index[i]]
        return Context(self.graph(i), True, start)

    def _contexts(self, rows: np.ndarray) -> list[Context]:
        """Contexts of molecules ``rows``, shared within a step (rewards and SMILES reuse one molecule)."""
        out = []
        for i in rows.tolist():
            ctx = self._step_contexts.get(i)
            if ctx is None:
                ctx = self._step_contexts[i] = self._context(i)
                if self._smiles[i] is not None:
                    ctx._smiles = self._smiles[i]
            out.append(ctx)
        return out

    def _observations(self):
        obs = {
            "atom_types": self.types.copy(),
            "bonds": self.bonds.copy(),
            "num_atoms": self.num_atoms.astype(np.int16)[:, None],
            "free_valence": self.free.copy(),
        }
        if self.device is None:
            return obs
        return {key: self._to_device(value) for key, value in obs.items()}

    def _to_device(self, array: np.ndarray):
        if self.device is None:
            return array
        import torch

        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def _merge_step_info(self, info, valid, smiles_rows, acting) -> dict[str, Any]:
        B = self.num_envs
        present = np.zeros(B, dtype=bool)
        present[acting] = True
        info["valid"], info["_valid"] = np.where(present, valid, False), present.copy()
        info["num_atoms"], info["_num_atoms"] = np.where(present, self.num_atoms, 0), present.copy()
        if "reward_terms" in info:
            info["_reward_terms"] = present.copy()
        info["action_mask"] = self.mask.copy()
        info["action_mask"][~present] = False
        info["_action_mask"] = present.copy()
        if smiles_rows.size:
            smiles = np.full(B, None, dtype=object)
            smiles[smiles_rows] = self.smiles_of(smiles_rows)
            has = np.zeros(B, dtype=bool)
            has[smiles_rows] = True
            info["smiles"], info["_smiles"] = smiles, has
        return info

    def _reset_info(self, rows: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        """Add the reset infos of molecules ``rows`` (valid, num_atoms, empty reward terms, mask, SMILES)."""
        B = self.num_envs
        for key, dtype in (("valid", bool), ("num_atoms", np.int64)):
            if key not in info:
                info[key], info[f"_{key}"] = np.zeros(B, dtype=dtype), np.zeros(B, dtype=bool)
        info["valid"][rows] = info["_valid"][rows] = True
        info["num_atoms"][rows] = self.num_atoms[rows]
        info["_num_atoms"][rows] = True
        info.setdefault("reward_terms", {})
        info.setdefault("_reward_terms", np.zeros(B, dtype=bool))[rows] = True
        if "action_mask" not in info:
            info["action_mask"], info["_action_mask"] = np.zeros_like(self.mask), np.zeros(B, dtype=bool)
        info["action_mask"][rows] = self.mask[rows]
        info["_action_mask"][rows] = True
        if self.info_smiles == "none":
            return info
        if "smiles" not in info:
            info["smiles"], info["_smiles"] = np.full(B, None, dtype=object), np.zeros(B, dtype=bool)
        info["smiles"][rows] = self.smiles_of(rows)
        info["_smiles"][rows] = True
        return info
