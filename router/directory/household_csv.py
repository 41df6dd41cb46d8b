"""Households to and from CSV: all or nothing.

Import reads and checks the whole file first; if any row is bad it reports
every bad row (line number and why) and writes nothing. Only a clean file is
written, in one transaction, through `router.directory.household_bulk` (COPY on
PostgreSQL); `bench/directory.py` times a million households.

Columns (UTF-8, header required, extra columns refused):
  id               household id; empty for "assign one"
  name             household name
  owner            agent login, or empty
  members          full names separated by ";"
  numbers          NUMBER=LABEL separated by ";" (label optional, default mobile)
  email, address   optional
  created_at       ISO 8601; empty for "now"
  last_contact_at  ISO 8601 or empty
"""

from __future__ import annotations

import csv
import io
import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from identity.numbers import e164_keys
from router.directory import audit
from router.directory.household_bulk import ImportRow, write_rows
from router.directory.household_reads import NumberSpec, check_label
from router.errors import InvalidInput
from router.storage.db import utcnow
from router.storage.models import Agent, Household, Member, PhoneNumber

COLUMNS = (
    "id",
    "name",
    "owner",
    "members",
    "numbers",
    "email",
    "address",
    "created_at",
    "last_contact_at",
)
LIST_SEPARATOR = ";"
MAX_REPORTED_ERRORS = 50
# Files with this many distinct numbers have them parsed by worker processes.
PARALLEL_FROM = 100_000
MAX_WORKERS = 4


class ImportRejected(InvalidInput):
    """The file had bad rows; `errors` lists them as `line N: why`."""

    def __init__(self, errors: list[str], total_bad: int) -> None:
        more = f" (and {total_bad - len(errors)} more)" if total_bad > len(errors) else ""
        super().__init__(f"{total_bad} bad row(s), nothing imported{more}:\n" + "\n".join(errors))
        self.errors = errors


def import_households(session: Session, path: Path, *, region: str, actor: str) -> int:
    """Import every household of `path`, or none; returns how many were imported."""
    rows = _check(session, path, region)
    now = utcnow()
    next_id = (session.scalar(select(func.max(Household.id))) or 0) + 1
    taken = {r.id for r in rows if r.id is not None}
    for row in rows:
        if row.id is None:
            while next_id in taken:
                next_id += 1
            row.id = next_id
            next_id += 1
    write_rows(session.connection(), rows)
    audit.record(
        session,
        "import",
        household=None,
        subject=str(path),
        after=f"{len(rows)} households at {now.isoformat(timespec='seconds')}",
        actor=actor,
    )
    return len(rows)


def export_households(session: Session, out: IO[str]) -> int:
    """Write every household, in id order; returns how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    logins = {agent_id: login for agent_id, login in session.execute(select(Agent.id, Agent.login))}
    members: dict[int, list[str]] = {}
    for hid, name in session.execute(
        select(Member.household_id, Member.full_name).order_by(Member.household_id, Member.position)
    ):
        members.setdefault(hid, []).append(name)
    numbers: dict[int, list[str]] = {}
    for hid, number, label in session.execute(
        select(PhoneNumber.household_id, PhoneNumber.number, PhoneNumber.label).order_by(
            PhoneNumber.household_id, PhoneNumber.id
        )
    ):
        numbers.setdefault(hid, []).append(f"{number}={label}")
    count = 0
    columns = (
        Household.id,
        Household.name,
        Household.owner_id,
        Household.email,
        Household.address,
        Household.created_at,
        Household.last_contact_at,
    )
    for hid, name, owner_id, email, address, created_at, last_contact_at in session.execute(
        select(*columns).order_by(Household.id)
    ):
        writer.writerow(
            [
                hid,
                name,
                logins.get(owner_id, "") if owner_id else "",
                LIST_SEPARATOR.join(members.get(hid, [])),
                LIST_SEPARATOR.join(numbers.get(hid, [])),
                email,
                address,
                _iso(created_at),
                _iso(last_contact_at),
            ]
        )
        count += 1
    return count


def _check(session: Session, path: Path, region: str) -> list[ImportRow]:
    logins = {login: agent_id for login, agent_id in session.execute(select(Agent.login, Agent.id))}
    errors: list[str] = []
    bad = 0
    rows: list[ImportRow] = []
    seen_numbers: dict[str, int] = {}
    seen_ids: set[int] = set()
    records = list(_records(path))
    keys = _number_keys(
        [spec.partition("=")[0] for _, record in records for spec in _split(record.get("numbers", ""))],
        region,
    )
    for line, record in records:
        try:
            row = _parse(record, logins, keys, region)
            row.line = line
            if row.id is not None and row.id in seen_ids:
                raise InvalidInput(f"id {row.id} appears twice")
            for spec in row.numbers:
                if spec.number in seen_numbers:
                    raise InvalidInput(f"number {spec.number} is also on line {seen_numbers[spec.number]}")
            for spec in row.numbers:
                seen_numbers[spec.number] = line
            if row.id is not None:
                seen_ids.add(row.id)
            rows.append(row)
        except InvalidInput as exc:
            bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(f"line {line}: {exc}")
    for line, why in _clashes_with_database(session, rows, seen_numbers):
        bad += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(f"line {line}: {why}")
    if bad:
        raise ImportRejected(sorted(errors, key=lambda e: int(e.split(":")[0][5:])), bad)
    return rows


def _clashes_with_database(
    session: Session, rows: list[ImportRow], numbers: dict[str, int]
) -> Iterator[tuple[int, str]]:
    # A first import into an empty directory skips two million look-ups.
    if session.scalar(select(PhoneNumber.id).limit(1)) is not None:
        keys = list(numbers)
        for start in range(0, len(keys), 5000):
            chunk = keys[start : start + 5000]
            for number, hid in session.execute(
                select(PhoneNumber.number, PhoneNumber.household_id).where(PhoneNumber.number.in_(chunk))
            ):
                yield numbers[number], f"number {number} already belongs to household {hid}"
    by_id = {r.id: r.line for r in rows if r.id is not None}
    if by_id and session.scalar(select(Household.id).limit(1)) is not None:
        ids = list(by_id)
        for start in range(0, len(ids), 5000):
            for hid in session.scalars(
                select(Household.id).where(Household.id.in_(ids[start : start + 5000]))
            ):
                yield by_id[hid], f"household id {hid} already exists"


def _records(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(f"{path}: line {line}: not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in COLUMNS]
        if not header or unknown:
            raise InvalidInput(
                f"{path}: line 1: unknown column(s) {', '.join(unknown) or '(no header)'}; "
                f"expected {','.join(COLUMNS)}"
            )
        for record in reader:
            if None in record:
                yield reader.line_num, {"__extra__": "x"}
                continue
            yield reader.line_num, {k: (v or "") for k, v in record.items()}
    except csv.Error as exc:
        raise InvalidInput(f"{path}: line {reader.line_num}: {exc}") from None


def _number_keys(texts: list[str], region: str) -> dict[str, str | None]:
    """The E.164 key of every number text of a file (None when not valid).

    Parsing numbers is most of a big import's time, so a big file spreads it
    over the machine's processors.
    """
    unique = list(dict.fromkeys(texts))
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if len(unique) < PARALLEL_FROM or workers < 2:
        return dict(zip(unique, e164_keys(unique, region), strict=True))
    size = -(-len(unique) // (workers * 4))
    chunks = [unique[start : start + size] for start in range(0, len(unique), size)]
    # fork, not spawn: a spawned worker re-runs the caller's main module, which
    # a script without a `__main__` guard cannot survive; the workers only parse
    # strings and never touch the parent's database connections.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        keys = itertools.chain.from_iterable(pool.map(e164_keys, chunks, itertools.repeat(region)))
        return dict(zip(unique, keys, strict=True))


def _spec(text: str, keys: dict[str, str | None], region: str) -> NumberSpec:
    """`NUMBER[=LABEL]` of the numbers column, as `parse_number_spec` reads it."""
    raw, _, label = text.partition("=")
    label = label.strip() or "mobile"
    check_label(label)
    key = keys.get(raw)
    if key is None:
        raise InvalidInput(f"{raw!r} is not a valid phone number (default region {region})")
    return NumberSpec(key, label)


def _parse(
    record: dict[str, str], logins: dict[str, int], keys: dict[str, str | None], region: str
) -> ImportRow:
    if "__extra__" in record:
        raise InvalidInput("more fields than columns")
    raw_id = record.get("id", "").strip()
    if raw_id and not raw_id.isdigit():
        raise InvalidInput(f"id {raw_id!r} is not a positive whole number")
    owner = record.get("owner", "").strip()
    if owner and owner not in logins:
        raise InvalidInput(f"no agent {owner!r}")
    numbers = [_spec(n, keys, region) for n in _split(record.get("numbers", ""))]
    if len({n.number for n in numbers}) != len(numbers):
        raise InvalidInput("the same number twice in one household")
    return ImportRow(
        id=int(raw_id) if raw_id else None,
        name=record.get("name", "").strip(),
        owner_id=logins[owner] if owner else None,
        members=_split(record.get("members", "")),
        numbers=numbers,
        email=record.get("email", "").strip(),
        address=record.get("address", "").strip(),
        created_at=_time(record.get("created_at", ""), "created_at") or utcnow(),
        last_contact_at=_time(record.get("last_contact_at", ""), "last_contact_at"),
    )


def _split(text: str) -> list[str]:
    return [part for part in map(str.strip, text.split(LIST_SEPARATOR)) if part] if text else []


def _time(text: str, column: str) -> datetime | None:
    if not text or not (text := text.strip()):
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{column} {text!r} is not an ISO 8601 time") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _iso(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else ""
