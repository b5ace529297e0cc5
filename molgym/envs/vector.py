"""MolEditVectorEnv: B molecules edited at once, as batched arrays (the vector entry point of every id)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from molgym.chem import MolGraph
from molgym.envs.editing import EditBatch, chosen_starts, start_state
from molgym.envs.mol_edit import MolEditEnv
from molgym.rewards.scoring import BatchScorer

__all__ = ["MolEditVectorEnv"]


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
    not hold, while this process computes the next masks; 0 scores in this process), ``scorer``
    (``"process"``: those workers are local processes; ``"ray"``: Ray actors, on the connected
    cluster or a local Ray instance, ``pip install 'molgym[ray]'``), and every
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
        scorer: str = "process",
        **kwargs,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        parsed = env_cls.parse_arguments(**kwargs)  # the single env's own parsing, without building one
        self.edit_spec = spec = parsed.spec
        self.spec = None
        self.num_envs = B = int(num_envs)
        self.vocab, self.layout = spec.vocab, spec.layout
        self.max_atoms, self.min_steps, self.max_steps = spec.max_atoms, spec.min_steps, spec.max_steps
        self.info_smiles = parsed.info_smiles
        self.render_mode = parsed.render_mode if parsed.render_mode == "ansi" else None
        self.single_observation_space = spec.observation_space()
        self.single_action_space = spec.action_space()
        self.observation_space = batch_space(self.single_observation_space, B)
        self.action_space = batch_space(self.single_action_space, B)
        self.device = device
        self.reward = parsed.reward  # the final reward (without the step terms)
        self.scorer = BatchScorer(parsed.total_reward, n_workers=n_workers, backend=scorer)
        self.start_graphs: list[MolGraph] = list(spec.start_graphs)  # the molecules episodes start from
        self.batch = batch = EditBatch(spec, B)  # the molecules and the step rules the single env shares
        # the batch's arrays, as agents read them (updated in place)
        self.types, self.bonds, self.num_atoms, self.free = batch.types, batch.bonds, batch.num_atoms, batch.free
        self.steps = batch.steps
        self._autoreset = np.zeros(B, dtype=bool)  # molecules whose episode ended last step
        self._rngs = [seeding.np_random()[0] for _ in range(B)]

    # Gymnasium API ----------------------------------------------------------------------------
    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Every molecule starts a new episode: from a start molecule drawn with its own generator,
        from ``options["smiles"]`` (all of them), or from ``options["start_index"]`` (an index into
        the env's start molecules, one for all or one per molecule: e.g. several episodes from each
        of a list of molecules to optimise)."""
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} environments")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        options = options or {}
        everyone = np.arange(self.num_envs)
        picks = chosen_starts(options, len(self.start_graphs), self.num_envs)
        if picks is None and options.get("smiles") is not None:
            self.batch.set_option_start(start_state(options["smiles"], self.vocab, self.max_atoms))
            picks = np.full(self.num_envs, -1)
        self.batch.reset(everyone, self._draw_starts(everyone) if picks is None else picks)
        self.batch.refresh()
        self._autoreset[:] = False
        return self._observations(), self._reset_info(everyone, {})

    def step(self, actions):
        """One step of every molecule. ``actions``: ``(B, 4)`` MultiDiscrete actions (the
        ``action_space``'s), or ``(B,)`` flat indices into the action masks (what a policy over the
        masks samples; no conversion either way)."""
        k = self.layout.flat_actions(actions, self.num_envs)
        batch = self.batch
        resetting = np.flatnonzero(self._autoreset)
        active = ~self._autoreset
        valid, terminated, truncated = batch.step(k, active)
        finals = np.flatnonzero(terminated | truncated)
        # final rewards start now (on the workers, if any) while this process computes the masks
        pending = self.scorer.start_finals(batch.contexts(finals)) if finals.size and self.scorer.has_finals else None
        if resetting.size:  # autoresets start from the env's start set, as a single env's reset() does
            batch.reset(resetting, self._draw_starts(resetting))
        batch.refresh()

        rewards = np.zeros(self.num_envs, dtype=np.float64)
        info: dict[str, Any] = {}
        acting = np.flatnonzero(active)
        if acting.size:
            rewards, terms = self.scorer.score(
                batch.contexts, acting, valid[acting], finals, pending, self.num_envs, self.max_atoms
            )
            info["reward_terms"] = {
                key: value
                for name, (values, present) in terms.items()
                for key, value in ((name, values), (f"_{name}", present.copy()))
            }
        smiles_rows = {"step": acting, "end": finals, "none": acting[:0]}[self.info_smiles]
        info = self._merge_step_info(info, valid, smiles_rows, acting)
        if resetting.size:
            info = self._reset_info(resetting, info)
        self._autoreset = terminated | truncated
        return self._observations(), rewards, terminated, truncated, info

    @property
    def mask(self) -> np.ndarray:
        """``(B, K)`` bool masks of the legal flat actions, read-only: a new array after every
        step and reset, never written afterwards (``info["action_mask"]`` is the same array)."""
        return self.batch.mask

    def action_masks(self):
        """``(B, K)`` bool masks of the legal flat actions: a writable copy of :attr:`mask` (a torch
        tensor on ``device``, if one is set)."""
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
        return self.batch.graph(i)

    def smiles_of(self, rows: np.ndarray) -> list[str]:
        """Canonical SMILES of molecules ``rows`` (computed once per state)."""
        return self.batch.smiles_of(rows)

    def get_state(self) -> dict[str, Any]:
        """Everything that decides the env's future (molecules, counters, masks, generators), to
        checkpoint a run mid-episode; :meth:`set_state` restores it exactly."""
        return {
            **self.batch.get_state(),
            "autoreset": self._autoreset.copy(),
            "rngs": [rng.bit_generator.state for rng in self._rngs],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`get_state` of an env with the same ``num_envs``, ``max_atoms`` and vocabulary."""
        self.batch.set_state(state)
        self._autoreset[...] = state["autoreset"]
        for rng, saved in zip(self._rngs, state["rngs"], strict=True):
            rng.bit_generator.state = saved

    def state_bytes(self) -> int:
        """Bytes of the per-molecule state arrays (graph, counters and action mask), all molecules."""
        return self.batch.state_bytes() + self._autoreset.nbytes

    # Internals --------------------------------------------------------------------------------
    def _draw_starts(self, rows: np.ndarray) -> np.ndarray:
        """One start molecule per row, drawn with each molecule's own generator exactly as each single env does."""
        count = len(self.start_graphs)
        if count == 1:  # nothing to draw (NumPy's draw below 1 takes no random bits either)
            return np.zeros(len(rows), dtype=np.int64)
        return np.array([int(self._rngs[i].integers(count)) for i in rows.tolist()], dtype=np.int64)

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
        info["action_mask"], info["_action_mask"] = self.mask, np.ones(B, dtype=bool)  # acting or reset: every row
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
        if "action_mask" not in info:  # a reset: every row
            info["action_mask"], info["_action_mask"] = self.mask, np.ones(B, dtype=bool)
        if self.info_smiles == "none":
            return info
        if "smiles" not in info:
            info["smiles"], info["_smiles"] = np.full(B, None, dtype=object), np.zeros(B, dtype=bool)
        info["smiles"][rows] = self.smiles_of(rows)
        info["_smiles"][rows] = True
        return info
