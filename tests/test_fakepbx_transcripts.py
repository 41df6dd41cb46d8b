"""The fake Asterisk checked against the real one: every FastAGI transcript
recorded from Asterisk 22 (../shared/asterisk/transcripts) is replayed against
the fake, command by command, and the fake must answer the same lines."""

from __future__ import annotations

import ast
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agi.fake.fakepbx import BUSY, CONGESTION, NOANSWER, Answer, CallerHangup, FakePbx, scripted
from tests.real_asterisk import shared_dir

# shared/ lies beside the clone, for developers (worktrees too) and CI alike.
TRANSCRIPTS = shared_dir() / "transcripts"

AGENTS = scripted(
    {
        "Local/101@agents": Answer(ring_seconds=0, talk_seconds=2),
        "Local/140@agents": Answer(BUSY, 0, 0),
        "Local/150@agents": Answer(CONGESTION, 1, 0),
        "Local/130@agents": Answer(NOANSWER, 20, 0),
    }
)
# How each recorded scenario's caller and PBX behaved.
HANGUPS = {
    "hangup_during_exec": CallerHangup(during_dial=1),
    "hangup_while_idle": CallerHangup(while_idle=True),
    "hangup_nosighup": CallerHangup(while_idle=True),
    "hangup_exitonhangup": CallerHangup(while_idle=True),
    "stall": CallerHangup(while_idle=True),
}
# Device states live in Asterisk across calls: the first recording ran before
# Custom:agent101 had ever been set, the later ones after the probe set it back
# to NOT_INUSE.
FIRST_RECORDED = "env-url-query-office_msk"


@dataclass
class Transcript:
    env: list[tuple[str, str]] = field(default_factory=list)
    # ("cmd", line) sent by the probe server, ("reply", line) from Asterisk, ("shutdown", "")
    steps: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> Transcript:
    transcript = Transcript()
    in_env = True
    for raw in path.read_text().splitlines():
        parts = raw.split(None, 2)
        if len(parts) < 3 or parts[1] not in ("<<", ">>", "##", "!!"):
            continue
        direction, text = parts[1], ast.literal_eval(parts[2])
        if in_env and direction == "<<":
            if text == "\n":
                in_env = False
            else:
                key, _, value = text.rstrip("\n").partition(": ")
                transcript.env.append((key, value.rstrip(":")))
        elif direction == ">>":
            transcript.steps.append(("cmd", text.rstrip("\n")))
        elif direction == "<<" and text != "<EOF>":
            transcript.steps.append(("reply", text.rstrip("\n")))
        elif direction == "##" and text == "shutdown(SHUT_WR)":
            transcript.steps.append(("shutdown", ""))
    return transcript


def fastagi_transcripts() -> list[Path]:
    return sorted(p for p in TRANSCRIPTS.glob("*.txt") if p.name.startswith(("fastagi-", "env-")))


def test_recorded_transcripts_are_present() -> None:
    assert len(fastagi_transcripts()) >= 15, f"no Asterisk transcripts in {TRANSCRIPTS}"


@pytest.mark.parametrize("path", fastagi_transcripts(), ids=lambda p: p.stem)
def test_fake_pbx_answers_like_recorded_asterisk(path: Path) -> None:
    recorded = parse(path)
    env = dict(recorded.env)
    scenario = env.get("agi_network_script", "").split("?")[0]
    pbx = FakePbx(
        "127.0.0.1",
        4573,
        AGENTS,
        sighup=scenario != "hangup_nosighup",
        exit_on_hangup=scenario == "hangup_exitonhangup",
        astdb={"owner/79161234567": "Local/111@agents"},
        device_states={} if path.stem == FIRST_RECORDED else {"Custom:agent101": "NOT_INUSE"},
    )
    args = [env[k] for k in sorted(k for k in env if k.startswith("agi_arg_"))]
    ours = pbx.environment(env["agi_callerid"], script=env.get("agi_network_script", ""), args=args)
    assert [line.partition(":")[0] for line in ours[:-1]] == [k for k, _ in recorded.env]
    for key in (
        "agi_network",
        "agi_network_script",
        "agi_callerid",
        *(f"agi_arg_{i + 1}" for i in range(len(args))),
    ):
        if key in env:
            assert f"{key}: {env[key]}" in ours

    server, asterisk = socket.socketpair()
    caller_name = "Test Caller" if env["agi_calleridname"] != "unknown" else ""
    thread = threading.Thread(
        target=pbx.talk,
        args=(asterisk, ours),
        kwargs={"hangup": HANGUPS.get(scenario), "caller": env["agi_callerid"], "caller_name": caller_name},
    )
    thread.start()
    reader = server.makefile("r", encoding="utf-8", newline="\n")
    server.settimeout(5)
    for _ in ours:
        reader.readline()
    expected: list[str] = []
    heard: list[str] = []
    for kind, text in recorded.steps:
        if kind == "reply":
            expected.append(text)
            continue
        heard += _drain_until_pending(reader, len(expected) - len(heard))
        if kind == "cmd":
            try:
                server.sendall((text + "\n").encode())
            except OSError:
                break  # Asterisk had closed (AGIEXITONHANGUP): so has the fake
        else:
            server.shutdown(socket.SHUT_WR)
    heard += _drain_until_pending(reader, len(expected) - len(heard))
    reader.close()
    server.close()
    thread.join(5)
    assert not thread.is_alive()
    assert heard == expected


def _drain_until_pending(reader: object, count: int) -> list[str]:
    lines = []
    for _ in range(max(count, 0)):
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return lines


def test_fake_pbx_sets_dial_times_only_when_answered_and_from_the_call_start() -> None:
    """As app_dial.c: DIALEDTIME/ANSWEREDTIME are cleared at each Dial, set only
    when it was answered, and are the caller channel's age and up time, not
    this Dial's (a real Asterisk showed it; the fake used to set both per Dial)."""
    agents = scripted(
        {"Local/1@a": Answer(NOANSWER, 3, 0), "Local/2@a": Answer(ring_seconds=1, talk_seconds=2)}
    )
    pbx = FakePbx("127.0.0.1", 4573, agents)
    server, asterisk = socket.socketpair()
    thread = threading.Thread(target=pbx.talk, args=(asterisk, pbx.environment("79160000001")))
    thread.start()
    reader = server.makefile("r", encoding="utf-8", newline="\n")
    while reader.readline().strip():
        pass

    def ask(command: str) -> str:
        server.sendall((command + "\n").encode())
        return reader.readline().rstrip("\n")

    after_noanswer = [ask("EXEC Dial Local/1@a,3"), ask("GET VARIABLE DIALEDTIME")]
    after_answer = [ask("EXEC Dial Local/2@a,5")]
    after_answer += [
        ask(f"GET VARIABLE {name}") for name in ("DIALEDTIME", "ANSWEREDTIME", "ANSWEREDTIME_MS")
    ]
    server.shutdown(socket.SHUT_WR)
    thread.join(5)
    reader.close()
    server.close()
    assert after_noanswer == ["200 result=0", "200 result=0"]
    # Age 3 + 1 + 2 = 6 s, up for the 2 s talked.
    assert after_answer == ["200 result=-1", "200 result=1 (6)", "200 result=1 (2)", "200 result=1 (2000)"]
