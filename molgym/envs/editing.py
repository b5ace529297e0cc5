"""What every editing env is made of: its spec, and a batch of molecules with the rules of a step.

:class:`EditSpec` is an env without state (vocabulary, action layout, step limits, start molecules):
what agents size their networks by. :class:`EditBatch` is ``B`` molecules being edited and the one
implementation of a step (legality from the mask, the transition, the stop rule, termination and
truncation, start molecules, the SMILES and reward contexts of each state). The single env
(:class:`~molgym.envs.mol_edit.MolEditEnv`) is a batch of one, the vector env
(:class:`~molgym.envs.vector.MolEditVectorEnv`) a batch of ``num_envs``; the chemistry itself is
:mod:`molgym.chem.engine`'s.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces

from molgym.chem import ActionLayout, AtomVocab, MolGraph, StereoDropped, parse_state, shorten
from molgym.chem.engine import BatchState, free_valence, next_masks, take_steps
from molgym.rewards import Context

__all__ = ["EditSpec", "EditBatch", "StepOutcome", "start_state", "parse_starts"]


_LIBRARIES = (str(Path(__file__).resolve().parents[1]), str(Path(gymnasium.__file__).resolve().parent))


def warn_stereo_dropped(message: str) -> None:
    """A :class:`StereoDropped` warning pointing at the user's line: the first caller outside
    molgym and gymnasium (``gym.make`` and ``reset`` pass through several of their frames)."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARIES):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, StereoDropped, stacklevel=level)


def start_state(smiles: str, vocab: AtomVocab, max_atoms: int) -> MolGraph:
    """The state of a start SMILES given at ``reset``; a :class:`StereoDropped` warning when its
    stereochemistry is dropped (states are 2D graphs)."""
    graph, stereo = parse_state(smiles, vocab, max_atoms)
    if stereo:
        warn_stereo_dropped(f"stereochemistry of {shorten(smiles)} dropped: a state is a 2D graph")
    return graph


def parse_starts(start_smiles, vocab: AtomVocab, max_atoms: int, owner: str) -> list[MolGraph]:
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
        warn_stereo_dropped(
            f"{owner}: stereochemistry dropped from {stereo} of {len(items)} start molecules (a state is a 2D graph)"
        )
    return graphs


def chosen_starts(options: dict, count: int, size: int) -> np.ndarray | None:
    """The start molecules a reset's ``options["start_index"]`` names for ``size`` molecules (one
    index into the env's ``count`` start molecules for all, or one per molecule), checked; ``None``
    when it names none."""
    index = options.get("start_index")
    if index is None:
        return None
    if options.get("smiles") is not None:
        raise ValueError("reset options: give 'smiles' or 'start_index', not both")
    picks = np.asarray(index)
    if picks.dtype.kind not in "iu":
        raise ValueError(f"reset option start_index must be integers, got {index!r}")
    if picks.ndim == 0:
        picks = np.full(size, picks)
    if picks.shape != (size,):
        raise ValueError(f"reset option start_index: one index or {size} (one per molecule), got shape {picks.shape}")
    if ((picks < 0) | (picks >= count)).any():
        raise ValueError(
            f"reset option start_index must be in [0, {count}) (the env's start molecules), got {picks.tolist()}"
        )
    return picks.astype(np.int64)


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


class StepOutcome(NamedTuple):
    """What :meth:`EditBatch.step` did, per molecule (``(B,)`` bool arrays)."""

    valid: np.ndarray  #: the action was legal (and the molecule acting)
    terminated: np.ndarray  #: a legal stop, or the molecule reached ``max_atoms`` atoms
    truncated: np.ndarray  #: ``max_steps`` steps taken without termination


class EditBatch:
    """``B`` molecules being edited, and the rules of a step.

    State: ``state``, a :class:`~molgym.chem.engine.BatchState` (the molecules, step counters,
    start molecules, masks; its arrays are also this object's attributes: ``types``, ``bonds``,
    ``num_atoms``, ``free``, ``steps``, ``start_index``, ``mask``, ``has_edit``), updated in place;
    ``start_index`` ``-1`` is the start molecule given with :meth:`set_option_start`. Each
    :meth:`refresh` makes a new read-only ``mask`` and never writes to it again, so envs hand it out
    without copying.

    Rules: an action is legal when its mask entry is set; stop is legal once ``min_steps`` steps
    are taken, or when no edit is legal. An episode terminates on a legal stop or when an edit adds
    the ``max_atoms``-th atom, and is truncated after ``max_steps`` steps.
    """

    def __init__(self, spec: EditSpec, size: int):
        self.spec, self.size = spec, int(size)
        B = self.size
        self.vocab, self.layout = spec.vocab, spec.layout
        self.max_atoms = N = spec.max_atoms
        self.state = BatchState.empty(B, N, self.layout.size)
        self.valid = np.ones(B, dtype=bool)  # whether the last step's action was accepted (True after reset)
        self._stale = np.zeros(B, dtype=bool)  # changed since the last refresh: masks to recompute
        # the start molecules, and a last slot (start index -1) for a reset option's molecule
        self.starts: list[MolGraph | None] = [*spec.start_graphs, None]
        S = len(self.starts)
        self._start_types = np.full((S, N), -1, dtype=np.int8)
        self._start_bonds = np.zeros((S, N, N), dtype=np.int8)
        self._start_n = np.zeros(S, dtype=np.int64)
        for s, g in enumerate(spec.start_graphs):
            self._start_types[s], self._start_bonds[s], self._start_n[s] = g.atom_types, g.bonds, g.num_atoms
        self._start_free = free_valence(self._start_types, self._start_bonds, self._start_n, self.vocab)
        self._start_smiles: list[str | None] = [None] * S  # each start's canonical SMILES, once computed
        self._rows = np.arange(B)
        self._contexts: dict[int, Context] = {}  # molecule -> its state's reward context, built on demand
        self._at_start = np.zeros(B, dtype=bool)  # not edited since reset: the start's SMILES applies

    # the state's arrays, as envs and agents read them
    types = property(lambda self: self.state.types)
    bonds = property(lambda self: self.state.bonds)
    num_atoms = property(lambda self: self.state.num_atoms)
    free = property(lambda self: self.state.free)
    steps = property(lambda self: self.state.steps)
    start_index = property(lambda self: self.state.start_index)
    mask = property(lambda self: self.state.mask)
    has_edit = property(lambda self: self.state.has_edit)

    # Episodes ---------------------------------------------------------------------------------
    def set_option_start(self, graph: MolGraph) -> None:
        """Make ``graph`` the molecule of start index ``-1`` (a reset option's)."""
        self.starts[-1] = graph
        self._start_types[-1], self._start_bonds[-1], self._start_n[-1] = graph.atom_types, graph.bonds, graph.num_atoms
        self._start_free[-1] = free_valence(graph.atom_types[None], graph.bonds[None], self._start_n[-1:], self.vocab)[
            0
        ]
        self._start_smiles[-1] = None

    def reset(self, rows: np.ndarray, picks: np.ndarray) -> None:
        """Start new episodes of molecules ``rows`` from start molecules ``picks`` (indices into
        ``spec.start_graphs``, ``-1`` for the option's). The caller then calls :meth:`refresh`."""
        self.types[rows] = self._start_types[picks]
        self.bonds[rows] = self._start_bonds[picks]
        self.num_atoms[rows] = self._start_n[picks]
        self.free[rows] = self._start_free[picks]
        self.start_index[rows] = picks
        self.steps[rows] = 0
        self.valid[rows] = True
        self._changed(rows)
        self._at_start[rows] = True

    def step(self, k: np.ndarray, active: np.ndarray) -> StepOutcome:
        """Take flat actions ``k`` (``(B,)``, checked by ``layout.flat_actions``) for the ``active``
        molecules (``(B,)`` bool; the others wait, e.g. for an autoreset). The caller then calls
        :meth:`refresh` (after resetting any molecules)."""
        valid, terminated, truncated, edited = take_steps(
            self.state, self.vocab, self.layout, k, active, self.spec.max_steps
        )
        self._changed(edited)
        np.copyto(self.valid, valid, where=active)
        return StepOutcome(valid, terminated, truncated)

    def refresh(self) -> None:
        """The masks after a step or a reset, as a new read-only ``mask``: the molecules changed
        since the last refresh get theirs computed, the others keep theirs, and every molecule gets
        its stop entry."""
        next_masks(self.state, self.vocab, self.layout, self._stale, self.spec.min_steps)
        self._stale[:] = False

    # Molecules --------------------------------------------------------------------------------
    def graph(self, i: int) -> MolGraph:
        """Molecule ``i`` as a :class:`MolGraph` (a copy)."""
        return MolGraph(self.types[i].copy(), self.bonds[i].copy(), int(self.num_atoms[i]), self.vocab)

    def context(self, i: int) -> Context:
        """Molecule ``i``'s reward context (``valid``: its last step's): one per state, so its RDKit
        molecule and SMILES are computed once."""
        ctx = self._contexts.get(i)
        if ctx is None:
            index = int(self.start_index[i])
            ctx = self._contexts[i] = Context(self.graph(i), True, self.starts[index])
            if self._at_start[i] and self._start_smiles[index] is not None:
                ctx.know_smiles(self._start_smiles[index])
        ctx.valid = bool(self.valid[i])
        return ctx

    def contexts(self, rows: np.ndarray) -> list[Context]:
        return [self.context(i) for i in rows.tolist()]

    def smiles_of(self, rows: np.ndarray) -> list[str]:
        """Canonical SMILES of molecules ``rows`` (computed once per state; once per start molecule)."""
        out = []
        for i in rows.tolist():
            smiles = self.context(i).smiles
            if self._at_start[i]:
                self._start_smiles[self.start_index[i]] = smiles
            out.append(smiles)
        return out

    # Checkpoints ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The molecules, counters and masks (copies), and the option's start molecule."""
        return {**self.state.as_dict(), "option_start": self.starts[-1]}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`get_state` of a batch of the same size, ``max_atoms`` and vocabulary."""
        try:
            self.state.load(state)
        except ValueError as err:
            raise ValueError(
                f"saved env state does not fit this env ({self.size} molecules of {self.max_atoms} "
                f"atoms, {self.layout.size} actions): {err}"
            ) from None
        if state["option_start"] is not None:
            self.set_option_start(state["option_start"])
        self._changed(self._rows)
        self._stale[:] = False  # the masks are the saved ones

    def state_bytes(self) -> int:
        """Bytes of the per-molecule state arrays (graph, counters and action mask), all molecules."""
        return self.state.nbytes

    def _changed(self, rows: np.ndarray) -> None:
        """Molecules ``rows`` are new states: drop their contexts, mark their masks stale."""
        if self._contexts:
            for i in rows.tolist():
                self._contexts.pop(i, None)
        self._at_start[rows] = False
        self._stale[rows] = True
