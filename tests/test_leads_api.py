"""`POST /api/v1/leads` on the `callkeeper web` app, on both backends, through Starlette's TestClient.

The app runs with its lifespan (its suggestion index and its webhook thread);
the webhook receiver is a real HTTP server on loopback.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from router.config import Settings
from router.leads import sources, webhooks
from router.storage.db import Database
from router.storage.models import Household, Lead
from tests.routing_helpers import center
from tests.test_leads import ADDRESS, agency  # noqa: F401  (the fixture)
from web.app import create_app

PATH = "/api/v1/leads"
NEW_PHONE = "+79990000001"


@contextmanager
def api(db: Database, **settings: object) -> Iterator[TestClient]:
    app = create_app(Settings(db=db.url, **settings))  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield client


def token(db: Database, name: str = "crm", webhook: str = "") -> str:
    with db.unit_of_work() as s:
        return sources.add_source(s, name, webhook_url=webhook, actor="admin").token


def post(client: TestClient, secret: str, body: Any, **headers: str) -> httpx.Response:
    return client.post(PATH, json=body, headers={"Authorization": f"Bearer {secret}", **headers})


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


@pytest.fixture
def crm(agency: Database) -> str:  # noqa: F811
    return token(agency)


def test_the_spouses_order_from_a_linked_number_goes_to_the_owner(agency: Database, crm: str) -> None:  # noqa: F811
    with api(agency) as client:
        response = post(
            client, crm, {"external_id": "A-1", "phone": "8 (916) 765-43-21", "name": "Иванова Мария"}
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["assigned_to"], body["reason"], body["matched_by"], body["provisional"]) == (
        "m1",
        "owner",
        "number",
        False,
    )


def test_an_order_from_an_unlinked_number_with_the_familys_email_goes_to_the_owner(
    agency: Database,  # noqa: F811
    crm: str,
) -> None:
    with api(agency) as client:
        response = post(
            client, crm, {"external_id": "A-2", "phone": "+79990000000", "email": "IVANOVY@example.ru"}
        )
    assert response.status_code == 201
    assert (response.json()["assigned_to"], response.json()["matched_by"]) == ("m1", "email")


def test_the_gendered_surname_and_the_address_go_to_the_owner_provisionally_with_a_suggestion(
    agency: Database,  # noqa: F811
    crm: str,
) -> None:
    lead = {"external_id": "A-3", "phone": NEW_PHONE, "name": "Иванова Елена", "address": ADDRESS}
    with api(agency) as client:
        response = post(client, crm, lead)
    assert response.status_code == 201
    body = response.json()
    assert (body["assigned_to"], body["matched_by"], body["provisional"]) == ("m1", "suggestion", True)
    assert body["suggestion"]["score"] > 0 and body["suggestion"]["reasons"]


def test_a_new_family_made_by_a_lead_is_suggested_to_the_next_lead(agency: Database, crm: str) -> None:  # noqa: F811
    """The web process's index is kept current: the family a lead created is matched by the next one."""
    first = {
        "external_id": "N-1",
        "phone": "+79990000010",
        "name": "Кузнецов Олег",
        "address": "Казань, ул. Баумана, 7",
    }
    second = {
        "external_id": "N-2",
        "phone": "+79990000011",
        "name": "Кузнецова Анна",
        "address": "Казань, ул. Баумана, 7",
    }
    with api(agency) as client:
        made = post(client, crm, first).json()
        matched = post(client, crm, second).json()
    assert made["matched_by"] == "new"
    assert (matched["household"], matched["provisional"]) == (made["household"], True)


def test_the_same_external_id_sent_50_times_at_once_makes_one_lead(agency: Database, crm: str) -> None:  # noqa: F811
    lead = {"external_id": "DUP-1", "phone": "+79995550000", "name": "Смирнов Олег"}
    with api(agency, lead_api_burst=100) as client, ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: post(client, crm, lead), range(50)))
    assert sorted(a.status_code for a in answers) == [200] * 49 + [201]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    with agency.reader() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 1
        assert s.scalar(select(func.count()).select_from(Household).where(Household.origin == "lead")) == 1


def test_a_repeated_idempotency_key_answers_200_with_the_first_body(agency: Database, crm: str) -> None:  # noqa: F811
    with api(agency) as client:
        first = post(
            client, crm, {"external_id": "K-1", "phone": "+79995550001"}, **{"Idempotency-Key": "k1"}
        )
        again = post(
            client, crm, {"external_id": "K-2", "phone": "+79995550001"}, **{"Idempotency-Key": "k1"}
        )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_no_token_or_a_bad_one_is_401_with_www_authenticate(agency: Database, crm: str) -> None:  # noqa: F811
    with api(agency) as client:
        missing = client.post(PATH, json={"external_id": "T-1", "phone": NEW_PHONE})
        wrong = post(client, crm + "x", {"external_id": "T-1", "phone": NEW_PHONE})
    for response in (missing, wrong):
        problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    with agency.reader() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 0


def test_a_revoked_token_is_401(agency: Database, crm: str) -> None:  # noqa: F811
    with agency.unit_of_work() as s:
        sources.revoke_source(s, "crm", actor="admin")
    with api(agency) as client:
        problem(post(client, crm, {"external_id": "T-2", "phone": NEW_PHONE}), 401)


def test_a_bad_phone_is_422_naming_the_field(agency: Database, crm: str) -> None:  # noqa: F811
    with api(agency) as client:
        body = problem(post(client, crm, {"external_id": "B-1", "phone": "12", "email": "not-an-email"}), 422)
        typed = problem(post(client, crm, {"external_id": 5, "phone": NEW_PHONE, "name": ["x"]}), 422)
    assert fields(body) == {"phone", "email"}
    assert fields(typed) == {"name"}


def test_a_name_with_the_csv_separator_is_kept_as_an_order_not_refused(agency: Database, crm: str) -> None:  # noqa: F811
    """A form's `;` in a name never costs the order: the family's member is written with a comma."""
    with api(agency) as client:
        response = post(client, crm, {"external_id": "S-1", "phone": "+79995550077", "name": "Петрова; Анна"})
    assert response.status_code == 201, response.text
    with agency.reader() as s:
        household = s.get(Household, response.json()["household"])
        assert household is not None
        assert [m.full_name for m in household.members] == ["Петрова, Анна"]


def test_bad_json_is_400(agency: Database, crm: str) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {crm}", "Content-Type": "application/json"}
    with api(agency) as client:
        problem(client.post(PATH, content=b'{"external_id": ', headers=headers), 400)
        problem(client.post(PATH, content=b"[1, 2]", headers=headers), 400)


def test_a_body_past_the_limit_is_413_whether_or_not_its_length_is_declared(
    agency: Database,  # noqa: F811
    crm: str,
) -> None:
    big = json.dumps({"external_id": "L-1", "phone": NEW_PHONE, "note": "x" * 5000}).encode()
    headers = {"Authorization": f"Bearer {crm}", "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    with api(agency, lead_api_max_bytes=2048) as client:
        declared = client.post(PATH, content=big, headers=headers)
        streamed = client.post(PATH, content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    for response in (declared, streamed):
        assert fields(problem(response, 413)) == {"body"}
    with agency.reader() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 0


def test_a_body_that_is_not_json_is_415(agency: Database, crm: str) -> None:  # noqa: F811
    with api(agency) as client:
        response = client.post(
            PATH,
            content=b"external_id=1",
            headers={"Authorization": f"Bearer {crm}", "Content-Type": "text/plain"},
        )
    assert fields(problem(response, 415)) == {"Content-Type"}


def test_over_the_tokens_rate_is_429_with_retry_after_and_other_tokens_go_on(
    agency: Database,  # noqa: F811
    crm: str,
) -> None:
    other = token(agency, "booking")
    with api(agency, lead_api_rate_per_second=0.01, lead_api_burst=2) as client:
        answers = [post(client, crm, {"external_id": f"R-{i}", "phone": NEW_PHONE}) for i in range(3)]
        elsewhere = post(client, other, {"external_id": "R-0", "phone": NEW_PHONE})
    assert [a.status_code for a in answers[:2]] == [201, 201]
    problem(answers[2], 429)
    assert int(answers[2].headers["retry-after"]) >= 1
    assert elsewhere.status_code == 201


class _Receiver(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    seen: ClassVar[list[bytes]] = []
    third: ClassVar[threading.Event]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        cls.seen.append(body)
        self.send_response(cls.answers.pop(0) if cls.answers else 204)
        self.end_headers()
        if len(cls.seen) == 3:
            cls.third.set()

    def log_message(self, *args: object) -> None:
        pass


def test_a_webhook_receiver_that_fails_twice_gets_the_third_try_from_the_web_process(db: Database) -> None:
    handler: type[_Receiver] = type(
        "Receiver", (_Receiver,), {"answers": [500, 503], "seen": [], "third": threading.Event()}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        center(db, msk=1)
        secret = token(db, "website", webhook=f"http://127.0.0.1:{server.server_address[1]}/hook")
        fast = {"lead_webhook_every_seconds": 0.05, "lead_webhook_backoff_seconds": ("0", "0", "0")}
        with api(db, **fast) as client:
            lead = post(client, secret, {"external_id": "W-1", "phone": NEW_PHONE}).json()
            assert handler.third.wait(60), f"the receiver saw {len(handler.seen)} tries"
    finally:
        server.shutdown()
        server.server_close()
    assert [json.loads(b) for b in handler.seen] == [lead] * 3
    with db.reader() as s:
        [delivery] = webhooks.list_deliveries(s)
    assert delivery.delivered_at is not None and delivery.tries == 3 and not delivery.dead
