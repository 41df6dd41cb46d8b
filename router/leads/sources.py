"""Lead sources and their bearer tokens: shown once, stored hashed, revocable.

A token is `ck_` and 32 random bytes (URL-safe base64). Only its SHA-256 is
stored: with that much entropy nobody can guess a token from its hash, so a
slow password hash would only cost every request time. A source may have a
webhook (`router.leads.webhooks`); its signing secret is made here too and
shown once as well.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from router.directory import audit
from router.errors import Conflict, InvalidInput, NotFound
from router.storage.db import utcnow
from router.storage.models import LeadSource
from router.storage.prepared import Prepared

TOKEN_PREFIX = "ck_"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class SourceView:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    webhook_url: str

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "webhook": self.webhook_url or None,
        }


@dataclass(frozen=True, slots=True)
class NewSource:
    """What `add_source` shows once: the token, and the webhook secret if a webhook was given."""

    name: str
    token: str
    webhook_secret: str


def add_source(session: Session, name: str, *, webhook_url: str = "", actor: str) -> NewSource:
    """A new source with a fresh token; the caller shows the token once and never again."""
    name = name.strip().lower()
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"source name {name!r} must be letters, digits, '.', '_' or '-' (up to 64)")
    if session.scalar(select(LeadSource.id).where(LeadSource.name == name)) is not None:
        raise Conflict(f"source {name!r} already exists; revoke it and add it again for a new token")
    _check_url(webhook_url)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    secret = secrets.token_urlsafe(32) if webhook_url else ""
    session.add(
        LeadSource(name=name, token_hash=token_hash(token), webhook_url=webhook_url, webhook_secret=secret)
    )
    audit.record(session, "token", household=None, subject=name, after="added", actor=actor)
    session.flush()
    return NewSource(name, token, secret)


def revoke_source(session: Session, name: str, *, actor: str) -> None:
    """The token stops working at once; the source's leads stay. Its name is free again."""
    source = session.scalar(
        select(LeadSource).where(LeadSource.name == name, LeadSource.revoked_at.is_(None))
    )
    if source is None:
        raise NotFound(f"no active source {name!r}")
    source.revoked_at = utcnow()
    # The unique name is freed so the source can be added again with a new token.
    source.name = f"{name}~{source.id}"
    audit.record(session, "token", household=None, subject=name, after="revoked", actor=actor)
    session.flush()


def list_sources(session: Session) -> list[SourceView]:
    rows = session.scalars(select(LeadSource).order_by(LeadSource.created_at, LeadSource.id))
    return [SourceView(s.name, s.created_at, s.revoked_at, s.webhook_url) for s in rows]


def authenticate(session: Session, token: str) -> LeadSource | None:
    """The active source whose token this is, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return session.scalar(
        select(LeadSource).where(LeadSource.token_hash == token_hash(token), LeadSource.revoked_at.is_(None))
    )


def source_name(connection: Connection, token: str) -> str | None:
    """`authenticate` for the API, once per request: the active source's name, one prepared read."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    name = _NAME_BY_TOKEN.scalar(connection, {"token_hash": token_hash(token)})
    return None if name is None else str(name)


_NAME_BY_TOKEN = Prepared(
    select(LeadSource.name).where(
        LeadSource.token_hash == bindparam("token_hash"), LeadSource.revoked_at.is_(None)
    )
)


def get_source(session: Session, name: str) -> LeadSource:
    source = session.scalar(
        select(LeadSource).where(LeadSource.name == name, LeadSource.revoked_at.is_(None))
    )
    if source is None:
        raise NotFound(f"no active source {name!r} (add one with: token add {name})")
    return source


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_url(url: str) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"webhook {url!r} must be an http:// or https:// URL")
