"""Amounts and shares as people type them on a Russian console, made into what the router parses.

The console writes money as `1 234 567,89 ₽` (spaces between thousands,
a decimal comma); a user copies that, or types `1234,5`, and the router's
parsers (made for the CLI's `1234.50`) would refuse it, or take `1e9` as
a billion. So the console reads digits, group spaces and one decimal mark
here, and hands the router the plain decimal it expects.
"""

from __future__ import annotations

import datetime as dt
import re

from router.errors import InvalidInput
from router.splits.shares import MAX_ROUBLES
from web.words import N_

# Spaces a user may put between thousands: a space, a no-break space, CLDR's narrow one, a thin one.
_GROUP_SPACES = re.compile("[ \u00a0\u202f\u2009]")
_AMOUNT = re.compile(r"(\d+)(?:[.,](\d*))?")
# Between two `LOGIN=PERCENT` shares: a new line, a semicolon, or a comma followed by a login.
_SHARE_BREAK = re.compile(r"\n|;|,(?=\s*[^\d\s])")


def amount(text: str) -> str:
    """`1 234 567,89`, `1234,5`, `1234.50 ₽` as `1234567.89`; anything else refused in words."""
    plain = _GROUP_SPACES.sub("", text.strip().removesuffix("₽").strip())
    found = _AMOUNT.fullmatch(plain)
    if text.strip().startswith("-"):
        raise InvalidInput(N_("amount %(text)s: a booking's amount cannot be negative"), text=text)
    if found is None:
        raise InvalidInput(
            N_("amount %(text)s: write roubles and kopecks in digits, for example 1 234 567,89"), text=text
        )
    roubles, kopecks = found.group(1), found.group(2) or ""
    if len(kopecks) > 2:
        raise InvalidInput(N_("amount %(text)s: at most two digits of kopecks after the comma"), text=text)
    if int(roubles) > MAX_ROUBLES:
        raise InvalidInput(N_("amount %(text)s is more than a billion roubles: check the digits"), text=text)
    return f"{roubles}.{kopecks or '0'}"


def shares(text: str) -> list[str]:
    """`ivanova=33,34` lines (or `;`- or comma-separated) as the router's `LOGIN=PERCENT` pairs."""
    pairs = [p.strip() for p in _SHARE_BREAK.split(text) if p.strip()]
    return [_decimal_point(p) for p in pairs]


def _decimal_point(pair: str) -> str:
    login, sep, percent = pair.partition("=")
    return f"{login}{sep}{percent.replace(',', '.')}" if sep else pair


_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RU_DAY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def day(text: str) -> dt.date:
    """`2026-12-31` (a date field) or `31.12.2026` (as typed); a day that does not exist is said so."""
    iso, ru = _ISO_DAY.fullmatch(text.strip()), _RU_DAY.fullmatch(text.strip())
    if iso:
        year, month, number = (int(g) for g in iso.groups())
    elif ru:
        number, month, year = (int(g) for g in ru.groups())
    else:
        raise InvalidInput(N_("%(text)s: write a date as 31.12.2026"), text=text)
    try:
        return dt.date(year, month, number)
    except ValueError:
        raise InvalidInput(N_("there is no such day as %(text)s"), text=text) from None


def moment(text: str) -> dt.datetime:
    """`2026-12-05T14:30` (a date-and-time field) or `05.12.2026 14:30`, naive: the zone is the caller's."""
    plain = text.strip().replace("T", " ")
    date_part, _, time_part = plain.partition(" ")
    found = _TIME.fullmatch(time_part.strip()[:5]) if time_part else None
    if not plain:
        raise InvalidInput(N_("give the closing date and time"))
    if found is None:
        raise InvalidInput(N_("%(text)s: write the date and the time as 05.12.2026 14:30"), text=text)
    hour, minute = int(found.group(1)), int(found.group(2))
    if hour > 23 or minute > 59:
        raise InvalidInput(N_("there is no such time as %(text)s"), text=text)
    return dt.datetime.combine(day(date_part), dt.time(hour, minute))
