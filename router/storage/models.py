"""The tables: directory (offices, lines, agents, households), audit and ledger.

Rows never leave a unit of work; functions hand out the frozen views in
`router.storage.views` instead.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from router.storage.db import UTCDateTime, utcnow

AGENT_STATES = ("available", "paused", "offline")
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
    __table_args__ = (CheckConstraint("state IN ('available', 'paused', 'offline')"),)

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


class Household(Base):
    __tablename__ = "households"

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
    members: Mapped[list[Member]] = relationship(
        back_populates="household", order_by="Member.position", cascade="all, delete-orphan"
    )
    numbers: Mapped[list[PhoneNumber]] = relationship(
        back_populates="household", order_by="PhoneNumber.id", cascade="all, delete-orphan"
    )


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    full_name: Mapped[str] = mapped_column(String(200))

    household: Mapped[Household] = relationship(back_populates="members")


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
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    ring_seconds: Mapped[float] = mapped_column(Numeric(10, 3, asdecimal=False), default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Numeric(10, 3, asdecimal=False), default=0.0)
    covering_for_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))


class SplitOverride(Base):
    """An admin's decision on how one booking is split, with the reason."""

    __tablename__ = "split_overrides"

    booking: Mapped[str] = mapped_column(String(100), primary_key=True)
    shares: Mapped[dict[str, str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


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
