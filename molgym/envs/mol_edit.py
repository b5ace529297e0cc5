"""MolEdit-v0: GCPN-style molecular graph editing with a QED final reward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from molgym.chem import ActionLayout, AtomVocab, MolGraph
from molgym.envs.editing import EditBatch, EditSpec, chosen_starts, parse_starts, start_state
from molgym.rewards import QED, Reward, StepValidity, as_reward
from molgym.rewards.scoring import BatchScorer

__all__ = ["MolEditEnv", "EditAction", "EditSpec", "EnvArguments", "INFO_SMILES"]

_ONE = np.zeros(1, dtype=np.int64)  # the row of the env's one molecule in its batch
_ACTIVE = np.ones(1, dtype=bool)

#: When ``info["smiles"]`` is given: every step, at reset and episode end, or never.
INFO_SMILES = ("step", "end", "none")


class EnvArguments(NamedTuple):
    """An editing env's parsed arguments (:meth:`MolEditEnv.parse_arguments`)."""

    spec: EditSpec
    reward: Reward  #: the final reward
    total_reward: Reward  #: step reward + final reward
    info_smiles: str
    render_mode: str | None


class EditAction(NamedTuple):
    """A decoded action: ``bond`` is 0 single, 1 double, 2 triple, 3 remove; ``stop`` is 0 or 1."""

    first: int
    second: int
    bond: int
    stop: int


class MolEditEnv(gym.Env):
    """
    ## Description

    Build a molecule one bond at a time, as in GCPN (You et al., NeurIPS 2018). An episode starts
    from a start molecule (one carbon by default); each step either bonds two existing atoms,
    adds a new atom bonded to an existing one, or stops. Transitions are checked against RDKit's
    valence rules: an edit that would break valence is rejected, the molecule stays as it was and
    a step penalty is paid. Every reachable state is a molecule that RDKit sanitizes. The final
    reward of ``MolEdit-v0`` is the QED (drug-likeness) of the final molecule.

    ## Action Space

    ``MultiDiscrete([N, N + T, B, 2])`` with ``N = max_atoms``, ``T`` atom types and ``B = 3``
    bond choices (4 with ``allow_removal``): ``(first, second, bond, stop)``.

    * ``first``: an existing atom.
    * ``second``: an existing atom if ``< num_atoms``; else a new atom of type
      ``second - num_atoms`` (indices ``>= num_atoms + T`` mean nothing and are rejected).
    * ``bond``: 0 single, 1 double, 2 triple, 3 remove the bond (only with ``allow_removal``;
      the molecule must stay one fragment, except that an atom left alone is dropped).
    * ``stop``: 1 ends the episode (the other fields are ignored); legal once ``min_steps``
      steps are taken, or when no edit is legal.

    An action inside the space but illegal in the current state (a self-loop, a non-existing
    atom, an existing bond, a broken valence, an early stop) is rejected: ``info["valid"]`` is
    ``False`` and the step penalty is paid. An action outside the space (wrong shape, non-integer
    dtype, a value out of bounds) raises ``ValueError``.

    Exact legality: :meth:`action_masks` and ``info["action_mask"]`` are flat boolean arrays over
    ``K = B * N * (N + T) + 1`` actions, ``k = (bond * N + first) * (N + T) + second`` for edits and
    ``k = K - 1`` for stop; :meth:`decode_action` inverts the formula,
    :class:`molgym.wrappers.FlatAction` exposes the same indexing as ``Discrete(K)``, and ``step``
    also takes such an index (a NumPy integer or int of shape ``()``) in place of the four numbers.

    ## Observation

    A ``Dict`` of integer arrays (``N = max_atoms``):

    * ``atom_types``: ``(N,)`` int8, type id of each atom, ``-1`` past ``num_atoms``;
    * ``bonds``: ``(N, N)`` int8, symmetric bond-order matrix (0 none, 1, 2, 3; kekulized);
    * ``num_atoms``: ``(1,)`` int16;
    * ``free_valence``: ``(N,)`` int8, how much bond order each atom can still take (0 past
      ``num_atoms``).

    ## Rewards

    ``step_reward`` every step (default :class:`~molgym.rewards.StepValidity`: ``+1/N`` for an
    accepted edit, ``-1/N`` for a rejected action), plus ``reward`` when the episode ends by
    termination or truncation (default QED in [0, 1]). ``reward`` may be any term, sum of terms or
    plain callable ``f(mol) -> float``; ``info["reward_terms"]`` holds each term's weighted
    contribution, summing to the step's reward.

    ## Starting State

    ``start_smiles`` (default ``"C"``), or one of a list sampled uniformly with the env's RNG;
    ``reset(options={"smiles": ...})`` overrides it for one episode, and
    ``reset(options={"start_index": i})`` starts from the ``i``-th of the list. Stereochemistry in a start
    SMILES is dropped (a state is a 2D graph) with a ``molgym.chem.StereoDropped`` warning: one
    at construction counting the start molecules concerned, one per ``reset`` option.

    ## Termination

    * Termination: a legal stop, or the molecule reaching ``max_atoms`` atoms.
    * Truncation: ``max_steps`` steps (accepted or not) taken.

    ``info`` on every step: ``smiles`` (canonical; with ``info_smiles="end"`` only at reset and on
    the final step, several times faster; with ``"none"`` never), ``valid``, ``num_atoms``,
    ``reward_terms``, ``action_mask``.

    ## Arguments

    ``reward``, ``step_reward``, ``start_smiles``, ``max_atoms`` (38), ``atom_types`` (default
    vocabulary: C N O S P F I Cl Br, N+ N- O+ O- S-), ``min_steps`` (20), ``max_steps`` (128),
    ``allow_removal`` (False), ``info_smiles`` (``"step"``, ``"end"`` or ``"none"``), ``render_mode`` (``"ansi"``: the
    SMILES; ``"rgb_array"``: an RDKit drawing).

    ## Registered Configurations

    * ``MolEdit-v0``: QED final reward.
    * ``MolEdit-PLogP-v0``, ``MolEdit-LogPTarget-v0``, ``MolEdit-MWTarget-v0``, ``MolOpt-v0``:
      see their classes.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    #: Defaults a registered variant may change.
    default_min_steps = 20
    default_max_steps = 128
    default_allow_removal = False

    @classmethod
    def default_reward(cls) -> Reward:
        return as_reward(QED())

    @classmethod
    def parse_arguments(
        cls,
        reward=None,
        start_smiles: str | Sequence[str] | None = "C",
        max_atoms: int = 38,
        atom_types: Sequence | AtomVocab | None = None,
        min_steps: int | None = None,
        max_steps: int | None = None,
        allow_removal: bool | None = None,
        step_reward="default",
        info_smiles: str = "step",
        render_mode: str | None = None,
    ) -> EnvArguments:
        """The env's arguments, checked and parsed (start molecules included) without building an
        env: what the single env, the batched env and agents (:meth:`molgym.tasks.Task.edit_spec`) read."""
        if render_mode is not None and render_mode not in cls.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {cls.metadata['render_modes']}, got {render_mode!r}")
        if atom_types is None:
            vocab = AtomVocab.default()
        else:
            vocab = atom_types if isinstance(atom_types, AtomVocab) else AtomVocab(atom_types)
        min_steps = int(cls.default_min_steps if min_steps is None else min_steps)
        max_steps = int(cls.default_max_steps if max_steps is None else max_steps)
        if max_steps < 1 or min_steps < 0:
            raise ValueError(f"need max_steps >= 1 and min_steps >= 0, got {max_steps} and {min_steps}")
        removal = cls.default_allow_removal if allow_removal is None else bool(allow_removal)
        layout = ActionLayout(int(max_atoms), len(vocab), removal)
        final = cls.default_reward() if reward is None else as_reward(reward)
        step = StepValidity() if isinstance(step_reward, str) and step_reward == "default" else step_reward
        if info_smiles not in INFO_SMILES:
            raise ValueError(f"info_smiles must be one of {INFO_SMILES}, got {info_smiles!r}")
        starts = parse_starts(start_smiles, vocab, layout.max_atoms, cls.__name__)
        spec = EditSpec(vocab, layout, min_steps, max_steps, tuple(starts))
        return EnvArguments(spec, final, as_reward(step) + final, info_smiles, render_mode)

    def __init__(self, **arguments):
        """The arguments of :meth:`parse_arguments` (the class docstring's "Arguments")."""
        parsed = type(self).parse_arguments(**arguments)
        self.edit_spec = spec = parsed.spec
        self.vocab, self.layout, self.max_atoms = spec.vocab, spec.layout, spec.max_atoms
        self.min_steps, self.max_steps = spec.min_steps, spec.max_steps
        self.start_graphs = list(spec.start_graphs)
        self.reward, self.total_reward = parsed.reward, parsed.total_reward
        self.info_smiles, self.render_mode = parsed.info_smiles, parsed.render_mode
        self.action_space = spec.action_space()
        self.observation_space = spec.observation_space()
        self._batch = EditBatch(spec, 1)  # the molecule, and the step rules the vector env shares
        self._scorer = BatchScorer(self.total_reward)

    # Gymnasium API ----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        picks = chosen_starts(options, len(self.start_graphs), 1)
        if picks is None and options.get("smiles") is not None:
            self._batch.set_option_start(start_state(options["smiles"], self.vocab, self.max_atoms))
            picks = np.array([-1])
        elif picks is None:
            picks = np.array([int(self.np_random.integers(len(self.start_graphs)))])
        self._batch.reset(_ONE, picks)
        self._batch.refresh()
        return self._obs(), self._info(valid=True, terms={}, smiles=self.info_smiles != "none")

    def step(self, action):
        """``action``: a ``MultiDiscrete`` ``(first, second, bond, stop)``, or a flat index into the mask."""
        batch = self._batch
        outcome = batch.step(self.layout.flat_actions(action), _ACTIVE)
        batch.refresh()
        valid, terminated, truncated = bool(outcome.valid[0]), bool(outcome.terminated[0]), bool(outcome.truncated[0])
        done = terminated or truncated
        terms = self._scorer.score_one(batch.context(0), final=done)
        reward = float(sum(terms.values()))
        smiles = self.info_smiles == "step" or (done and self.info_smiles == "end")
        return self._obs(), reward, terminated, truncated, self._info(valid=valid, terms=terms, smiles=smiles)

    def action_masks(self) -> np.ndarray:
        """``(K,)`` bool: which flat actions are legal now (see the class docstring for indexing)."""
        return self._batch.mask[0].copy()

    def decode_action(self, k: int) -> EditAction:
        """The ``(first, second, bond, stop)`` of flat action ``k``."""
        return EditAction(*self.layout.decode(k))

    def render(self):
        if self.render_mode == "ansi":
            return self.smiles + "\n"
        if self.render_mode == "rgb_array":
            from rdkit.Chem import Draw

            return np.asarray(Draw.MolToImage(self.mol, size=(300, 300)).convert("RGB"))
        return None

    # State accessors --------------------------------------------------------------------------
    @property
    def graph(self) -> MolGraph:
        """The current molecule (a copy)."""
        return self._batch.graph(0)

    @property
    def steps(self) -> int:
        """Steps taken in the episode (accepted or not)."""
        return int(self._batch.steps[0])

    @property
    def smiles(self) -> str:
        """Canonical SMILES of the current molecule."""
        return self._batch.smiles_of(_ONE)[0]

    @property
    def mol(self):
        """The current molecule as a sanitized RDKit ``Mol``."""
        return self._batch.context(0).mol

    # Internals --------------------------------------------------------------------------------
    def _obs(self) -> dict[str, np.ndarray]:
        b = self._batch
        return {
            "atom_types": b.types[0].copy(),
            "bonds": b.bonds[0].copy(),
            "num_atoms": np.array([b.num_atoms[0]], dtype=np.int16),
            "free_valence": b.free[0].copy(),
        }

    def _info(self, valid: bool, terms: dict[str, float], smiles: bool) -> dict[str, Any]:
        info = {
            "valid": valid,
            "num_atoms": int(self._batch.num_atoms[0]),
            "reward_terms": terms,
            "action_mask": self._batch.mask[0].copy(),
        }
        if smiles:
            info["smiles"] = self.smiles
        return info
