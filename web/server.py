"""`callkeeper web`: the console served by uvicorn, on loopback unless the settings say otherwise."""

from __future__ import annotations

import socket

import uvicorn

from router import config
from router.errors import ConfigError, InvalidInput
from router.logs import configure_logging
from web.app import create_app


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InvalidInput(f"--listen must be HOST:PORT, e.g. 127.0.0.1:8080, not {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _check_free(host: str, port: int, listen: str) -> None:
    """A clear error for an address in use or not ours, before uvicorn would exit with a log line."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {listen}: {exc.strerror}") from None


def serve(config_file: str | None, *, db: str | None, listen: str | None) -> int:
    settings = config.load(config_file, overrides={"db": db, "web_listen": listen})
    host, port = parse_listen(settings.web_listen)
    _check_free(host, port, settings.web_listen)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, server_header=False, lifespan="on"
        )
    )
    server.run()
    return 0 if server.started else int(ConfigError.exit_code)
