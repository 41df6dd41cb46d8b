"""`callkeeper web`: the console's command, the `web` entry of pyproject.toml's `callkeeper.commands`."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    text = "serve the web console (Russian by default; loopback unless told otherwise)"
    p = commands.add_parser("web", help=text, description=text, parents=[common])
    p.add_argument("--listen", metavar="HOST:PORT", help="console address (default 127.0.0.1:8080)")
    p.set_defaults(handler=run_web)


def run_web(ctx: Any, args: argparse.Namespace) -> int:
    from web.server import serve

    return serve(getattr(args, "config", None), db=getattr(args, "db", None), listen=args.listen)
