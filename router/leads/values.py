"""A lead as a source sends it, and the refusal that names its bad fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.errors import InvalidInput


class InvalidLead(InvalidInput):
    """A lead refused for its fields; `fields` names each bad one and why."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True, slots=True)
class LeadIn:
    """A lead as a source sends it; `phone` as typed, normalized by `check`."""

    external_id: str
    phone: str = ""
    name: str = ""
    email: str = ""
    address: str = ""
    line: str = ""
    office: str = ""
    note: str = ""
    created_at: datetime | None = None
    idempotency_key: str | None = None
