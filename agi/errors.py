"""What can go wrong on the AGI wire, one class each.

A caller hanging up is not an error: `CallerHungUp` has its own branch in the
call flow and is never logged with a traceback.
"""

from __future__ import annotations


class AgiError(Exception):
    """Asterisk answered something other than success."""


class CallerHungUp(AgiError):
    """The channel is gone: a HANGUP line followed by EOF, or the socket closed."""


class DeadChannel(AgiError):
    """511: a channel command after the caller hung up."""


class InvalidCommand(AgiError):
    """510: Asterisk does not know the command."""


class UsageError(AgiError):
    """520: a malformed command; the message holds Asterisk's usage text."""


class AppNotFound(AgiError):
    """EXEC of an application Asterisk does not have (result=-2)."""


class ProtocolError(AgiError):
    """A line that is not AGI: garbage, too long, or an environment that never ends."""
