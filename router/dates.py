"""The one parser of the times a user types after --since and --until.

An ISO 8601 date or time (UTC when it names no zone, as the ledger stores
times), or `today` / `yesterday`: the start of that day in the agency's zone
(the `timezone` setting), so `ledger --since today` in Moscow starts at
midnight Moscow time, 21:00 UTC the evening before. The CLI and the console
both read times through here, so a word means the same in both.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

from router.errors import InvalidInput

DAY_WORDS = {"today": 0, "yesterday": 1}


def check(text: str) -> str:
    """`text` if it is a time `parse` can read (with any zone), else InvalidInput saying why."""
    parse(text, UTC, datetime.now(UTC))
    return text


def parse(text: str, zone: tzinfo, now: datetime) -> datetime:
    """`text` as an aware UTC time; the day words count back from `now`'s day in `zone`."""
    word = text.strip().lower()
    if word in DAY_WORDS:
        start, _ = local_day(now - timedelta(days=DAY_WORDS[word]), zone)
        return start
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an ISO 8601 date or time, nor one of {', '.join(DAY_WORDS)}"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def local_day(at: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The agency's day that contains `at`: its start and the next day's start, in UTC."""
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
