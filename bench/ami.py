"""A small Asterisk Manager Interface client for the benchmark: one TCP session
on loopback, actions sent without waiting (pipelined), events read on a thread.

The benchmark places calls with `Originate` and learns of their ends from
`UserEvent`s its dialplan sends; the CLI (`asterisk -rx`, a process per
command) would cost more than the calls it drives. The session's `read`
class is `user` only, so Asterisk sends it no other event.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import threading
from collections.abc import Mapping

Message = dict[str, str]


def manager_conf(port: int, user: str, secret: str) -> str:
    """A manager.conf for one local user who may originate, set globals and write AstDB."""
    return (
        f"[general]\nenabled = yes\nport = {port}\nbindaddr = 127.0.0.1\n\n"
        f"[{user}]\nsecret = {secret}\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
        "read = user\nwrite = originate,system,call\nwritetimeout = 5000\n"
    )


class ManagerError(RuntimeError):
    """Asterisk refused an action, or the session ended."""


class Manager:
    def __init__(self, port: int, user: str, secret: str) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._sock.settimeout(None)
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.events: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._responses: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._buffer = b""
        self._banner = self._read_line()
        self._reader = threading.Thread(target=self._read, name="ami-reader", daemon=True)
        self._reader.start()
        self.action({"Action": "Login", "Username": user, "Secret": secret})

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ManagerError("manager session closed before its banner")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def _read(self) -> None:
        buffer = self._buffer
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = self._sock.recv(262144)
                    if not chunk:
                        return
                    buffer += chunk
                *blocks, buffer = buffer.split(b"\r\n\r\n")
                for block in blocks:
                    message: Message = {}
                    for line in block.decode("utf-8", "replace").split("\r\n"):
                        key, _, value = line.partition(": ")
                        message.setdefault(key, value)
                    if "Event" in message:
                        self.events.put(message)
                    elif "Response" in message:
                        self._responses.put(message)
        except OSError:
            return
        finally:
            self._responses.put({"Response": "Closed"})
            self.events.put({"Event": "Closed"})

    def send(self, fields: Mapping[str, str]) -> None:
        """Send an action; its response is left for `responses()`."""
        text = "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + f"ActionID: {next(self._ids)}\r\n\r\n"
        with self._send_lock:
            self._sock.sendall(text.encode())

    def responses(self, count: int, timeout: float = 60) -> None:
        """Wait for `count` responses to actions sent; ManagerError on any that is not Success."""
        for _ in range(count):
            response = self._responses.get(timeout=timeout)
            if response.get("Response") != "Success":
                raise ManagerError(f"manager action refused: {response}")

    def action(self, fields: Mapping[str, str]) -> None:
        self.send(fields)
        self.responses(1)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send({"Action": "Logoff"})
        self._sock.close()
