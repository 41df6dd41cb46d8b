"""Orders and web leads: a family's order reaches the same manager as its call.

On real SQLite and PostgreSQL databases; the webhook against a real HTTP
receiver on loopback.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import func, select

from identity.matching import DEFAULT_THRESHOLD
from router.config import Settings
from router.directory import audit, household_reads, households, offices, suggestions
from router.leads import sources, store, webhooks
from router.leads.values import InvalidLead, LeadIn
from router.routing.plan import OFFICE_POOL, OWNER, OWNER_BACKUP
from router.storage.db import Database, utcnow
from router.storage.models import Household, Lead, Member
from tests.helpers import run_cli
from tests.routing_helpers import MSK_LINE, NUMBER, SPOUSE, center, household, set_state

ADDRESS = "Москва, ул. Ленина, д. 5, кв. 12"


def settings(db: Database, **values: object) -> Settings:
    return Settings(db=db.url, **values)  # type: ignore[arg-type]


def source(db: Database, name: str = "website", webhook: str = "") -> sources.NewSource:
    with db.unit_of_work() as s:
        return sources.add_source(s, name, webhook_url=webhook, actor="admin")


def submit(db: Database, lead: LeadIn, **values: object) -> tuple[store.LeadView, bool]:
    return store.submit(db, "website", lead, settings=settings(db, **values))


@pytest.fixture
def agency(db: Database) -> Database:
    """msk (m1, m2, m3) and spb (s1); the Ivanovs own by m1, with the spouse's phone linked."""
    center(db, msk=3)
    household(db, "m1", NUMBER, SPOUSE)
    with db.unit_of_work() as s:
        ivanovs = household_reads.lookup(s, NUMBER)
        assert ivanovs is not None
        family = s.get(Household, ivanovs.household_id)
        assert family is not None
        family.email = "Ivanovy@Example.ru"
        family.address = ADDRESS
        family.name = "Ивановы"
        family.members.append(Member(position=0, full_name="Иванов Сергей Петрович"))
    source(db)
    return db


def test_the_spouses_order_from_a_linked_number_goes_to_the_owner(agency: Database) -> None:
    lead, created = submit(agency, LeadIn("A-1", phone="8 (916) 765-43-21", name="Иванова Мария"))
    assert created
    assert (lead.assigned_to, lead.reason, lead.matched_by, lead.provisional) == (
        "m1",
        OWNER,
        "number",
        False,
    )


def test_an_order_from_an_unlinked_number_with_the_familys_email_goes_to_the_owner(agency: Database) -> None:
    lead, _ = submit(agency, LeadIn("A-2", phone="+79990000000", email="ivanovy@example.RU"))
    assert (lead.assigned_to, lead.matched_by, lead.provisional) == ("m1", "email", False)
    with agency.reader() as s:
        assert household_reads.lookup(s, "+79990000000") is None


def test_an_order_with_the_gendered_surname_and_the_address_goes_to_the_owner_provisionally(
    agency: Database,
) -> None:
    with agency.reader() as s:
        index = suggestions.load_index(s)
    lead, _ = store.submit(
        agency,
        "website",
        LeadIn("A-3", phone="+79990000001", name="Иванова Елена", address="Москва, ул. Ленина, 5, кв 12"),
        settings=settings(agency),
        index=index,
        auto_threshold=DEFAULT_THRESHOLD,
    )
    assert (lead.assigned_to, lead.matched_by, lead.provisional) == ("m1", "suggestion", True)
    assert lead.suggestion is not None and lead.suggestion["score"] >= DEFAULT_THRESHOLD
    with agency.reader() as s:
        assert [v.lead for v in store.list_leads(s, provisional=True)] == [lead.lead]
        assert household_reads.lookup(s, "+79990000001") is None
    with agency.unit_of_work() as s:
        confirmed = store.confirm(s, lead.lead, actor="admin")
    assert not confirmed.provisional and confirmed.confirmed_by == "admin"
    with agency.reader() as s:
        linked = household_reads.lookup(s, "+79990000001")
        assert linked is not None and linked.household_id == lead.household


def test_a_rejected_match_gives_the_lead_its_own_family(agency: Database) -> None:
    with agency.reader() as s:
        index = suggestions.load_index(s)
    lead, _ = store.submit(
        agency,
        "website",
        LeadIn("A-4", phone="+79990000002", name="Иванова Елена", address=ADDRESS),
        settings=settings(agency),
        index=index,
        auto_threshold=DEFAULT_THRESHOLD,
    )
    with agency.unit_of_work() as s:
        rejected = store.reject(s, lead.lead, actor="admin", settings=settings(agency))
    assert rejected.household != lead.household and not rejected.provisional
    again, _ = submit(agency, LeadIn("A-5", phone="+79990000002"))
    assert again.household == rejected.household and again.matched_by == "number"


def test_the_same_external_id_sent_50_times_at_once_makes_one_lead(agency: Database) -> None:
    lead = LeadIn("DUP-1", phone="+79995550000", name="Смирнов Олег")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: submit(agency, lead), range(50)))
    assert sum(1 for _, created in results if created) == 1
    assert len({r.lead for r, _ in results}) == 1
    assert len({(r.household, r.assigned_to) for r, _ in results}) == 1
    with agency.reader() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 1
        assert s.scalar(select(func.count()).select_from(Household).where(Household.origin == "lead")) == 1


def test_a_repeated_idempotency_key_answers_with_the_first_lead(agency: Database) -> None:
    first, created = submit(agency, LeadIn("K-1", phone="+79995550001", idempotency_key="abc"))
    again, created_again = submit(agency, LeadIn("K-2", phone="+79995550001", idempotency_key="abc"))
    assert created and not created_again and again.lead == first.lead


def test_a_bad_phone_and_email_are_refused_naming_each_field(agency: Database) -> None:
    with pytest.raises(InvalidLead) as refused:
        submit(agency, LeadIn("B-1", phone="12", email="not-an-email"))
    assert set(refused.value.fields) == {"phone", "email"}
    with pytest.raises(InvalidLead) as empty:
        submit(agency, LeadIn("B-2", name="Кто-то"))
    assert set(empty.value.fields) == {"phone"}
    with agency.reader() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 0


def test_a_second_order_within_the_window_goes_to_the_same_manager_as_a_duplicate(agency: Database) -> None:
    first, _ = submit(agency, LeadIn("D-1", phone="+79995550002"))
    with agency.unit_of_work() as s:
        assert first.household is not None
        households.transfer(s, first.household, "m3", reason="supervisor's choice", actor="admin")
    second, _ = submit(agency, LeadIn("D-2", phone="+79995550002"))
    assert (second.assigned_to, second.reason, second.duplicate_of) == (
        first.assigned_to,
        "duplicate",
        first.lead,
    )
    outside, _ = submit(agency, LeadIn("D-3", phone="+79995550002"), lead_duplicate_hours=0)
    assert (outside.assigned_to, outside.reason) == ("m3", OWNER)


def test_new_families_leads_go_round_the_available_agents_counted_over_leads(agency: Database) -> None:
    set_state(agency, "m3", "paused")
    given = [submit(agency, LeadIn(f"N-{n}", phone=f"+7999666000{n}", line=MSK_LINE))[0] for n in range(4)]
    assert [g.reason for g in given] == [OFFICE_POOL] * 4
    assert [g.assigned_to for g in given] == ["m1", "m2", "m1", "m2"]
    with agency.reader() as s:
        owners = {h.owner for h in household_reads.list_households(s) if h.id in {g.household for g in given}}
    assert owners == {"m1", "m2"}


def test_a_lead_does_not_set_the_owner_when_the_setting_says_so(agency: Database) -> None:
    lead, _ = submit(agency, LeadIn("O-1", phone="+79995550003"), lead_sets_owner=False)
    assert lead.assigned_to is not None
    with agency.reader() as s:
        assert lead.household is not None
        assert household_reads.household_view(household_reads.get_household(s, lead.household)).owner is None


def test_a_paused_owner_still_gets_the_lead_and_a_disabled_one_goes_to_the_backup(agency: Database) -> None:
    set_state(agency, "m1", "paused")
    paused, _ = submit(agency, LeadIn("P-1", phone=NUMBER))
    assert (paused.assigned_to, paused.reason) == ("m1", OWNER)
    with agency.unit_of_work() as s:
        offices.set_agent_backup(s, "m1", "m2")
        offices.disable_agent(s, "m1", actor="admin")
    disabled, _ = submit(agency, LeadIn("P-2", phone=NUMBER), lead_duplicate_hours=0)
    assert (disabled.assigned_to, disabled.reason) == ("m2", OWNER_BACKUP)


def test_a_revoked_token_no_longer_authenticates(db: Database) -> None:
    made = source(db, "crm")
    with db.reader() as s:
        assert sources.authenticate(s, made.token) is not None
        assert sources.authenticate(s, made.token + "x") is None
    with db.unit_of_work() as s:
        sources.revoke_source(s, "crm", actor="admin")
    with db.reader() as s:
        assert sources.authenticate(s, made.token) is None


class _Receiver(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((dict(self.headers), body))
        self.send_response(type(self).answers.pop(0))
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"answers": [500, 503, 204], "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_a_webhook_receiver_that_fails_twice_gets_the_third_try(
    db: Database, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    center(db, msk=1)
    made = source(db, "website", webhook=url)
    lead, _ = submit(db, LeadIn("W-1", phone="+79995550004"))
    now = utcnow()
    for step, expected in enumerate((0, 0, 1)):
        with db.unit_of_work() as s:
            assert webhooks.deliver_due(s, now=now) == expected
        now += timedelta(seconds=webhooks.BACKOFF_SECONDS[step] + 1)
    assert len(handler.seen) == 3
    headers, body = handler.seen[-1]
    assert json.loads(body) == lead.reply()
    stamp = int(headers["X-Callkeeper-Timestamp"])
    assert headers["X-Callkeeper-Signature"] == webhooks.sign(made.webhook_secret, stamp, body)
    with db.reader() as s:
        [delivery] = webhooks.list_deliveries(s)
    assert delivery.delivered_at is not None and delivery.tries == 3 and not delivery.dead


def test_a_webhook_that_never_answers_is_kept_as_dead_and_can_be_sent_again(db: Database) -> None:
    center(db, msk=1)
    source(db, "website", webhook="http://127.0.0.1:9/closed")
    submit(db, LeadIn("W-2", phone="+79995550005"))
    now = utcnow()
    for _ in range(len(webhooks.BACKOFF_SECONDS) + 1):
        with db.unit_of_work() as s:
            webhooks.deliver_due(s, now=now)
        now += timedelta(days=1)
    with db.reader() as s:
        [dead] = webhooks.list_deliveries(s, dead=True)
    assert dead.tries == len(webhooks.BACKOFF_SECONDS) + 1 and dead.last_error
    with db.unit_of_work() as s:
        webhooks.redeliver(s, dead.id)
    with db.reader() as s:
        assert webhooks.list_deliveries(s, dead=True) == []


def test_lead_import_is_all_or_nothing(
    agency: Database, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,phone,name\nI-1,+79995550010,Орлов\nI-2,12,Кто\nI-1,+79995550011,Ещё\n")
    result = run_cli(capsys, db_url, "lead", "import", str(bad), "--source", "website")
    assert result.code == 5
    assert "line 3: phone" in result.err and "line 4: external_id I-1 appears twice" in result.err
    with agency.reader() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 0
    good = tmp_path / "good.csv"
    good.write_text("external_id,phone,name\nI-1,+79995550010,Орлов\nI-2,8 916 765 43 21,Иванова\n")
    result = run_cli(capsys, db_url, "lead", "import", str(good), "--source", "website")
    assert result.code == 0, result.err
    assert "imported 2 leads" in result.out
    listed = run_cli(capsys, db_url, "lead", "list", "--json")
    assert {(v["external_id"], v["assigned_to"]) for v in json.loads(listed.out)} >= {("I-2", "m1")}


def test_token_add_prints_the_token_once_and_stores_only_its_hash(
    db: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, db_url, "token", "add", "bitrix24")
    assert result.code == 0, result.err
    token = result.out.split("token ")[1].split()[0]
    with db.reader() as s:
        found = sources.authenticate(s, token)
        assert found is not None and found.token_hash == sources.token_hash(token)
        assert token not in json.dumps([v.as_json() for v in sources.list_sources(s)])


def test_a_lead_of_co_owners_goes_to_the_first_available_in_order_or_the_equal_one_with_fewest(
    agency: Database,
) -> None:
    with agency.unit_of_work() as s:
        ivanovs = household_reads.lookup(s, NUMBER)
        assert ivanovs is not None
        households.set_owners(s, ivanovs.household_id, ["m1", "m2"], mode="ordered", reason="pair", actor="a")
    set_state(agency, "m1", "paused")
    ordered, _ = submit(agency, LeadIn("C-1", phone=NUMBER))
    assert (ordered.assigned_to, ordered.reason) == ("m2", OWNER)
    set_state(agency, "m1", "available")
    with agency.unit_of_work() as s:
        households.set_owners(s, ivanovs.household_id, ["m1", "m2"], mode="equal", reason="pair", actor="a")
    given = [submit(agency, LeadIn(f"C-{n}", phone=NUMBER), lead_duplicate_hours=0)[0] for n in range(2, 5)]
    # m2 already has one lead today (C-1): m1 gets the next, then they take turns.
    assert [(g.assigned_to, g.reason) for g in given] == [("m1", OWNER), ("m2", OWNER), ("m1", OWNER)]


@pytest.mark.parametrize("sets_owner", [True, False])
def test_a_new_familys_index_record_is_what_the_database_holds(agency: Database, sets_owner: bool) -> None:
    """The API adds a lead's new family to its index from the lead, not a read: it must be the same record."""
    lead, _ = submit(
        agency,
        LeadIn(
            "R-1", phone="+79995550005", name="Петрова  Анна", email="Petrova@Example.ru", address=ADDRESS
        ),
        lead_sets_owner=sets_owner,
    )
    assert lead.matched_by == "new" and lead.household is not None
    with agency.reader() as s:
        held = suggestions.household_record(s, lead.household)
    assert store.new_family_record(lead, settings(agency, lead_sets_owner=sets_owner)) == held
    assert held is not None and (held.owner is not None) == sets_owner


def test_a_leads_new_family_is_written_and_audited_as_an_admins_would_be(agency: Database) -> None:
    lead, _ = submit(agency, LeadIn("R-2", phone="+79995550006", name="Петрова Анна", line=MSK_LINE))
    assert lead.household is not None
    with agency.reader() as s:
        family = household_reads.household_view(household_reads.get_household(s, lead.household))
        trail = audit.trail(s, lead.household)
    assert (family.name, family.owner, family.members, family.origin) == (
        "Петрова Анна",
        lead.assigned_to,
        ("Петрова Анна",),
        "lead",
    )
    assert [(n.number, n.label) for n in family.numbers] == [("+79995550006", "mobile")]
    assert [(e.action, e.after, e.actor) for e in trail] == [
        ("create", f"owner={lead.assigned_to} numbers=+79995550006", "lead:website")
    ]
    with agency.reader() as s:  # found by name in the console, as an admin's family is
        assert [f.id for f in household_reads.search_names(s, "Petrova Anna")] == [lead.household]
