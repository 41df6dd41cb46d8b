"""Caller ids parsed once, at the boundary, into one comparable key.

Asterisk hands us whatever the carrier sent: national forms with a trunk
prefix, `+` forms, bare digits, extensions, words such as `unknown`. Everything
past this module compares `CallerNumber.key` only, so two spellings of one phone
are the same number and never a "suggestion".
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata

DEFAULT_REGION = "RU"

# What carriers and Asterisk put in the caller id when there is no number.
_ANONYMOUS_WORDS = frozenset(
    {"", "anonymous", "unknown", "restricted", "withheld", "private", "unavailable", "none"}
)
_DIGITS = re.compile(r"\d")
# "00" is the international prefix in most of the world; phonenumbers only knows
# the default region's own (810 for RU), so such numbers are retried as "+".
_INTERNATIONAL_00 = re.compile(r"^\s*00\s*")
# Already E.164, as in an export or the database: see `_canonical_e164`.
_CANONICAL = re.compile(r"\+[1-9]\d{6,14}")


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
    canonical = _canonical_e164(text)
    if canonical:
        return CallerNumber(NumberKind.E164, canonical)
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


def e164_keys(texts: Sequence[str], region: str = DEFAULT_REGION) -> list[str | None]:
    """The E.164 key of each text, or None where it is not a valid phone number.

    A plain function of picklable values, so a big import can spread the
    parsing over processes.
    """
    keys: list[str | None] = []
    for text in texts:
        number = normalize(text, region)
        keys.append(number.key if number.kind is NumberKind.E164 else None)
    return keys


def _canonical_e164(text: str) -> str | None:
    """`text` itself when it is a valid number already written in E.164, else None.

    A CSV import of a million households re-reads two million such numbers;
    building the number from its digits skips most of `phonenumbers.parse`.
    Whenever parse could read the digits differently (a leading zero, a
    national prefix it might strip) this declines and the full parse decides.
    """
    if not _CANONICAL.fullmatch(text):
        return None
    for size in (1, 2, 3):
        country_code = int(text[1 : 1 + size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = text[1 + size :]
    main_region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main_region)
    if national.startswith("0") or metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, national):
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    # is_valid_number first finds the region, which for a main region without
    # leading digits (RU for +7) already means checking this same validity.
    if metadata.leading_digits is None and phonenumbers.is_valid_number_for_region(number, main_region):
        return text
    return text if phonenumbers.is_valid_number(number) else None


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
