"""The ``molgym`` command.

Every command checks its arguments before any work; bad input is one line on stderr and exit
status 2, a failure during the work one line and status 1 (``--debug`` shows the traceback), and
Ctrl-C one line and status 130. Files are written whole, only once their content is known.
"""

from __future__ import annotations

import argparse
import sys

from molgym.cli import compare, envs, sample, train
from molgym.cli.common import (
    BAD_INPUT,
    FAILED,
    INTERRUPTED,
    CommandError,
    Formatter,
    Parser,
    parse_config,
    stop_listening_to_ctrl_c,
)

__all__ = ["main", "build_parser", "CommandError", "parse_config"]


def build_parser() -> argparse.ArgumentParser:
    import molgym
    from molgym.agent import registered_agents

    agents = ", ".join(registered_agents())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = Parser(
        prog="molgym",
        description="Molecular graph editing environments and agents.",
        formatter_class=Formatter,
        parents=[common],
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"molgym {molgym.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help, description=help, formatter_class=Formatter, parents=[common], allow_abbrev=False
        )
        p.set_defaults(func=func)
        return p

    parser.commands = sub.choices  # name -> its parser
    envs.add_commands(command, agents)
    compare.add_commands(command, agents)
    train.add_commands(command, agents)
    sample.add_commands(command, agents)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    argv = list(argv) if argv is not None else sys.argv[1:]
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by the command's own parser, which names the command
            parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit:  # --help, --version, or a one-line usage error (status 2)
        return int(exit.code or 0)
    args.argv = argv  # what was asked, recorded with checkpoints
    if getattr(args, "threads", None) is not None:
        from molgym import set_threads

        set_threads(args.threads)
    if not args.debug:  # warnings as one line each, each once (e.g. stereochemistry dropped from start molecules)
        noted: set[str] = set()

        def note(message, *_, **__) -> None:
            if str(message) not in noted:
                noted.add(str(message))
                print(f"molgym: note: {message}", file=sys.stderr)

        warnings.showwarning = note
    try:
        return args.func(args)
    except CommandError as err:
        print(f"molgym {args.command}: {err}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        stop_listening_to_ctrl_c()
        print(f"molgym {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as err:  # noqa: BLE001 - one line unless --debug
        if args.debug:
            raise
        print(f"molgym {args.command}: {type(err).__name__}: {err} (--debug shows the traceback)", file=sys.stderr)
        return FAILED
