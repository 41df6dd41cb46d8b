"""pyst2's AGI class made fit for a FastAGI socket (see STYLE.md, "pyst2 0.5.1").

`AgiChannel` keeps pyst2's command helpers (`set_variable`, `get_variable`,
`appexec`, …) and replaces what breaks on a socket: no SIGHUP handler, no
stderr chatter, quotes escaped, no fixed command timeout, and every reply
mapped to a typed error. A `HANGUP` line may arrive between a command and its
reply; it is remembered in `hung_up` and reading goes on to the reply.

Bytes that are not UTF-8 are kept recoverable rather than replaced with
U+FFFD: each such byte reads as the four characters `\\xNN`. In the unique id,
which the ledger must match against Asterisk's CDRs byte for byte, a
backslash reads as two backslashes too, so the text maps back to exactly one byte string
(`raw_unique_id`).
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TextIO
from urllib.parse import parse_qs

from asterisk.agi import AGI

from agi.errors import (
    AgiError,
    AppNotFound,
    CallerHungUp,
    DeadChannel,
    InvalidCommand,
    ProtocolError,
    UsageError,
)

MAX_LINE = 8192
MAX_ENV_LINES = 256
# Asterisk answers every command but a Dial at once; a peer that says nothing
# for this long is not Asterisk, and the session (and its claims) ends.
COMMAND_REPLY_SECONDS = 10.0
# The keys without which an environment block is not a call: what was asked
# (a FastAGI script or a classic AGI's request) and who calls.
REQUEST_KEYS = ("agi_network_script", "agi_request")
CALLER_KEY = "agi_callerid"
_RESULT = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -])(?P<rest>.*)$")
_KEY_VALUE = re.compile(r"(?P<key>\w+)=(?P<value>\S*)(?:\s+\((?P<data>.*)\))?")
_JOINER = ","  # between the values of one GET FULL VARIABLE, and the pairs of one MSet
# What MSet's argument parser (or the substitution EXEC applies first) would not take as plain text.
_MSET_UNSAFE = re.compile(r"[,=|\"'\\$()\[\]{}\s]|[^\x21-\x7e]")
UNIQUE_ID = "agi_uniqueid"


class _NullSink(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


class _SocketReader(io.RawIOBase):
    """A socket's receiving side with an optional deadline for the reads to come.

    A socket timeout is per `recv`: a peer sending a byte every second would
    never meet it. Here each `recv` gets what is left until the deadline.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline: float | None = None
        self._timeout: float | None = -1.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        timeout = None
        if self.deadline is not None:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                raise TimeoutError("deadline passed")
        if timeout != self._timeout:
            self.sock.settimeout(timeout)
            self._timeout = timeout
        return self.sock.recv_into(buffer)


class AgiChannel(AGI):
    """One AGI session over text streams (a socket's makefile, or stdin/stdout)."""

    def __init__(self, reader: TextIO, writer: TextIO) -> None:
        # pyst2's __init__ installs a SIGHUP handler and reads with prints: skip it.
        self.stdin = reader
        self.stdout = writer
        self.stderr = _NullSink()
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self.hung_up = False
        self._raw: _SocketReader | None = None
        self.peer = ""  # the address Asterisk connected from; "" when not over a socket

    @classmethod
    def over_socket(cls, sock: socket.socket) -> AgiChannel:
        raw = _SocketReader(sock)
        # Bytes that are not UTF-8 are kept as surrogates, then written as \xNN (`_escaped`).
        reader = io.TextIOWrapper(
            io.BufferedReader(raw), encoding="utf-8", errors="surrogateescape", newline="\n"
        )
        writer = sock.makefile("w", encoding="utf-8", newline="\n")
        channel = cls(reader, writer)
        channel._raw = raw
        with contextlib.suppress(OSError):
            address = sock.getpeername()  # (host, port, …) over TCP; a path or "" over a Unix socket
            channel.peer = str(address[0]) if isinstance(address, tuple) else ""
        return channel

    @contextlib.contextmanager
    def _deadline(self, seconds: float | None) -> Iterator[None]:
        """Reads in the block must all be done within `seconds` (over a socket; None: no limit)."""
        if self._raw is None or seconds is None:
            yield
            return
        self._raw.deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self._raw.deadline = None

    def close(self) -> None:
        """Close both streams; the socket's descriptor is freed only once they are closed."""
        for stream in (self.stdout, self.stdin):
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    # -- the environment block -------------------------------------------------

    def read_environment(self, timeout: float | None = None) -> dict[str, str]:
        """Read `agi_*: value` lines up to the blank line that ends them, all within `timeout`."""
        with self._deadline(timeout):
            for _ in range(MAX_ENV_LINES):
                line = self._read_line(raw=True)
                if line == "":
                    return self.env
                self._environment_line(line)
        raise ProtocolError(f"environment longer than {MAX_ENV_LINES} lines")

    def take_environment(self, block: bytes, rest: bytes = b"") -> dict[str, str]:
        """The environment block the server gathered already (up to its blank line), and what followed it.

        Asterisk sends nothing after the block before the first command but a
        HANGUP line; anything else is not Asterisk.
        """
        lines = block.decode("utf-8", errors="surrogateescape").split("\n")
        if len(lines) > MAX_ENV_LINES + 2:
            raise ProtocolError(f"environment longer than {MAX_ENV_LINES} lines")
        for raw in lines:
            line = raw.rstrip("\r")
            if len(line) > MAX_LINE:
                raise ProtocolError(f"line longer than {MAX_LINE} characters")
            if line:
                self._environment_line(line)
        for raw in rest.decode("utf-8", errors="replace").split("\n"):
            line = raw.rstrip("\r")
            if line == "HANGUP":
                self.hung_up = True
            elif line:
                raise ProtocolError(f"data before any command: {line[:60]!r}")
        return self.env

    def _environment_line(self, line: str) -> None:
        """One raw line (undecodable bytes as surrogates); the unique id's backslashes are doubled
        so that `raw_unique_id` can give back the exact bytes."""
        if line == "HANGUP":
            self.hung_up = True
            return
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_"):
            raise ProtocolError(f"not an AGI environment line: {_escaped(line)[:60]!r}")
        key, value = key.strip(), value.strip()
        if key == UNIQUE_ID:
            value = value.replace("\\", "\\\\")
        self.env[key] = _escaped(value)

    def check_environment(self) -> None:
        """Refuse a block that is not a call: no request, or no caller field (even "unknown")."""
        if not any(key in self.env for key in REQUEST_KEYS):
            raise ProtocolError(f"environment without {' or '.join(REQUEST_KEYS)}")
        if CALLER_KEY not in self.env:
            raise ProtocolError(f"environment without {CALLER_KEY}")

    @property
    def script(self) -> str:
        """The path of agi://host/<path>?query, without the query."""
        return self.env.get("agi_network_script", "").partition("?")[0].strip("/")

    @property
    def query(self) -> Mapping[str, str]:
        raw = self.env.get("agi_network_script", "").partition("?")[2]
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    @property
    def args(self) -> list[str]:
        found: list[str] = []
        while f"agi_arg_{len(found) + 1}" in self.env:
            found.append(self.env[f"agi_arg_{len(found) + 1}"])
        return found

    # -- commands and replies --------------------------------------------------

    def _quote(self, string: Any) -> str:
        text = str(string).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'

    def execute(
        self, command: str, *args: Any, meanwhile: Callable[[], None] | None = None
    ) -> dict[str, tuple[str, str]]:
        """Send a command and read its reply; `meanwhile` runs in between, while Asterisk works."""
        try:
            self.send_command(command, *args)
        except (BrokenPipeError, ConnectionError, OSError) as exc:
            raise CallerHungUp(f"connection lost while sending {command}: {exc}") from None
        if meanwhile is not None:
            meanwhile()
        # A Dial's reply comes when the call ends, minutes later: no deadline.
        is_dial = command == "EXEC" and bool(args) and str(args[0]) == "Dial"
        try:
            with self._deadline(None if is_dial else COMMAND_REPLY_SECONDS):
                return self.get_result()
        except TimeoutError:
            raise ProtocolError(f"no reply to {command} within {COMMAND_REPLY_SECONDS:g} s") from None

    def send_command(self, command: str, *args: Any) -> None:
        line = " ".join([command.strip(), *(str(a) for a in args)]).strip()
        if "\n" in line or "\r" in line:
            raise ValueError("an AGI command cannot contain a line break")
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def get_result(self, stdin: Any = None) -> dict[str, tuple[str, str]]:
        while True:
            line = self._read_line()
            if line == "HANGUP":
                self.hung_up = True
                continue
            match = _RESULT.match(line)
            if match is None:
                raise ProtocolError(f"unexpected reply {line[:60]!r}")
            code, rest = int(match["code"]), match["rest"]
            if code == 100:
                continue
            if code == 200:
                return self._parse_success(rest)
            if code == 510:
                raise InvalidCommand(rest)
            if code == 511:
                raise DeadChannel(rest)
            if code == 520:
                raise UsageError(self._read_usage(line))
            raise AgiError(f"{code} {rest}")

    def _parse_success(self, rest: str) -> dict[str, tuple[str, str]]:
        result: dict[str, tuple[str, str]] = {"result": ("", "")}
        for m in _KEY_VALUE.finditer(rest):
            result[m["key"]] = (m["value"], m["data"] or "")
        return result

    def _read_usage(self, first: str) -> str:
        lines = [first]
        while not lines[-1].startswith("520 "):
            lines.append(self._read_line())
        return "\n".join(lines)

    def _read_line(self, *, raw: bool = False) -> str:
        """The next line; undecodable bytes as `\\xNN`, unless `raw` (kept as surrogates)."""
        try:
            line = self.stdin.readline(MAX_LINE + 1)
        except (ConnectionError, OSError) as exc:
            if isinstance(exc, TimeoutError | socket.timeout):
                raise
            raise CallerHungUp(f"connection lost: {exc}") from None
        if line == "":
            raise CallerHungUp("connection closed by Asterisk")
        if len(line) > MAX_LINE:
            raise ProtocolError(f"line longer than {MAX_LINE} characters")
        line = line.rstrip("\r\n")
        return line if raw else _escaped(line)

    # -- the few commands the call flow uses, with typed results ---------------

    def variable(self, name: str) -> str | None:
        """A channel variable, or None when it is not set."""
        result = self.execute("GET VARIABLE", self._quote(name))
        code, value = result["result"]
        return value if code == "1" else None

    def variables(self, *names: str) -> tuple[str | None, ...]:
        """Several channel variables in one round trip; None for one unset (or empty).

        One `GET FULL VARIABLE` of `${A},${B},…`, which Asterisk answers even on
        a hung-up channel. For values that hold no comma (Dial's status and
        times, Callkeeper's own numbers); should one hold a comma after all,
        they are asked one by one.
        """
        expression = _JOINER.join(f"${{{name}}}" for name in names)
        code, value = self.execute("GET FULL VARIABLE", self._quote(expression))["result"]
        values = value.split(_JOINER) if code == "1" else []
        if len(values) != len(names):
            return tuple(self.variable(name) for name in names)
        return tuple(v or None for v in values)

    def set(self, name: str, value: object) -> None:
        self.execute("SET VARIABLE", self._quote(name), self._quote(value))

    def set_many(self, pairs: Sequence[tuple[str, object]]) -> None:
        """Several channel variables, in order, in one round trip: `EXEC MSet A=1,B=2`.

        Each AGI command is a round trip that costs both Asterisk and this
        server CPU, and the caller waits for it. A value MSet could misread
        (a comma, a quote, `$`, brackets, `=`…), a hung-up channel (where only
        SET VARIABLE is sure to answer) or a PBX without MSet gets one
        SET VARIABLE each instead.
        """
        texts = [(name, str(value)) for name, value in pairs]
        if len(texts) > 1 and not self.hung_up and not any(_MSET_UNSAFE.search(n + v) for n, v in texts):
            try:
                self.exec_app("MSet", _JOINER.join(f"{name}={value}" for name, value in texts))
                return
            except AppNotFound:
                pass
        for name, value in texts:
            self.set(name, value)

    def exec_app(self, application: str, options: str, *, meanwhile: Callable[[], None] | None = None) -> int:
        """EXEC an application; its integer result (Dial: -1 when the call ended answered)."""
        result = self.execute("EXEC", application, self._quote(options), meanwhile=meanwhile)
        code = result["result"][0]
        if code == "-2":
            raise AppNotFound(application)
        try:
            return int(code)
        except ValueError:
            raise ProtocolError(f"EXEC {application} answered result={code!r}") from None


def _escaped(text: str) -> str:
    """Each byte that was not UTF-8 (read as a lone surrogate) as `\\xNN`; the rest as it is."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def raw_unique_id(text: str) -> bytes:
    """The bytes Asterisk sent as `agi_uniqueid`, from the text the ledger holds."""
    return re.sub(
        rb"\\\\|\\x([0-9a-f]{2})",
        lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else b"\\",
        text.encode("utf-8"),
    )
