"""The operations endpoint: /metrics for Prometheus, /healthz and /readyz.

/healthz says the process is up; /readyz says the database answers within the
decision deadline (503 otherwise), so a load balancer or an alert can tell a
node that would only fail open.

Failure policy: at most MAX_CONNECTIONS connections are served at once (one
beyond is closed at once) and one silent for IDLE_SECONDS is closed, so idle
or hostile clients cannot hold the descriptors and threads calls need.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
IDLE_SECONDS = 10.0


class _BoundedHttpServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on connections served at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], limit: int) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(limit)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class OpsServer:
    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        not_ready: Callable[[], str | None],
        on_ready: Callable[[bool], None] = lambda ready: None,
    ) -> None:
        """`not_ready` says why the node is not ready, or None when it is; `on_ready` hears each answer."""
        handler = _handler(registry, not_ready, on_ready)
        self.httpd = _BoundedHttpServer(address, handler, MAX_CONNECTIONS)
        self.address: tuple[str, int] = self.httpd.server_address[:2]  # type: ignore[assignment]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="ops-http", daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(
    registry: CollectorRegistry, not_ready: Callable[[], str | None], on_ready: Callable[[bool], None]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_SECONDS  # the socket's timeout: an idle connection is closed

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/readyz":
                problem = not_ready()
                on_ready(problem is None)
                if problem is None:
                    self._send(200, b"ready\n")
                else:
                    self._send(503, f"{problem}\n".encode())
            else:
                self._send(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("ops http: " + format, *args)

    return Handler
