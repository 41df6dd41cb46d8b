"""The one parser of --since and --until: ISO times in UTC, today and yesterday in the agency's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from router import dates
from router.errors import InvalidInput

MOSCOW = ZoneInfo("Europe/Moscow")


def test_today_starts_at_the_agencys_midnight() -> None:
    now = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # 01:30 on 3 March in Moscow
    assert dates.parse("today", MOSCOW, now) == datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
    assert dates.parse("Yesterday", MOSCOW, now) == datetime(2026, 3, 1, 21, 0, tzinfo=UTC)


def test_an_iso_date_without_a_zone_is_utc() -> None:
    assert dates.parse("2026-03-02", MOSCOW, datetime.now(UTC)) == datetime(2026, 3, 2, tzinfo=UTC)


def test_anything_else_is_refused_with_the_words_it_takes() -> None:
    with pytest.raises(InvalidInput, match="today, yesterday"):
        dates.check("tomorrow-ish")
