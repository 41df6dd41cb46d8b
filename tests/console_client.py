"""The console in-process for HTTP tests: one user per role, and a client logged in through the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser

from starlette.testclient import TestClient

from router.accounts import users
from router.config import Settings
from router.storage.db import Database
from tests.agency import seed
from web.app import create_app

PASSWORD = "пароль-для-тестов"
ROLES = {"admin": None, "supervisor": None, "manager": "ivanova", "other_manager": "sidorov"}


def add_users(db: Database) -> None:
    """anna (admin), sveta (supervisor), ira (manager, agent ivanova), oleg (manager, agent sidorov)."""
    with db.unit_of_work() as s:
        users.add_user(s, "anna", role="admin", password=PASSWORD, actor="setup")
        users.add_user(s, "sveta", role="supervisor", password=PASSWORD, actor="setup")
        users.add_user(s, "ira", role="manager", password=PASSWORD, agent="ivanova", actor="setup")
        users.add_user(s, "oleg", role="manager", password=PASSWORD, agent="sidorov", actor="setup")


@contextmanager
def console(db_url: str, **settings: object) -> Iterator[TestClient]:
    """The app with its lifespan run (`with TestClient`), redirects not followed so a 303 is seen;
    over https when the `web_tls` setting says the console is served over TLS."""
    app = create_app(Settings(db=db_url, **settings))  # type: ignore[arg-type]
    base_url = "https://testserver" if settings.get("web_tls") else "http://testserver"
    with TestClient(app, base_url=base_url, follow_redirects=False) as client:
        yield client


def log_in(client: TestClient, login: str, password: str = PASSWORD, next_path: str = "") -> str:
    """Log in through the form; returns the session's CSRF token, read from the page like a browser."""
    token = login_form_token(client)
    response = client.post(
        "/login" + (f"?next={next_path}" if next_path else ""),
        data={"login": login, "password": password, "csrf": token},
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/search").text)


def login_form_token(client: TestClient) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def csrf_of(html: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found is not None, "no CSRF token in hx-headers"
    return found.group(1)


class Text(HTMLParser):
    """The visible text of a page, with whitespace collapsed (what a user reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    parser = Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@dataclass
class Site:
    """A console over the small agency of tests/agency.py, with its users, and the two families' ids."""

    db: Database
    url: str
    client: TestClient
    ivanov: int
    petrov: int


@contextmanager
def seeded_site(db: Database, db_url: str, **settings: object) -> Iterator[Site]:
    ids = seed(db)
    add_users(db)
    with console(db_url, **settings) as client:
        yield Site(db, db_url, client, ids["ivanov"], ids["petrov"])
