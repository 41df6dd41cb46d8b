"""Log set-up for long-running processes: text or JSON lines, a level from settings.

One event, one line: a message, a traceback or a library's warning that spans
lines has its line breaks escaped (`\\n`), and control characters from a peer
(a carriage return in a unique id, say) are escaped too, so no one can forge
a line in the log. Values a peer chose are quoted by `escaped` where they sit
among key=value fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from router.errors import ConfigError

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_PLAIN = re.compile(r"[\w.+:/@-]*")


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}")


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped."""
    return _CONTROL.sub(_escape_control, text)


def escaped(value: str) -> str:
    """A peer's value for a key=value log field: as is when plain, else quoted and escaped."""
    if _PLAIN.fullmatch(value):
        return value
    return json.dumps(value, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class OneLineText(logging.Formatter):
    """The text format, one line per record, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


class JsonLines(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def configure_logging(level: str, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"log_format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ConfigError(f"log_level {level!r} is not a logging level")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else OneLineText(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Python's warnings (a library's deprecation, say) go through the log, one line each.
    logging.captureWarnings(True)
    # alembic logs every migration step at INFO; it is noise in a service log.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
