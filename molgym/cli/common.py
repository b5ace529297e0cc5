"""What every ``molgym`` command shares: its errors and exit statuses, and reading and checking
its arguments before any work (output paths, start molecules, tasks, agents and their settings,
devices, threads)."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "CommandError",
    "BAD_INPUT",
    "FAILED",
    "INTERRUPTED",
    "checking",
    "parse_config",
    "output_dir",
    "output_file",
    "start_molecules",
    "task_params",
    "make_checked_task",
    "agent_named",
    "checked_config",
    "given",
    "stop_listening_to_ctrl_c",
    "positive",
    "non_negative",
    "positive_float",
    "device",
    "add_threads",
    "add_task_arguments",
    "Parser",
    "Formatter",
]

#: Exit statuses.
BAD_INPUT, FAILED, INTERRUPTED = 2, 1, 130


class CommandError(Exception):
    """Bad input to a command: reported as one line, exit status 2."""


def stop_listening_to_ctrl_c() -> None:
    """The command is ending on a Ctrl-C: another one (users press it twice) must not cut short the
    line that says what was kept, nor the exit status."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def checking():
    """Errors raised while arguments are checked are bad input."""
    try:
        yield
    except CommandError:
        raise
    except (ValueError, TypeError, KeyError, OSError) as err:
        raise CommandError(str(err) if not isinstance(err, KeyError) else f"missing {err}") from None


def given(args: argparse.Namespace, *flags: str) -> bool:
    """Whether one of ``flags`` was written on the command line (not left to its default)."""
    return any(a in flags or a.split("=", 1)[0] in flags for a in args.argv)


def output_dir(path: str) -> Path:
    """``--out`` as a directory, checked (and made) before any work."""
    from molgym.storage import check_output_dir

    with checking():
        return check_output_dir(path)


def output_file(path: str, overwrite: bool) -> Path:
    """``--out`` as a file, checked before any work (an existing one only with ``--overwrite``)."""
    from molgym.storage import check_output_file

    with checking():
        return check_output_file(path, overwrite=overwrite)


# Shared argument readers --------------------------------------------------------------------------
def start_molecules(spec: str | None) -> list[str] | None:
    """``--start``: an existing file, a dataset name, or one SMILES; anything else is bad input."""
    if spec is None:
        return None
    from molgym.chem import parse_smiles, shorten
    from molgym.data import load_smiles

    try:
        is_file = Path(spec).exists()
    except OSError:  # a name too long for the file system: a long SMILES
        is_file = False
    if is_file or spec.lower() in ("nci", "zinc250k", "moses"):
        with checking():
            smiles = load_smiles(spec)
        if not smiles:
            raise CommandError(f"--start {spec}: no molecule in it")
        return smiles
    try:
        parse_smiles(spec)
    except ValueError as err:
        why = str(err).replace(f"invalid SMILES {shorten(spec)}: ", "")  # the SMILES is quoted once
        raise CommandError(
            f"--start {shorten(spec)} is neither an existing file, a dataset name (nci, zinc250k, "
            f"moses) nor a valid SMILES ({why})"
        ) from None
    return [spec]


def task_params(args: argparse.Namespace) -> dict:
    """The task's parameters from ``--task``, ``--start``, ``--threshold``, ``--reward``."""
    params: dict = {}
    if args.task == "constrained":
        params.update(start_smiles=start_molecules(args.start), threshold=args.threshold)
    elif args.start is not None:
        raise CommandError(f"--start is for the constrained task, not {args.task!r}")
    if args.task == "custom":
        if args.reward is None:
            raise CommandError("the custom task needs --reward module:function (a function of an RDKit molecule)")
        params["reward"] = args.reward
    elif args.reward is not None:
        raise CommandError(f"--reward is for the custom task, not {args.task!r}")
    return params


def make_checked_task(name: str, params: dict):
    """The task, with its env built once so that bad start molecules are found now."""
    from molgym.tasks import make_task

    with checking():
        task = make_task(name, **params)
        task.make_env(reward=[]).close()
    return task


def parse_config(pairs: list[str]) -> dict:
    """``--config`` pairs as a dict (:func:`molgym.agent.parse_settings`)."""
    from molgym.agent import parse_settings

    try:
        return parse_settings(pairs)
    except ValueError as err:
        raise CommandError(f"--config: {err}") from None


def agent_named(name: str):
    from molgym.agent import agent_class

    with checking():
        return agent_class(name)


def checked_config(cls, config: dict) -> dict:
    from molgym.agent import check_settings

    with checking():
        check_settings(cls, config)
    return config


def saved_run(out: Path) -> dict:
    """The settings of the run in the directory ``out`` (its ``task.json``), checked."""
    from molgym.storage import read_json

    path = out / "task.json"
    if not path.is_file():
        raise CommandError(f"nothing to resume: {path} does not exist")
    with checking():
        run = read_json(path, "run file")
        if not isinstance(run, dict) or not {"task", "params", "agent", "config", "seed", "budget"} <= set(run):
            raise ValueError(f"run file {path} is damaged: it lacks the task, agent or budget")
    return run


# The parser's types and shared arguments ---------------------------------------------------------
def _number(kind, least):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if value < least or (kind is float and value == least == 0):
            raise argparse.ArgumentTypeError(f"must be {'above' if kind is float else 'at least'} {least}, got {text}")
        return value

    return parse


positive, non_negative, positive_float = _number(int, 1), _number(int, 0), _number(float, 0)


def device(text: str) -> str:
    """``--device``: cpu, or an accelerator that torch finds on this machine."""
    if text == "cpu":
        return text
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise argparse.ArgumentTypeError(
                f"{text}: CUDA is not available on this machine ({why}; torch {torch.__version__})"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} GPU(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError(f"{text}: Apple's MPS is not available on this machine")
    else:
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return text


def add_threads(parser: argparse.ArgumentParser) -> None:
    import os

    parser.add_argument(
        "--threads",
        type=positive,
        default=None,
        help=f"CPU threads for torch (default: one per core, {os.cpu_count()} here; give each job its "
        "share when several run at once)",
    )


class Parser(argparse.ArgumentParser):
    """argparse, with an error as one line (and where the usage is) instead of the whole usage first."""

    def error(self, message: str):
        self.exit(BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def add_task_arguments(parser: argparse.ArgumentParser, default: str | None = "qed") -> None:
    from molgym.tasks import TASKS

    parser.add_argument(
        "--task",
        choices=TASKS,
        default=default,
        help="what the oracle scores" + ("" if default else " (default: qed; with --resume, the run's)"),
    )
    parser.add_argument(
        "--start",
        help="constrained task: start molecules, a SMILES file (.smi/.txt/.csv[.gz]), "
        "nci, zinc250k, moses, or one SMILES",
    )
    parser.add_argument("--threshold", type=float, default=0.4, help="constrained task: similarity threshold")
    parser.add_argument("--reward", help="custom task: the objective, module:function of an RDKit molecule")
    parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:N")
