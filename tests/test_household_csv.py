"""CSV import and export: a faithful round trip, and a bad file that changes nothing."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from router.directory import household_csv, household_reads, households, offices
from router.directory.household_csv import ImportRejected
from router.directory.household_reads import NumberSpec
from router.errors import InvalidInput
from router.storage.db import Database
from router.storage.models import AuditEntry, Household, Member, PhoneNumber
from tests import conftest
from tests.helpers import run_cli

HEADER = "id,name,owner,members,numbers,email,address,created_at,last_contact_at\n"


@pytest.fixture
def empty_db(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> Iterator[Database]:
    """A second fresh database of the same backend, for importing what the first exported."""
    admin = conftest.pg_admin_url()
    if backend == "sqlite":
        path = tmp_path / "empty.db"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
        name = None
    else:
        assert admin is not None and pg_template is not None
        name = f"ck_csv_empty_{os.getpid()}"
        conftest._pg_execute(
            admin,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"',
        )
        url = conftest._pg_url(admin, name)
    database = Database(url)
    yield database
    database.dispose()
    if name is not None and admin is not None:
        conftest._pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def staff(db: Database) -> None:
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "ivanova", office="msk", dial="PJSIP/101", name="Мария Иванова")
        offices.add_agent(s, "petrov", office="msk", dial="PJSIP/102")


def fill(db: Database) -> None:
    with db.unit_of_work() as s:
        first = households.add_household(
            s,
            name="Ивановы",
            members=["Иванова Мария Петровна", "Иванов Пётр Ильич"],
            numbers=[NumberSpec("+79161234567"), NumberSpec("+79167654321", "spouse")],
            owner="ivanova",
            email="ivanovy@example.ru",
            address='Москва, ул. Лесная, д. 5, "подъезд 2"',
            actor="admin",
        )
        households.add_household(s, name="Ёлкин", numbers=[NumberSpec("+74951112233", "work")], actor="admin")
        households.add_household(s, members=["Щукина Анна"], owner="petrov", actor="admin")
        s.execute(
            update(Household)
            .where(Household.id == first.id)
            .values(last_contact_at=datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC))
        )


def export(db: Database) -> str:
    out = io.StringIO()
    with db.reader() as s:
        household_csv.export_households(s, out)
    return out.getvalue()


def import_file(db: Database, path: Path) -> int:
    with db.unit_of_work() as s:
        return household_csv.import_households(s, path, region="RU", actor="admin")


def counts(db: Database) -> tuple[int, int, int]:
    with db.reader() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(m)) or 0) for m in (Household, Member, PhoneNumber)
        )


def test_export_import_into_an_empty_database_exports_the_same(
    db: Database, empty_db: Database, tmp_path: Path
) -> None:
    staff(db)
    fill(db)
    exported = export(db)
    assert exported.startswith(HEADER)
    assert "Иванова Мария Петровна;Иванов Пётр Ильич" in exported
    assert "+79161234567=mobile;+79167654321=spouse" in exported
    assert "2026-03-01T12:30:05+00:00" in exported
    path = tmp_path / "households.csv"
    path.write_text(exported, encoding="utf-8")

    staff(empty_db)
    assert import_file(empty_db, path) == 3
    assert export(empty_db) == exported
    with empty_db.reader() as s:
        found = household_reads.lookup(s, "+79167654321")
        assert found is not None and found.owner_login == "ivanova"
        view = household_reads.household_view(household_reads.get_household(s, found.household_id))
        assert view.origin == "import"
        [row] = s.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
        assert (row.subject, row.actor) == (str(path), "admin")
        assert row.after.startswith("3 households at ")


def test_import_assigns_ids_after_the_existing_ones_and_add_still_works(db: Database, tmp_path: Path) -> None:
    staff(db)
    fill(db)
    path = tmp_path / "new.csv"
    path.write_text(
        "name,numbers,owner\nСидоровы,8 903 000-11-22=home,petrov\n,+7 903 000 11 23,\n", encoding="utf-8"
    )
    assert import_file(db, path) == 2
    with db.unit_of_work() as s:
        ids = s.scalars(select(Household.id).order_by(Household.id)).all()
        assert ids == [1, 2, 3, 4, 5]
        added = households.add_household(s, numbers=[NumberSpec("+79030001124")], actor="admin")
    assert added.id == 6
    with db.reader() as s:
        found = household_reads.lookup(s, "+79030001122")
    assert found is not None and (found.household_id, found.owner_login) == (4, "petrov")


def test_import_with_explicit_ids_moves_the_sequence_past_them(db: Database, tmp_path: Path) -> None:
    staff(db)
    path = tmp_path / "ids.csv"
    path.write_text("id,numbers\n500,+79030001122\n", encoding="utf-8")
    import_file(db, path)
    with db.unit_of_work() as s:
        assert households.add_household(s, actor="admin").id == 501


# Each file has a good row on line 2: it must not be imported either.
BAD_ROWS = [
    (
        "name,numbers\nХорошие,\nA,+7 916 12\n",
        "line 3: '+7 916 12' is not a valid phone number (default region RU)",
    ),
    ("name,owner\nХорошие,\nA,ghost\n", "line 3: no agent 'ghost'"),
    ("name,numbers\nХорошие,+79161234567\nB,89161234567\n", "line 3: number +79161234567 is also on line 2"),
    (
        "name,numbers\nХорошие,\nA,+79031112233\n",
        "line 3: number +79031112233 already belongs to household 1",
    ),
    ("id,name\n,Хорошие\n1,A\n", "line 3: household id 1 already exists"),
    ("id,name\n7,Хорошие\n7,B\n", "line 3: id 7 appears twice"),
    ("name,numbers\nХорошие,\nA,+79161234567,extra\n", "line 3: more fields than columns"),
    (
        "name,numbers\nХорошие,\nA,+79161234567=fax\n",
        "line 3: label must be one of mobile, home, spouse, work, other, not 'fax'",
    ),
    ("id,name\n,Хорошие\nx1,A\n", "line 3: id 'x1' is not a positive whole number"),
    ("name,created_at\nХорошие,\nA,yesterday\n", "line 3: created_at 'yesterday' is not an ISO 8601 time"),
    (
        "name,numbers\nХорошие,\nA,+79161234567;8 916 123 45 67\n",
        "line 3: the same number twice in one household",
    ),
]


@pytest.mark.parametrize(("content", "why"), BAD_ROWS)
def test_a_bad_row_is_reported_with_its_line_and_nothing_is_imported(
    db: Database, tmp_path: Path, content: str, why: str
) -> None:
    staff(db)
    with db.unit_of_work() as s:
        households.add_household(s, numbers=[NumberSpec("+79031112233")], actor="admin")
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    before = counts(db)
    with pytest.raises(ImportRejected) as rejected:
        import_file(db, path)
    assert rejected.value.errors == [why]
    assert str(rejected.value) == f"1 bad row(s), nothing imported:\n{why}"
    assert counts(db) == before


def test_every_bad_row_is_reported_in_line_order(db: Database, tmp_path: Path) -> None:
    staff(db)
    path = tmp_path / "bad.csv"
    path.write_text(
        "name,owner,numbers\n"
        "Good,ivanova,+79161234567\n"
        "Bad owner,ghost,\n"
        '"Multi\nline",,+79161234567\n'
        "Bad number,,12\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(db, path)
    assert rejected.value.errors == [
        "line 3: no agent 'ghost'",
        "line 5: number +79161234567 is also on line 2",
        "line 6: '12' is not a valid phone number (default region RU)",
    ]
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"name,numbers\nA,+79161234567\n\xff\xfe,1\n", "line 3: not UTF-8 (byte 28)"),
        (b"name,phone\nA,+79161234567\n", "line 1: unknown column(s) phone; expected id,name,owner"),
        (b"", "line 1: unknown column(s) (no header)"),
    ],
)
def test_a_broken_file_is_refused_whole(db: Database, tmp_path: Path, content: bytes, why: str) -> None:
    staff(db)
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as refused:
        import_file(db, path)
    assert str(refused.value).startswith(f"{path}: {why}")
    assert counts(db) == (0, 0, 0)


def test_a_missing_file_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        import_file(db, tmp_path / "nope.csv")


def test_a_bom_and_any_column_order_are_accepted(db: Database, tmp_path: Path) -> None:
    staff(db)
    path = tmp_path / "bom.csv"
    path.write_text("numbers,name\n+79161234567=home,Ёлкины\n", encoding="utf-8-sig")
    assert import_file(db, path) == 1
    with db.reader() as s:
        [view] = household_reads.list_households(s)
    assert (view.name, view.numbers[0].label) == ("Ёлкины", "home")


def test_member_names_with_the_list_separator_are_refused(db: Database) -> None:
    with pytest.raises(InvalidInput, match="cannot contain ';'"), db.unit_of_work() as s:
        households.add_household(s, members=["Иванов; Петров"], actor="admin")


def test_import_and_export_commands(capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path) -> None:
    assert run_cli(capsys, db_url, "office", "add", "msk").code == 0
    assert (
        run_cli(capsys, db_url, "agent", "add", "ivanova", "--office", "msk", "--dial", "PJSIP/1").code == 0
    )
    source = tmp_path / "in.csv"
    source.write_text(
        "name,owner,members,numbers\nИвановы,ivanova,Иванова Мария,89161234567\n", encoding="utf-8"
    )
    imported = run_cli(capsys, db_url, "import", str(source))
    assert (imported.code, imported.out) == (0, f"imported 1 households from {source}\n")
    target = tmp_path / "out.csv"
    exported = run_cli(capsys, db_url, "export", str(target))
    assert (exported.code, exported.out) == (0, f"exported 1 households to {target}\n")
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0] + "\n" == HEADER
    assert lines[1].startswith("1,Ивановы,ivanova,Иванова Мария,+79161234567=mobile,,,")
    stdout = run_cli(capsys, db_url, "export", "-")
    assert stdout.out.splitlines() == lines

    bad = tmp_path / "bad.csv"
    bad.write_text("name,owner\nA,ghost\nB,\n", encoding="utf-8")
    refused = run_cli(capsys, db_url, "import", str(bad))
    assert refused.code == 5
    assert refused.err == "error: 1 bad row(s), nothing imported:\nline 2: no agent 'ghost'\n"
    missing = run_cli(capsys, db_url, "import", str(tmp_path / "nope.csv"))
    assert (missing.code, missing.err) == (5, f"error: {tmp_path / 'nope.csv'}: no such file\n")
    nowhere = run_cli(capsys, db_url, "export", str(tmp_path / "no" / "out.csv"))
    assert (nowhere.code, nowhere.err) == (5, f"error: folder {tmp_path / 'no'} does not exist\n")


def test_a_big_file_parses_its_numbers_in_worker_processes_with_the_same_result(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(household_csv, "PARALLEL_FROM", 2)
    staff(db)
    path = tmp_path / "big.csv"
    path.write_text(
        "name,numbers\nA,8 916 123-45-67;+79167654321=spouse\nB,12\nC,+7 903 111 22 33\n", encoding="utf-8"
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(db, path)
    assert rejected.value.errors == ["line 3: '12' is not a valid phone number (default region RU)"]
    path.write_text(
        "name,numbers\nA,8 916 123-45-67;+79167654321=spouse\nC,+7 903 111 22 33\n", encoding="utf-8"
    )
    assert import_file(db, path) == 2
    with db.reader() as s:
        assert [[n.number for n in v.numbers] for v in household_reads.list_households(s)] == [
            ["+79161234567", "+79167654321"],
            ["+79031112233"],
        ]


def test_an_existing_id_is_refused_even_when_no_number_is_linked_yet(db: Database, tmp_path: Path) -> None:
    with db.unit_of_work() as s:
        households.add_household(s, name="no numbers", actor="admin")
    path = tmp_path / "ids.csv"
    path.write_text("id,name,numbers\n1,A,+79161234567\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as rejected:
        import_file(db, path)
    assert rejected.value.errors == ["line 2: household id 1 already exists"]


def test_the_benchmark_directory_loads_and_every_number_is_found(db: Database) -> None:
    from bench.directory import number_of, populate

    populate(db, 30, agents=8)
    with db.reader() as s:
        found = [household_reads.lookup(s, number_of(k)) for k in range(60)]
        assert household_reads.lookup(s, number_of(60)) is None
        listed = household_reads.list_households(s)
    assert all(f is not None for f in found)
    assert [f.household_id for f in found if f is not None] == [k // 2 + 1 for k in range(60)]
    assert len(listed) == 30 and all(len(h.members) == 2 for h in listed)
    assert sum(h.owner is None for h in listed) == 3
