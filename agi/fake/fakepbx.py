"""A fake Asterisk for tests and the demo: it dials into the FastAGI server over
real TCP and answers like the recorded Asterisk 22 (../shared/asterisk/).

Same environment keys in the same order, `200 result=-1` after an answered
Dial, `200 result=0` for busy/no answer/congestion/missing channel, unset
variables as `200 result=0`, 510/520 for bad commands, `HANGUP` lines where
Asterisk puts them (after the EXEC result, before the next reply), 511 for
channel commands on a dead channel, and a `HANGUP` then EOF when the server
closes. Agents answer, are busy, never answer or the caller hangs up, by a
script or by chance; ring and talk time are simulated (`time_scale` real
seconds per simulated second, 0 for instant).
"""

from __future__ import annotations

import itertools
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, CALLER_HANGUP = (
    "ANSWER",
    "BUSY",
    "NOANSWER",
    "CONGESTION",
    "CHANUNAVAIL",
    "CALLER_HANGUP",
)
DEAD_CHANNEL_REPLY = "511 Command Not Permitted on a dead channel or intercept routine"
# Commands that still answer on a dead channel (res_agi.c marks them dead-safe).
_DEAD_OK = (
    "GET VARIABLE",
    "GET FULL VARIABLE",
    "SET VARIABLE",
    "VERBOSE",
    "EXEC",
    "NOOP",
    "DATABASE",
)
_VAR = re.compile(r"\$\{([^}]+)\}")
_uids = itertools.count(1)
_R = TypeVar("_R")


@dataclass(frozen=True)
class Answer:
    """How one dialled agent behaves on one attempt."""

    kind: str = ANSWER
    ring_seconds: int = 5
    talk_seconds: int = 60


Agents = Callable[[str, int], Answer]  # (dial string, timeout) -> behaviour
# Asterisk numbers channels in hex after the name: PJSIP/101-0000000b.
_channel_ids = itertools.count(0x2A)


def channel_name(interface: str) -> str:
    """The name Asterisk gives the channel it dials `interface` on, as DIALEDPEERNAME says it.

    `PJSIP/101-0000002a`; a Local channel's outbound half `Local/ann@ck-agents-0000002b;1`
    (its `/n` option is not part of the name).
    """
    tech, _, resource = interface.partition("/")
    name = f"{tech}/{resource.partition('/')[0]}-{next(_channel_ids):08x}"
    return f"{name};1" if tech == "Local" else name


def ring(agents: Agents, dial: str, timeout: int) -> tuple[Answer, str | None]:
    """How one Dial of `dial` ends, and which of its `&`-joined interfaces answered (None: none).

    Several interfaces ring at once: the first to answer within the timeout
    takes the call and the others stop ringing; unanswered, the Dial is
    NOANSWER if any of them rang out, else BUSY, CONGESTION or CHANUNAVAIL
    as they all were. One interface is returned as its agent behaves.
    """
    interfaces = dial.split("&")
    if len(interfaces) == 1:
        answer = agents(dial, timeout)
        return answer, dial if answer.kind == ANSWER else None
    rung = []
    for interface in interfaces:
        answer = agents(interface, timeout)
        if answer.kind == NOANSWER or (answer.kind == ANSWER and timeout and answer.ring_seconds >= timeout):
            answer = Answer(NOANSWER, timeout, 0)
        rung.append((interface, answer))
    answered = [(i, a) for i, a in rung if a.kind == ANSWER]
    if answered:
        interface, answer = min(answered, key=lambda pair: pair[1].ring_seconds)
        return answer, interface
    for kind in (NOANSWER, BUSY, CONGESTION):
        if any(a.kind == kind for _, a in rung):
            return Answer(kind, max(a.ring_seconds for _, a in rung), 0), None
    return Answer(CHANUNAVAIL, 0, 0), None


def peer_variables(interface: str) -> dict[str, str]:
    """DIALEDPEERNAME and DIALEDPEERNUMBER after `interface` answered, as app_dial.c sets them."""
    return {"DIALEDPEERNAME": channel_name(interface), "DIALEDPEERNUMBER": interface.partition("/")[2]}


def scripted(table: Mapping[str, Sequence[Answer] | Answer], default: Answer | None = None) -> Agents:
    """Agents by dial string; a list is played in order, its last entry repeated."""
    queues = {k: list(v) if isinstance(v, Sequence) else [v] for k, v in table.items()}
    lock = threading.Lock()

    def behave(dial: str, timeout: int) -> Answer:
        with lock:
            queue = queues.get(dial)
            if not queue:
                return default or Answer(CHANUNAVAIL, 0, 0)
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return behave


def by_chance(
    seed: int,
    answer: float = 0.75,
    busy: float = 0.1,
    noanswer: float = 0.1,
    talk: tuple[int, int] = (30, 600),
) -> Agents:
    """Agents that answer, are busy or never answer with the given chances."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def behave(dial: str, timeout: int) -> Answer:
        with lock:
            roll = rng.random()
            ring, talk_time = rng.randint(2, 15), rng.randint(*talk)
        if roll < answer:
            return Answer(ANSWER, min(ring, timeout), talk_time)
        if roll < answer + busy:
            return Answer(BUSY, 0, 0)
        if roll < answer + busy + noanswer:
            return Answer(NOANSWER, timeout, 0)
        return Answer(CONGESTION, 1, 0)

    return behave


@dataclass
class CallRecord:
    """What the dialplan would see after the AGI() step, plus the wire transcript."""

    agistatus: str = "SUCCESS"
    variables: dict[str, str] = field(default_factory=dict)
    dials: list[tuple[str, int, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)
    first_dial_ms: float | None = None
    elapsed_ms: float = 0.0
    hung_up: bool = False

    @property
    def status(self) -> str | None:
        return self.variables.get("CALLKEEPER_STATUS")


@dataclass
class CallerHangup:
    """When the caller hangs up: after the environment, or during the Nth Dial (1-based)."""

    while_idle: bool = False
    during_dial: int | None = None


class FakePbx:
    def __init__(
        self,
        host: str,
        port: int,
        agents: Agents | None = None,
        *,
        time_scale: float = 0.0,
        sighup: bool = True,
        exit_on_hangup: bool = False,
        version: str = "22.10.1",
        astdb: Mapping[str, str] | None = None,
        device_states: Mapping[str, str] | None = None,
        pass_time: Callable[[float], None] | None = None,
        source: str = "",
    ) -> None:
        """`pass_time(seconds)` replaces the scaled sleep of ring and talk time
        (`agi.fake.fakeday` runs calls on a simulated clock with it)."""
        self.address = (host, port)
        # The loopback address this PBX connects from (127.0.0.2, …): another Asterisk server.
        self.source = source
        self.agents = agents or scripted({}, Answer())
        self.time_scale = time_scale
        self.sighup = sighup
        self.exit_on_hangup = exit_on_hangup
        self.version = version
        self.astdb = dict(astdb or {})  # "family/key" -> value, for DB() and DATABASE GET
        self.device_states = dict(device_states or {})
        self.pass_time = pass_time
        self._lock = threading.Lock()

    def environment(
        self,
        caller: str,
        *,
        script: str = "route",
        args: Sequence[str] = (),
        dnid: str = "unknown",
        uid: str | None = None,
        channel: str | None = None,
    ) -> list[str]:
        """The environment block, keys in the order Asterisk 22 sends them.

        `channel` is the session's channel (default: the caller's); Dial's U()
        GoSub runs on the agent's channel that answered.
        """
        host, port = self.address
        request = f"agi://{host}:{port}" + (f"/{script}" if script else "")
        env = [("agi_network", "yes")]
        if script:
            env.append(("agi_network_script", script))
        env += [
            ("agi_request", request),
            ("agi_channel", channel or f"Local/{caller}@incoming-00000001;2"),
            ("agi_language", "en"),
            ("agi_type", "Local"),
            ("agi_uniqueid", uid or f"{int(time.time())}.{next(_uids)}"),
            ("agi_version", self.version),
            ("agi_callerid", caller or "unknown"),
            ("agi_calleridname", "unknown"),
            ("agi_callingpres", "0" if caller else "67"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", dnid),
            ("agi_rdnis", "unknown"),
            ("agi_context", "inbound"),
            ("agi_extension", "s"),
            ("agi_priority", "4"),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", "139633062930112"),
        ]
        env += [(f"agi_arg_{i}", a) for i, a in enumerate(args, 1)]
        return [f"{k}: {v}" for k, v in env] + [""]

    def call(
        self,
        caller: str,
        *,
        script: str = "route",
        args: Sequence[str] = (),
        dnid: str = "unknown",
        uid: str | None = None,
        hangup: CallerHangup | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        caller_name: str = "",
        channel: str | None = None,
    ) -> CallRecord:
        """Place one call through AGI() and return what the dialplan would see."""
        started = time.perf_counter()
        try:
            sock = socket.create_connection(
                self.address, timeout=timeout, source_address=(self.source, 0) if self.source else None
            )
        except OSError:
            return CallRecord(agistatus="FAILURE")
        with sock:
            env = self.environment(caller, script=script, args=args, dnid=dnid, uid=uid, channel=channel)
            return self.talk(
                sock,
                env,
                hangup=hangup,
                variables=variables,
                started=started,
                caller=caller,
                caller_name=caller_name,
            )

    def talk(
        self,
        sock: socket.socket,
        env: list[str],
        *,
        hangup: CallerHangup | None = None,
        variables: Mapping[str, str] | None = None,
        started: float | None = None,
        caller: str = "",
        caller_name: str = "",
    ) -> CallRecord:
        """Run one AGI session on a connected socket (also a socketpair to a classic AGI)."""
        record = CallRecord(variables=dict(variables or {}))
        started = time.perf_counter() if started is None else started
        session = _Session(self, sock, record, hangup or CallerHangup(), started)
        session.callerid = ("" if caller in ("", "unknown") else caller, caller_name)
        try:
            session.run(env)
        finally:
            record.elapsed_ms = (time.perf_counter() - started) * 1000
        return record


class _Session:
    def __init__(
        self,
        pbx: FakePbx,
        sock: socket.socket,
        record: CallRecord,
        hangup: CallerHangup,
        started: float,
    ) -> None:
        self.pbx, self.sock, self.record, self.hangup = pbx, sock, record, hangup
        self.started = started
        self.reader = sock.makefile("r", encoding="utf-8", newline="\n")
        self.pending_hangup = False
        self.dial_count = 0
        self.answered = False
        self.callerid = ("", "")
        self.age = 0.0  # simulated seconds since the call began
        self.up_since: float | None = None  # when the caller's channel was first answered

    def run(self, env: list[str]) -> None:
        try:
            for line in env:
                self._send(line)
            if self.hangup.while_idle:
                self._hang_up()
                if self.pbx.exit_on_hangup:
                    return
            while True:
                line = self.reader.readline()
                if not line:
                    break
                command = line.rstrip("\n")
                self.record.commands.append(command)
                self.record.transcript.append(("<<", command))
                if self.pending_hangup:
                    self.pending_hangup = False
                    self._hang_up()
                    if self.pbx.exit_on_hangup:
                        return
                for reply in self._answer(command):
                    self._send(reply)
            if self.pbx.sighup and not self.pbx.exit_on_hangup:
                self._send("HANGUP")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.reader.close()
            self.record.agistatus = "HANGUP" if self.record.hung_up else "SUCCESS"

    def _send(self, line: str) -> None:
        self.record.transcript.append((">>", line))
        self.sock.sendall((line + "\n").encode("utf-8"))

    def _hang_up(self) -> None:
        self.record.hung_up = True
        if self.pbx.sighup or self.pbx.exit_on_hangup:
            self._send("HANGUP")
        if self.pbx.exit_on_hangup:
            self._send("HANGUP")
            self.sock.shutdown(socket.SHUT_RDWR)

    def _answer(self, command: str) -> list[str]:
        verb = command.upper()
        if self.record.hung_up and not verb.startswith(_DEAD_OK):
            return [DEAD_CHANNEL_REPLY]
        if verb.startswith("SET VARIABLE"):
            parts = _words(command[len("SET VARIABLE") :])
            if len(parts) != 2:
                return [
                    "520-Invalid command syntax.  Proper usage follows:",
                    "Sets a variable to the current channel.",
                    "520 End of proper usage.",
                ]
            if parts[0].startswith("DEVICE_STATE(") and parts[0].endswith(")"):
                with self.pbx._lock:
                    self.pbx.device_states[parts[0][len("DEVICE_STATE(") : -1]] = parts[1]
            else:
                self.record.variables[parts[0]] = parts[1]
            return ["200 result=1"]
        if verb.startswith("GET FULL VARIABLE"):
            expr = " ".join(_words(command[len("GET FULL VARIABLE") :]))
            return [f"200 result=1 ({_VAR.sub(lambda m: self._expand(m[1]), expr)})"]
        if verb.startswith("GET VARIABLE"):
            parts = _words(command[len("GET VARIABLE") :])
            value = self.record.variables.get(parts[0]) if parts else None
            return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]
        if verb.startswith("EXEC"):
            parts = command.split(None, 2)
            app = parts[1] if len(parts) > 1 else ""
            argument = _words(parts[2])[0] if len(parts) > 2 else ""
            if app.lower() == "mset":
                return [self._mset(argument)]
            if app.lower() != "dial":
                return ["200 result=-2"]
            return [self._dial(argument)]
        if verb.startswith("DATABASE GET"):
            parts = _words(command[len("DATABASE GET") :])
            value = self.pbx.astdb.get("/".join(parts[:2])) if len(parts) == 2 else None
            return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]
        if verb.startswith(("VERBOSE", "DATABASE")):
            return ["200 result=1"]
        if verb.startswith("NOOP"):
            return ["200 result=0"]
        if verb.startswith("CHANNEL STATUS"):
            return ["200 result=6" if self.answered else "200 result=4"]
        if verb.startswith("ANSWER"):
            return ["200 result=0"]
        return ["510 Invalid or unknown command"]

    def _mset(self, argument: str) -> str:
        """MSet(A=1,B=2): each pair set in order, as Asterisk's builtin does; it returns 0."""
        for pair in argument.split(","):
            name, _, value = pair.partition("=")
            if name:
                self.record.variables[name] = value
        return "200 result=0"

    def _dial(self, options: str) -> str:
        if self.record.first_dial_ms is None:
            self.record.first_dial_ms = (time.perf_counter() - self.started) * 1000
        dial, _, rest = options.partition(",")
        timeout = int(rest.split(",")[0]) if rest.split(",")[0].isdigit() else 0
        self.dial_count += 1
        for name in ("DIALEDPEERNAME", "DIALEDPEERNUMBER"):  # app_dial.c clears them at each Dial
            self.record.variables.pop(name, None)
        if self.record.hung_up:
            return "200 result=-1"
        behaviour, peer = ring(self.pbx.agents, dial, timeout)
        if self.hangup.during_dial == self.dial_count:
            behaviour = Answer(CALLER_HANGUP, min(behaviour.ring_seconds, timeout or 1), 0)
        if behaviour.kind == NOANSWER or (
            behaviour.kind == ANSWER and timeout and behaviour.ring_seconds >= timeout
        ):
            behaviour = Answer(NOANSWER, timeout, 0)
        self._sleep(behaviour.ring_seconds + behaviour.talk_seconds)
        talk = behaviour.talk_seconds if behaviour.kind == ANSWER else 0
        status = "CANCEL" if behaviour.kind == CALLER_HANGUP else behaviour.kind
        self.record.variables["DIALSTATUS"] = status
        self._dial_times(behaviour.ring_seconds, talk if behaviour.kind == ANSWER else None)
        self.record.dials.append((dial, timeout, status))
        if behaviour.kind == CALLER_HANGUP:
            self.pending_hangup = True
            return "200 result=-1"
        self.answered = self.answered or behaviour.kind == ANSWER
        if behaviour.kind == ANSWER and peer is not None:
            self.record.variables.update(peer_variables(peer))
        return "200 result=-1" if behaviour.kind == ANSWER else "200 result=0"

    def _dial_times(self, ring: float, talk: float | None) -> None:
        """DIALEDTIME and ANSWEREDTIME (and _MS) as Asterisk 22's app_dial.c sets them.

        Cleared at each Dial and set only when it was answered; DIALEDTIME is
        then the caller channel's age and ANSWEREDTIME its up time, both since
        the call began, not since this Dial (so they add up over attempts).
        """
        for name in ("DIALEDTIME", "ANSWEREDTIME", "DIALEDTIME_MS", "ANSWEREDTIME_MS"):
            self.record.variables.pop(name, None)
        self.age += ring
        if talk is None:
            return
        if self.up_since is None:
            self.up_since = self.age
        self.age += talk
        up = self.age - self.up_since
        self.record.variables.update(
            DIALEDTIME=str(int(self.age)),
            DIALEDTIME_MS=str(int(self.age * 1000)),
            ANSWEREDTIME=str(int(up)),
            ANSWEREDTIME_MS=str(int(up * 1000)),
        )

    def _expand(self, name: str) -> str:
        """${NAME} in GET FULL VARIABLE: a channel variable or one of a few functions."""
        function, _, argument = name.partition("(")
        argument = argument.removesuffix(")")
        if function == "CALLERID":
            return self.callerid[0] if argument == "num" else self.callerid[1]
        if function == "DEVICE_STATE":
            return self.pbx.device_states.get(argument, "UNKNOWN")
        if function == "DB":
            return self.pbx.astdb.get(argument, "")
        if function == "STRFTIME":
            return f"{time.time():.3f}"
        return self.record.variables.get(name, "")

    def _sleep(self, simulated_seconds: float) -> None:
        if self.pbx.pass_time is not None:
            self.pbx.pass_time(simulated_seconds)
        elif self.pbx.time_scale > 0 and simulated_seconds > 0:
            time.sleep(simulated_seconds * self.pbx.time_scale)


def _words(text: str) -> list[str]:
    """Split AGI arguments the way Asterisk does: spaces, double quotes, backslash escapes."""
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = started = False
    for ch in text.strip():
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted, started = not quoted, True
        elif ch == " " and not quoted:
            if current or started:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
    if current or started:
        words.append("".join(current))
    return words


@dataclass(frozen=True)
class AgentsSpec:
    """Agents' behaviour as plain data, so another process can build it."""

    kind: str = "answer"  # "answer": everyone answers; "chance": see by_chance
    seed: int = 0
    ring_seconds: int = 1
    talk_seconds: int = 30
    talk_range: tuple[int, int] = (30, 600)
    answer: float = 0.75

    def build(self) -> Agents:
        if self.kind == "chance":
            rest = (1 - self.answer) / 2.5
            return by_chance(self.seed, self.answer, busy=rest, noanswer=rest, talk=self.talk_range)
        return scripted({}, Answer(ANSWER, self.ring_seconds, self.talk_seconds))


@dataclass(frozen=True)
class PlannedCall:
    caller: str
    dnid: str = "unknown"
    args: tuple[str, ...] = ()


def drive(
    address: tuple[str, int],
    calls: Sequence[PlannedCall],
    inflight: int,
    agents: AgentsSpec,
    time_scale: float = 0.0,
    ramp_seconds: float = 0.0,
) -> list[CallRecord]:
    """Place `calls`, `inflight` at a time, in this process; records in the order placed.

    With `ramp_seconds`, the first `inflight` calls start spread evenly over
    that time instead of all in the same instant: calls on a PBX that has
    been up a while do not arrive in a wave.
    """
    pbx = FakePbx(*address, agents.build(), time_scale=time_scale)
    return place_calls(
        calls, inflight, ramp_seconds, lambda call: pbx.call(call.caller, dnid=call.dnid, args=call.args)
    )


def place_calls(
    calls: Sequence[PlannedCall],
    inflight: int,
    ramp_seconds: float,
    place: Callable[[PlannedCall], _R],
) -> list[_R]:
    """`place(call)` for each call, `inflight` at a time; results in the order placed.

    The first `inflight` start spread evenly over `ramp_seconds` (see `drive`).
    """

    def start(index: int) -> _R:
        if index < inflight and ramp_seconds:
            time.sleep(index * ramp_seconds / inflight)
        return place(calls[index])

    with ThreadPoolExecutor(inflight) as pool:
        return list(pool.map(start, range(len(calls))))


def _timed(driver: Callable[..., list[_R]], *args: object) -> tuple[list[_R], float, float]:
    started, started_cpu = time.perf_counter(), time.process_time()
    results = driver(*args)
    return results, time.perf_counter() - started, time.process_time() - started_cpu


class PbxElsewhere:
    """The fake Asterisk in a process of its own, as the real one is, so the
    server's latency is not inflated by the fake sharing its interpreter lock.

    `seconds` is how long the last batch of calls took in the fake's process:
    a throughput from it leaves out shipping the records back, which is the
    bench's cost, not the server's. `cpu_seconds` is the CPU the fake used
    meanwhile, on a machine whose cores it shares with the server.
    """

    def __init__(
        self,
        address: tuple[str, int],
        inflight: int,
        agents: AgentsSpec,
        time_scale: float = 0.0,
        ramp_seconds: float = 0.0,
    ) -> None:
        import multiprocessing

        self._args = (address, inflight, agents, time_scale, ramp_seconds)
        self._pool = multiprocessing.get_context("spawn").Pool(1)
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def drive(self, calls: Sequence[PlannedCall]) -> list[CallRecord]:
        return self.run(drive, calls)

    def run(self, driver: Callable[..., list[_R]], calls: Sequence[PlannedCall]) -> list[_R]:
        """`driver(address, calls, inflight, agents, time_scale, ramp_seconds)` in the fake's
        process: `drive` here, or `agi.fake.fakedialplan.drive` for calls through the dialplan."""
        results, self.seconds, self.cpu_seconds = self._pool.apply(
            _timed, (driver, self._args[0], list(calls), *self._args[1:])
        )
        return list(results)

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def __enter__(self) -> PbxElsewhere:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
