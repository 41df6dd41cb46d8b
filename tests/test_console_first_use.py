"""What a first-time user of the console stumbled on, each fixed and kept fixed, on both backends.

The users are a travel agency's admin, supervisor and manager: Russian
speakers, not technical, in Moscow time with roubles and kopecks. Each test
is named after what the user gets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from router.storage.db import Database
from tests.console_client import Site, log_in, seeded_site, text_of


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[Site]:
    with seeded_site(db, db_url) as made:
        yield made


def post(client: TestClient, token: str, url: str, **data: str) -> str:
    return client.post(url, data={"csrf": token, **data}).text


def field_value(html: str, form_id_or_action: str, name: str) -> str:
    """What an input of a form shows (a select: its selected option), the form found by its action."""
    form = re.search(rf'<form[^>]*action="{re.escape(form_id_or_action)}".*?</form>', html, re.S)
    assert form is not None, form_id_or_action
    body = form.group(0)
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
    assert "не номер телефона" in text_of(page)
    assert field_value(page, card + "/numbers", "number") == "8 (916) 123-45-6"
    assert field_value(page, card + "/numbers", "label") == "home"


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
