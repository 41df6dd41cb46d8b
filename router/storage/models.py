"""The tables: directory (offices, lines, agents, households), audit and ledger.

Rows never leave a unit of work; functions hand out the frozen views in
`router.storage.views` instead.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from router.storage.db import UTCDateTime, utcnow

# Presence, as a supervisor or the agent sets it; only `available` agents are rung.
PRESENCE_STATES = ("available", "paused", "offline")
# `disabled`: the agent left or is suspended, set only by an admin (`agent disable`):
# never rung, never given a family, their history kept under their name.
DISABLED = "disabled"
AGENT_STATES = (*PRESENCE_STATES, DISABLED)
NUMBER_LABELS = ("mobile", "home", "spouse", "work", "other")
STRATEGIES = ("longest-idle", "round-robin", "fewest-calls", "random")
OWNER_POLICIES = ("backup", "wait", "pool")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    strategy: Mapped[str] = mapped_column(String(20), default="longest-idle")
    owner_policy: Mapped[str] = mapped_column(String(10), default="backup")
    owner_wait_seconds: Mapped[int] = mapped_column(Integer, default=30)
    attempt_timeout_seconds: Mapped[int] = mapped_column(Integer, default=20)
    wrapup_seconds: Mapped[int] = mapped_column(Integer, default=0)

    lines: Mapped[list[Line]] = relationship(back_populates="office", order_by="Line.number")
    agents: Mapped[list[Agent]] = relationship(back_populates="office", order_by="Agent.login")


class Line(Base):
    """An inbound number (DNID) or line name that belongs to an office."""

    __tablename__ = "lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)

    office: Mapped[Office] = relationship(back_populates="lines")


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint("state IN ('available', 'paused', 'offline', 'disabled')", name="ck_agents_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # Only columns a call never changes are indexed, so the updates of every
    # call (its claim, its end) are HOT on PostgreSQL: no new index entries,
    # no dead ones for the next read of the pool to step over (schema 0005).
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    dial: Mapped[str] = mapped_column(String(200))
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default="available")
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Fairness inputs, kept on the row so choosing a free agent reads one table.
    last_call_ended_at: Mapped[datetime | None] = mapped_column(default=None)
    last_offered_at: Mapped[datetime | None] = mapped_column(default=None)
    calls_day: Mapped[date | None] = mapped_column(Date, default=None)
    calls_today: Mapped[int] = mapped_column(Integer, default=0)
    # The claim: which call is ringing this agent, until when.
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    claim_expires_at: Mapped[datetime | None] = mapped_column(default=None)

    office: Mapped[Office] = relationship(back_populates="agents")
    backup: Mapped[Agent | None] = relationship(remote_side=[id])


OWNERS_MODES = ("ordered", "equal")


class Household(Base):
    """A family or a person. On SQLite its id is AUTOINCREMENT: the id of a household
    merged or removed is never handed to a new one, which would inherit its calls."""

    __tablename__ = "households"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(400), default="")
    # admin, import or call: households the router created from an answered call
    # are what `suggest --recent` proposes to merge.
    origin: Mapped[str] = mapped_column(String(10), default="admin")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_contact_at: Mapped[datetime | None] = mapped_column(default=None)
    owner: Mapped[Agent | None] = relationship()
    co_owners: Mapped[list[HouseholdOwner]] = relationship(
        order_by="HouseholdOwner.position", cascade="all, delete-orphan"
    )

    @property
    def owners_mode(self) -> str:
        """How the owner and the co-owners ring: `ordered` (in turn) or `equal` (together)."""
        return self.co_owners[0].mode if self.co_owners else OWNERS_MODES[0]

    members: Mapped[list[Member]] = relationship(
        back_populates="household", order_by="Member.position", cascade="all, delete-orphan"
    )
    numbers: Mapped[list[PhoneNumber]] = relationship(
        back_populates="household", order_by="PhoneNumber.id", cascade="all, delete-orphan"
    )


class HouseholdOwner(Base):
    """A co-owner of a household besides its owner (`Household.owner_id`, the first).

    `position` orders them after the owner (1 is the second owner); `mode`,
    the same on each of a household's rows, says whether they ring in that
    order or together (a household without co-owners has no mode to keep).
    """

    __tablename__ = "household_owners"

    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10), default="ordered")

    agent: Mapped[Agent] = relationship()


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    full_name: Mapped[str] = mapped_column(String(200))

    household: Mapped[Household] = relationship(back_populates="members")


class NameWord(Base):
    """One folded word (`identity.names.search_keys`) of a household's name or of a member's name.

    Name search reads these by prefix through the index on `word`, instead of
    folding every name of the directory for each search. `name_no` says
    which name of the household the word is from (0: the household's own
    name; n: the member at position n - 1), since every typed word must be in
    one name. Written with every name (`router.directory.name_index`).
    """

    __tablename__ = "name_words"
    # A typed word's range read in household order, answered by the index alone (migration 0025).
    __table_args__ = (Index("ix_name_words_word_household", "word", "household_id", "name_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name_no: Mapped[int] = mapped_column(Integer)
    word: Mapped[str] = mapped_column(String(64))


class PhoneNumber(Base):
    """A number linked to a household: the unique key is what makes a link exclusive."""

    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(10), default="mobile")

    household: Mapped[Household] = relationship(back_populates="numbers")


class Exclusion(Base):
    """An agent who must never be rung for a household."""

    __tablename__ = "exclusions"

    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)


class AuditEntry(Base):
    """Append-only: who changed a link, a merge or an owner, when and why.

    `household_id` is a plain column, not a foreign key, so the trail of a
    household merged away survives it.
    """

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[int | None] = mapped_column(Integer, index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100), default="")


class HouseholdMerge(Base):
    """A household merged into another (append-only): the merged id's calls are the survivor's.

    The merged household's row goes (its numbers and members moved), but the
    ledger and audit rows that carry its id stay as they were written; the
    evidence of a household is read through these pointers
    (`router.directory.merges`). Plain columns, not foreign keys: a survivor
    may be merged in its turn.
    """

    __tablename__ = "household_merges"

    merged_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    into_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100), default="")


DISPUTE_ORIGINS = ("manual", "merge", "move", "split")


class Dispute(Base):
    """Two or more managers contesting one household, from opening to a supervisor's resolution.

    While `resolved_at` is NULL the household is frozen: its contested
    managers ring together and nothing changes hands by itself
    (`router.directory.disputes`). `household_id` is a plain column, as the
    audit's, so a dispute outlives a later merge of its family. The managers
    are logins, as the audit names them, so the record reads the same after
    an agent is disabled.
    """

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_household_open", "household_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(Integer)
    agents: Mapped[list[str]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(10), default="manual")
    reason: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str] = mapped_column(String(100), default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(64), default="")
    co_owners: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy: Mapped[str] = mapped_column(String(20), default="")


class Decision(Base):
    """One routed call: what the router knew and planned (append-only)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uid: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    number: Mapped[str] = mapped_column(String(32), default="")
    line: Mapped[str] = mapped_column(String(64), default="")
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(Integer, index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    route: Mapped[str] = mapped_column(String(20))
    plan: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    then: Mapped[str] = mapped_column(String(20), default="fallback")
    decide_ms: Mapped[float] = mapped_column(Numeric(10, 3, asdecimal=False), default=0.0)
    # Who answered is the agent of the call's ANSWER attempt: not stored twice.


class Attempt(Base):
    """One dial of one agent within a decision, and how it ended (append-only)."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("decision_id", "seq"),
        Index("ix_attempts_agent_started", "agent_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Found through the unique (decision_id, seq) key: it leads with decision_id.
    # No cascade: a decision is never deleted, and its attempts never with it.
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    seq: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    ring_seconds: Mapped[float] = mapped_column(Numeric(10, 3, asdecimal=False), default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Numeric(10, 3, asdecimal=False), default=0.0)
    covering_for_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))


class SuggestionRejection(Base):
    """A person said two households are not one family: that pair is not suggested again.

    `first_id` < `second_id`. Plain columns, like the audit's: the memory
    outlives a household merged away.
    """

    __tablename__ = "suggestion_rejections"
    __table_args__ = (CheckConstraint("first_id < second_id", name="ck_suggestion_rejections_ordered"),)

    first_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    second_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class SplitOverride(Base):
    """An admin's decision on how one booking is split, with the reason."""

    __tablename__ = "split_overrides"

    booking: Mapped[str] = mapped_column(String(100), primary_key=True)
    shares: Mapped[dict[str, str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Booking(Base):
    """A sale to a household, as the agency's booking system knows it: what a split divides.

    `ref` is the booking's id in its `source` (a CRM, a booking form, a
    file), unique there. `household_id` is a plain column, like the audit's,
    so a booking outlives a household merged away. The amount is in kopecks.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("source", "ref"),
        CheckConstraint("amount >= 0", name="ck_bookings_amount_not_negative"),
        # The timeline and `booking list --household` read one household's bookings in time order.
        Index("ix_bookings_household_closed", "household_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32), default="manual")
    ref: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[datetime] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(100), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadSource(Base):
    """Where orders come from (the website, a CRM), with its API token and optional webhook.

    Only the token's SHA-256 is kept: a token is 32 random bytes, so a fast
    hash is as safe as a slow one and costs nothing per request. The webhook
    secret signs what is sent back, so it is kept as it is.
    """

    __tablename__ = "lead_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    webhook_url: Mapped[str] = mapped_column(String(400), default="")
    webhook_secret: Mapped[str] = mapped_column(String(100), default="")


class Lead(Base):
    """An order or request that arrived without a call, and who it was given to and why.

    One per (source, external_id): the unique key is also what makes a
    repeated or concurrent submission the same lead. `household_id` is a plain
    column, as in the audit, so a lead outlives a merge of its family.
    """

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        UniqueConstraint("source_id", "idempotency_key"),
        Index("ix_leads_household_received", "household_id", "received_at"),
        Index("ix_leads_agent_received", "assigned_agent_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("lead_sources.id"))
    external_id: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)
    phone: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(400), default="")
    line: Mapped[str] = mapped_column(String(64), default="")
    office: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    household_id: Mapped[int | None] = mapped_column(Integer, default=None)
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    # How the family was found (number, email, suggestion, new) and why this
    # manager (a call's route words, or duplicate / unassigned).
    matched_by: Mapped[str] = mapped_column(String(12), default="")
    reason: Mapped[str] = mapped_column(String(20), default="")
    provisional: Mapped[bool] = mapped_column(default=False)
    score: Mapped[int | None] = mapped_column(Integer, default=None)
    evidence: Mapped[str] = mapped_column(Text, default="")
    duplicate_of: Mapped[int | None] = mapped_column(Integer, default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    confirmed_by: Mapped[str] = mapped_column(String(100), default="")

    source: Mapped[LeadSource] = relationship()
    assigned_agent: Mapped[Agent | None] = relationship()


class WebhookDelivery(Base):
    """An assignment to POST back to its source's CRM: retried with backoff, then kept as dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "delivered_at", "dead", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    body: Mapped[str] = mapped_column(Text)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    dead: Mapped[bool] = mapped_column(default=False)

    lead: Mapped[Lead] = relationship()


# A lead is matched to a family by email case-blind; most households have none,
# and the index keeps the lookup one probe among a million.
Index("ix_households_email_key", func.lower(Household.email))


CONSOLE_ROLES = ("admin", "supervisor", "manager")


class ConsoleUser(Base):
    """A person who logs in to the console; `agent` ties a manager to their own families and calls."""

    __tablename__ = "console_users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'supervisor', 'manager')"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    # argon2id, in the PHC string form argon2-cffi writes (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[Agent | None] = relationship()


class ConsoleSession(Base):
    """A logged-in browser. The row is the session: deleting it logs the browser out in every process.

    `id` is the SHA-256 of the cookie's token, so a copy of the database
    does not hand out live sessions.
    """

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """One refused console login, counted per account and per address to throttle guessing."""

    __tablename__ = "console_login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    login: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
