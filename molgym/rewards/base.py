"""Reward terms and their composition.

A :class:`Term` scores one molecule and returns a float; a :class:`Reward` is a weighted sum of
terms. Terms compose with ``+`` and ``*``::

    reward = QED() + 0.5 * Similarity() - 0.1 * SA()

Step terms (``final = False``) are scored after every step; final terms when the episode ends
(termination or truncation). Any plain callable ``f(mol) -> float`` is a final term. A term that
raises, or returns something that is not a finite number, raises :class:`RewardError` naming the
term and the molecule: a broken reward never becomes a silent 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from rdkit import Chem

from molgym.chem.graph import MolGraph, canonical_smiles

__all__ = ["Context", "Term", "FunctionTerm", "Interrupt", "Reward", "RewardError", "as_reward"]


class RewardError(ValueError):
    """A reward term failed on a molecule (it raised, or returned NaN, inf or a non-number)."""


class Interrupt(Exception):
    """Raised by a term to stop the caller's loop (an oracle whose budget is spent); passes through unchanged."""


class Context:
    """What a term sees: the molecule, lazily converted, and the episode's start molecule.

    Attributes:
        graph: the current :class:`~molgym.chem.graph.MolGraph` (do not modify it).
        valid: whether the step's action was accepted.
        start: the episode's start graph, or ``None``.
    """

    __slots__ = ("graph", "valid", "start", "_mol", "_smiles", "_start_mol", "_start_smiles")

    def __init__(self, graph: MolGraph, valid: bool = True, start: MolGraph | None = None):
        self.graph = graph
        self.valid = valid
        self.start = start
        self._mol = self._smiles = self._start_mol = self._start_smiles = None

    @classmethod
    def from_smiles(cls, smiles: str, vocab, max_atoms: int, start_smiles: str | None = None) -> Context:
        """Context of a SMILES (handy for scoring molecules outside an env)."""
        start = MolGraph.from_smiles(start_smiles, vocab, max_atoms) if start_smiles else None
        return cls(MolGraph.from_smiles(smiles, vocab, max_atoms), True, start)

    @classmethod
    def of_mol(cls, mol: Chem.Mol, start: MolGraph | None = None) -> Context:
        """Context around an RDKit molecule that has no state (to score molecules from elsewhere),
        edited from ``start`` for terms that compare with the start molecule."""
        ctx = cls(None, True, start)  # type: ignore[arg-type]
        ctx._mol, ctx._smiles = mol, canonical_smiles(mol)
        return ctx

    @classmethod
    def of(cls, molecule: Chem.Mol | str) -> Context:
        """Context of an RDKit molecule or a SMILES (``ValueError`` naming it when it is not one)."""
        if isinstance(molecule, str):
            from rdkit import rdBase

            with rdBase.BlockLogs():
                mol = Chem.MolFromSmiles(molecule)
            if mol is None:
                raise ValueError(f"{molecule!r} is not a valid SMILES")
            return cls.of_mol(mol)
        if isinstance(molecule, Chem.Mol):
            return cls.of_mol(molecule)
        raise TypeError(f"a reward term scores a Context, an RDKit molecule or a SMILES, not {type(molecule).__name__}")

    def know_smiles(self, smiles: str) -> None:
        """Tell the context its graph's canonical SMILES, already computed elsewhere (saves computing it again)."""
        self._smiles = smiles

    @property
    def max_atoms(self) -> int:
        return self.graph.max_atoms

    @property
    def mol(self) -> Chem.Mol:
        if self._mol is None:
            self._mol = self.graph.to_mol()
        return self._mol

    @property
    def smiles(self) -> str:
        if self._smiles is None:
            self._smiles = canonical_smiles(self.mol)
        return self._smiles

    @property
    def start_mol(self) -> Chem.Mol | None:
        if self._start_mol is None and self.start is not None:
            self._start_mol = self.start.to_mol()
        return self._start_mol

    @property
    def start_smiles(self) -> str | None:
        if self._start_smiles is None and self.start is not None:
            self._start_smiles = canonical_smiles(self.start_mol)
        return self._start_smiles


class Term:
    """One reward component. Subclasses set ``name`` and implement :meth:`value`.

    Attributes:
        name: key of the term in ``info["reward_terms"]``.
        final: ``True`` to score at the end of an episode, ``False`` to score every step.
        cached: cache values by :meth:`cache_key` (the canonical SMILES by default). Terms whose
            value changes over time (a discriminator being trained) set it to ``False``.
        cache_size: most cached values kept (the oldest are evicted first).
    """

    name: str = "term"
    final: bool = True
    cached: bool = True
    cache_size: int = 200_000

    def value(self, ctx: Context) -> float:
        raise NotImplementedError

    def cache_key(self, ctx: Context) -> Any:
        return ctx.smiles

    def batch(self, valid: np.ndarray, contexts: Callable[[], list[Context]], max_atoms: int) -> np.ndarray:
        """This term for several molecules at once: ``valid`` (per molecule) and their contexts.

        The default scores one context at a time; a term that can do better (a vectorized rule,
        one call of a batched model) overrides it. ``contexts()`` builds the contexts on demand.
        """
        out = []
        for ctx, ok in zip(contexts(), valid.tolist()):
            ctx.valid = ok
            out.append(self(ctx))
        return np.asarray(out, dtype=np.float64)

    def __call__(self, ctx: Context | Chem.Mol | str) -> float:
        """This term for a :class:`Context` (as envs call it), an RDKit molecule or a SMILES."""
        if not isinstance(ctx, Context):
            ctx = Context.of(ctx)
        if not self.cached:
            return self.checked_value(ctx)
        hit = self.cached_value(ctx)
        if hit is None:
            hit = self.checked_value(ctx)
            self.remember(ctx, hit)
        return hit

    def cached_value(self, ctx: Context) -> float | None:
        """The value cached for this molecule, or ``None``."""
        return self.__dict__.get("_cache", {}).get(self.cache_key(ctx))

    def remember(self, ctx: Context, value: float) -> None:
        """Cache ``value`` for this molecule (evicting the oldest entry when full)."""
        cache = self.__dict__.setdefault("_cache", {})
        if len(cache) >= self.cache_size:
            del cache[next(iter(cache))]
        cache[self.cache_key(ctx)] = value

    def checked_value(self, ctx: Context) -> float:
        """The term's value on ``ctx``, uncached, as a finite float; a :class:`RewardError` naming
        the term and the molecule when it raises or returns something else."""
        try:
            raw = self.value(ctx)
        except (RewardError, Interrupt):
            raise
        except Exception as err:
            raise RewardError(f"reward term {self.name!r} raised {err!r} on molecule {_describe(ctx)}") from err
        return self._validated(raw, ctx)

    def _validated(self, raw, ctx: Context) -> float:
        """``raw`` as a finite float, or a :class:`RewardError` naming the term and the molecule."""
        try:
            out = float(raw)
        except (TypeError, ValueError):
            raise RewardError(
                f"reward term {self.name!r} returned {raw!r}, not a number, on molecule {_describe(ctx)}"
            ) from None
        if not math.isfinite(out):
            raise RewardError(f"reward term {self.name!r} returned {out} on molecule {_describe(ctx)}")
        return out

    # Composition -------------------------------------------------------------------------------
    def __add__(self, other) -> Reward:
        return as_reward(self) + other

    def __radd__(self, other) -> Reward:
        return as_reward(other) + self

    def __sub__(self, other) -> Reward:
        return as_reward(self) + (-1.0) * as_reward(other)

    def __mul__(self, weight: float) -> Reward:
        return as_reward(self) * weight

    __rmul__ = __mul__

    def __neg__(self) -> Reward:
        return as_reward(self) * -1.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_cache", None)  # caches are not worth shipping to worker processes
        return state


def _describe(ctx: Context) -> str:
    try:
        return repr(ctx.smiles)
    except Exception:  # noqa: BLE001 - the molecule itself may be what fails
        return f"<graph with {ctx.graph.num_atoms} atoms>"


class FunctionTerm(Term):
    """A final term from any callable ``fn(mol: rdkit.Chem.Mol) -> float``."""

    def __init__(self, fn: Callable[[Chem.Mol], float], name: str | None = None, cached: bool = True):
        if not callable(fn):
            raise TypeError(f"a reward function must be callable, got {fn!r}")
        self.fn = fn
        fn_name = getattr(fn, "__name__", "")
        self.name = name or (fn_name if fn_name and fn_name != "<lambda>" else "custom")
        self.cached = cached

    def value(self, ctx: Context) -> float:
        return self.fn(ctx.mol)

    def __repr__(self) -> str:
        return f"FunctionTerm({self.name!r})"


class Reward:
    """A weighted sum of terms; :class:`~molgym.rewards.scoring.BatchScorer` scores it (each term's
    contribution is weight * value)."""

    def __init__(self, terms: Iterable[tuple[float, Term]] = ()):
        self.terms: list[tuple[float, Term]] = [(float(w), t) for w, t in terms]
        self.names = _unique_names(t.name for _, t in self.terms)
        #: ``(name, weight, term)`` of every term, names made unique (see :func:`_unique_names`)
        self.named_terms = [(name, w, t) for name, (w, t) in zip(self.names, self.terms)]

    def __add__(self, other) -> Reward:
        return Reward(self.terms + as_reward(other).terms)

    def __radd__(self, other) -> Reward:
        if isinstance(other, (int, float)) and other == 0:  # sum([...]) starts from 0
            return self
        return as_reward(other) + self

    def __mul__(self, weight: float) -> Reward:
        return Reward((w * float(weight), t) for w, t in self.terms)

    __rmul__ = __mul__

    def __sub__(self, other) -> Reward:
        return self + as_reward(other) * -1.0

    def __neg__(self) -> Reward:
        return self * -1.0

    def __repr__(self) -> str:
        parts = [f"{w:g} * {t!r}" for w, t in self.terms]
        return "Reward(" + " + ".join(parts) + ")" if parts else "Reward()"


def as_reward(obj) -> Reward:
    """A :class:`Reward` from a Reward, a Term, a callable ``f(mol) -> float``, a list of those, or None."""
    if obj is None:
        return Reward()
    if isinstance(obj, Reward):
        return obj
    if isinstance(obj, Term):
        return Reward([(1.0, obj)])
    if isinstance(obj, (list, tuple)):
        out = Reward()
        for item in obj:
            out = out + item
        return out
    if callable(obj):
        return Reward([(1.0, FunctionTerm(obj))])
    raise TypeError(f"cannot use {obj!r} as a reward: expected a Term, a Reward or a callable f(mol) -> float")


def _unique_names(names: Iterable[str]) -> list[str]:
    """Each name once (a repeat gets ``_2``, ``_3``, ...), and none with a leading underscore: a
    vector env's infos keep each key's presence mask under ``"_" + key`` (Gymnasium's convention),
    so a term ``_x`` beside a term ``x`` would lose its values to ``x``'s mask."""
    taken: set[str] = set()
    out = []
    for name in names:
        base = name.lstrip("_") or "term"
        unique, k = base, 1
        while unique in taken:
            k += 1
            unique = f"{base}_{k}"
        taken.add(unique)
        out.append(unique)
    return out
