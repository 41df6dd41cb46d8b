"""The console over HTTP, in-process (`with TestClient(app)`, lifespan run), on both backends.

Every action is posted as a browser would (a form with its CSRF token) by
every role; what the database holds afterwards is read back through the
router, never assumed from the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from router.accounts import users
from router.config import Settings
from router.directory import audit, household_reads, households, offices
from router.routing.service import Router
from router.storage.db import Database
from router.storage.models import AuditEntry, ConsoleSession, Exclusion, Household, Member, PhoneNumber
from tests.agency import IVANOV_MOBILE, IVANOV_SPOUSE, PETROV_MOBILE, seed
from tests.console_client import (
    PASSWORD,
    Site,
    add_users,
    console,
    log_in,
    login_form_token,
    seeded_site,
    text_of,
)

NEW_NUMBER = "+79261112233"


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[Site]:
    with seeded_site(db, db_url) as made:
        yield made


def view(db: Database, household_id: int) -> household_reads.HouseholdView:
    with db.reader() as s:
        return household_reads.household_view(household_reads.get_household(s, household_id))


def rows(db: Database) -> dict[str, int]:
    """The rows an action can touch, counted: equal before and after means nothing was written."""
    with db.reader() as s:
        counts = {
            model.__tablename__: int(s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (AuditEntry, Household, Member, PhoneNumber, Exclusion)
        }
        counts["paused"] = sum(1 for a in offices.list_agents(s) if a.state == "paused")
        counts["numbers"] = hash(
            tuple(sorted((n.number, n.household_id, n.label) for n in s.scalars(select(PhoneNumber))))
        )
    return counts


def last_audit(db: Database) -> audit.AuditView:
    with db.reader() as s:
        return audit.trail(s, newest_first=True, limit=1)[0]


# -- login, sessions, CSRF -------------------------------------------------------------------------


def test_every_page_needs_a_login(site: Site) -> None:
    for path in ("/search", f"/households/{site.ivanov}", "/agents", "/route", "/audit"):
        response = site.client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    before = rows(site.db)
    response = site.client.post(f"/households/{site.ivanov}/members", data={"name": "Чужой"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert rows(site.db) == before


def session_cookie_set_by(client: TestClient, login: str) -> str:
    token = login_form_token(client)
    response = client.post("/login", data={"login": login, "password": PASSWORD, "csrf": token})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ck_session=")
    return cookie


def test_login_sets_a_new_httponly_samesite_session_cookie_each_time(site: Site) -> None:
    site.client.cookies.set("ck_session", "chosen-by-an-attacker")
    first = session_cookie_set_by(site.client, "anna")
    second = session_cookie_set_by(site.client, "anna")
    values = {cookie.split(";")[0] for cookie in (first, second)}
    assert len(values) == 2 and "ck_session=chosen-by-an-attacker" not in values
    assert "httponly" in first.lower() and "samesite=lax" in first.lower() and "secure" not in first.lower()


def test_a_new_login_ends_the_session_the_browser_brought(site: Site) -> None:
    log_in(site.client, "anna")
    log_in(site.client, "sveta")
    with site.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 1
    assert "sveta" in text_of(site.client.get("/search").text)


def test_the_session_cookie_is_secure_when_the_tls_setting_says_so(db: Database, db_url: str) -> None:
    seed(db)
    add_users(db)
    with console(db_url, web_tls=True) as client:
        cookie = session_cookie_set_by(client, "anna")
    assert "; secure" in cookie.lower()


def test_login_redirects_only_to_a_path_of_this_site(site: Site) -> None:
    token = login_form_token(site.client)
    response = site.client.post(
        "/login?next=//evil.example/x", data={"login": "anna", "password": PASSWORD, "csrf": token}
    )
    assert response.headers["location"] == "/search"
    token = login_form_token(site.client)
    response = site.client.post(
        f"/login?next=/households/{site.ivanov}", data={"login": "anna", "password": PASSWORD, "csrf": token}
    )
    assert response.headers["location"] == f"/households/{site.ivanov}"


def test_a_login_form_without_its_token_is_refused(site: Site) -> None:
    response = site.client.post("/login", data={"login": "anna", "password": PASSWORD, "csrf": "guess"})
    assert response.status_code == 403 and "ck_session" not in site.client.cookies


def test_a_wrong_password_is_refused_in_russian(site: Site) -> None:
    token = login_form_token(site.client)
    response = site.client.post("/login", data={"login": "anna", "password": "не тот", "csrf": token})
    assert response.status_code == 401 and "Неверный логин или пароль" in text_of(response.text)


def test_throttling_starts_after_repeated_failures_of_one_account(site: Site) -> None:
    for _ in range(5):
        token = login_form_token(site.client)
        site.client.post("/login", data={"login": "anna", "password": "wrong one", "csrf": token})
    token = login_form_token(site.client)
    response = site.client.post("/login", data={"login": "anna", "password": PASSWORD, "csrf": token})
    assert response.status_code == 429 and "Слишком много неудачных входов" in text_of(response.text)
    assert "ck_session" not in site.client.cookies


def test_throttling_starts_after_repeated_failures_from_one_address(site: Site) -> None:
    for n in range(20):
        token = login_form_token(site.client)
        site.client.post("/login", data={"login": f"guess{n}", "password": "wrong one", "csrf": token})
    token = login_form_token(site.client)
    response = site.client.post("/login", data={"login": "sveta", "password": PASSWORD, "csrf": token})
    assert response.status_code == 429


def test_logout_ends_the_session_on_the_server(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    stolen = site.client.cookies.get("ck_session")
    assert site.client.post("/logout", data={"csrf": csrf}).status_code == 303
    with site.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 0
    site.client.cookies.set("ck_session", stolen or "")
    assert site.client.get("/search").status_code == 303


def test_disable_ends_the_users_sessions_in_every_process(site: Site) -> None:
    log_in(site.client, "sveta")
    assert site.client.get("/agents").status_code == 200
    other_process = Database(site.url)
    try:
        with other_process.unit_of_work() as s:
            users.set_disabled(s, "sveta", True, actor="anna")
    finally:
        other_process.dispose()
    response = site.client.get("/agents")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_an_idle_session_ends(db: Database, db_url: str) -> None:
    seed(db)
    add_users(db)
    with console(db_url, web_idle_minutes=0) as client:
        token = login_form_token(client)
        client.post("/login", data={"login": "anna", "password": PASSWORD, "csrf": token})
        assert client.get("/search").status_code == 303


ACTIONS = [
    ("/households/{ivanov}/numbers", {"number": NEW_NUMBER, "label": "work"}),
    ("/households/{ivanov}/numbers/unlink", {"number": IVANOV_SPOUSE}),
    ("/households/{ivanov}/numbers/relabel", {"number": IVANOV_MOBILE, "label": "home"}),
    ("/households/{ivanov}/members", {"name": "Иванов Пётр"}),
    ("/households/{ivanov}/owner", {"login": "orlov", "reason": "ivanova в отпуске"}),
    ("/households/{ivanov}/owners", {"owners": "ivanova, orlov", "mode": "equal", "reason": "вдвоём"}),
    ("/households/{ivanov}/merge", {"other": "{petrov}", "owner": "ivanova", "reason": "одна семья"}),
    ("/households/{ivanov}/exclusions", {"login": "kim", "reason": "грубил"}),
    ("/agents/ivanova/state", {"state": "paused"}),
]


def _fill(site: Site, text: str) -> str:
    return text.format(ivanov=site.ivanov, petrov=site.petrov)


@pytest.mark.parametrize(("path", "data"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(
    site: Site, path: str, data: dict[str, str]
) -> None:
    csrf = log_in(site.client, "anna")
    before = rows(site.db)
    form = {k: _fill(site, v) for k, v in data.items()}
    for refused in (form, {**form, "csrf": "not-the-token"}):
        response = site.client.post(_fill(site, path), data=refused)
        assert response.status_code == 403
        assert "Форма устарела" in text_of(response.text)
    assert rows(site.db) == before
    response = site.client.post(_fill(site, path), data={**form, "csrf": csrf})
    assert response.status_code == 303
    assert rows(site.db) != before


def test_the_csrf_token_may_come_in_the_htmx_header(site: Site) -> None:
    csrf = log_in(site.client, "sveta")
    response = site.client.post(
        "/agents/kim/state", data={"state": "paused"}, headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert 'data-agent="kim" class="state-paused"' in response.text


def test_get_changes_nothing(site: Site) -> None:
    log_in(site.client, "anna")
    before = rows(site.db)
    audit_rows = before["audit"]
    for path in (
        "/search",
        "/search?q=8 (916) 123-45-67",
        "/search?q=Ivanova",
        f"/households/{site.ivanov}",
        f"/households/{site.ivanov}/merge?other={site.petrov}",
        "/agents",
        f"/route?number={PETROV_MOBILE}&line=msk",
        "/audit?actor=test",
    ):
        assert site.client.get(path).status_code in (200, 303)
    for path, _data in ACTIONS:
        if not path.endswith("/merge"):
            assert site.client.get(_fill(site, path)).status_code == 405
    assert rows(site.db) == before and rows(site.db)["audit"] == audit_rows


# -- roles -------------------------------------------------------------------------------------------


def test_a_manager_gets_403_on_another_familys_card_by_url(site: Site) -> None:
    log_in(site.client, "ira")
    assert site.client.get(f"/households/{site.ivanov}").status_code == 200
    response = site.client.get(f"/households/{site.petrov}")
    assert response.status_code == 403 and "Нет доступа" in text_of(response.text)
    assert site.client.get(f"/households/{site.ivanov}/merge?other={site.petrov}").status_code == 403


def test_a_manager_sees_the_card_of_a_family_they_co_own(site: Site) -> None:
    log_in(site.client, "ira")  # agent ivanova
    assert site.client.get(f"/households/{site.petrov}").status_code == 403
    with site.db.unit_of_work() as s:
        households.set_owners(s, site.petrov, ["sidorov", "ivanova"], mode="equal", reason="пара", actor="t")
    card = site.client.get(f"/households/{site.petrov}")
    assert card.status_code == 200 and "Совладельцы: ivanova" in text_of(card.text)


def test_a_managers_search_shows_only_their_own_families(site: Site) -> None:
    log_in(site.client, "ira")
    response = site.client.get("/search", params={"q": "8 (903) 555-01-01"})
    assert response.status_code == 200 and "ничего не найдено" in text_of(response.text)
    response = site.client.get("/search", params={"q": "8 (916) 765-43-21"})
    assert response.headers["location"] == f"/households/{site.ivanov}"


def test_a_managers_search_finds_the_families_they_co_own(site: Site) -> None:
    log_in(site.client, "ira")  # agent ivanova
    with site.db.unit_of_work() as s:
        pair = ["sidorov", "ivanova"]
        households.set_owners(s, site.petrov, pair, mode="ordered", reason="пара", actor="t")
        name = household_reads.get_household(s, site.petrov).name
    by_number = site.client.get("/search", params={"q": "8 (903) 555-01-01"})
    assert by_number.headers["location"] == f"/households/{site.petrov}"
    by_name = site.client.get("/search", params={"q": name})
    assert by_name.headers["location"] == f"/households/{site.petrov}"


def test_a_managers_name_search_finds_their_family_among_many_of_that_name_owned_by_others(
    site: Site,
) -> None:
    """The page lists 50: they must be 50 the manager may open, not 50 of everyone's filtered to none."""
    with site.db.unit_of_work() as s:
        family = {"name": "Смирновы", "members": ("Смирнова Ольга",), "actor": "t"}
        for _ in range(60):
            households.add_household(s, owner="sidorov", **family)
        own = households.add_household(s, owner="ivanova", **family)
    log_in(site.client, "ira")  # agent ivanova
    for typed in ("Смирнова Ольга", "smirnovy"):
        answer = site.client.get("/search", params={"q": typed})
        assert answer.headers.get("location") == f"/households/{own.id}", typed
    log_in(site.client, "sveta")
    listed = site.client.get("/search", params={"q": "Смирнова Ольга"}).text
    assert listed.count('<td><a href="/households/') == 50


def test_a_manager_is_read_only_even_on_their_own_family(site: Site) -> None:
    csrf = log_in(site.client, "ira")
    before = rows(site.db)
    for path, data in ACTIONS:
        form = {k: _fill(site, v) for k, v in data.items()} | {"csrf": csrf}
        assert site.client.post(_fill(site, path), data=form).status_code == 403, path
    for path in ("/agents", "/route", "/audit"):
        assert site.client.get(path).status_code == 403
    assert rows(site.db) == before
    card = text_of(site.client.get(f"/households/{site.ivanov}").text)
    assert "Привязать номер" not in card and "Менеджеры" not in card


@pytest.mark.parametrize("login", ["anna", "sveta"])
def test_admins_and_supervisors_keep_families_and_agent_states(site: Site, login: str) -> None:
    csrf = log_in(site.client, login)
    for path, data in ACTIONS:
        form = {k: _fill(site, v) for k, v in data.items()} | {"csrf": csrf}
        response = site.client.post(_fill(site, path), data=form)
        assert response.status_code == 303, (path, text_of(response.text))
    assert last_audit(site.db).actor == login
    with site.db.reader() as s:
        assert [a.state for a in offices.list_agents(s) if a.login == "ivanova"] == ["paused"]


# -- each action ---------------------------------------------------------------------------------------


def test_link_a_number_in_any_spelling_and_the_audit_names_the_web_user(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    response = site.client.post(
        f"/households/{site.ivanov}/numbers",
        data={"number": "8 (926) 111-22-33", "label": "work", "csrf": csrf},
    )
    assert response.headers["location"] == f"/households/{site.ivanov}?done=linked"
    assert ("+79261112233", "work") in [(n.number, n.label) for n in view(site.db, site.ivanov).numbers]
    row = last_audit(site.db)
    assert (row.action, row.subject, row.actor) == ("link", NEW_NUMBER, "anna")
    assert "Номер привязан" in text_of(site.client.get(response.headers["location"]).text)


def test_a_refused_link_names_the_other_family_and_writes_nothing(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    before = rows(site.db)
    response = site.client.post(
        f"/households/{site.ivanov}/numbers",
        data={"number": "8 903 555-01-01", "label": "mobile", "csrf": csrf},
    )
    assert response.status_code == 409
    page = text_of(response.text)
    assert "уже принадлежит семье «Петровы»" in page and f"карточка № {site.petrov}" in page
    assert "Перенести сюда" in page
    assert rows(site.db) == before


def test_move_it_here_records_the_move(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    response = site.client.post(
        f"/households/{site.ivanov}/numbers",
        data={
            "number": PETROV_MOBILE,
            "label": "mobile",
            "move": "1",
            "reason": "это номер Ивановых",
            "csrf": csrf,
        },
    )
    assert response.headers["location"].endswith("?done=moved")
    assert view(site.db, site.petrov).numbers == ()
    with site.db.reader() as s:
        moves = [r for r in audit.trail(s, action="move")]
    assert {(r.household, r.reason, r.actor) for r in moves} == {
        (site.ivanov, "это номер Ивановых", "anna"),
        (site.petrov, "это номер Ивановых", "anna"),
    }


def test_a_bad_number_is_refused_with_a_message(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    before = rows(site.db)
    response = site.client.post(
        f"/households/{site.ivanov}/numbers", data={"number": "12", "label": "mobile", "csrf": csrf}
    )
    assert response.status_code == 422 and "Проверьте данные" in text_of(response.text)
    assert rows(site.db) == before


def test_unlink_only_a_number_of_the_family_in_the_url(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    before = rows(site.db)
    response = site.client.post(
        f"/households/{site.ivanov}/numbers/unlink", data={"number": PETROV_MOBILE, "csrf": csrf}
    )
    assert response.status_code == 422 and rows(site.db) == before
    response = site.client.post(
        f"/households/{site.ivanov}/numbers/unlink", data={"number": IVANOV_SPOUSE, "csrf": csrf}
    )
    assert response.status_code == 303
    assert [n.number for n in view(site.db, site.ivanov).numbers] == [IVANOV_MOBILE]
    assert (last_audit(site.db).action, last_audit(site.db).actor) == ("unlink", "anna")


def test_relabel_and_add_a_member(site: Site) -> None:
    csrf = log_in(site.client, "sveta")
    site.client.post(
        f"/households/{site.ivanov}/numbers/relabel",
        data={"number": IVANOV_MOBILE, "label": "home", "csrf": csrf},
    )
    site.client.post(f"/households/{site.ivanov}/members", data={"name": "Иванов Пётр", "csrf": csrf})
    household = view(site.db, site.ivanov)
    assert household.numbers[0].label == "home" and household.members[-1] == "Иванов Пётр"


def test_transfer_needs_a_reason_and_the_card_then_says_who_and_why(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    response = site.client.post(
        f"/households/{site.ivanov}/owner", data={"login": "orlov", "reason": " ", "csrf": csrf}
    )
    assert response.status_code == 422 and view(site.db, site.ivanov).owner == "ivanova"
    site.client.post(
        f"/households/{site.ivanov}/owner",
        data={"login": "orlov", "reason": "ivanova уволилась", "csrf": csrf},
    )
    assert view(site.db, site.ivanov).owner == "orlov"
    card = text_of(site.client.get(f"/households/{site.ivanov}").text)
    assert "Передана от ivanova к orlov (anna," in card and "ivanova уволилась" in card


def test_a_supervisor_sets_co_owners_with_a_reason_and_the_card_shows_them(site: Site) -> None:
    csrf = log_in(site.client, "sveta")
    refused = site.client.post(
        f"/households/{site.ivanov}/owners",
        data={"owners": "ivanova, nobody", "mode": "equal", "reason": "вдвоём", "csrf": csrf},
    )
    assert refused.status_code == 404 and view(site.db, site.ivanov).co_owners == ()
    response = site.client.post(
        f"/households/{site.ivanov}/owners",
        data={"owners": "ivanova, orlov", "mode": "equal", "reason": "работают вдвоём", "csrf": csrf},
    )
    assert response.status_code == 303
    household = view(site.db, site.ivanov)
    assert (household.owner, household.co_owners, household.owners_mode) == ("ivanova", ("orlov",), "equal")
    card = text_of(site.client.get(f"/households/{site.ivanov}").text)
    assert "Совладельцы: orlov · на равных: звонок всем сразу, доля поровну" in card
    with site.db.reader() as s:
        [row] = [e for e in audit.trail(s, site.ivanov) if e.action == "owners"]
    assert (row.after, row.reason, row.actor) == ("ivanova,orlov (equal)", "работают вдвоём", "sveta")
    manager = log_in(site.client, "ira")
    assert (
        site.client.post(
            f"/households/{site.ivanov}/owners",
            data={"owners": "ivanova", "mode": "ordered", "reason": "сама", "csrf": manager},
        ).status_code
        == 403
    )


def test_merge_shows_what_moves_asks_to_confirm_then_merges(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    preview = site.client.get(f"/households/{site.ivanov}/merge", params={"other": site.petrov})
    assert preview.status_code == 200
    assert "+7 903 555-01-01" in text_of(preview.text) and "hx-confirm=" in preview.text
    assert view(site.db, site.petrov).id == site.petrov
    response = site.client.post(
        f"/households/{site.ivanov}/merge",
        data={"other": str(site.petrov), "owner": "ivanova", "reason": "одна семья", "csrf": csrf},
    )
    assert response.status_code == 303
    assert PETROV_MOBILE in [n.number for n in view(site.db, site.ivanov).numbers]
    assert site.client.get(f"/households/{site.petrov}").status_code == 404


def test_exclude_include_and_the_owner_cannot_be_excluded(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    response = site.client.post(
        f"/households/{site.ivanov}/exclusions", data={"login": "ivanova", "csrf": csrf}
    )
    refused = text_of(response.text)
    assert response.status_code == 409 and f"ivanova — владелец семьи № {site.ivanov}" in refused
    site.client.post(
        f"/households/{site.ivanov}/exclusions", data={"login": "kim", "reason": "грубил", "csrf": csrf}
    )
    with site.db.reader() as s:
        assert household_reads.exclusions_of(s, site.ivanov) == ["kim"]
    site.client.post(f"/households/{site.ivanov}/exclusions/remove", data={"login": "kim", "csrf": csrf})
    with site.db.reader() as s:
        assert household_reads.exclusions_of(s, site.ivanov) == []
    assert (last_audit(site.db).action, last_audit(site.db).actor) == ("include", "anna")


def test_the_agents_board_pauses_and_resumes_and_polls_a_fragment(site: Site) -> None:
    csrf = log_in(site.client, "sveta")
    page = site.client.get("/agents").text
    assert 'hx-trigger="every 3s"' in page
    site.client.post("/agents/orlov/state", data={"state": "paused", "csrf": csrf})
    fragment = site.client.get("/agents", headers={"HX-Request": "true"})
    assert (
        fragment.text.lstrip().startswith("<tbody")
        and 'data-agent="orlov" class="state-paused"' in fragment.text
    )
    site.client.post("/agents/orlov/state", data={"state": "available", "csrf": csrf})
    with site.db.reader() as s:
        assert [a.state for a in offices.list_agents(s) if a.login == "orlov"] == ["available"]


def test_the_route_page_shows_the_plan_the_router_explains(site: Site) -> None:
    log_in(site.client, "sveta")
    _decision, plan = Router(site.db, Settings(db=site.url)).explain("8 916 765-43-21", "msk")
    page = text_of(site.client.get("/route", params={"number": "8 916 765-43-21", "line": "msk"}).text)
    assert f"Семья № {site.ivanov}" in page
    for attempt in plan.attempts:
        assert f"{attempt.seq} {attempt.agent}" in page
    refused = text_of(site.client.get("/route", params={"number": "8 916 765-43-21", "line": "nowhere"}).text)
    assert "Не найдено: ни у одного офиса нет линии 'nowhere'" in refused


def test_the_audit_log_filters_by_family_actor_action_and_period(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    site.client.post(f"/households/{site.ivanov}/members", data={"name": "Иванов Пётр", "csrf": csrf})
    page = site.client.get("/audit", params={"actor": "anna", "household": site.ivanov, "action": "member"})
    assert "Иванов Пётр" in text_of(page.text) and "setup" not in text_of(page.text)
    empty = site.client.get("/audit", params={"actor": "anna", "until": "2000-01-01"})
    assert "Подходящих записей нет" in text_of(empty.text)
    assert site.client.get("/audit", params={"since": "вчера"}).status_code == 422


# -- the page itself ---------------------------------------------------------------------------------


def test_every_page_sends_the_security_headers_and_no_inline_script(site: Site) -> None:
    log_in(site.client, "anna")
    for path in (
        "/login",
        "/search",
        f"/households/{site.ivanov}",
        "/agents",
        "/route",
        "/audit",
        "/nowhere",
    ):
        response = site.client.get(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        scripts = response.text.count("<script")
        assert scripts == response.text.count('<script src="/static/htmx.min.js"></script>'), path
        assert re.search(r"\son[a-z]+=", response.text) is None, f"{path}: an inline event handler"
        assert " style=" not in response.text, f"{path}: an inline style"


def test_an_error_is_a_russian_page_never_a_traceback(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(site.client, "anna")
    missing = site.client.get("/households/99999")
    assert missing.status_code == 404 and "Не найдено" in text_of(missing.text)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug, with a secret inside")

    monkeypatch.setattr(household_reads, "exclusions_of", broken)
    response = site.client.get(f"/households/{site.ivanov}")
    assert response.status_code == 500
    page = text_of(response.text)
    assert "На сервере что-то пошло не так" in page and "secret" not in page and "Traceback" not in page


def test_a_verb_a_page_does_not_have_is_405(site: Site) -> None:
    log_in(site.client, "anna")
    response = site.client.put("/search")
    assert response.status_code == 405 and response.headers["allow"] == "GET"


def test_english_is_a_setting(db: Database, db_url: str) -> None:
    seed(db)
    add_users(db)
    with console(db_url, console_language="en") as client:
        log_in(client, "anna")
        page = text_of(client.get("/search").text)
    assert "Find a family" in page and "Найти" not in page


def test_why_a_booking_has_no_split_is_said_in_russian(site: Site) -> None:
    from datetime import UTC, datetime

    from router.splits import bookings

    with site.db.unit_of_work() as s:
        booking = bookings.add_booking(
            s, site.petrov, ref="T-9", amount=100_00, closed_at=datetime(2026, 3, 1, tzinfo=UTC), actor="t"
        )
    log_in(site.client, "sveta")
    for path in (f"/bookings/{booking.id}", f"/households/{site.petrov}/timeline"):
        page = text_of(site.client.get(path).text)
        assert "в окне никто не принял ни одного звонка этой семьи" in page, path
        assert "nobody answered" not in page
