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

from agi.fake.fakepbx import (
    ANSWER,
    Agents,
    AgentsSpec,
    FakePbx,
    PlannedCall,
    peer_variables,
    place_calls,
    ring,
)

_channel_ids = itertools.count(1)
_STEP = re.compile(
    r"^(?:exten => (?P<exten>[^,]+),1|\s*same => n(?:\((?P<label>\w+)\))?),(?P<app>\w+)\((?P<args>.*)\)$"
)
_VAR = re.compile(r"\$\{([^${}]*)\}")
_EXPR = re.compile(r"\$\[([^\[\]]*)\]")
_TOKEN = re.compile(r'"[^"]*"|!=|>=|<=|[=<>|&+]|[^\s"=<>|&+!]+')
DEAD = ("127.0.0.1", 1)
_DIAL_VARIABLES = ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS")
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


Steps = list[tuple[str | None, str, str]]  # (label, application, arguments)
INBOUND = "callkeeper-inbound"


def load(path: Path) -> dict[str, dict[str, Steps]]:
    """Context -> extension -> its steps."""
    contexts: dict[str, dict[str, Steps]] = {}
    context, current = "", ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].rstrip()
        if not line.strip():
            continue
        if line.startswith("["):
            context = line.strip("[]")
            continue
        match = _STEP.match(line)
        if match is None:
            raise DialplanError(f"not a dialplan step this runner knows: {line!r}")
        current = match["exten"] or current
        contexts.setdefault(context, {}).setdefault(current, []).append(
            (match["label"], match["app"], match["args"])
        )
    return contexts


def matches(pattern: str, exten: str) -> bool:
    """Asterisk's extension match for the patterns the dialplan uses: X, N, Z, `.`, literals."""
    if not pattern.startswith("_"):
        return pattern == exten
    rest = pattern[1:]
    for i, ch in enumerate(rest):
        if ch == ".":
            return len(exten) > i
        if i >= len(exten):
            return False
        got = exten[i]
        allowed = {"X": "0123456789", "Z": "123456789", "N": "23456789"}.get(ch, ch)
        if got not in allowed:
            return False
    return len(exten) == len(rest)


class Dialplan:
    def __init__(
        self,
        path: Path,
        servers: Mapping[str, tuple[str, int]],
        agents: Agents,
        *,
        time_scale: float = 0.0,
    ) -> None:
        self.contexts = load(path)
        self.servers = servers  # "host:port" in the dialplan -> where the test server listens
        self.agents = agents
        self.time_scale = time_scale  # real seconds per simulated second of a Dial

    def call(self, caller: Caller, pinned: Mapping[str, str] | None = None) -> Run:
        """Run the inbound extension, then `h`. `pinned` variables (globals too) ignore the dialplan's Set."""
        run = Run(variables={"EXTEN": caller.exten, "CALLERID(num)": caller.number, **(pinned or {})})
        inbound = self.contexts[INBOUND]
        exten = next((e for e in inbound if e == caller.exten), None) or next(
            (e for e in inbound if matches(e, caller.exten)), None
        )
        if exten is None:
            raise DialplanError(f"no extension of [{INBOUND}] matches {caller.exten!r}")
        self._run(INBOUND, exten, caller, run, pinned or {})
        self._run(INBOUND, "h", caller, run, pinned or {})
        return run

    def _run(self, context: str, exten: str, caller: Caller, run: Run, pinned: Mapping[str, str]) -> None:
        steps = self.contexts[context][exten]
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
                if "," in args:  # Goto(exten,1) in this context
                    exten = args.split(",")[0]
                    run.variables["EXTEN"] = exten
                    steps = self.contexts[context][exten]
                    labels = {label: n for n, (label, _, _) in enumerate(steps) if label}
                    i = 0
                else:
                    i = labels[args]
            elif app == "AGI":
                if self._agi(args, caller, run) and exten != "h":
                    return
            elif app == "Dial":
                if self._dial(args, caller, run):
                    return
            elif app == "Queue":
                run.queued = True
            elif app in ("Hangup", "Return"):
                return
            elif app not in ("NoOp", "Ringing"):
                raise DialplanError(f"application {app} is not simulated")

    def _agi(self, args: str, caller: Caller, run: Run) -> bool:
        """One AGI(); True when the caller hung up during it."""
        url, *params = args.split(",")
        where, _, script = url.removeprefix("agi://").partition("/")
        pbx = FakePbx(*self.servers.get(where, DEAD), self.agents)
        record = pbx.call(
            caller.number,
            script=script,
            args=params,
            variables=run.variables,
            dnid=caller.exten,
            uid=run.uid,
            channel=run.variables.get("CHANNEL"),
        )
        run.variables.update(record.variables)
        run.variables["AGISTATUS"] = record.agistatus
        run.agi.append((script, tuple(params), record.agistatus))
        return record.hung_up

    def _dial(self, args: str, caller: Caller, run: Run) -> bool:
        """One Dial() by the dialplan; True when the channel is gone afterwards.

        As Asterisk 22: DIALSTATUS always; ANSWEREDTIME(_MS) only when answered,
        cleared otherwise. Option U(context^args): that subroutine runs on the
        agent's channel at the answer, its AGI sessions listed in `run.agi`.
        """
        target, timeout, options = [*_split_args(args), "", ""][:3]
        answer, peer = ring(self.agents, target, int(timeout))
        hung_up = caller.hang_up_during_dial == len(run.dials) + 1
        status = "CANCEL" if hung_up and answer.kind != ANSWER else answer.kind
        talk = answer.talk_seconds if status == ANSWER else 0
        for name in (*_DIAL_VARIABLES, "DIALEDPEERNAME", "DIALEDPEERNUMBER"):
            run.variables.pop(name, None)
        run.variables["DIALSTATUS"] = status
        if status == ANSWER:
            run.variables.update(ANSWEREDTIME=str(talk), ANSWEREDTIME_MS=str(talk * 1000))
            run.variables.update(peer_variables(peer or target))
            gosub = re.search(r"U\(([^)]*)\)", options)
            if gosub:
                self._gosub(gosub[1], caller, run, run.variables["DIALEDPEERNAME"])
        run.dials.append((target, status))
        if self.time_scale > 0:
            time.sleep((answer.ring_seconds + talk) * self.time_scale)
        if status == ANSWER:
            return caller.hang_up_after_talk or "g" not in options
        return hung_up

    def _gosub(self, spec: str, caller: Caller, run: Run, channel: str) -> None:
        """Dial's U(): the subroutine on the answering agent's channel (`channel`), with its own variables."""
        context, *params = spec.split("^")
        agent = Run(variables={"CALLERID(num)": caller.number, "CHANNEL": channel})
        agent.variables.update({f"ARG{n}": value for n, value in enumerate(params, 1)})
        agent.agi = run.agi
        self._run(context, "s", caller, agent, {})

    def _expand(self, text: str, variables: Mapping[str, str]) -> str:
        while _VAR.search(text):
            text = _VAR.sub(lambda m: _value(m[1], variables), text)
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
        lambda call: dialplan.call(Caller(call.caller, call.dnid)),
    )


def _value(name: str, variables: Mapping[str, str]) -> str:
    """${name}: a variable, or STRFTIME(,,%s.%3q) (now, seconds and milliseconds)."""
    if name.startswith("STRFTIME("):
        return f"{time.time():.3f}"
    return variables.get(name, "")


def _split_args(text: str) -> list[str]:
    """An application's arguments split at commas outside parentheses, as Asterisk does."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


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
