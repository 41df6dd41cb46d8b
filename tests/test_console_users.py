"""Console users kept by an admin in the console, on both backends (issue 19: "Admin: everything, users too").

Each action is the router's `users` function the CLI calls; the new user
logs in (or cannot) through the real login form; a refusal is said in
Russian with the form kept, passwords aside; only an admin may.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from router.accounts import users
from router.directory import audit
from router.storage.db import Database
from tests.console_client import PASSWORD, Site, log_in, login_form_token, seeded_site, text_of

NEW_PASSWORD = "новый-пароль-1"


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[Site]:
    with seeded_site(db, db_url) as made:
        yield made


def post(client: TestClient, token: str, url: str, **data: str) -> tuple[int, str, str]:
    answer = client.post(url, data={"csrf": token, **data})
    return answer.status_code, answer.headers.get("location", ""), answer.text


def logs_in(client: TestClient, login: str, password: str) -> bool:
    token = login_form_token(client)
    answer = client.post("/login", data={"login": login, "password": password, "csrf": token})
    return answer.status_code == 303


def test_an_admin_adds_a_manager_who_then_logs_in_as_that_agent(site: Site) -> None:
    token = log_in(site.client, "anna")
    page = text_of(site.client.get("/users").text)
    assert "Пользователи консоли" in page and "ira" in page and "менеджер" in page
    status, location, _ = post(
        site.client,
        token,
        "/users",
        login="marina",
        role="manager",
        agent="ivanova",
        password=NEW_PASSWORD,
        password_again=NEW_PASSWORD,
    )
    assert (status, location) == (303, "/users?done=added")
    with site.db.reader() as s:
        assert users.user_view(users.get_user(s, "marina")).agent == "ivanova"
        [entry] = [e for e in audit.trail(s, None) if e.action == "user-add" and e.subject == "marina"]
    assert entry.actor == "anna"
    assert logs_in(site.client, "marina", NEW_PASSWORD)


def test_a_refused_user_is_said_in_russian_and_the_form_kept_without_the_passwords(site: Site) -> None:
    token = log_in(site.client, "anna")
    for fields, said in (
        ({"login": "ira", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}, "уже есть"),
        ({"login": "olga", "password": NEW_PASSWORD, "password_again": "иной-пароль"}, "не совпадают"),
        ({"login": "olga", "password": "кратко", "password_again": "кратко"}, "не короче 8"),
    ):
        status, _, html = post(site.client, token, "/users", role="supervisor", agent="", **fields)
        assert status in (409, 422), fields
        assert said in text_of(html), (fields, text_of(html))
        assert f'name="login" required maxlength="64" value="{fields["login"]}"' in html
        assert fields["password"] not in html
    with site.db.reader() as s:
        assert users.find_user(s, "olga") is None


def test_disabling_a_user_ends_their_session_and_a_new_password_replaces_the_old(site: Site) -> None:
    with TestClient(site.client.app, follow_redirects=False) as other:
        log_in(other, "ira")
        assert other.get("/search").status_code == 200
        token = log_in(site.client, "anna")
        assert post(site.client, token, "/users/ira/disable")[:2] == (303, "/users?done=disabled")
        assert other.get("/search").status_code == 303  # back to the login page
        assert not logs_in(other, "ira", PASSWORD)
    assert post(site.client, token, "/users/ira/enable")[:2] == (303, "/users?done=enabled")
    done = post(site.client, token, "/users/ira/password", password=NEW_PASSWORD, password_again=NEW_PASSWORD)
    assert done[:2] == (303, "/users?done=password")
    assert logs_in(TestClient(site.client.app, follow_redirects=False), "ira", NEW_PASSWORD)


def test_an_admin_cannot_disable_their_own_login(site: Site) -> None:
    token = log_in(site.client, "anna")
    status, _, html = post(site.client, token, "/users/anna/disable")
    assert status == 422 and "нельзя отключить свой" in text_of(html)
    with site.db.reader() as s:
        assert not users.get_user(s, "anna").disabled


@pytest.mark.parametrize("login", ["sveta", "ira"])
def test_only_an_admin_keeps_console_users(site: Site, login: str) -> None:
    token = log_in(site.client, login)
    assert site.client.get("/users").status_code == 403
    for url in ("/users", "/users/anna/disable", "/users/anna/password"):
        assert site.client.post(url, data={"csrf": token, "login": "x", "role": "admin"}).status_code == 403
    assert "/users" not in site.client.get("/search").text


def test_a_user_change_without_the_csrf_token_is_refused(site: Site) -> None:
    log_in(site.client, "anna")
    assert site.client.post("/users/ira/disable").status_code == 403
    with site.db.reader() as s:
        assert not users.get_user(s, "ira").disabled
