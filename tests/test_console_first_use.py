"""What a first-time user of the console stumbled on, each fixed and kept fixed, on both backends.

The users are a travel agency's admin, supervisor and manager: Russian
speakers, not technical, in Moscow time with roubles and kopecks. Each test
is named after what the user gets.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from identity import reasons as identity_reasons
from router.config import Settings
from router.directory import household_csv, household_reads, households
from router.routing.service import Router
from router.splits import bookings
from router.storage.db import Database
from tests.agency import MSK_LINE
from tests.console_client import Site, log_in, seeded_site, text_of
from tests.routing_helpers import new_call, outcome
from tests.test_console_evidence import look_alike
from web.views.search import NAME_MATCHES
from web.words import REASONS


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[Site]:
    with seeded_site(db, db_url) as made:
        yield made


def post(client: TestClient, token: str, url: str, **data: str) -> str:
    return client.post(url, data={"csrf": token, **data}).text


def field_value(html: str, action: str, name: str) -> str:
    """What a field of a form shows (a select: its selected option), the form found by its action."""
    forms = re.findall(rf'<form[^>]*action="{re.escape(action)}".*?</form>', html, re.S)
    [body] = [f for f in forms if f'name="{name}"' in f]
    found = re.search(rf'<input name="{name}"[^>]*value="([^"]*)"', body)
    if found:
        return found.group(1)
    select = re.search(rf'<select name="{name}".*?</select>', body, re.S)
    if select:
        chosen = re.search(r'<option(?: value="([^"]*)")? selected>([^<]*)<', select.group(0))
        return (chosen.group(1) or chosen.group(2)) if chosen else ""
    return ""


def test_a_refused_link_keeps_the_typed_number_in_the_form(site: Site) -> None:
    token = log_in(site.client, "anna")
    card = f"/households/{site.ivanov}"
    page = post(site.client, token, card + "/numbers", number="8 (916) 123-45-6", label="home")
    assert "«8 (916) 123-45-6» — не номер телефона: наберите номер целиком, например" in text_of(page)
    assert field_value(page, card + "/numbers", "number") == "8 (916) 123-45-6"
    assert field_value(page, card + "/numbers", "label") == "home"
    assert "Кому не направлять звонки этой семьи" in text_of(page)


def test_a_refused_transfer_keeps_the_chosen_agent_and_the_other_forms_stay_empty(site: Site) -> None:
    token = log_in(site.client, "anna")
    card = f"/households/{site.ivanov}"
    page = post(site.client, token, card + "/owner", login="kim", reason="")
    assert "причина" in text_of(page)
    assert field_value(page, card + "/owner", "login") == "kim"
    assert field_value(page, card + "/numbers", "number") == ""
    page = post(site.client, token, card + "/owners", owners="ivanova, nobody", mode="equal", reason="отпуск")
    assert field_value(page, card + "/owners", "owners") == "ivanova, nobody"
    assert field_value(page, card + "/owners", "reason") == "отпуск"
    assert field_value(page, card + "/owners", "mode") == "equal"
    assert field_value(page, card + "/owner", "reason") == ""


def test_an_amount_typed_as_the_console_writes_it_is_taken_to_the_kopeck(site: Site) -> None:
    token = log_in(site.client, "sveta")
    for ref, typed, kopecks in (("T-1", "1 234 567,89", 123456789), ("T-2", "1234,5", 123450)):
        response = site.client.post(
            "/bookings",
            data={
                "csrf": token,
                "household": str(site.ivanov),
                "ref": ref,
                "amount": typed,
                "closed_at": "2026-12-05T14:30",
            },
        )
        assert response.status_code == 303, text_of(response.text)
        with site.db.reader() as s:
            [stored] = [b for b in bookings.list_bookings(s, household=site.ivanov) if b.ref == ref]
        assert stored.amount == kopecks
        assert "1\u00a0234\u00a0567,89\u00a0₽" in site.client.get("/bookings").text


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("1e9", "цифрами"),
        ("99999999999999999", "миллиард"),
        ("1234.567", "копеек"),
        ("-5", "отрицательной"),
    ],
)
def test_an_amount_the_console_cannot_read_is_refused_in_words_and_kept_in_the_form(
    site: Site, typed: str, said: str
) -> None:
    token = log_in(site.client, "sveta")
    response = site.client.post(
        "/bookings",
        data={
            "csrf": token,
            "household": str(site.ivanov),
            "ref": "T-9",
            "amount": typed,
            "closed_at": "2026-12-05T14:30",
        },
    )
    assert response.status_code == 422 and said in text_of(response.text)
    assert field_value(response.text, "/bookings", "amount") == typed
    with site.db.reader() as s:
        assert bookings.list_bookings(s, household=site.ivanov) == []


def test_an_override_in_percent_with_a_decimal_comma_is_saved(site: Site) -> None:
    with site.db.unit_of_work() as s:
        booking = bookings.add_booking(
            s,
            site.ivanov,
            ref="B-1",
            amount=100_001,
            closed_at=datetime(2026, 12, 5, 12, tzinfo=UTC),
            actor="setup",
        ).id
    token = log_in(site.client, "sveta")
    response = site.client.post(
        f"/bookings/{booking}/override",
        data={"csrf": token, "shares": "ivanova=33,34\norlov=33,33, kim=33,33", "reason": "три менеджера"},
    )
    assert response.status_code == 303, text_of(response.text)
    page = site.client.get(f"/bookings/{booking}").text
    assert "33,34\u00a0%" in page and "три менеджера" in page
    audit_page = site.client.get("/audit?action=override").text
    assert "продажа B-1" in audit_page and "ivanova 33,34\u00a0%, kim 33,33\u00a0%" in audit_page
    assert '{"' not in text_of(audit_page)


def test_a_refused_dispute_is_said_in_russian_on_the_disputes_page_with_the_form_as_typed(site: Site) -> None:
    token = log_in(site.client, "sveta")
    response = site.client.post(
        "/disputes",
        data={"csrf": token, "household": str(site.ivanov), "agents": "ivanova", "reason": "оба вели"},
    )
    page = text_of(response.text)
    assert response.status_code == 422
    assert "Открытые споры" in page and "спор — между двумя менеджерами или больше" in page
    assert "--agents" not in page
    assert field_value(response.text, "/disputes", "agents") == "ivanova"
    assert field_value(response.text, "/disputes", "reason") == "оба вели"
    missing = site.client.get("/disputes/99")
    assert missing.status_code == 404 and "нет спора № 99" in text_of(missing.text)


def test_a_refused_resolution_stays_on_the_dispute_with_the_policies_in_russian(site: Site) -> None:
    token = log_in(site.client, "sveta")
    opened = site.client.post(
        "/disputes",
        data={
            "csrf": token,
            "household": str(site.ivanov),
            "agents": "ivanova, sidorov",
            "reason": "оба вели",
        },
    )
    url = opened.headers["location"]
    response = site.client.post(
        url, data={"csrf": token, "owner": "sidorov", "policy": "talk-time", "reason": ""}
    )
    page = text_of(response.text)
    assert response.status_code == 422 and "решению спора нужна причина" in page
    assert field_value(response.text, url, "owner") == "sidorov"
    assert field_value(response.text, url, "policy") == "talk-time"
    assert "по времени разговора" in page and "talk-time" not in page


def test_every_reason_a_suggestion_can_give_has_the_consoles_words() -> None:
    templates = {v for k, v in vars(identity_reasons).items() if k.isupper() and isinstance(v, str)}
    assert templates == set(REASONS)


def test_why_two_families_look_alike_is_said_in_russian(site: Site) -> None:
    new = look_alike(site)
    log_in(site.client, "sveta")
    for url in ("/suggestions", f"/households/{site.ivanov}"):
        shown = text_of(site.client.get(url).text)
        assert "тот же e-mail: ivanovy@mail.ru" in shown and "то же имя: Мария" in shown, url
        assert "same email" not in shown and "same given name" not in shown, url
    assert f"№ {new}" in shown


def test_a_family_made_by_a_call_reads_in_russian_in_the_audit_log_and_on_its_timeline(site: Site) -> None:
    router = Router(site.db, Settings(db=site.url))
    decision = router.decide(new_call("+79265554433", MSK_LINE))
    router.record(decision.id, decision.plan.attempts[0].seq, outcome())
    with site.db.reader() as s:
        found = household_reads.lookup(s, "+79265554433")
    assert found is not None
    agent = decision.plan.attempts[0].agent
    log_in(site.client, "sveta")
    audit_page = text_of(site.client.get(f"/audit?household={found.household_id}").text)
    timeline = text_of(site.client.get(f"/households/{found.household_id}/timeline").text)
    for shown in (audit_page, timeline):
        assert f"владелец: {agent}, номера: +7 926 555-44-33" in shown
        assert "первый отвеченный звонок" in shown
        assert "owner=" not in shown and "first answered call" not in shown


def test_the_audit_log_filters_by_every_action_it_records(site: Site) -> None:
    log_in(site.client, "sveta")
    page = site.client.get("/audit").text
    for action in ("override", "resolve", "handover", "dispute-open", "import", "user-add"):
        assert f'<option value="{action}"' in page, action


def test_where_a_call_would_go_refuses_a_number_that_is_not_one(site: Site) -> None:
    log_in(site.client, "sveta")
    shown = text_of(site.client.get("/route?number=123&line=msk").text)
    assert "«123» — не номер телефона" in shown and "Новый абонент" not in shown
    shown = text_of(site.client.get("/route?number=8 (916) 123-45-67&line=msk").text)
    assert f"Семья № {site.ivanov}" in shown


def test_a_refused_bookings_file_says_row_by_row_in_russian_why(site: Site) -> None:
    token = log_in(site.client, "anna")
    head = "booking,household,amount,closed_at\n"
    bad = (
        f"{head}X-1,999999,100,2026-12-05T10:00:00+03:00\nX-2,{site.ivanov},100,05.12.2026\n"
        f"X-3,{site.ivanov},100,2026-12-05T10:00:00+03:00\nX-3,{site.ivanov},100,2026-12-05T10:00:00+03:00\n"
    )
    refused = site.client.post(
        "/bookings/import", data={"csrf": token}, files={"file": ("мои.csv", bad, "text/csv")}
    )
    shown = text_of(refused.text)
    assert refused.status_code == 422
    assert "Ошибок в строках: 3; ничего не загружено." in shown
    assert "строка 2: нет семьи № 999999" in shown
    assert "строка 3: в closed_at не время; пишите так: 2026-12-05T14:30:00+03:00" in shown
    assert "строка 5: продажа X-3 есть в файле дважды" in shown
    assert "line 2" not in shown and "bad row" not in shown
    wrong_columns = site.client.post(
        "/bookings/import", data={"csrf": token}, files={"file": ("мои.csv", "a,b\n1,2\n", "text/csv")}
    )
    assert "первая строка должна быть такой: booking,household,amount,closed_at" in text_of(
        wrong_columns.text
    )


@pytest.mark.parametrize(
    "url", ["/audit?household=abc", "/leads?household=abc", "/bookings?since=31.02.2026"]
)
def test_a_refused_filter_leaves_a_way_back_to_the_page_unfiltered(site: Site, url: str) -> None:
    log_in(site.client, "sveta")
    response = site.client.get(url)
    assert response.status_code == 422
    path = url.split("?")[0]
    assert f'<a href="{path}" id="back">Открыть страницу без фильтра</a>' in response.text


def test_a_booking_says_how_it_was_added_and_the_handover_rules_in_russian(site: Site) -> None:
    token = log_in(site.client, "anna")
    site.client.post(
        "/bookings",
        data={
            "csrf": token,
            "household": str(site.ivanov),
            "ref": "T-1",
            "amount": "100",
            "closed_at": "2026-12-05T14:30",
        },
    )
    with site.db.reader() as s:
        [booking] = bookings.list_bookings(s, household=site.ivanov)
    shown = text_of(site.client.get(f"/bookings/{booking.id}").text)
    assert "добавил(а) anna вручную" in shown and "manual" not in shown
    handover = text_of(site.client.get("/agents/ivanova/handover").text)
    assert "тому, у кого меньше семей" in handover and "по очереди" in handover
    assert "fewest" not in handover and "round-robin" not in handover


def test_an_imported_familys_card_names_its_owner_without_saying_it_has_none(
    site: Site, tmp_path: Path
) -> None:
    csv_file = tmp_path / "families.csv"
    csv_file.write_text(
        "id,name,owner,members,numbers,email,address,created_at,last_contact_at\n"
        ",Сидоровы,kim,Сидоров Пётр,+79261234500,,,,\n",
        encoding="utf-8",
    )
    with site.db.unit_of_work() as s:
        household_csv.import_households(s, csv_file, region="RU", actor="admin")
    with site.db.reader() as s:
        found = household_reads.lookup(s, "+79261234500")
    assert found is not None
    log_in(site.client, "sveta")
    card = text_of(site.client.get(f"/households/{found.household_id}").text)
    assert "Владелец: kim" in card and "Как семья получила владельца, не записано." in card
    assert "владелец не записан" not in card


def test_a_search_cut_at_its_first_matches_says_so_instead_of_seeming_complete(site: Site) -> None:
    assert inspect.signature(household_reads.search_names).parameters["limit"].default == NAME_MATCHES
    with site.db.unit_of_work() as s:
        for n in range(NAME_MATCHES):
            households.add_household(
                s, name="Ивановы", members=[f"Иванов Пётр {n}"], owner="kim", actor="test"
            )
    log_in(site.client, "sveta")
    shown = text_of(site.client.get("/search?q=Иванов").text)
    assert f"Просмотрены только первые {NAME_MATCHES} семей с такими именами" in shown
    log_in(site.client, "ira")  # a manager: only her families are read, so her one family is the whole answer
    response = site.client.get("/search?q=Иванов")
    assert response.headers.get("location") == f"/households/{site.ivanov}"
    assert "Просмотрены только первые" not in text_of(site.client.get("/search?q=Петров").text)


def test_the_confirmations_name_a_number_as_people_read_it(site: Site) -> None:
    token = log_in(site.client, "anna")
    card = site.client.get(f"/households/{site.ivanov}").text
    assert 'hx-confirm="Отвязать номер +7 916 123-45-67 от этой семьи?"' in card
    refused = post(
        site.client, token, f"/households/{site.ivanov}/numbers", number="+79035550101", label="mobile"
    )
    assert "+7 903 555-01-01 из карточки" in refused and "+79035550101 из карточки" not in refused


def test_a_refusal_names_a_number_as_people_read_it(site: Site) -> None:
    token = log_in(site.client, "anna")
    page = post(site.client, token, f"/households/{site.petrov}/numbers/unlink", number="8 916 123-45-67")
    assert "номер +7 916 123-45-67 не привязан к семье" in text_of(page)


def test_a_day_that_does_not_exist_is_said_so_and_a_russian_date_is_read(site: Site) -> None:
    log_in(site.client, "sveta")
    for url in ("/audit", "/bookings", f"/households/{site.ivanov}/timeline"):
        refused = site.client.get(url + "?since=31.02.2026")
        assert refused.status_code == 422 and "такого дня нет: 31.02.2026" in text_of(refused.text), url
        assert site.client.get(url + "?since=01.12.2026&until=31.12.2026").status_code == 200, url
    assert "напишите дату так: 31.12.2026" in text_of(site.client.get("/audit?since=вчера").text)


def test_a_booking_closed_at_a_time_typed_the_russian_way_is_stored_in_moscow_time(site: Site) -> None:
    token = log_in(site.client, "sveta")
    form = {"csrf": token, "household": str(site.ivanov), "ref": "T-1", "amount": "100"}
    refused = site.client.post("/bookings", data=form | {"closed_at": "31.02.2026 14:30"})
    assert refused.status_code == 422 and "такого дня нет: 31.02.2026" in text_of(refused.text)
    assert site.client.post("/bookings", data=form | {"closed_at": "05.12.2026 14:30"}).status_code == 303
    with site.db.reader() as s:
        [stored] = bookings.list_bookings(s, household=site.ivanov)
    assert stored.closed_at == datetime(2026, 12, 5, 11, 30, tzinfo=UTC)


def test_a_too_long_text_is_refused_in_words_never_as_a_database_outage(site: Site) -> None:
    token = log_in(site.client, "sveta")
    response = site.client.post(
        "/bookings",
        data={
            "csrf": token,
            "household": str(site.ivanov),
            "ref": "Т" * 150,
            "amount": "100",
            "closed_at": "05.12.2026 14:30",
        },
    )
    shown = text_of(response.text)
    assert response.status_code != 503 and "База данных не отвечает" not in shown
    if site.url.startswith("postgresql"):  # SQLite keeps a text of any length; PostgreSQL refuses it
        assert response.status_code == 422 and "текст слишком длинный" in shown
