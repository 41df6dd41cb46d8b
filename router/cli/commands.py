"""Building the command tree: a group of actions (`lead add`, `lead list`) and each action's parser.

Every action's help is also its description, so `--help` on it says what it
does. Modules bind `common` (the options every command takes) once:
`add = partial(action, common=common)`.
"""

from __future__ import annotations

import argparse
from typing import Any

Sub = Any  # argparse's private _SubParsersAction


def group(commands: Sub, name: str, help_text: str, *, common: argparse.ArgumentParser) -> Sub:
    """A command with actions, e.g. `lead`: `callkeeper lead ACTION`."""
    parser = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)


def action(
    group: Sub, name: str, help_text: str, handler: Any, *, common: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """One action of a group, run by `handler(ctx, args)`."""
    parser: argparse.ArgumentParser = group.add_parser(
        name, help=help_text, description=help_text, parents=[common]
    )
    parser.set_defaults(handler=handler)
    return parser
