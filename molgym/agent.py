"""The protocol every agent implements, so that one command trains, samples and compares them all,
and the registry that finds agents by name.

Agents register themselves as Python entry points in the group ``molgym.agents`` (as Gymnasium
environments and pytest plugins do): molgym's own agents in its ``pyproject.toml``, a user's agent
in the user's package::

    [project.entry-points."molgym.agents"]
    my-agent = "my_package.agent:MyAgent"

after which ``molgym train my-agent`` and ``molgym compare --agents my-agent`` find it. Without
installing anything, ``module:Class`` names an agent as well. The library itself never imports an
agent package by name.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from molgym.loop import Callback, train_loop
from molgym.oracle import Oracle
from molgym.plugins import load_object
from molgym.storage import read_json, write_json
from molgym.tasks import Task

__all__ = [
    "Agent",
    "UpdatingAgent",
    "read_checkpoint",
    "parse_settings",
    "check_settings",
    "registered_agents",
    "agent_class",
]

#: The entry-point group in which agents register (name -> ``module:Class``).
ENTRY_POINT_GROUP = "molgym.agents"


def read_checkpoint(file: str | Path, what: str, device: str = "cpu") -> dict:
    """A torch checkpoint as a dict; a missing or unreadable file is a ``ValueError`` naming ``what`` and the file."""
    import torch

    if not Path(file).exists():
        raise ValueError(f"cannot read {what} checkpoint {file}: no such file")
    if not Path(file).is_file():
        raise ValueError(f"cannot read {what} checkpoint {file}: not a file")
    try:
        state = torch.load(file, map_location=device, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same clear message
        reason = str(err).strip().splitlines()[0] if str(err).strip() else "no reason given"
        if isinstance(err, RuntimeError) and "CUDA" in reason:
            raise ValueError(f"cannot read {what} checkpoint {file} on {device}: {reason}") from None
        raise ValueError(
            f"cannot read {what} checkpoint {file}: not a torch checkpoint, or damaged ({type(err).__name__}: {reason})"
        ) from None
    if not isinstance(state, dict):
        raise ValueError(f"cannot read {what} checkpoint {file}: not a checkpoint dictionary")
    return state


class Agent(ABC):
    """An agent for one task.

    Built as ``Agent(task, seed=0, device="cpu", **config)``; :meth:`train` improves it while
    scoring molecules with an oracle until the budget is spent (the oracle raises
    ``BudgetExhausted``: the agent returns) or it is done; :meth:`propose` makes molecules without
    scoring them; :meth:`save` / :meth:`load` write and read a directory that resumes it exactly.

    Class attributes:
        name: the registry name (``molgym compare --agents NAME``).

    Attributes:
        stop_reason: why the last :meth:`train` ended (the budget spent, a stall, ...), for reports;
            ``None`` until then, or for agents that do not say.
    """

    name: ClassVar[str] = "agent"
    stop_reason: str | None = None

    def __init__(self, task: Task, seed: int = 0, device: str = "cpu", **config: Any):
        self.task, self.seed, self.device, self.config = task, seed, device, config

    @abstractmethod
    def train(self, oracle: Oracle) -> None:
        """Learn from the oracle's scores until its budget is spent (or the agent has nothing left to try)."""

    @abstractmethod
    def propose(self, n: int) -> list[str]:
        """``n`` molecules (SMILES) from the current agent, not scored by any oracle: everything it
        generated, invalid strings included (a comparison's validity is the valid share of them).
        Successive calls continue one stream (they do not repeat the same molecules)."""

    def propose_from(self, start: str, n: int) -> list[str]:
        """``n`` molecules edited from the molecule ``start`` (tasks with start molecules, such as
        constrained optimisation). Agents that build molecules from scratch do not have it."""
        raise ValueError(f"agent {self.name!r} builds molecules from scratch; it cannot start from a given molecule")

    def propose_from_each(self, starts: Sequence[str], n: int) -> list[list[str]]:
        """``n`` molecules edited from each molecule of ``starts`` (``propose_from`` for each; agents
        that can run the episodes of many start molecules as one batch do it faster)."""
        return [self.propose_from(start, n) for start in starts]

    @classmethod
    def settings(cls) -> dict[str, Any]:
        """The agent's settings (``molgym train --config KEY=VALUE``) and their defaults: the
        constructor's keyword arguments after ``task``, ``seed`` and ``device``."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return {
            p.name: p.default
            for p in parameters
            if p.name not in ("self", "task", "seed", "device") and p.kind is p.POSITIONAL_OR_KEYWORD
        }

    def save(self, path: str | Path) -> None:
        """Write the agent to the directory ``path`` (``agent.json`` plus whatever the agent needs)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "agent": self.name,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "task": self.task.name,
            "seed": self.seed,
            "config": self.config,
        }
        self._save_state(path)
        write_json(path / "agent.json", meta)  # last: a directory with agent.json holds the whole agent

    @classmethod
    def load(cls, path: str | Path, task: Task, device: str = "cpu") -> Agent:
        """Read an agent written by :meth:`save`."""
        path = Path(path)
        meta = read_json(path / "agent.json", "agent file")
        if not isinstance(meta, dict) or not {"seed", "config"} <= set(meta):
            raise ValueError(f"agent file {path / 'agent.json'} is damaged: it lacks the seed or the config")
        agent = cls(task, seed=meta["seed"], device=device, **cls._config_for_load(meta["config"]))
        agent.config = meta["config"]
        agent._load_state(path)
        return agent

    @classmethod
    def _config_for_load(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The constructor arguments when loading (the saved state supersedes e.g. initial weights)."""
        return config

    @classmethod
    def pretrain(cls, smiles: list[str], out: Path, command: str, **options: Any) -> str:
        """``molgym pretrain NAME``: learn from the molecules ``smiles`` (no oracle), write the
        weights to the file ``out`` (recording ``command``) and return a one-line summary.
        ``options`` are the command's (``epochs``, ``batch_size``, ``lr``, ``hidden``, ``layers``,
        ``rank``, ``max_atoms``, ``seed``, ``device``; ``None`` means the agent's default). Agents
        with nothing to pretrain do not have it."""
        raise ValueError(f"agent {cls.name!r} has no pretraining step")

    @classmethod
    def from_pretrained(cls, state: dict, path: Path, task: Task, seed: int = 0, device: str = "cpu") -> Agent:
        """The agent for ``task`` starting from the file ``path`` that :meth:`pretrain` wrote
        (``state`` is its content), for ``molgym sample --checkpoint FILE``."""
        raise ValueError(f"agent {cls.name!r} has no pretrained weights to start from")

    def _save_state(self, path: Path) -> None:
        """Agent-specific state (weights, optimizer, RNG); nothing by default."""

    def _load_state(self, path: Path) -> None:
        """Inverse of :meth:`_save_state`."""


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs (``molgym train --config``) as a dict, each value read as JSON where it is
    JSON (``3``, ``0.5``, ``true``, ``null``, ``[1, 2]``), else as a string; ``ValueError`` for a pair
    without ``=`` or key."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"settings take key=value, got {pair!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def check_settings(cls: type[Agent], config: dict[str, Any]) -> None:
    """``ValueError`` for a setting ``cls`` does not have, or a value not of its default's type
    (an int where a float is expected is fine; ``None`` where the annotation allows it; a ``None``
    default accepts anything). A class whose constructor takes ``**config`` and that does not
    override :meth:`Agent.settings` accepts any setting name."""
    known = cls.settings()
    parameters = inspect.signature(cls.__init__).parameters.values()
    optional = {p.name for p in parameters if "None" in str(p.annotation)}
    # a constructor taking **config whose class does not list its settings accepts any name
    open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters) and cls.settings.__func__ is Agent.settings.__func__
    for key, value in config.items():
        if key not in known and open_ended:
            continue
        if key not in known:
            raise ValueError(f"unknown {cls.name} setting {key!r}; its settings are {', '.join(known) or 'none'}")
        default = known[key]
        if default is None or default is inspect.Parameter.empty or (value is None and key in optional):
            continue
        kind = type(default)
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            what = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}
            raise ValueError(
                f"{cls.name} setting {key} takes {what.get(kind.__name__, kind.__name__)} "
                f"(default {default!r}), got {value!r}"
            )


class UpdatingAgent(Agent):
    """An agent that learns in updates (a PPO round, a GAN step, ...).

    It implements :meth:`update`; :meth:`train` repeats it until the oracle's budget is spent, and
    ``molgym train`` (:func:`molgym.training.run_training`) adds a step limit, logs, progress,
    periodic checkpoints and an exact ``--resume``: :meth:`save` between two updates must hold
    everything the next update depends on (weights, optimizer, generators, env state).

    Attributes:
        steps: environment steps (or molecules, for one-shot generators) consumed so far.
        updates: updates done so far.
        patience: updates in a row in which under 5% of the molecules scored were new (none, or a
            trickle) after which training stops with a stated reason (:class:`molgym.loop.Patience`), so that a
            run whose policy keeps making molecules already scored ends instead of running on for hours.
        update_unit: what one update is, in the stall message (``updates``, ``episodes``, ``generations``).
        finished: set by :meth:`update` when the agent's own rule ends training, to the reason
            (e.g. Graph GA's population unchanged for PMO's number of generations).
    """

    steps: int = 0
    updates: int = 0
    patience: int = 20
    update_unit: str = "updates"
    finished: str | None = None

    @abstractmethod
    def update(self, oracle: Oracle) -> dict[str, float]:
        """One update; returns its statistics for the logs (floats, e.g. ``reward``, ``loss``)."""

    def callbacks(self) -> list[Callback]:
        """The agent's own callbacks of the update loop (e.g. a :class:`~molgym.loop.BestPolicy` it
        keeps), run before the caller's; whatever state they hold the agent saves with its own."""
        return []

    def train(self, oracle: Oracle, callbacks: Sequence[Callback] = ()) -> None:
        """Update until the budget is spent, the agent's own rule ends it or it stalls (the reason
        in ``stop_reason``): :func:`molgym.loop.train_loop`, with the caller's ``callbacks``."""
        train_loop(self, oracle, callbacks)


def registered_agents() -> dict[str, str]:
    """The registered agents: name -> ``module:Class``, from the ``molgym.agents`` entry points
    of every installed package (molgym's own among them once molgym is installed), by name."""
    return dict(sorted((point.name, point.value) for point in entry_points(group=ENTRY_POINT_GROUP)))


def agent_class(name: str) -> type[Agent]:
    """The agent class for a registered name or a ``module:Class`` path."""
    registered = registered_agents()
    target = registered.get(name, name)
    if ":" not in target:
        known = ", ".join(registered) or "none (is molgym installed? pip install -e .)"
        raise ValueError(f"unknown agent {name!r}: registered agents are {known}, or give module:Class")
    cls = load_object(target, "agent")
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ValueError(f"{target} is not a molgym.agent.Agent subclass")
    return cls
