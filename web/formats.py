"""The console's one way to show a time, a date, money and a count: Babel, in the agency's zone and language.

Templates call these (as `fmt.time(...)`); none formats by hand, so a time is
never shown in UTC by mistake and money is always `1 234 567,89 ₽` in Russian.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal

import phonenumbers
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

_LOCALES = {"ru": "ru_RU", "en": "en_GB"}
CURRENCY = "RUB"


class Formats:
    def __init__(self, language: str, timezone: str) -> None:
        self.locale = _LOCALES[language]
        self.zone = zoneinfo.ZoneInfo(timezone)
        self._joint = str(Locale.parse(self.locale).datetime_formats["medium"])
        self._dates: dict[dt.date, str] = {}

    def time(self, at: dt.datetime | None) -> str:
        """A moment, to the minute, in the agency's zone: `5 дек. 2026 г., 18:04`.

        Babel's medium date joined to the hour and minute as its medium
        datetime pattern joins them (`{1}, {0}`, 24 h in both languages), the
        date part made once per day: a timeline of a thousand calls shows
        three thousand moments, and Babel takes a quarter of a millisecond each.
        """
        if at is None:
            return "—"
        local = at.astimezone(self.zone)
        return self._joint.replace("{1}", self._medium_date(local.date())).replace(
            "{0}", f"{local.hour:02d}:{local.minute:02d}"
        )

    def _medium_date(self, day: dt.date) -> str:
        found = self._dates.get(day)
        if found is None:
            found = self._dates[day] = format_date(day, "medium", locale=self.locale)
        return found

    def date(self, at: dt.datetime | dt.date | None) -> str:
        """The day of a moment in the agency's zone: `5 декабря 2026 г.`."""
        if at is None:
            return "—"
        day = at.astimezone(self.zone).date() if isinstance(at, dt.datetime) else at
        return format_date(day, "long", locale=self.locale)

    def money(self, amount: Decimal | float | int) -> str:
        """Roubles with kopecks: `1 234 567,89 ₽` in Russian."""
        return format_currency(amount, CURRENCY, locale=self.locale)

    def kopecks(self, minor: int) -> str:
        """An amount stored in kopecks, exactly (no float between): `1 000,01 ₽`."""
        return self.money(Decimal(minor) / 100)

    def phone(self, e164: str) -> str:
        """A stored number as people read it: `+7 916 123-45-67`."""
        return _phone(e164)

    def percent(self, share: float) -> str:
        """A share of one as people read it: `75 %` in Russian.

        Rounded to the whole percent first, as Babel rounds it (the value's
        decimal string, half to even), and each whole percent formatted once:
        a board of 500 agents shows a thousand of them on every refresh.
        """
        whole = Decimal(str(share)).scaleb(2).quantize(_WHOLE)
        return _percent(whole, self.locale)

    def share(self, percent: Decimal) -> str:
        """A split's share, given in percent, to its last significant digit: `33,34 %`."""
        return format_decimal(percent.normalize(), locale=self.locale) + "\u00a0%"

    def minutes(self, seconds: int) -> str:
        """A duration in minutes to one decimal, as people write numbers: `2,5`."""
        return format_decimal(round(Decimal(seconds) / 60, 1), format="#,##0.0", locale=self.locale)

    def count(self, n: int) -> str:
        return _count(n, self.locale)

    def day_start(self, day: dt.date) -> dt.datetime:
        """Midnight of `day` in the agency's zone, as an aware moment (a period filter's bound)."""
        return dt.datetime.combine(day, dt.time(), tzinfo=self.zone)


@functools.lru_cache(maxsize=4096)
def _phone(e164: str) -> str:
    """Parsing a number costs a fraction of a millisecond; a timeline shows the same few many times."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


_WHOLE = Decimal(1)


@functools.lru_cache(maxsize=4096)
def _percent(whole: Decimal, locale: str) -> str:
    return format_percent(whole.scaleb(-2), locale=locale)


@functools.lru_cache(maxsize=4096)
def _count(n: int, locale: str) -> str:
    """Counts on a board repeat (0, 1, 2...): Babel formats each once."""
    return format_decimal(n, locale=locale)
