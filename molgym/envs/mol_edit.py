"""MolEdit-v0: GCPN-style molecular graph editing with a QED final reward."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from molgym.chem import ActionLayout, AtomVocab, MolGraph, StereoDropped, apply_edits, edit_masks, free_valence, parse_state
from molgym.rewards import QED, Context, Reward, StepValidity, as_reward

__all__ = ["MolEditEnv", "EditAction", "EditSpec", "EnvSettings", "INFO_SMILES", "start_state"]

_ROW = np.zeros(1, dtype=np.int64)  # the engine's row of the env's one molecule

#: When ``info["smiles"]`` is given: every step, at reset and episode end, or never.
INFO_SMILES = ("step", "end", "none")


def start_state(smiles: str, vocab: AtomVocab, max_atoms: int) -> MolGraph:
    """The state of a start SMILES given at ``reset``; a :class:`StereoDropped` warning when its
    stereochemistry is dropped (states are 2D graphs)."""
    graph, stereo = parse_state(smiles, vocab, max_atoms)
    if stereo:
        warnings.warn(f"stereochemistry of {smiles!r} dropped: a state is a 2D graph", StereoDropped, stacklevel=3)
    return graph


def _parse_starts(start_smiles, vocab: AtomVocab, max_atoms: int, owner: str) -> list[MolGraph]:
    """The start molecules' states; one error listing the unusable ones, one warning counting dropped stereo."""
    if start_smiles is None or (not isinstance(start_smiles, str) and len(start_smiles) == 0):
        raise ValueError(f"{owner} needs start molecules: pass start_smiles=... (a SMILES or a list)")
    items = [start_smiles] if isinstance(start_smiles, str) else list(start_smiles)
    graphs, errors, stereo = [], [], 0
    for s in items:
        try:
            graph, dropped = parse_state(s, vocab, max_atoms)
        except ValueError as err:
            errors.append(str(err))
            continue
        graphs.append(graph)
        stereo += dropped
    if errors:
        shown = "; ".join(errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
        raise ValueError(f"{len(errors)} of {len(items)} start molecules are unusable: {shown}")
    if stereo:
        warnings.warn(f"{owner}: stereochemistry dropped from {stereo} of {len(items)} start "
                      "molecules (a state is a 2D graph)", StereoDropped, stacklevel=4)
    return graphs


@dataclass(frozen=True)
class EditSpec:
    """What an editing environment is, without one: what agents size their networks by.

    Attributes:
        vocab: the atom types.
        layout: the action layout (``max_atoms``, types, bond choices; flat index arithmetic).
        min_steps: steps before stop is legal.
        max_steps: steps before truncation.
        start_graphs: the molecules episodes start from.
    """

    vocab: AtomVocab
    layout: ActionLayout
    min_steps: int
    max_steps: int
    start_graphs: tuple[MolGraph, ...]

    @property
    def max_atoms(self) -> int:
        return self.layout.max_atoms

    def action_space(self) -> spaces.MultiDiscrete:
        return spaces.MultiDiscrete(self.layout.nvec)

    def observation_space(self) -> spaces.Dict:
        N, T = self.max_atoms, len(self.vocab)
        return spaces.Dict(
            {
                "atom_types": spaces.Box(-1, T - 1, (N,), dtype=np.int8),
                "bonds": spaces.Box(0, 3, (N, N), dtype=np.int8),
                "num_atoms": spaces.Box(0, N, (1,), dtype=np.int16),
                "free_valence": spaces.Box(0, int(self.vocab.max_valence.max()), (N,), dtype=np.int8),
            }
        )


class EnvSettings(NamedTuple):
    """An editing env's parsed arguments (:meth:`MolEditEnv.settings`)."""

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
    ``k = K - 1`` for stop; :meth:`decode_action` inverts the formula and
    :class:`molgym.wrappers.FlatAction` exposes the same indexing as ``Discrete(K)``.

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
    ``reset(options={"smiles": ...})`` overrides it for one episode. Stereochemistry in a start
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
    def settings(
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
    ) -> EnvSettings:
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
        starts = _parse_starts(start_smiles, vocab, layout.max_atoms, cls.__name__)
        spec = EditSpec(vocab, layout, min_steps, max_steps, tuple(starts))
        return EnvSettings(spec, final, as_reward(step) + final, info_smiles, render_mode)

    def __init__(self, **arguments):
        """The arguments of :meth:`settings` (the class docstring's "Arguments")."""
        settings = type(self).settings(**arguments)
        self.edit_spec = spec = settings.spec
        self.vocab, self.layout, self.max_atoms = spec.vocab, spec.layout, spec.max_atoms
        self.min_steps, self.max_steps = spec.min_steps, spec.max_steps
        self.start_graphs = list(spec.start_graphs)
        self.reward, self.total_reward = settings.reward, settings.total_reward
        self.info_smiles, self.render_mode = settings.info_smiles, settings.render_mode
        self._start_smiles: dict[int, str] = {}  # canonical SMILES of the start molecules, once each
        self.action_space = spec.action_space()
        self.observation_space = spec.observation_space()
        # the molecule as a batch of one for the engine (molgym.chem.engine); _graph views row 0
        N = self.max_atoms
        self._types = np.full((1, N), -1, dtype=np.int8)
        self._bonds = np.zeros((1, N, N), dtype=np.int8)
        self._num_atoms = np.zeros(1, dtype=np.int64)
        self._free = np.zeros((1, N), dtype=np.int8)  # free valence, padded: the observation's
        self._masks = np.zeros((1, self.layout.size), dtype=bool)
        self._mask = self._masks[0]
        self._edit_any = False
        self._graph = MolGraph(self._types[0], self._bonds[0], 0, self.vocab)
        self._start = self._graph
        self._steps = 0
        self._ctx = Context(self._graph)

    # Gymnasium API ----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        index = None
        if options.get("smiles") is not None:
            start = start_state(options["smiles"], self.vocab, self.max_atoms)
        else:
            index = int(self.np_random.integers(len(self.start_graphs)))
            start = self.start_graphs[index]
        self._start = start
        self._types[0], self._bonds[0], self._num_atoms[0] = start.atom_types, start.bonds, start.num_atoms
        self._free[:] = free_valence(self._types, self._bonds, self._num_atoms, self.vocab)
        self._steps = 0
        self._refresh()
        self._mask[-1] = self._stop_allowed()
        if index is not None and self.info_smiles != "none":
            if index not in self._start_smiles:
                self._start_smiles[index] = self._ctx.smiles
            self._ctx.know_smiles(self._start_smiles[index])
        return self._obs(), self._info(valid=True, terms={}, smiles=self.info_smiles != "none")

    def step(self, action):
        k = self.layout.from_multidiscrete(action)
        self._steps += 1
        valid = bool(self._mask[k])
        terminated = False
        if valid:
            if k == self.layout.stop:
                terminated = True
            else:
                first, second, bond, _ = self.layout.decode(k)
                grown = apply_edits(self._types, self._bonds, self._num_atoms, self._free, self.vocab, _ROW, [first], [second], [bond])
                self._refresh()
                terminated = bool(grown[0]) and self._graph.num_atoms == self.max_atoms
        truncated = not terminated and self._steps >= self.max_steps
        done = terminated or truncated
        self._mask[-1] = self._stop_allowed()
        self._ctx.valid = valid
        terms = self.total_reward.score(self._ctx, final=done)
        reward = float(sum(terms.values()))
        smiles = self.info_smiles == "step" or (done and self.info_smiles == "end")
        info = self._info(valid=valid, terms=terms, smiles=smiles)
        return self._obs(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """``(K,)`` bool: which flat actions are legal now (see the class docstring for indexing)."""
        return self._mask.copy()

    def decode_action(self, k: int) -> EditAction:
        """The ``(first, second, bond, stop)`` of flat action ``k``."""
        return EditAction(*self.layout.decode(k))

    def render(self):
        if self.render_mode == "ansi":
            return self.smiles + "\n"
        if self.render_mode == "rgb_array":
            from rdkit.Chem import Draw

            return np.asarray(Draw.MolToImage(self._ctx.mol, size=(300, 300)).convert("RGB"))
        return None

    # State accessors --------------------------------------------------------------------------
    @property
    def graph(self) -> MolGraph:
        """The current molecule (a copy)."""
        return self._graph.copy()

    @property
    def smiles(self) -> str:
        """Canonical SMILES of the current molecule."""
        return self._ctx.smiles

    @property
    def mol(self):
        """The current molecule as a sanitized RDKit ``Mol``."""
        return self._ctx.mol

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled (or deep-copied): re-bind the views of the engine's arrays that pickling separated."""
        self.__dict__.update(state)
        self._mask = self._masks[0]
        self._graph = MolGraph(self._types[0], self._bonds[0], int(self._num_atoms[0]), self.vocab)

    # Internals --------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Recompute what depends on the molecule after it changed (``self._free`` is kept by the engine)."""
        self._graph.num_atoms = int(self._num_atoms[0])
        _, edit_any = edit_masks(self._types, self._bonds, self._num_atoms, self._free, self.vocab, self.layout, out=self._masks)
        self._edit_any = bool(edit_any[0])
        self._ctx = Context(self._graph, True, self._start)

    def _stop_allowed(self) -> bool:
        return self._steps >= self.min_steps or not self._edit_any

    def _obs(self) -> dict[str, np.ndarray]:
        g = self._graph
        return {
            "atom_types": g.atom_types.copy(),
            "bonds": g.bonds.copy(),
            "num_atoms": np.array([g.num_atoms], dtype=np.int16),
            "free_valence": self._free[0].copy(),
        }

    def _info(self, valid: bool, terms: dict[str, float], smiles: bool) -> dict[str, Any]:
        info = {
            "valid": valid,
            "num_atoms": self._graph.num_atoms,
            "reward_terms": terms,
            "action_mask": self._mask.copy(),
        }
        if smiles:
            info["smiles"] = self._ctx.smiles
        return info
