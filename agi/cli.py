"""The call front's commands, serve and demo: the `agi` entry of pyproject.toml's `callkeeper.commands`."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any

from agi.app import FrontEnd
from agi.demo import demo
from agi.node import Node, tell_listening, watch_parent, worker_argv
from router import config
from router.cli.context import Context
from router.errors import ConfigError, ExitCode
from router.logs import configure_logging

log = logging.getLogger(__name__)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """The commands that need the call front; registered beside the router's."""
    text = "run the FastAGI server Asterisk connects to"
    p = commands.add_parser("serve", help=text, description=text, parents=[common])
    p.add_argument("--listen", metavar="HOST:PORT", help="FastAGI address (default 127.0.0.1:4573)")
    p.add_argument(
        "--mode",
        choices=("dial", "advise"),
        help="dial: ring the plan from here (default); advise: hand it to the dialplan",
    )
    p.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="Prometheus /metrics, /healthz, /readyz (default 127.0.0.1:9464)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes sharing the port, one per core by default (0); 1 runs a single process",
    )
    # Set by the node's parent for each worker it starts (agi.node); not for people.
    p.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    p.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--advised-table", help=argparse.SUPPRESS)
    p.add_argument("--lifeline-fd", type=int, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_serve)
    demo.register(commands, common)


def serve_settings(ctx: Context, args: argparse.Namespace) -> config.Settings:
    return config.load(
        getattr(args, "config", None),
        overrides={
            "db": getattr(args, "db", None),
            "listen": args.listen,
            "mode": args.mode,
            "metrics": args.metrics,
            "workers": args.workers,
        },
    )


SWITCH_INTERVAL_SECONDS = 0.0005
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def settle_heap() -> None:
    """Tune the interpreter for many waiting threads and short bursts of work.

    A full collection walks every tracked object; the modules, statements and
    pools built at start-up live as long as the process, so walking them
    again and again only lands as a pause on some caller's decision: they are
    frozen out of its sight. And a thread woken by its caller's next line
    waits for the interpreter lock up to the switch interval (5 ms by
    default) while another thread computes; a shorter interval bounds that.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def run_serve(ctx: Context, args: argparse.Namespace) -> int:
    settings = serve_settings(ctx, args)
    configure_logging(settings.log_level, settings.log_format)
    worker = args.worker_index
    if worker is None and settings.worker_count > 1:
        try:
            return Node(settings, worker_argv()).run()
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {settings.metrics}: {exc.strerror}") from None
    # The listener is open as soon as FrontEnd is built: a SIGTERM from then on
    # must stop it gracefully, not kill it with calls in its backlog. Held
    # until the handler is in place, then delivered.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        front = FrontEnd(settings, worker=worker, advised_table=args.advised_table)
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        raise ConfigError(
            f"cannot listen on {settings.listen} or {settings.metrics}: {exc.strerror}"
        ) from None
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        raise

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: no new calls; calls in progress get %.0f s", signum, settings.stop_grace_seconds)
        front.server.begin_stop(settings.stop_grace_seconds)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if args.lifeline_fd is not None:
        watch_parent(args.lifeline_fd)
    host, port = front.address
    log.info(
        "%sFastAGI on %s:%d, %s mode, %s database",
        "" if worker is None else f"worker {worker}: ",
        host,
        port,
        settings.mode,
        front.db.backend,
    )
    if front.ops is not None:
        log.info("metrics on http://%s:%d/metrics", *front.ops.address)
    settle_heap()
    ready_fd = args.ready_fd
    front.serve_forever(lambda: tell_listening(ready_fd) if ready_fd is not None else None)
    remaining = front.stop(settings.stop_grace_seconds)
    if remaining:
        # The grace is a deadline: the calls' threads are not waited for. Their
        # attempts stand in the ledger as started and not ended; spooled
        # records are on disk already (each is fsynced as it is written).
        log.warning("stopped with %d call(s) still in progress; exiting without them", remaining)
        logging.shutdown()
        sys.stdout.flush()
        os._exit(ExitCode.OK)
    log.info("stopped cleanly")
    return 0
