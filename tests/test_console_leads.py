"""The console's leads list and confirmation, and the admin's agent actions (disable, enable, handover).

In-process over HTTP on both backends, posted as a browser would (a form and
its CSRF token); what the database holds afterwards is read back through the
router.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from router.directory import household_reads, households, offices
from router.leads import sources, store
from router.storage.db import Database
from router.storage.models import Household
from tests.agency import PETROV_MOBILE, seed
from tests.console_client import add_users, console, log_in, text_of

ADDRESS = "Москва, ул. Ленина, д. 5, кв. 12"
SPOUSE_NEW = "+79990000001"


@dataclass
class Site:
    db: Database
    client: TestClient
    ivanov: int
    lead: int


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[Site]:
    """The small agency, the Ivanovs with an address, and a provisional lead from the spouse's new number."""
    ids = seed(db)
    add_users(db)
    with db.unit_of_work() as s:
        family = s.get(Household, ids["ivanov"])
        assert family is not None
        family.address = ADDRESS
        token = sources.add_source(s, "website", actor="admin").token
    with console(db_url) as client:
        lead = {"external_id": "A-1", "phone": SPOUSE_NEW, "name": "Иванова Елена", "address": ADDRESS}
        answer = client.post("/api/v1/leads", json=lead, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201 and answer.json()["provisional"], answer.text
        yield Site(db, client, ids["ivanov"], answer.json()["lead"])


def lead(db: Database, lead_id: int) -> store.LeadView:
    with db.reader() as s:
        [found] = [v for v in store.list_leads(s) if v.lead == lead_id]
    return found


def test_the_leads_list_shows_the_provisional_match_waiting(site: Site) -> None:
    log_in(site.client, "sveta")
    page = site.client.get("/leads")
    assert page.status_code == 200
    waiting = page.text.split('class="leads-waiting"')[1].split("</table>")[0]
    assert f'data-lead="{site.lead}"' in waiting and "Подтвердить" in waiting
    assert "Иванова Елена" in text_of(page.text)
    other_source = site.client.get("/leads?source=crm").text
    assert f'data-lead="{site.lead}"' not in other_source.split('class="leads"')[1]
    filtered = site.client.get("/leads?status=provisional&source=website").text
    assert f'data-lead="{site.lead}"' in filtered.split('class="leads"')[1]


def test_a_supervisor_confirms_a_match_and_the_number_is_linked_to_the_family(site: Site) -> None:
    csrf = log_in(site.client, "sveta")
    response = site.client.post(f"/leads/{site.lead}/confirm", data={"csrf": csrf})
    assert response.status_code == 303
    assert not lead(site.db, site.lead).provisional and lead(site.db, site.lead).confirmed_by == "sveta"
    with site.db.reader() as s:
        linked = household_reads.lookup(s, SPOUSE_NEW)
    assert linked is not None and linked.household_id == site.ivanov


def test_an_admin_rejects_a_match_and_the_lead_gets_its_own_family(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    assert site.client.post(f"/leads/{site.lead}/reject", data={"csrf": csrf}).status_code == 303
    rejected = lead(site.db, site.lead)
    assert not rejected.provisional and rejected.household not in (None, site.ivanov)


def test_a_manager_neither_sees_nor_confirms_leads(site: Site) -> None:
    csrf = log_in(site.client, "ira")
    assert site.client.get("/leads").status_code == 403
    assert site.client.post(f"/leads/{site.lead}/confirm", data={"csrf": csrf}).status_code == 403
    assert lead(site.db, site.lead).provisional


def test_confirming_without_the_forms_token_changes_nothing(site: Site) -> None:
    log_in(site.client, "anna")
    assert site.client.post(f"/leads/{site.lead}/confirm", data={}).status_code == 403
    assert lead(site.db, site.lead).provisional


def state(db: Database, login: str) -> str:
    with db.reader() as s:
        return offices.get_agent(s, login).state


def owner(db: Database, household_id: int) -> str | None:
    with db.reader() as s:
        return household_reads.household_view(household_reads.get_household(s, household_id)).owner


def test_an_admin_disables_and_enables_an_agent_and_a_supervisor_may_not(site: Site) -> None:
    csrf = log_in(site.client, "sveta")
    assert site.client.post("/agents/orlov/disable", data={"csrf": csrf}).status_code == 403
    assert state(site.db, "orlov") != "disabled"
    csrf = log_in(site.client, "anna")
    assert "Отключить" in site.client.get("/agents").text
    assert site.client.post("/agents/orlov/disable", data={"csrf": csrf}).status_code == 303
    assert state(site.db, "orlov") == "disabled"
    assert site.client.post("/agents/orlov/enable", data={"csrf": csrf}).status_code == 303
    assert state(site.db, "orlov") == "offline"


def test_the_handover_dialog_shows_the_dry_run_then_applies_that_plan(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    dialog = site.client.get("/agents/ivanova/handover?to=orlov")
    assert dialog.status_code == 200
    table = text_of(dialog.text.split('class="handover-plan"')[1].split("</table>")[0])
    assert f"№ {site.ivanov} Ивановы orlov" in table
    assert owner(site.db, site.ivanov) == "ivanova"
    digest = re.search(r'name="plan" value="([0-9a-f]+)"', dialog.text)
    assert digest is not None
    form = {"csrf": csrf, "plan": digest.group(1), "to": "orlov", "office": "", "rule": "fewest"}
    assert site.client.post("/agents/ivanova/handover", data={**form, "reason": ""}).status_code == 422
    assert owner(site.db, site.ivanov) == "ivanova"
    done = site.client.post("/agents/ivanova/handover", data={**form, "reason": "уходит в отпуск"})
    assert done.status_code == 303
    assert owner(site.db, site.ivanov) == "orlov"


def test_a_handover_whose_families_changed_since_the_dry_run_is_refused(site: Site) -> None:
    csrf = log_in(site.client, "anna")
    dialog = site.client.get("/agents/ivanova/handover?to=orlov").text
    digest = re.search(r'name="plan" value="([0-9a-f]+)"', dialog)
    assert digest is not None
    form = {"csrf": csrf, "plan": digest.group(1), "to": "kim", "office": "", "rule": "", "reason": "отпуск"}
    assert site.client.post("/agents/ivanova/handover", data=form).status_code == 409
    assert owner(site.db, site.ivanov) == "ivanova"


def test_a_member_added_in_the_console_is_seen_by_the_next_leads_match(site: Site) -> None:
    """The web process's suggestion index follows the console's changes to a family."""
    csrf = log_in(site.client, "anna")
    with site.db.unit_of_work() as s:
        token = sources.add_source(s, "crm", actor="admin").token
        petrov = household_reads.lookup(s, PETROV_MOBILE)
        assert petrov is not None
        family = s.get(Household, petrov.household_id)
        assert family is not None
        family.address = "Тверь, ул. Советская, д. 3"
    form = {"csrf": csrf, "name": "Петрова Зинаида Ильинична"}
    assert site.client.post(f"/households/{petrov.household_id}/members", data=form).status_code == 303
    order = {
        "external_id": "Z-1",
        "phone": "+79990000077",
        "name": "Петрова Зинаида",
        "address": "Тверь, Советская 3",
    }
    answer = site.client.post("/api/v1/leads", json=order, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["household"], answer.json()["provisional"]) == (petrov.household_id, True)


def test_confirming_a_lead_whose_number_another_family_took_is_refused_in_russian(site: Site) -> None:
    with site.db.unit_of_work() as s:
        petrov = household_reads.resolve(s, PETROV_MOBILE, "RU").id
        households.link(s, SPOUSE_NEW, petrov, actor="admin", reason="their new phone")
    csrf = log_in(site.client, "sveta")
    response = site.client.post(f"/leads/{site.lead}/confirm", data={"csrf": csrf})
    assert response.status_code == 409
    page = text_of(response.text)
    assert (
        f"Отказано: номер +7 999 000-00-01 принадлежит семье № {petrov} «Петровы» (владелец sidorov)" in page
    )
    assert "household" not in page and "--move" not in page
    assert lead(site.db, site.lead).provisional


def test_a_familys_lead_is_shown_on_its_timeline(site: Site) -> None:
    log_in(site.client, "sveta")
    response = site.client.get(f"/households/{site.ivanov}/timeline")
    assert response.status_code == 200
    [event] = re.findall(r'<li class="event lead"[^>]*>.*?</li>', response.text, re.S)
    assert "A-1" in event and "website" in event
