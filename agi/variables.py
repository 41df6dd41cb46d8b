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

# Dialplan globals the admin sets ([globals] or `dialplan set global`), read by
# deploy/asterisk/extensions.conf: the server's and the spare's agi:// address,
# and the line of a call delivered with no DID (`s`).
AGI_GLOBAL = "CALLKEEPER_AGI"
AGI_SPARE_GLOBAL = "CALLKEEPER_AGI_SPARE"
LINE_GLOBAL = "CALLKEEPER_LINE"

# Set by Asterisk's Dial(), read after each attempt. ANSWEREDTIME(_MS) is set
# only when this Dial was answered (cleared at each Dial) and is the caller
# channel's up time; DIALEDTIME is the channel's age, useless for ring time.
DIALSTATUS = "DIALSTATUS"
ANSWEREDTIME = "ANSWEREDTIME"
ANSWEREDTIME_MS = "ANSWEREDTIME_MS"
DIALEDTIME = "DIALEDTIME"
# Set by Dial() when a channel answered (cleared at each Dial): the answered
# channel's name and the resource it was dialled as; which of several agents
# rung together answered (`agi.answered`).
DIALEDPEERNAME = "DIALEDPEERNAME"
DIALEDPEERNUMBER = "DIALEDPEERNUMBER"
# The AGI environment's name of the session's channel: in Dial's U() GoSub,
# the agent's channel that just answered.
AGI_CHANNEL = "agi_channel"

# The dialplan's own: when advise mode's Dial began, Asterisk's clock in
# seconds with milliseconds (deploy/asterisk/extensions.conf), and the same
# clock read when the outcome script runs.
DIAL_STARTED = "CK_DIAL_AT"
NOW = "STRFTIME(,,%s.%3q)"

# Script names in agi://host:port/<script>.
SCRIPT_ROUTE = "route"
SCRIPT_OUTCOME = "outcome"
# The outcome script's third argument from Dial's U() GoSub: the agent has just answered.
OUTCOME_ANSWERED = "answered"

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
