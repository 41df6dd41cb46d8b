"""A call is identified per PBX, and its unique id is stored as Asterisk sent it."""

from __future__ import annotations

import socket
from collections.abc import Callable

from sqlalchemy import select

from agi.app import FrontEnd
from agi.callid import call_id
from agi.fake.fakepbx import NOANSWER, Answer, FakePbx, scripted
from agi.protocol import raw_unique_id
from router.storage.db import Database
from router.storage.models import Decision
from tests.agency import DIAL, MSK_LINE

StartFront = Callable[..., FrontEnd]
SAME_UID = "1795807259.67"


def test_two_pbxs_with_the_same_unique_id_do_not_share_already_rung_agents(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    nobody_answers = scripted({}, Answer(NOANSWER))
    first = FakePbx(*front.address, nobody_answers, source="127.0.0.1").call(
        "+79160000055", dnid=MSK_LINE, uid=SAME_UID
    )
    second = FakePbx(*front.address, nobody_answers, source="127.0.0.2").call(
        "+79160000066", dnid=MSK_LINE, uid=SAME_UID
    )
    msk = {DIAL[a] for a in ("ivanova", "orlov", "kim")}
    assert msk <= {dial for dial, _, _ in first.dials}
    assert msk <= {dial for dial, _, _ in second.dials}
    assert front.server.wait_idle(5)
    with db.reader() as s:
        uids = sorted(s.scalars(select(Decision.call_uid)))
    assert uids == [f"127.0.0.1/{SAME_UID}", f"127.0.0.2/{SAME_UID}"]


def test_a_call_id_is_the_pbxs_address_and_its_unique_id() -> None:
    assert call_id("pbx-east-1795807259.67", "10.0.0.5") == "10.0.0.5/pbx-east-1795807259.67"
    assert call_id("1795807259.67", "10.0.0.5") == "10.0.0.5/1795807259.67"


def test_a_non_utf8_unique_id_is_stored_recoverably(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer(NOANSWER)))
    raw = b"17958\xff\xfe07259.6\\7"
    env = pbx.environment("+79160000055", dnid=MSK_LINE, uid="UID")
    with socket.create_connection(front.address, timeout=30) as sock:
        sock.sendall(b"".join(line.encode() + b"\n" for line in env[:-1]).replace(b"UID", raw) + b"\n")
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
    assert front.server.wait_idle(5)
    with db.reader() as s:
        (stored,) = s.scalars(select(Decision.call_uid))
    assert "\ufffd" not in stored
    assert raw_unique_id(stored.removeprefix("127.0.0.1/")) == raw
