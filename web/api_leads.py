"""`POST /api/v1/leads`: a source's order in, its manager out; outside the console's session and CSRF.

A source proves itself with its bearer token (`callkeeper token add`). The
checks run cheapest first and before the body is read: the token (401), its
rate (429), the media type (415), the declared size (413); then the body is
read up to the limit (413 past it), parsed (400) and checked field by field
(422). Every refusal is `application/problem+json` (RFC 9457) with `errors`
naming each field. The lead itself is `router.leads.store.submit`: 201 for a
new one, 200 with the same body for a repeat (same `external_id`, or the same
`Idempotency-Key` header).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from router.errors import DatabaseUnavailable
from router.leads import assign, sources, store
from router.leads.values import InvalidLead, LeadIn
from web.console import Console

log = logging.getLogger(__name__)

PATH = "/api/v1/leads"
PROBLEM = "application/problem+json"
PROBLEM_BASE = "/api/v1/problems/"
# The text fields of a lead as JSON names them (`source` is the token's, checked apart).
TEXT_FIELDS = ("external_id", "phone", "name", "email", "address", "line", "office", "note")
IDEMPOTENCY_KEY_LIMIT = 100


class Problem(Exception):
    """A refusal as RFC 9457 describes it; `errors` maps each field to what is wrong with it."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = errors or {}
        self.headers = headers or {}

    def response(self) -> Response:
        body = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": [{"field": k, "detail": v} for k, v in self.errors.items()],
        }
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM, headers=self.headers)


class LeadsApi:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def post(self, request: Request) -> Response:
        try:
            source = await self._source(request)
            self._rate(source)
            self._media_type(request)
            body = await self._body(request)
            lead = parse(body, source, request.headers.get("idempotency-key"))
            view, created = await run_in_threadpool(self._submit, source, lead)
        except Problem as problem:
            return problem.response()
        except (DatabaseUnavailable, OperationalError, DBAPIError) as exc:
            log.error("leads api: the database does not answer: %s", exc)
            return Problem(
                503,
                "unavailable",
                "Database unavailable",
                "The database does not answer; send the lead again.",
                headers={"Retry-After": "5"},
            ).response()
        return JSONResponse(view.reply(), status_code=201 if created else 200)

    def _submit(self, source: str, lead: LeadIn) -> tuple[store.LeadView, bool]:
        runtime = self.console.leads
        try:
            view, created = store.submit(
                self.console.db, source, lead, settings=self.console.settings, index=runtime.index
            )
        except InvalidLead as exc:
            raise invalid(exc.fields) from None
        if created and view.matched_by == assign.NEW_FAMILY:
            runtime.add_family(store.new_family_record(view, self.console.settings))
        return view, created

    async def _source(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401,
                "unauthorized",
                "No token",
                "Send the source's token as 'Authorization: Bearer <token>'.",
                {"Authorization": "missing"},
                {"WWW-Authenticate": 'Bearer realm="callkeeper"'},
            )
        name = await run_in_threadpool(self._authenticate, token)
        if name is None:
            raise Problem(
                401,
                "unauthorized",
                "Bad token",
                "The token is unknown or revoked.",
                {"Authorization": "unknown or revoked token"},
                {"WWW-Authenticate": 'Bearer realm="callkeeper", error="invalid_token"'},
            )
        return name

    def _authenticate(self, token: str) -> str | None:
        with self.console.db.read_transaction() as connection:
            return sources.source_name(connection, token)

    def _rate(self, source: str) -> None:
        wait = self.console.leads.buckets.take(source)
        if wait:
            rate = self.console.settings.lead_api_rate_per_second
            raise Problem(
                429,
                "too-many-requests",
                "Too many requests",
                f"Source {source!r} may send {rate:g} leads a second; try again in {wait} s.",
                {"Authorization": "over this token's rate"},
                {"Retry-After": str(wait)},
            )

    @staticmethod
    def _media_type(request: Request) -> None:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
            raise Problem(
                415,
                "unsupported-media-type",
                "Not JSON",
                f"Send the lead as application/json, not {kind or 'nothing'!r}.",
                {"Content-Type": "must be application/json"},
            )

    async def _body(self, request: Request) -> bytes:
        limit = self.console.settings.lead_api_max_bytes
        too_large = Problem(
            413,
            "content-too-large",
            "Too large",
            f"A lead's body may be at most {limit} bytes.",
            {"body": f"larger than {limit} bytes"},
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
        except ClientDisconnect:
            raise Problem(
                400, "bad-request", "Incomplete body", "The body ended early.", {"body": "incomplete"}
            ) from None
        return b"".join(chunks)


def parse(body: bytes, source: str, idempotency_key: str | None) -> LeadIn:
    """The lead of a JSON body; 400 for what is not a JSON object, 422 naming each bad field."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(
            400, "bad-json", "Bad JSON", f"The body is not JSON: {exc}.", {"body": "not JSON"}
        ) from None
    if not isinstance(data, dict):
        raise Problem(
            400, "bad-json", "Bad JSON", "The body must be a JSON object.", {"body": "not an object"}
        )
    bad: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = data.get(name, "")
        if value is None:
            value = ""
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and name in ("external_id", "phone")
        ):
            value = str(value)
        if not isinstance(value, str):
            bad[name] = "must be a string"
        else:
            values[name] = value
    claimed = data.get("source")
    if claimed not in (None, "", source):
        bad["source"] = f"the token is source {source!r}, not {claimed!r}"
    created_at = None
    if data.get("created_at") not in (None, ""):
        try:
            created_at = datetime.fromisoformat(str(data["created_at"]))
        except ValueError:
            created_at = None
        if created_at is None or created_at.tzinfo is None:
            bad["created_at"] = "must be an ISO 8601 time with its offset, e.g. 2026-12-05T16:00:00+03:00"
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_LIMIT:
        bad["Idempotency-Key"] = f"longer than {IDEMPOTENCY_KEY_LIMIT} characters"
    if bad:
        raise invalid(bad)
    return LeadIn(**values, created_at=created_at, idempotency_key=key)


def invalid(fields: dict[str, str]) -> Problem:
    names = ", ".join(fields)
    return Problem(422, "invalid-fields", "Invalid fields", f"Check the fields: {names}.", fields)
