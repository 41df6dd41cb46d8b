"""Every name Asterisk's dialplan sees from or gives to Callkeeper, in one place.

deploy/asterisk/extensions.conf uses exactly these.
"""

from __future__ import annotations

import enum

# Set by Callkeeper on the channel.
STATUS = "CALLKEEPER_STATUS"
ROUTE = "CALLKEEPER_ROUTE"
DECISION = "CALLKEEPER_DECISION"
COUNT = "CALLKEEPER_COUNT"
TARGET_PREFIX = "CALLKEEPER_TARGET_"
TIMEOUT_PREFIX = "CALLKEEPER_TIMEOUT_"
AGENT = "CALLKEEPER_AGENT"

# Set by Asterisk's Dial(), read after each attempt.
DIALSTATUS = "DIALSTATUS"
ANSWEREDTIME = "ANSWEREDTIME"
DIALEDTIME = "DIALEDTIME"

# Script names in agi://host:port/<script>.
SCRIPT_ROUTE = "route"
SCRIPT_OUTCOME = "outcome"

# Query parameters of agi://…/route?line=…
QUERY_LINE = "line"


class Status(enum.StrEnum):
    """Values of CALLKEEPER_STATUS. Anything but ANSWERED means: go to the ordinary queue."""

    ANSWERED = "ANSWERED"
    NOANSWER = "NOANSWER"
    FAILED = "FAILED"
    ADVISED = "ADVISED"


def target(n: int) -> str:
    return f"{TARGET_PREFIX}{n}"


def timeout(n: int) -> str:
    return f"{TIMEOUT_PREFIX}{n}"
