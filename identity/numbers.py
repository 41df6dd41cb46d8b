"""Caller ids parsed once, at the boundary, into one comparable key.

Asterisk hands us whatever the carrier sent: national forms with a trunk
prefix, `+` forms, bare digits, extensions, words such as `unknown`. Everything
past this module compares `CallerNumber.key` only, so two spellings of one phone
are the same number and never a "suggestion".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import phonenumbers

DEFAULT_REGION = "RU"

# What carriers and Asterisk put in the caller id when there is no number.
_ANONYMOUS_WORDS = frozenset(
    {"", "anonymous", "unknown", "restricted", "withheld", "private", "unavailable", "none"}
)
_DIGITS = re.compile(r"\d")
# "00" is the international prefix in most of the world; phonenumbers only knows
# the default region's own (810 for RU), so such numbers are retried as "+".
_INTERNATIONAL_00 = re.compile(r"^\s*00\s*")


class NumberKind(enum.StrEnum):
    E164 = "e164"
    RAW = "raw"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class CallerNumber:
    """A caller id as the rest of Callkeeper sees it.

    `key` is `+79161234567` for a real phone number, the bare digits for an id
    that does not parse (an internal extension, a mangled trunk number), and
    the empty string for an anonymous caller, who is never matched.
    """

    kind: NumberKind
    key: str

    @property
    def is_anonymous(self) -> bool:
        return self.kind is NumberKind.ANONYMOUS

    def masked(self) -> str:
        """The number with all but its last four digits hidden, for logs."""
        if self.is_anonymous:
            return "anonymous"
        digits = self.key.lstrip("+")
        hidden = max(len(digits) - 4, 0)
        return ("+" if self.key.startswith("+") else "") + "*" * hidden + digits[hidden:]

    def __str__(self) -> str:
        return self.key or "anonymous"


ANONYMOUS = CallerNumber(NumberKind.ANONYMOUS, "")


def normalize(raw: str | None, region: str = DEFAULT_REGION) -> CallerNumber:
    """Parse a caller id as dialled or sent by a carrier; never raises."""
    text = (raw or "").strip()
    if text.lower() in _ANONYMOUS_WORDS or not _DIGITS.search(text):
        return ANONYMOUS
    for candidate in _candidates(text):
        e164 = _parse_valid(candidate, region)
        if e164:
            return CallerNumber(NumberKind.E164, e164)
    return CallerNumber(NumberKind.RAW, "".join(_DIGITS.findall(text)))


def _candidates(text: str) -> list[str]:
    found = [text]
    if _INTERNATIONAL_00.match(text):
        found.append("+" + _INTERNATIONAL_00.sub("", text, count=1))
    return found


def _parse_valid(text: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_region(code: str) -> bool:
    """True when `code` is a region phonenumbers knows, such as RU or DE."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS
