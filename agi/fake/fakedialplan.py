"""The fake PBX's dialplan: deploy/asterisk/extensions.conf run as Asterisk
would, for the few applications it uses, against the real FastAGI server.

There is no Asterisk on this machine, and the dialplan is where a wrong name or
a wrong branch silently loses a call's routing; so its own lines are executed
here: `${…}` substitution (nested), `$[…]` expressions, Set, GotoIf, Goto,
AGI (through the fake PBX, over TCP), Dial, Queue, Hangup and the `h`
extension. A Dial the dialplan makes itself (advise mode) takes its outcome
from the same agent table as the fake PBX. The dialplan tests use it, and so
does the advise-mode benchmark: an advised call is a route session, the
dialplan's Dial, and an outcome session, as on a real PBX.

A line or an expression it does not know is a `DialplanError`: the shipped
file has changed beyond what this runner simulates.
"""

from __future__ import annotations

import itertools
import operator
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agi.fake.fakepbx import ANSWER, Agents, AgentsSpec, FakePbx, PlannedCall, place_calls

_channel_ids = itertools.count(1)
_STEP = re.compile(
    r"^(?:exten => (?P<exten>[^,]+),1|\s*same => n(?:\((?P<label>\w+)\))?),(?P<app>\w+)\((?P<args>.*)\)$"
)
_VAR = re.compile(r"\$\{([^${}]*)\}")
_EXPR = re.compile(r"\$\[([^\[\]]*)\]")
_TOKEN = re.compile(r'"[^"]*"|!=|>=|<=|[=<>|&+]|[^\s"=<>|&+!]+')
DEAD = ("127.0.0.1", 1)
SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "asterisk" / "extensions.conf"
SHIPPED_AGI = "127.0.0.1:4573"  # the FastAGI address the shipped dialplan calls


class DialplanError(ValueError):
    """The dialplan has a line this runner does not simulate."""


@dataclass
class Caller:
    """The caller's side: who calls, which line, and when they hang up."""

    number: str
    exten: str
    hang_up_during_dial: int | None = None  # the Nth Dial of the dialplan, 1-based
    hang_up_after_talk: bool = False  # else the agent ends an answered call


@dataclass
class Run:
    variables: dict[str, str] = field(default_factory=dict)
    agi: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)  # script, args, AGISTATUS
    dials: list[tuple[str, str]] = field(default_factory=list)  # target, DIALSTATUS
    queued: bool = False
    # One channel, one unique id, for every AGI() of the call, as Asterisk gives.
    uid: str = field(default_factory=lambda: f"{int(time.time())}.{next(_channel_ids)}")


def load(path: Path) -> dict[str, list[tuple[str | None, str, str]]]:
    """Extension -> its steps (label, application, arguments)."""
    extensions: dict[str, list[tuple[str | None, str, str]]] = {}
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].rstrip()
        if not line.strip() or line.startswith("["):
            continue
        match = _STEP.match(line)
        if match is None:
            raise DialplanError(f"not a dialplan step this runner knows: {line!r}")
        current = match["exten"] or current
        extensions.setdefault(current, []).append((match["label"], match["app"], match["args"]))
    return extensions


class Dialplan:
    def __init__(
        self,
        path: Path,
        servers: Mapping[str, tuple[str, int]],
        agents: Agents,
        *,
        time_scale: float = 0.0,
    ) -> None:
        self.extensions = load(path)
        self.servers = servers  # "host:port" in the dialplan -> where the test server listens
        self.agents = agents
        self.time_scale = time_scale  # real seconds per simulated second of a Dial

    def call(self, caller: Caller, pinned: Mapping[str, str] | None = None) -> Run:
        """Run the inbound extension, then `h`. `pinned` variables ignore the dialplan's Set."""
        run = Run(variables={"EXTEN": caller.exten, "CALLERID(num)": caller.number, **(pinned or {})})
        self._run("_X.", caller, run, pinned or {})
        self._run("h", caller, run, pinned or {})
        return run

    def _run(self, exten: str, caller: Caller, run: Run, pinned: Mapping[str, str]) -> None:
        steps = self.extensions[exten]
        labels = {label: i for i, (label, _, _) in enumerate(steps) if label}
        i = 0
        while i < len(steps):
            _, app, raw = steps[i]
            args = self._expand(raw, run.variables)
            i += 1
            if app == "Set":
                name, _, value = args.partition("=")
                if name not in pinned:
                    run.variables[name] = value
            elif app == "GotoIf":
                condition, _, targets = args.partition("?")
                yes, _, no = targets.partition(":")
                target = yes if condition not in ("", "0") else no
                i = labels[target] if target else i
            elif app == "Goto":
                i = labels[args]
            elif app == "AGI":
                if self._agi(args, caller, run) and exten != "h":
                    return
            elif app == "Dial":
                if self._dial(args, caller, run):
                    return
            elif app == "Queue":
                run.queued = True
            elif app == "Hangup":
                return
            else:
                if app != "NoOp":
                    raise DialplanError(f"application {app} is not simulated")

    def _agi(self, args: str, caller: Caller, run: Run) -> bool:
        """One AGI(); True when the caller hung up during it."""
        url, *params = args.split(",")
        where, _, script = url.removeprefix("agi://").partition("/")
        pbx = FakePbx(*self.servers.get(where, DEAD), self.agents)
        record = pbx.call(
            caller.number, script=script, args=params, variables=run.variables, dnid=caller.exten, uid=run.uid
        )
        run.variables.update(record.variables)
        run.variables["AGISTATUS"] = record.agistatus
        run.agi.append((script, tuple(params), record.agistatus))
        return record.hung_up

    def _dial(self, args: str, caller: Caller, run: Run) -> bool:
        """One Dial() by the dialplan; True when the channel is gone afterwards."""
        target, timeout, options = [*args.split(","), "", ""][:3]
        answer = self.agents(target, int(timeout))
        hung_up = caller.hang_up_during_dial == len(run.dials) + 1
        status = "CANCEL" if hung_up and answer.kind != ANSWER else answer.kind
        talk = answer.talk_seconds if status == ANSWER else 0
        run.variables.update(
            DIALSTATUS=status, ANSWEREDTIME=str(talk), DIALEDTIME=str(answer.ring_seconds + talk)
        )
        run.dials.append((target, status))
        if self.time_scale > 0:
            time.sleep((answer.ring_seconds + talk) * self.time_scale)
        if status == ANSWER:
            return caller.hang_up_after_talk or "g" not in options
        return hung_up

    def _expand(self, text: str, variables: Mapping[str, str]) -> str:
        while _VAR.search(text):
            text = _VAR.sub(lambda m: variables.get(m[1], ""), text)
        while _EXPR.search(text):
            text = _EXPR.sub(lambda m: _evaluate(m[1]), text)
        return text


def drive(
    address: tuple[str, int],
    calls: Sequence[PlannedCall],
    inflight: int,
    agents: AgentsSpec,
    time_scale: float = 0.0,
    ramp_seconds: float = 0.0,
) -> list[Run]:
    """`agi.fake.fakepbx.drive`, but each call runs the shipped dialplan, its AGI pointed at `address`.

    In advise mode that is what a call costs the server: the route session,
    then an outcome session after each Dial the dialplan makes.
    """
    dialplan = Dialplan(SHIPPED, {SHIPPED_AGI: address}, agents.build(), time_scale=time_scale)
    return place_calls(
        calls,
        inflight,
        ramp_seconds,
        lambda call: dialplan.call(Caller(call.caller, call.dnid.removeprefix("+"))),
    )


# Numbers compare as numbers, anything else as text, as in Asterisk's expressions.
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def _evaluate(expr: str) -> str:
    """Asterisk's `$[…]` for what the dialplan uses: | & comparisons +."""
    tokens = [t.strip('"') if t.startswith('"') else t for t in _TOKEN.findall(expr)] + ["<end>"]
    pos = 0

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> str:
        value = take()
        while tokens[pos] == "+":
            take()
            value = str(int(value) + int(take()))
        return value

    def compare() -> str:
        left = atom()
        if tokens[pos] in ("=", "!=", ">", "<", ">=", "<="):
            op, right = take(), atom()
            compare = _COMPARISONS[op]
            holds = (
                compare(int(left), int(right)) if left.isdigit() and right.isdigit() else compare(left, right)
            )
            return "1" if holds else "0"
        return left

    def both() -> str:
        value = compare()
        while tokens[pos] == "&":
            take()
            right = compare()
            value = "1" if value not in ("", "0") and right not in ("", "0") else "0"
        return value

    value = both()
    while tokens[pos] == "|":
        take()
        right = both()
        value = "1" if value not in ("", "0") or right not in ("", "0") else "0"
    if tokens[pos] != "<end>":
        raise DialplanError(f"cannot evaluate $[{expr}]")
    return value
