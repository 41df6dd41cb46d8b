"""Errors an admin or the call front can act on, each with its CLI exit code.

The CLI prints `error: <message>` and exits with `exit_code`; nothing else
should reach a user as a traceback.
"""

from __future__ import annotations

import enum


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
