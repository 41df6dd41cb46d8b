"""Entry point of `callkeeper`: parse, run one command, map errors to exit codes.

The router's command modules are listed in `COMMAND_MODULES`; the fronts'
(`agi`'s serve and demo, `web`'s console) are listed in pyproject.toml's
`callkeeper.commands` entry-point group and read here, so that `router`
imports no front. A user sees a one-line `error: …` and a documented exit
code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError, OperationalError

from router import __version__
from router.cli import admin, disputes, evidence, leads, routing, suggest, users
from router.cli.context import Context
from router.errors import CallkeeperError, ExitCode
from router.storage.db import describe_db_error

log = logging.getLogger(__name__)


class CommandModule(Protocol):
    def register(self, commands: Any, common: argparse.ArgumentParser) -> None: ...


COMMAND_MODULES = [admin, routing, evidence, suggest, leads, users, disputes]
FRONT_COMMANDS_GROUP = "callkeeper.commands"


def front_modules() -> list[CommandModule]:
    """The fronts' command modules, as pyproject.toml's entry points name them, in name order."""
    points = importlib.metadata.entry_points(group=FRONT_COMMANDS_GROUP)
    return [point.load() for point in sorted(points, key=lambda point: point.name)]


def common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $CALLKEEPER_DB or sqlite:///callkeeper.db)",
    )
    common.add_argument("--config", metavar="FILE", help="settings file, TOML (default: $CALLKEEPER_CONFIG)")
    common.add_argument(
        "--actor",
        metavar="NAME",
        help="who is making the change, for the audit (default: the OS user)",
    )
    return common


def build_parser(extra_modules: Sequence[CommandModule] = ()) -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="callkeeper",
        description="Owner-first call routing for Asterisk, with a ledger for commission splits.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"callkeeper {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in [*COMMAND_MODULES, *front_modules(), *extra_modules]:
        module.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None, extra_modules: Sequence[CommandModule] = ()) -> int:
    """Run one command: the router's, a front's (entry points), or one of `extra_modules` (tests)."""
    parser = build_parser(extra_modules)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CALLKEEPER_LOG_LEVEL", "WARNING"),
        format="%(levelname)s %(name)s: %(message)s",
    )
    context: Context | None = None
    try:
        context = Context(args)
        return int(args.handler(context, args) or ExitCode.OK)
    except CallkeeperError as exc:
        return _fail(str(exc), exc.exit_code)
    except (OperationalError, DBAPIError) as exc:
        return _fail(describe_db_error(exc), ExitCode.DATABASE)
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:
        if os.environ.get("CALLKEEPER_DEBUG"):
            traceback.print_exc()
        return _fail(
            f"internal error ({type(exc).__name__}: {exc}); set CALLKEEPER_DEBUG=1 for details",
            ExitCode.INTERNAL,
        )
    finally:
        if context is not None:
            context.close()


def _fail(message: str, code: ExitCode) -> int:
    print(f"error: {message}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
