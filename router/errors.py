"""Errors an admin or the call front can act on, each with its CLI exit code.

The CLI prints `error: <message>` and exits with `exit_code`; nothing else
should reach a user as a traceback.

An error the console shows is raised with its English text as a key with
`%(name)s` fields, marked `N_` for extraction into the console's one catalog
(web/locale), and the values apart: `NotFound(N_("no household %(household)s"),
household=7)`. The CLI prints the English filled in; the console looks the
key up in its catalog and fills in the same values, and shows the English
when the catalog has no translation.
"""

from __future__ import annotations

import enum
from typing import Any


def N_(message: str) -> str:
    """Marks an error's text for the console's catalog (`pybabel extract -k N_`); the text is unchanged."""
    return message


class ExitCode(enum.IntEnum):
    """Exit codes of the `callkeeper` command, documented in the README."""

    OK = 0
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    INVALID = 5
    DATABASE = 6
    CONFIG = 7
    INTERRUPTED = 130
    INTERNAL = 70


class CallkeeperError(Exception):
    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str = "", /, **values: Any) -> None:
        super().__init__(message % values if values else message)
        # The catalog's key and the values to fill in, for a front that speaks another language.
        self.message = message
        self.values = values


class NotFound(CallkeeperError, LookupError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(CallkeeperError):
    exit_code = ExitCode.CONFLICT


class InvalidInput(CallkeeperError, ValueError):
    exit_code = ExitCode.INVALID


class DatabaseUnavailable(CallkeeperError):
    exit_code = ExitCode.DATABASE


class Abandoned(CallkeeperError):
    """The caller stopped waiting for a decision (its deadline passed): nothing was written."""


class ConfigError(CallkeeperError):
    exit_code = ExitCode.CONFIG
