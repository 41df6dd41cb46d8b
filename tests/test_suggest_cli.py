"""`callkeeper suggest` and router.directory.suggestions on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from identity.calibration import confidence
from router.directory import suggestions
from router.storage.db import Database, utcnow
from router.storage.models import Decision, Household, Member, PhoneNumber
from tests.helpers import run_cli

SPOUSE_PHONE = "+79265550101"


@pytest.fixture
def directory(capsys: pytest.CaptureFixture[str], db_url: str) -> str:
    """Two agents and three households; the Ivanovs (household 1) list both spouses."""
    for argv in (
        ("office", "add", "msk"),
        ("agent", "add", "petrova", "--office", "msk", "--dial", "PJSIP/101"),
        ("agent", "add", "orlov", "--office", "msk", "--dial", "PJSIP/102"),
        (
            "household",
            "add",
            "--name",
            "Ивановы",
            "--member",
            "Иванов Сергей Петрович",
            "--member",
            "Иванова Юлия Андреевна",
            "--number",
            "8 916 123-45-67",
            "--email",
            "ivanovy@mail.ru",
            "--address",
            "г. Москва, ул. Ленина, д. 5, кв. 12",
            "--owner",
            "petrova",
        ),
        (
            "household",
            "add",
            "--member",
            "Соколовский Дмитрий",
            "--number",
            "+74951234500",
            "--owner",
            "orlov",
        ),
        ("household", "add", "--member", "Петренко Мария", "--number", "+79035550000"),
    ):
        result = run_cli(capsys, db_url, *argv)
        assert result.code == 0, result.err
    return db_url


def suggest_json(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> list[dict]:
    result = run_cli(capsys, db_url, "suggest", *argv, "--json")
    assert result.code == 0, result.err
    return list(json.loads(result.out))


def test_spouse_calling_gets_her_household_with_reasons(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    found = suggest_json(capsys, directory, SPOUSE_PHONE, "--name", "Yulia Ivanova")
    assert [f["household"] for f in found] == [1]
    assert found[0]["owner"] == "petrova"
    assert found[0]["score"] >= 60
    assert "given name: Yulia ~ Юлия" in found[0]["reasons"]


def test_short_form_and_latin_spelling_in_the_text_table(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    result = run_cli(capsys, directory, "suggest", SPOUSE_PHONE, "--name", "Dima Sokolovsky")
    assert result.code == 0, result.err
    header, row = result.out.splitlines()
    assert header.split()[:5] == ["HOUSEHOLD", "SCORE", "CONFIDENCE", "AUTO", "OWNER"]
    assert row.split()[0] == "2" and "short form: Dima ~ Дмитрий" in row


def test_same_number_in_other_form_is_not_a_suggestion(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    result = run_cli(capsys, directory, "suggest", "8 (916) 123-45-67", "--name", "Иванова Юлия")
    assert result.code == 4
    assert result.err == (
        "error: number +79161234567 already belongs to household 1 (owner petrova): nothing to suggest\n"
    )


def test_number_one_digit_away_is_weak_signal(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    assert suggest_json(capsys, directory, "+79161234577") == []
    found = suggest_json(capsys, directory, "+79161234577", "--min-score", "0")
    assert found == [
        {
            "household": 1,
            "score": 15,
            "confidence": confidence(15),
            "automatic": False,
            "owner": "petrova",
            "reasons": ["number one digit away: +79161234567"],
        }
    ]


def test_same_email_and_address_count(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    by_email = suggest_json(capsys, directory, SPOUSE_PHONE, "--email", "IVANOVY@mail.ru")
    assert [f["household"] for f in by_email] == [1]
    by_address = suggest_json(
        capsys, directory, SPOUSE_PHONE, "--name", "Ivanova", "--address", "Москва, Ленина 5-12"
    )
    assert [f["household"] for f in by_address] == [1]
    assert "same address" in by_address[0]["reasons"]


def test_different_family_with_similar_name_scores_below_threshold(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    result = run_cli(capsys, directory, "suggest", SPOUSE_PHONE, "--name", "Petrova Maria")
    assert (result.code, result.out) == (0, "no household scores 30 or more for +79265550101\n")
    assert suggest_json(capsys, directory, SPOUSE_PHONE, "--name", "Ivanchenko Yulia") == []


def test_accept_links_and_writes_an_audit_row(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    result = run_cli(capsys, directory, "suggest", "accept", "8 926 555-01-01", "1")
    assert (result.code, result.out) == (0, f"{SPOUSE_PHONE} linked to household 1\n")
    shown = json.loads(run_cli(capsys, directory, "household", "show", SPOUSE_PHONE, "--json").out)
    assert shown["id"] == 1
    trail = json.loads(run_cli(capsys, directory, "audit", "--household", "1", "--json").out)
    assert [(t["action"], t["subject"], t["reason"], t["actor"]) for t in trail[-1:]] == [
        ("link", SPOUSE_PHONE, "accepted suggestion", "tester")
    ]
    again = run_cli(capsys, directory, "suggest", SPOUSE_PHONE, "--name", "Yulia Ivanova")
    assert again.code == 4
    by_number = run_cli(capsys, directory, "suggest", "accept", "+79265550102", "8 916 123-45-67")
    assert (by_number.code, by_number.out) == (0, "+79265550102 linked to household 1\n")


def test_accept_number_of_another_household_needs_move(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    refused = run_cli(capsys, directory, "suggest", "accept", "+79035550000", "1")
    assert refused.code == 4 and refused.err.count("\n") == 1
    moved = run_cli(capsys, directory, "suggest", "accept", "+79035550000", "1", "--move")
    assert moved.code == 0, moved.err
    shown = json.loads(run_cli(capsys, directory, "household", "show", "1", "--json").out)
    assert "+79035550000" in [n["number"] for n in shown["numbers"]]


def test_households_lists_pairs_that_are_one_family(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    added = run_cli(
        capsys,
        directory,
        "household",
        "add",
        "--member",
        "Ivanova Julia",
        "--number",
        SPOUSE_PHONE,
        "--email",
        "ivanovy@mail.ru",
        "--owner",
        "orlov",
    )
    assert added.code == 0, added.err
    pairs = suggest_json(capsys, directory, "--households")
    assert [p["households"] for p in pairs] == [[1, 4]]
    assert "same email: ivanovy@mail.ru" in pairs[0]["reasons"]
    text = run_cli(capsys, directory, "suggest", "--households")
    assert text.out.splitlines()[1].startswith("1 + 4       100 ")


def test_households_without_pairs_says_so(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    result = run_cli(capsys, directory, "suggest", "--households")
    assert (result.code, result.out) == (0, "no two households score 60 or more\n")


def test_recent_shows_call_households_with_their_best_match(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    with Database(directory).unit_of_work() as s:
        for number, age, name in (
            (SPOUSE_PHONE, timedelta(hours=2), "Юля Иванова"),
            ("+79269990000", timedelta(days=30), "Петренко Олег"),
        ):
            s.add(
                Household(
                    origin="call",
                    created_at=utcnow() - age,
                    members=[Member(full_name=name)],
                    numbers=[PhoneNumber(number=number)],
                )
            )
    found = suggest_json(capsys, directory, "--recent", "--days", "7")
    assert [(r["household"], r["numbers"]) for r in found] == [(4, [SPOUSE_PHONE])]
    assert found[0]["match"]["household"] == 1
    assert "given name: Юля ~ Юлия" in found[0]["match"]["reasons"]
    assert len(suggest_json(capsys, directory, "--recent", "--days", "60")) == 2


def test_index_is_updated_after_a_household_changes(directory: str) -> None:
    database = Database(directory)
    with database.reader() as s:
        index = suggestions.load_index(s)
        before = suggestions.suggest_for_caller(s, index, SPOUSE_PHONE, name="Oleg Petrenko")
        assert "spouse: Petrenko Oleg ~ Петренко Мария" in before[0].reasons
    with database.unit_of_work() as s:
        s.add(Member(household_id=3, position=1, full_name="Петренко Олег"))
    with database.reader() as s:
        suggestions.refresh(s, index, 3)
        found = suggestions.suggest_for_caller(s, index, SPOUSE_PHONE, name="Oleg Petrenko")
    assert [f.household for f in found] == [3]
    assert found[0].score > before[0].score and "given name: Oleg ~ Олег" in found[0].reasons
    with database.unit_of_work() as s:
        suggestions.accept(s, SPOUSE_PHONE, 3, actor="tester", index=index)
    assert SPOUSE_PHONE in index.record(3).numbers
    with database.unit_of_work() as s:
        s.delete(s.get(Household, 3))
    with database.reader() as s:
        suggestions.refresh(s, index, 3)
    assert 3 not in index
    database.dispose()


def test_load_index_reads_every_household(directory: str) -> None:
    database = Database(directory)
    with database.reader() as s:
        index = suggestions.load_index(s)
    database.dispose()
    assert sorted(index.ids()) == [1, 2, 3]
    ivanovs = index.record(1)
    assert ivanovs.owner == "petrova"
    assert ivanovs.members == ("Иванов Сергей Петрович", "Иванова Юлия Андреевна")
    assert ivanovs.numbers == ("+79161234567",)
    assert index.record(3).owner is None


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    for argv in (
        ("suggest",),
        ("suggest", "accept", SPOUSE_PHONE),
        ("suggest", "--households", SPOUSE_PHONE),
        ("suggest", "--recent", "--households"),
    ):
        with pytest.raises(SystemExit) as exited:
            run_cli(capsys, directory, *argv)
        assert exited.value.code == 2


def test_help_describes_every_form(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli(capsys, directory, "suggest", "--help")
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for form in ("suggest NUMBER", "suggest --households", "suggest --recent", "suggest accept"):
        assert form in out


def test_bad_values_are_one_line_errors(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    for argv, code in (
        (("suggest", "accept", "12", "1"), 5),
        (("suggest", "accept", SPOUSE_PHONE, "99"), 3),
        (("suggest", SPOUSE_PHONE, "--min-score", "101"), 5),
        (("suggest", SPOUSE_PHONE, "--limit", "0"), 5),
        (("suggest", "anonymous"), 5),
    ):
        result = run_cli(capsys, directory, *argv)
        assert result.code == code, (argv, result.err)
        assert result.err.startswith("error: ") and result.err.count("\n") == 1


def test_caller_may_name_the_spouse_too(capsys: pytest.CaptureFixture[str], directory: str) -> None:
    found = suggest_json(capsys, directory, SPOUSE_PHONE, "--name", "Юля Иванова", "--name", "Sergey Ivanov")
    assert [f["household"] for f in found] == [1]
    assert "given name: Sergey ~ Сергей" in found[0]["reasons"]


def test_issue_example_spouse_of_the_only_ivanov_family(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    """Issue 20 as a new user tried it: one household «Ивановы», and her name in any spelling."""
    added = run_cli(
        capsys, db_url, "household", "add", "--name", "Ивановы", "--member", "Иванов Сергей Петрович"
    )
    assert added.code == 0, added.err
    for name in ("Иванова Елена", "Лена Иванова", "Elena Ivanova"):
        found = suggest_json(capsys, db_url, "+79990000000", "--name", name)
        assert [f["household"] for f in found] == [1]
        spouse = [r for r in found[0]["reasons"] if r.startswith("spouse: ")]
        assert spouse and spouse[0].endswith(" ~ Иванов Сергей")
    alone = suggest_json(capsys, db_url, "+79990000000", "--name", "Иванов")
    assert [f["household"] for f in alone] == [1]


def test_new_number_calling_the_line_minutes_after_the_family_is_a_signal(
    capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    now = utcnow()
    with Database(directory).unit_of_work() as s:
        for uid, number, household, ago in (
            ("c1", "+79161234567", 1, timedelta(minutes=8)),
            ("c2", "+79035550000", 3, timedelta(minutes=40)),
            ("c3", SPOUSE_PHONE, None, timedelta(minutes=5)),
        ):
            s.add(Decision(call_uid=uid, at=now - ago, number=number, line="msk", household_id=household,
                           route="pool"))  # fmt: skip
    found = suggest_json(capsys, directory, SPOUSE_PHONE, "--min-score", "0")
    assert [f["household"] for f in found] == [1]
    assert found[0]["reasons"] == ["called the same line 3 min after the family's +79161234567"]
