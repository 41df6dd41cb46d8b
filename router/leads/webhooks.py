"""Telling a source's CRM who got each lead: an outbox, signed POSTs, backoff, dead letters.

A delivery row is written in the lead's own transaction, so no assignment is
announced that did not happen and none is forgotten. `deliver_due` sends
what is due, one POST each with

    X-Callkeeper-Timestamp: <unix seconds>
    X-Callkeeper-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the source's secret>

A 2xx answer delivers it; anything else (an error status, a refused
connection, a time-out) is tried again after `BACKOFF_SECONDS[n]`, and after
the last try the delivery is kept as dead, listed by `lead deliveries --dead`
and sent again by `lead redeliver`. Standard library HTTP: one small POST
needs no client library.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import NotFound
from router.storage.db import utcnow
from router.storage.models import WebhookDelivery

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd, ... try; after the last one the delivery is dead.
BACKOFF_SECONDS = (10, 60, 300, 1800, 7200)
TIMEOUT_SECONDS = 5.0
# A POST: (url, body, headers) -> HTTP status; raises OSError when nothing answered.
Post = Callable[[str, bytes, dict[str, str]], int]


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    lead: int
    url: str
    tries: int
    next_at: datetime
    last_error: str
    delivered_at: datetime | None
    dead: bool


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def deliver_due(
    session: Session,
    *,
    now: datetime | None = None,
    post: Post | None = None,
    limit: int = 100,
    backoff: Sequence[int] = BACKOFF_SECONDS,
) -> int:
    """Send the deliveries due at `now`; returns how many were delivered.

    `backoff` is the waits before each further try (the setting
    `lead_webhook_backoff_seconds` in the web process).
    """
    now = now or utcnow()
    post = post or _urllib_post
    due = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.dead.is_(False))
        .where(WebhookDelivery.next_at <= now)
        .order_by(WebhookDelivery.next_at, WebhookDelivery.id)
        .limit(limit)
    ).all()
    delivered = 0
    for delivery in due:
        source = delivery.lead.source
        body = delivery.body.encode()
        stamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Callkeeper-Timestamp": str(stamp),
            "X-Callkeeper-Signature": sign(source.webhook_secret, stamp, body),
        }
        delivery.tries += 1
        try:
            status = post(source.webhook_url, body, headers)
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except OSError as exc:
            error = str(exc) or type(exc).__name__
        if not error:
            delivery.delivered_at = now
            delivery.last_error = ""
            delivered += 1
            continue
        delivery.last_error = error[:500]
        if delivery.tries > len(backoff):
            delivery.dead = True
            log.warning(
                "webhook of lead %s to %s is dead after %s tries: %s",
                delivery.lead_id,
                source.name,
                delivery.tries,
                error,
            )
        else:
            delivery.next_at = now + timedelta(seconds=backoff[delivery.tries - 1])
    session.flush()
    return delivered


def list_deliveries(session: Session, *, dead: bool = False, limit: int = 200) -> list[DeliveryView]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if dead:
        query = query.where(WebhookDelivery.dead.is_(True))
    return [
        DeliveryView(
            d.id,
            d.lead_id,
            d.lead.source.webhook_url,
            d.tries,
            d.next_at,
            d.last_error,
            d.delivered_at,
            d.dead,
        )
        for d in session.scalars(query)
    ]


def redeliver(session: Session, delivery_id: int) -> None:
    """A dead delivery is tried again at once, with a fresh set of tries."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    delivery.dead = False
    delivery.tries = 0
    delivery.next_at = utcnow()
    session.flush()


def _urllib_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
