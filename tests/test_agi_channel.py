"""The AGI channel's typed commands, against a scripted Asterisk on a real socket pair."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from agi.protocol import AgiChannel


@contextmanager
def asterisk(replies: Mapping[str, str]) -> Iterator[tuple[AgiChannel, list[str]]]:
    """A channel whose peer answers each command from `replies` (else 510) and notes it."""
    ours, theirs = socket.socketpair()
    heard: list[str] = []

    def serve() -> None:
        with theirs, theirs.makefile("r", encoding="utf-8", newline="\n") as lines:
            for line in lines:
                command = line.rstrip("\n")
                heard.append(command)
                theirs.sendall((replies.get(command, "510 Invalid or unknown command") + "\n").encode())

    peer = threading.Thread(target=serve, daemon=True)
    peer.start()
    channel = AgiChannel.over_socket(ours)
    try:
        yield channel, heard
    finally:
        channel.close()
        ours.close()
        peer.join(timeout=5)


def test_variables_asks_for_all_in_one_round_trip_and_unset_ones_are_none() -> None:
    ask = 'GET FULL VARIABLE "${DIALSTATUS},${ANSWEREDTIME},${DIALEDTIME}"'
    with asterisk({ask: "200 result=1 (BUSY,,3)"}) as (channel, heard):
        values = channel.variables("DIALSTATUS", "ANSWEREDTIME", "DIALEDTIME")
    assert values == ("BUSY", None, "3")
    assert heard == [ask]


def test_variables_with_a_comma_in_a_value_are_asked_one_by_one() -> None:
    replies = {
        'GET FULL VARIABLE "${A},${B}"': "200 result=1 (x,y,z)",
        'GET VARIABLE "A"': "200 result=1 (x,y)",
        'GET VARIABLE "B"': "200 result=0",
    }
    with asterisk(replies) as (channel, heard):
        values = channel.variables("A", "B")
    assert values == ("x,y", None)
    assert heard == list(replies)


def test_set_many_sets_every_variable_in_one_round_trip() -> None:
    mset = (
        'EXEC MSet "CALLKEEPER_TARGET_1=PJSIP/101&PJSIP/102,CALLKEEPER_DECISION=7,CALLKEEPER_STATUS=ADVISED"'
    )
    with asterisk({mset: "200 result=0"}) as (channel, heard):
        channel.set_many(
            [
                ("CALLKEEPER_TARGET_1", "PJSIP/101&PJSIP/102"),
                ("CALLKEEPER_DECISION", 7),
                ("CALLKEEPER_STATUS", "ADVISED"),
            ]
        )
    assert heard == [mset]


def test_set_many_sets_a_value_mset_would_misread_one_by_one() -> None:
    replies = {
        'SET VARIABLE "CALLKEEPER_TARGET_1" "Local/a@ctx,b"': "200 result=1",
        'SET VARIABLE "CALLKEEPER_STATUS" "ADVISED"': "200 result=1",
    }
    with asterisk(replies) as (channel, heard):
        channel.set_many([("CALLKEEPER_TARGET_1", "Local/a@ctx,b"), ("CALLKEEPER_STATUS", "ADVISED")])
    assert heard == list(replies)


def test_set_many_on_a_pbx_without_mset_falls_back_to_set_variable() -> None:
    replies = {
        'EXEC MSet "A=1,B=2"': "200 result=-2",
        'SET VARIABLE "A" "1"': "200 result=1",
        'SET VARIABLE "B" "2"': "200 result=1",
    }
    with asterisk(replies) as (channel, heard):
        channel.set_many([("A", 1), ("B", 2)])
    assert heard == list(replies)
