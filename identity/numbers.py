"""Caller ids parsed once, at the boundary, into one comparable key.

Asterisk hands us whatever the carrier sent: national forms with a trunk
prefix, `+` forms, bare digits, extensions, words such as `unknown`. Everything
past this module compares `CallerNumber.key` only, so two spellings of one phone
are the same number and never a "suggestion".
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
    return text if _valid(country_code, national) else None


# (possible lengths, fullmatch of the national number pattern) of one number type
_Desc = tuple[frozenset[int], Callable[[str], object]]
# The types libphonenumber's number-type check tries; fixed line and mobile
# first since nearly every caller is one of them.
_TYPES = (
    "fixed_line",
    "mobile",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


@functools.cache
def _rules(country_code: int, region: str) -> tuple[_Desc | None, tuple[_Desc, ...]]:
    """A region's validity rules, compiled once (phonenumbers re-reads them per call)."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None, ()
    names = [t for t in _TYPES if not (t == "mobile" and metadata.same_mobile_and_fixed_line_pattern)]
    types = tuple(d for d in (_desc(getattr(metadata, name)) for name in names) if d is not None)
    return _desc(metadata.general_desc), types


def _desc(desc: Any) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern).fullmatch


def _matches(desc: _Desc, national: str) -> bool:
    lengths, fullmatch = desc
    return (not lengths or len(national) in lengths) and fullmatch(national) is not None


def _valid(country_code: int, national: str) -> bool:
    """`phonenumbers.is_valid_number` for a national number without leading zeros.

    The same steps: find the region (the only one of the country code, else
    the first whose leading digits or number patterns fit), then the general
    pattern and at least one number type's pattern must match. Only faster:
    the patterns are compiled once. `tests/test_numbers.py` checks it against
    phonenumbers itself.
    """
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
    if len(regions) == 1:
        return _valid_in(country_code, regions[0], national)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, national):
                return _valid_in(country_code, region, national)
        elif _valid_in(country_code, region, national):
            return True
    return False


def _valid_in(country_code: int, region: str, national: str) -> bool:
    general, types = _rules(country_code, region)
    if general is None or not _matches(general, national):
        return False
    return any(_matches(desc, national) for desc in types)


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
