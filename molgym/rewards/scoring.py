"""Scoring a batch of molecules: step terms vectorized, final terms cache first, misses in parallel."""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable

import numpy as np

from molgym.chem import MolGraph
from molgym.rewards.base import Context, Reward

__all__ = ["BatchScorer", "PendingFinals"]

_WORKER_REWARD: Reward | None = None


def _init_worker(payload: bytes) -> None:
    global _WORKER_REWARD
    _WORKER_REWARD = pickle.loads(payload)


def _score_in_worker(job):
    """Worker side: rebuild the molecule from its arrays (same atom order) and score the terms."""
    graph, start, indices = job
    ctx = Context(MolGraph(*graph), True, MolGraph(*start) if start is not None else None)
    return [_WORKER_REWARD.terms[i][1](ctx) for i in indices]


class _ScoringActor:
    """A Ray actor holding the reward, as a pool process does (Ray ships it with cloudpickle, so
    functions defined in a script or a notebook work too)."""

    def __init__(self, reward: Reward):
        global _WORKER_REWARD
        _WORKER_REWARD = reward

    def score(self, jobs: list) -> list:
        return [_score_in_worker(job) for job in jobs]

    def ready(self) -> bool:
        return True


class _RayPool:
    """``n`` Ray actors behind the two calls of a process pool that :class:`BatchScorer` makes: a
    step's jobs are split into ``n`` contiguous shares, one per actor, and come back in order."""

    def __init__(self, n: int, reward: Reward):
        from molgym.distributed import import_ray, start_ray

        self.ray = import_ray()
        self.started_here = start_ray()
        # an actor whose process dies is restarted, and its unfinished calls are retried (twice)
        actor = self.ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(_ScoringActor)
        # held as long as the actors live: a restarted actor reruns its constructor with this
        # object, which Ray deletes once no reference is left (ray-project/ray#47043, #53727)
        self.reward_ref = self.ray.put(reward)
        self.actors = [actor.remote(self.reward_ref) for _ in range(n)]
        try:  # started (and the reward unpickled) before the first step, or a clear error now
            self.ray.get([a.ready.remote() for a in self.actors])
        except self.ray.exceptions.RayError as err:
            self.terminate()
            raise RuntimeError(f"the Ray scoring actors did not start: {str(err).strip().splitlines()[-1]}") from None

    def map_async(self, fn, jobs: list) -> _RayResult:
        shares = np.array_split(np.arange(len(jobs)), len(self.actors))
        refs = [a.score.remote([jobs[i] for i in share]) for a, share in zip(self.actors, shares) if share.size]
        return _RayResult(self.ray, refs)

    def terminate(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.reward_ref = None
        if self.started_here:
            self.ray.shutdown()


class _RayResult:
    def __init__(self, ray, refs):
        self.ray, self.refs = ray, refs

    def get(self) -> list:
        return [value for share in self.ray.get(self.refs) for value in share]


class PendingFinals:
    """Final-term values of the molecules that finished in a step, possibly still being computed."""

    def __init__(self, ctxs: list[Context], values: dict[int, np.ndarray], jobs: dict[int, list[int]], handle, terms):
        self.ctxs, self.values, self.jobs, self._handle, self._terms = ctxs, values, jobs, handle, terms

    def result(self) -> dict[int, np.ndarray]:
        """Term index -> values per finished molecule (waits for the workers if they are still at it)."""
        if self._handle is not None:
            for m, results in zip(self.jobs, self._handle.get()):
                for index, value in zip(self.jobs[m], results):
                    self.values[index][m] = value
                    self._terms[index].remember(self.ctxs[m], value)
            self._handle = None
        return self.values


class BatchScorer:
    """The env's reward for many molecules per step.

    Step terms are scored for every acting molecule with :meth:`Term.batch` (vectorized where the
    term allows it). Final terms are scored for the molecules that finished: each cached term's
    value is taken from its canonical-SMILES cache when there; the misses are computed in this
    process (``n_workers=0``) or on ``n_workers`` processes (``backend="process"``) or Ray actors
    (``backend="ray"``: on the connected Ray cluster, or a local instance started here),
    asynchronously, so that the caller can compute the next action masks meanwhile
    (:meth:`start_finals`, then :meth:`score`).
    Workers rebuild each molecule from its arrays, in the same atom order, so the values are the
    same as in-process.
    """

    def __init__(self, reward: Reward, n_workers: int = 0, backend: str = "process"):
        if n_workers < 0:
            raise ValueError(f"n_workers must be 0 (score in this process) or more, got {n_workers}")
        if backend not in ("process", "ray"):
            raise ValueError(f"backend must be 'process' or 'ray', got {backend!r}")
        self.reward = reward
        self.n_workers = n_workers
        self.has_finals = any(term.final for _, _, term in reward.named_terms)
        self._pool = None
        if n_workers > 0 and backend == "ray":
            self._pool = _RayPool(n_workers, reward)
        elif n_workers > 0:
            try:
                payload = pickle.dumps(reward)
            except Exception as err:  # noqa: BLE001 - lambdas, local functions, open handles...
                raise ValueError(
                    f"n_workers={n_workers} needs reward terms that can be pickled ({err}); "
                    "define reward functions at module level, or use n_workers=0"
                ) from err
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = multiprocessing.get_context(method).Pool(n_workers, _init_worker, (payload,))

    def start_finals(self, ctxs: list[Context]) -> PendingFinals:
        """Begin scoring the final terms of these finished molecules: cache hits now, misses on the pool."""
        values: dict[int, np.ndarray] = {}
        jobs: dict[int, list[int]] = {}  # molecule -> indices of the terms to compute remotely
        for index, (_, _, term) in enumerate(self.reward.named_terms):
            if not term.final:
                continue
            column = np.empty(len(ctxs), dtype=np.float64)
            for m, ctx in enumerate(ctxs):
                if self._pool is None or not term.cached:
                    column[m] = term(ctx)
                    continue
                hit = term.cached_value(ctx)
                if hit is None:
                    jobs.setdefault(m, []).append(index)
                else:
                    column[m] = hit
            values[index] = column
        handle = None
        if jobs:
            payload = [
                (_arrays(ctxs[m].graph), _arrays(ctxs[m].start) if ctxs[m].start is not None else None, jobs[m])
                for m in jobs
            ]
            handle = self._pool.map_async(_score_in_worker, payload)
        return PendingFinals(ctxs, values, jobs, handle, [term for _, _, term in self.reward.named_terms])

    def score(
        self,
        contexts: Callable[[np.ndarray], list[Context]],
        acting: np.ndarray,
        valid: np.ndarray,
        finals: np.ndarray,
        pending: PendingFinals | None,
        num_envs: int,
        max_atoms: int,
    ) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Each molecule's reward ``(num_envs,)``, and per term name its contributions (weight *
        value) and where it was scored (``(num_envs,)`` bool, shared between terms): step terms for the ``acting`` rows
        (``valid`` per acting row), final terms for the ``finals`` rows, whose :meth:`start_finals`
        is ``pending``. Rewards sum the contributions in term order."""
        terms: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        total = np.zeros(num_envs, dtype=np.float64)
        scored_step, scored_final = np.zeros(num_envs, dtype=bool), np.zeros(num_envs, dtype=bool)
        scored_step[acting], scored_final[finals] = True, True
        acting_ctx: list[Context] | None = None

        def acting_contexts() -> list[Context]:
            nonlocal acting_ctx
            if acting_ctx is None:
                acting_ctx = contexts(acting)
            return acting_ctx

        final_values = pending.result() if pending is not None else {}
        for index, (name, weight, term) in enumerate(self.reward.named_terms):
            values = np.zeros(num_envs, dtype=np.float64)  # 0 where not scored
            if term.final:
                if not finals.size:
                    continue
                values[finals] = weight * final_values[index]
            else:
                values[acting] = weight * term.batch(valid, acting_contexts, max_atoms)
            total += values
            terms[name] = values, scored_final if term.final else scored_step
        return total, terms

    def score_one(self, ctx: Context, final: bool) -> dict[str, float]:
        """One molecule's contributions per term (:meth:`score` of a batch of one): the step terms
        (``ctx.valid`` says whether its step was accepted), and the final terms when ``final``."""
        one = np.zeros(1, dtype=np.int64)
        pending = self.start_finals([ctx]) if final and self.has_finals else None
        _, terms = self.score(
            lambda rows: [ctx], one, np.array([ctx.valid]), one if final else one[:0], pending, 1, ctx.max_atoms
        )
        return {name: float(values[0]) for name, (values, present) in terms.items() if present[0]}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    def __del__(self):
        self.close()


def _arrays(graph: MolGraph):
    return graph.atom_types, graph.bonds, graph.num_atoms, graph.vocab
