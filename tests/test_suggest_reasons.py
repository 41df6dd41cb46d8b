"""Every reason a suggestion gives (identity/reasons.py), each from the evidence it names."""

from __future__ import annotations

import re

import pytest

from identity import reasons
from identity.index import SuggestionIndex
from identity.matching import DEFAULT_THRESHOLD, SHOW_THRESHOLD
from identity.records import HouseholdRecord, Query, Suggestion

IVANOVS = HouseholdRecord(
    id=1,
    owner="petrova",
    members=("Иванов Сергей Петрович",),
    numbers=("+79161234567",),
    email="ivanovy@mail.ru",
    address="г. Москва, ул. Ленина, д. 5, кв. 12",
)
TOLSTOYS = HouseholdRecord(id=2, owner=None, members=("Толстой Лев Николаевич",), numbers=("+79150040004",))
KORSAKOVS = HouseholdRecord(
    id=3, owner=None, members=("Римский-Корсаков Николай",), numbers=("+79857770007",)
)
SMIRNOVS = [
    HouseholdRecord(id=10 + i, owner=None, members=("Смирнов Андрей",), numbers=(f"+7920808{i}017",))
    for i in range(3)
]
SOKOLOVSKYS = HouseholdRecord(id=5, owner=None, members=("Соколовский Дмитрий",), numbers=("+74951234500",))
RARE = HouseholdRecord(id=6, owner=None, members=("Юрушкрук Андрей",))


def suggest(*names: str, records: tuple[HouseholdRecord, ...] = (), **fields: object) -> list[Suggestion]:
    index = SuggestionIndex.build(records or (IVANOVS, TOLSTOYS, KORSAKOVS, SOKOLOVSKYS, RARE, *SMIRNOVS))
    return index.suggest(Query(names=names, **fields), limit=10, min_score=0)  # type: ignore[arg-type]


def reasons_of(found: list[Suggestion], household: int) -> tuple[str, ...]:
    return next(s.reasons for s in found if s.household == household)


# One question per reason: (names, fields, household, the reason expected).
CASES = [
    (reasons.SAME_SURNAME, ("Толстой",), {}, 2, "same surname: Толстой"),
    (reasons.SURNAME, ("Tolstoy",), {}, 2, "surname: Tolstoy ~ Толстой"),
    (reasons.SURNAME_FAMILY, ("Толстая",), {}, 2, "surname family: Толстая ~ Толстой"),
    (reasons.DOUBLE_SURNAME, ("Корсакова",), {}, 3, "double surname: Корсакова ~ Римский-Корсаков"),
    (reasons.SURNAME_TYPO, ("Sokolovkij Dima",), {}, 5, "surname one letter away: Sokolovkij ~ Соколовский"),
    (reasons.ONLY_FAMILY, ("Толстой",), {}, 2, "the only family of this surname"),
    (reasons.SHARED_SURNAME, ("Смирнова",), {}, 10, "3 families share this surname"),
    (reasons.SPOUSE, ("Иванова Елена",), {}, 1, "spouse: Иванова Елена ~ Иванов Сергей"),
    (reasons.CHILD, ("Иванова Мария Сергеевна",), {}, 1, "patronymic from a member: Сергеевна ~ Сергей"),
    (reasons.SAME_GIVEN, ("Иванов Сергей",), {}, 1, "same given name: Сергей"),
    (reasons.SHORT_FORM, ("Серёжа Иванов",), {}, 1, "short form: Серёжа ~ Сергей"),
    (reasons.GIVEN, ("Sergey Ivanov",), {}, 1, "given name: Sergey ~ Сергей"),
    (reasons.GIVEN_SIMILAR, ("Yurushkruk Andrje",), {}, 6, "given name similar: Andrje ~ Андрей"),
    (reasons.SAME_PATRONYMIC, ("Иванов Сергей Петрович",), {}, 1, "same patronymic: Петрович ~ Петрович"),
    (reasons.DIFFERENT_PATRONYMIC, ("Иванов Сергей Олегович",), {}, 1,
     "different patronymic: Олегович ≠ Петрович"),
    (reasons.COMMON_NAME, ("Андрей Смирнов",), {}, 10, "common name: 3 households"),
    (reasons.SAME_EMAIL, (), {"email": "IVANOVY@mail.ru"}, 1, "same email: ivanovy@mail.ru"),
    (reasons.SAME_ADDRESS, ("Ivanova",), {"address": "Москва, Ленина 5, кв 12"}, 1, "same address"),
    (reasons.NUMBER_ONE_DIGIT, (), {"numbers": ("+79161234577",)}, 1, "number one digit away: +79161234567"),
    (reasons.NUMBER_BLOCK, (), {"numbers": ("+74951234577",)}, 5, "same number block: +74951234500"),
    (reasons.CALLED_AFTER, (), {"called_after": ((1, 3, "+79161234567"),)}, 1,
     "called the same line 3 min after the family's +79161234567"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "names", "fields", "household", "expected"), CASES)
def test_each_reason_names_its_evidence(
    template: str, names: tuple[str, ...], fields: dict[str, object], household: int, expected: str
) -> None:
    assert reasons.reason(template, **_params(template, expected)) == expected
    assert expected in reasons_of(suggest(*names, **fields), household)


def test_every_reason_of_the_module_is_tested() -> None:
    templates = {v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)}
    assert templates == {case[0] for case in CASES}


def test_issue_example_spouse_of_the_only_ivanov_family() -> None:
    """Issue 20: one household «Ивановы» and «Иванова Елена» (or «Лена Иванова», «Elena
    Ivanova») calling: that family, as the spouse, above the likely threshold."""
    for name in ("Иванова Елена", "Лена Иванова", "Elena Ivanova"):
        found = suggest(name, records=(IVANOVS,))
        assert [s.household for s in found] == [1]
        assert found[0].score >= DEFAULT_THRESHOLD
        assert any(r.startswith("spouse: ") for r in found[0].reasons)
        assert "the only family of this surname" in found[0].reasons


def test_unique_surname_alone_is_a_strong_candidate() -> None:
    found = suggest("Толстой")
    assert [s.household for s in found] == [2]
    assert found[0].score >= DEFAULT_THRESHOLD


def test_shared_surname_alone_is_shown_weak_with_the_count() -> None:
    found = suggest("Смирнова Ольга")
    assert {s.household for s in found} == {10, 11, 12}
    assert all(SHOW_THRESHOLD <= s.score < DEFAULT_THRESHOLD for s in found)
    assert all("3 families share this surname" in s.reasons for s in found)


def test_shared_surname_is_ranked_by_the_other_signals() -> None:
    found = suggest("Смирнова Ольга", numbers=("+79208081018",))
    assert found[0].household == 11
    assert found[0].score > found[1].score


def test_rarer_surname_scores_higher() -> None:
    rare = suggest("Толстая Софья")[0]
    shared = suggest("Смирнова Ольга")[0]
    assert rare.score > shared.score


def test_child_patronymic_finds_the_father_among_namesake_families() -> None:
    others = tuple(
        HouseholdRecord(id=20 + i, owner=None, members=(f"Иванов {given}",))
        for i, given in enumerate(("Андрей", "Дмитрий"))
    )
    found = suggest("Иванова Мария Сергеевна", records=(IVANOVS, *others))
    assert found[0].household == 1
    assert found[0].score > found[1].score


def test_indeclinable_surname_tells_spouses_by_given_name() -> None:
    shevchenko = HouseholdRecord(id=1, owner=None, members=("Шевченко Сергей",))
    found = suggest("Шевченко Оксана", records=(shevchenko,))
    assert "spouse: Шевченко Оксана ~ Шевченко Сергей" in found[0].reasons


def test_look_alike_families_are_not_one_family() -> None:
    look_alikes = (
        HouseholdRecord(id=1, owner=None, members=("Толстой Лев",)),
        HouseholdRecord(id=2, owner=None, members=("Толстых Игорь",)),
        HouseholdRecord(id=3, owner=None, members=("Ильин Павел",)),
        HouseholdRecord(id=4, owner=None, members=("Ильинский Роман",)),
    )
    assert [s.household for s in suggest("Толстая Софья", records=look_alikes)] == [1]
    assert [s.household for s in suggest("Ильина Наталья", records=look_alikes)] == [3]


def _params(template: str, expected: str) -> dict[str, str]:
    """The details that fill `template` into `expected`: the index used the module's template."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(template))
    found = re.fullmatch(pattern, expected)
    assert found is not None, (template, expected)
    return found.groupdict()


def test_shared_full_name_still_outranks_a_spouse_of_a_common_surname() -> None:
    """Three Андрей Смирнов and a family listing only the wife: the caller named himself,
    and a namesake is likelier than the husband of a Смирнова who never gave his name."""
    namesakes = [HouseholdRecord(id=i, owner=None, members=("Смирнов Андрей",)) for i in range(1, 4)]
    wife_only = HouseholdRecord(id=30, owner=None, members=("Смирнова Ольга",))
    found = suggest("Андрей Смирнов", records=(wife_only, *namesakes))
    assert found[0].household != 30
    assert found[0].score > next(s.score for s in found if s.household == 30)
    assert "common name: 3 households" in found[0].reasons


def test_another_known_family_one_letter_away_gains_nothing_from_the_given_name() -> None:
    """Пётр Фёдоров, of a surname fifteen families share: a Федотов Пётр is another family's
    Пётр, not a typo of the caller's surname, and ranks below the Фёдоровы."""
    fedorovs = [HouseholdRecord(id=i, owner=None, members=("Фёдоров Пётр",)) for i in range(1, 16)]
    fedotov = HouseholdRecord(id=30, owner=None, members=("Федотов Пётр",))
    found = suggest("Пётр Фёдоров", records=(fedotov, *fedorovs))
    assert found[0].household != 30
    assert all(
        s.reasons == ("surname one letter away: Фёдоров ~ Федотов",) for s in found if s.household == 30
    )
