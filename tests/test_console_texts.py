"""The console speaks through its catalog: every text is translated to Russian, the .mo compiled from the .po.

Times are shown in the agency's zone and money as Russians write it, by one
formatter each (web/formats.py).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from web.console import HERE
from web.formats import Formats

NBSP = "\u00a0"
NNBSP = "\u202f"  # CLDR's narrow no-break space, before "г." in Russian dates
PO = HERE / "locale" / "ru" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def console_texts() -> set[str]:
    """Every console text in code and templates, and the router's error texts the console shows,
    as `pybabel extract -F web/babel.cfg -k N_ .` finds them."""
    keywords = {"_": None, "gettext": None, "N_": None}
    found = [
        *extract_from_dir(
            str(HERE), [("**.py", "python"), ("templates/**.html", "jinja2")], keywords=keywords
        ),
        *extract_from_dir(str(HERE.parent / "router"), [("**.py", "python")], keywords=keywords),
    ]
    return {message if isinstance(message, str) else message[0] for _f, _l, message, _c, _x in found}


def test_every_console_text_has_a_russian_translation() -> None:
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    missing = sorted(t for t in console_texts() if not (catalog.get(t) and catalog.get(t).string))
    assert missing == []
    stale = sorted(str(m.id) for m in catalog if m.id and m.id not in console_texts())
    assert stale == []


def test_the_committed_mo_is_compiled_from_the_po() -> None:
    with PO.open("rb") as fh:
        source = {str(m.id): m.string for m in read_po(fh) if m.id}
    with MO.open("rb") as fh:
        compiled = {str(m.id): m.string for m in read_mo(io.BytesIO(fh.read())) if m.id}
    assert compiled == source


def test_money_is_written_as_russians_write_it() -> None:
    assert Formats("ru", "Europe/Moscow").money(Decimal("1234567.89")) == f"1{NBSP}234{NBSP}567,89{NBSP}₽"


def test_times_are_shown_in_the_agencys_zone() -> None:
    moment = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
    assert Formats("ru", "Europe/Moscow").time(moment) == f"6 дек. 2026{NNBSP}г., 00:30"
    assert Formats("en", "Asia/Vladivostok").time(moment) == "6 Dec 2026, 07:30"
    assert Formats("ru", "Europe/Moscow").date(moment) == f"6 декабря 2026{NNBSP}г."
    assert Formats("ru", "Europe/Moscow").date(date(2026, 1, 2)) == f"2 января 2026{NNBSP}г."


def test_numbers_are_shown_as_people_read_them() -> None:
    assert Formats("ru", "Europe/Moscow").phone("+79161234567") == "+7 916 123-45-67"


def test_a_moment_is_shown_as_babels_medium_datetime_cut_to_the_minute() -> None:
    from babel.dates import format_datetime

    moments = [
        datetime(2026, m, d, h, mi, 59, tzinfo=UTC)
        for m, d, h, mi in ((1, 1, 0, 0), (3, 29, 23, 5), (12, 5, 15, 4))
    ]
    for language, locale in (("ru", "ru_RU"), ("en", "en_GB")):
        formats = Formats(language, "Europe/Moscow")
        for at in moments:
            babel = format_datetime(at, "medium", tzinfo=formats.zone, locale=locale).rsplit(":", 1)[0]
            assert formats.time(at) == babel
