"""The suggestion index on plain values: one test per matching rule of issue 6."""

from __future__ import annotations

from identity.index import SuggestionIndex
from identity.matching import DEFAULT_THRESHOLD
from identity.records import HouseholdRecord, Query, Suggestion

IVANOVS = HouseholdRecord(
    id=1,
    owner="petrova",
    members=("Иванов Сергей Петрович", "Иванова Юлия Андреевна"),
    numbers=("+79161234567",),
    email="Ivanovy@Mail.ru",
    address="г. Москва, ул. Ленина, д. 5, кв. 12",
)
SOKOLOVSKY = HouseholdRecord(id=2, owner="orlov", members=("Соколовский Дмитрий",), numbers=("+74951234500",))
PETRENKO = HouseholdRecord(id=3, owner="orlov", members=("Петренко Мария",), numbers=("+79035550000",))
IVANCHENKO = HouseholdRecord(id=4, owner=None, members=("Иванченко Юлия",), numbers=("+79267770000",))


def index(*records: HouseholdRecord) -> SuggestionIndex:
    return SuggestionIndex.build(records or (IVANOVS, SOKOLOVSKY, PETRENKO, IVANCHENKO))


def best(found: list[Suggestion], household: int) -> Suggestion:
    return next(s for s in found if s.household == household)


def ask(idx: SuggestionIndex, *names: str, min_score: int = 0, **fields: object) -> list[Suggestion]:
    return idx.suggest(Query(names=names, **fields), limit=10, min_score=min_score)  # type: ignore[arg-type]


def test_latin_spelling_matches_cyrillic_surname() -> None:
    found = ask(index(), "Ivanova Yulia", min_score=DEFAULT_THRESHOLD)
    assert [s.household for s in found] == [1]
    assert "surname: Ivanova ~ Иванова" in found[0].reasons
    assert "given name: Yulia ~ Юлия" in found[0].reasons


def test_gendered_surname_forms_one_family() -> None:
    found = ask(index(), "Sokolovskaya Yulia", numbers=("+74951234577",))
    assert best(found, 2).reasons == (
        "surname family: Sokolovskaya ~ Соколовский",
        "spouse: Sokolovskaya Yulia ~ Соколовский Дмитрий",
        "the only family of this surname",
        "same number block: +74951234500",
    )
    with_address = ask(index(), "Ivanova", address="Москва, Ленина 5, кв 12")
    assert "surname family: Ivanova ~ Иванов" in best(with_address, 1).reasons


def test_wife_is_not_her_husband_whatever_the_given_name() -> None:
    """Женя Горбунова is not Евгений Горбунов but Евгения, his wife: the surname's form
    tells them apart, and the given name is read as a woman's."""
    idx = index(
        HouseholdRecord(id=1, owner=None, members=("Горбунов Евгений Сергеевич",)),
        HouseholdRecord(id=2, owner=None, members=("Горбунов Олег",)),
    )
    found = ask(idx, "Горбунова Женя Сергеевна")
    assert best(found, 1).reasons == (
        "surname family: Горбунова ~ Горбунов",
        "spouse: Горбунова Женя ~ Горбунов Евгений",
        "2 families share this surname",
    )
    assert "same given name" not in " ".join(best(found, 1).reasons)


def test_caller_naming_the_spouse_too_tells_namesakes_apart() -> None:
    couple = HouseholdRecord(id=1, owner=None, members=("Смирнов Андрей", "Смирнова Ольга"))
    namesake = HouseholdRecord(id=2, owner=None, members=("Смирнов Андрей", "Смирнова Анна"))
    idx = index(couple, namesake)
    alone = ask(idx, "Андрей Смирнов")
    assert {s.household for s in alone} == {1, 2} and alone[0].score < DEFAULT_THRESHOLD
    both = ask(idx, "Андрей Смирнов", "Оля Смирнова", min_score=DEFAULT_THRESHOLD)
    assert [s.household for s in both] == [1]
    assert "short form: Оля ~ Ольга" in both[0].reasons


def test_short_form_of_given_name() -> None:
    found = ask(index(), "Дима Соколовский", min_score=DEFAULT_THRESHOLD)
    assert [s.household for s in found] == [2]
    assert "short form: Дима ~ Дмитрий" in found[0].reasons


def test_patronymic_is_optional() -> None:
    without = best(ask(index(), "Иванова Юлия"), 1).score
    same = best(ask(index(), "Иванова Юлия Андреевна"), 1).score
    other = best(ask(index(), "Иванова Юлия Олеговна"), 1).score
    assert without >= DEFAULT_THRESHOLD
    assert same > without > other


def test_word_order_does_not_matter() -> None:
    scores = {
        best(ask(index(), name), 1).score
        for name in ("Иванов Сергей Петрович", "Сергей Петрович Иванов", "Sergey Ivanov")
    }
    assert min(scores) >= DEFAULT_THRESHOLD
    assert (
        best(ask(index(), "Сергей Петрович Иванов"), 1).score
        == best(ask(index(), "Иванов Сергей Петрович"), 1).score
    )


def test_number_one_digit_away_is_weak_signal() -> None:
    found = ask(index(), numbers=("+79161234577",))
    assert best(found, 1).reasons == ("number one digit away: +79161234567",)
    assert 0 < best(found, 1).score < DEFAULT_THRESHOLD
    swapped = ask(index(), numbers=("+79161234576",))
    assert best(swapped, 1).reasons == ("number one digit away: +79161234567",)


def test_number_in_same_office_block_is_weak_signal() -> None:
    found = ask(index(), numbers=("+74951234577",))
    assert best(found, 2).reasons == ("same number block: +74951234500",)
    assert best(found, 2).score < DEFAULT_THRESHOLD
    with_name = ask(index(), "Соколовская", numbers=("+74951234577",))
    assert best(with_name, 2).score > best(found, 2).score


def test_unrelated_number_is_no_signal() -> None:
    assert ask(index(), numbers=("+79169999999",)) == []


def test_same_number_is_not_a_suggestion() -> None:
    found = ask(index(), "Иванова Юлия", numbers=("+79161234567",))
    assert all(s.household != 1 for s in found)


def test_same_email_counts() -> None:
    found = ask(index(), "Иванова", email=" ivanovy@mail.RU ")
    assert "same email: ivanovy@mail.ru" in best(found, 1).reasons
    assert best(found, 1).score >= DEFAULT_THRESHOLD


def test_same_address_counts() -> None:
    found = ask(index(), "Ivanova", address="Москва, Ленина 5, кв 12")
    assert "same address" in best(found, 1).reasons
    assert best(found, 1).score >= DEFAULT_THRESHOLD


def test_surname_one_letter_away_is_a_typo_when_nobody_has_it() -> None:
    found = ask(index(), "Sokolovkij Dmitry", min_score=DEFAULT_THRESHOLD)
    assert [s.household for s in found] == [2]
    assert "surname one letter away: Sokolovkij ~ Соколовский" in found[0].reasons


def test_surname_one_letter_away_is_another_family_when_somebody_has_it() -> None:
    ivanov = HouseholdRecord(id=1, owner=None, members=("Иванов Сергей",))
    ivankov = HouseholdRecord(id=2, owner=None, members=("Иванков Олег",))
    found = ask(index(ivanov, ivankov), "Иванков Сергей")
    assert found[0].household == 2
    assert best(found, 1).score < DEFAULT_THRESHOLD


def test_different_family_with_similar_name_scores_below_threshold() -> None:
    """Ivanov is not Ivanchenko, Petrova is not Petrenko, even with the same given name."""
    assert [s.household for s in ask(index(), "Ivanova Yulia", min_score=DEFAULT_THRESHOLD)] == [1]
    assert all(s.household != 4 for s in ask(index(), "Ivanova Yulia"))
    assert ask(index(), "Petrova Maria") == []
    assert [s.household for s in ask(index(), "Ivanchenko Sergey Petrovich")] == [4]


def test_given_name_alone_is_no_family() -> None:
    assert ask(index(), "Юлия") == []


def test_common_name_needs_more_evidence() -> None:
    many = [
        HouseholdRecord(id=10 + i, owner=None, members=("Смирнов Андрей",), numbers=(f"+790311{i}0000",))
        for i in range(5)
    ]
    idx = index(IVANOVS, *many)
    found = ask(idx, "Андрей Смирнов")
    assert found and all(s.score < DEFAULT_THRESHOLD for s in found)
    assert "common name: 5 households" in found[0].reasons
    with_number = ask(idx, "Андрей Смирнов", numbers=("+79031130001",))
    assert with_number[0].household == 13 and with_number[0].score > found[0].score


def test_unique_name_without_anything_else_is_enough() -> None:
    found = ask(index(), "Petrenko Masha", min_score=DEFAULT_THRESHOLD)
    assert [s.household for s in found] == [3]


def test_limit_and_order() -> None:
    idx = index(
        *(
            HouseholdRecord(id=i, owner=None, members=(f"Кузнецов Иван {p}",))
            for i, p in enumerate(("Петрович", "", "Олегович"), start=1)
        )
    )
    found = idx.suggest(Query(names=("Кузнецов Иван Петрович",)), limit=2, min_score=0)
    assert [s.household for s in found] == [1, 2]


def test_index_is_updated_after_a_household_changes() -> None:
    idx = index()
    idx.update(
        HouseholdRecord(
            id=3,
            owner="orlov",
            members=("Петренко Мария", "Петренко Олег"),
            numbers=("+79035550000", "+79035550999"),
        )
    )
    assert best(ask(idx, "Oleg Petrenko"), 3).score >= DEFAULT_THRESHOLD
    assert idx.record(3).numbers == ("+79035550000", "+79035550999")
    idx.remove(3)
    assert 3 not in idx and len(idx) == 3
    assert ask(idx, "Oleg Petrenko") == []
    assert ask(idx, numbers=("+79035550998",)) == []
    idx.add(HouseholdRecord(id=9, owner=None, members=("Петренко Олег",), numbers=("+79035550999",)))
    assert [s.household for s in ask(idx, numbers=("+79035550998",))] == [9]


def test_household_pairs_finds_one_family_in_two_households() -> None:
    spouse = HouseholdRecord(
        id=7, owner="orlov", members=("Ivanova Julia",), numbers=("+79265550101",), email="ivanovy@mail.ru"
    )
    pairs = index(IVANOVS, SOKOLOVSKY, PETRENKO, IVANCHENKO, spouse).household_pairs()
    assert [(p.first, p.second) for p in pairs] == [(1, 7)]
    assert "same email: ivanovy@mail.ru" in pairs[0].reasons


def test_crowded_name_blocks_are_skipped_without_changing_the_answer() -> None:
    """Twenty Андрей Смирнов: the block is skipped at the default threshold, and what it
    shares with the spouse's block is still read."""
    wives = ["Анна", "Мария", "Елена", "Ирина", "Татьяна"] * 4
    wives[7] = "Ольга"
    idx = index(
        *(
            HouseholdRecord(id=i, owner=None, members=("Смирнов Андрей", f"Смирнова {wife}"))
            for i, wife in enumerate(wives, start=1)
        )
    )
    for names in (("Андрей Смирнов",), ("Андрей Смирнов", "Оля Смирнова"), ("Смирнова Анна",)):
        query = Query(names=names)
        pruned = idx.suggest(query, limit=50, min_score=DEFAULT_THRESHOLD)
        everything = idx.suggest(query, limit=50, min_score=0)
        assert pruned == [s for s in everything if s.score >= DEFAULT_THRESHOLD]
    both = idx.suggest(Query(names=("Андрей Смирнов", "Оля Смирнова")), min_score=DEFAULT_THRESHOLD)
    assert [s.household for s in both] == [8]


def test_typo_in_a_given_name_counts_but_another_known_name_does_not() -> None:
    idx = index(HouseholdRecord(id=1, owner=None, members=("Юрушкрук Андрей",)))
    found = ask(idx, "Yurushkruk Andrje", min_score=DEFAULT_THRESHOLD)
    assert found and "given name similar: Andrje ~ Андрей" in found[0].reasons
    other_name = ask(index(PETRENKO), "Петренко Марина", min_score=0)
    assert [s.reasons for s in other_name] == [("same surname: Петренко", "the only family of this surname")]


def test_removing_a_household_keeps_another_holding_the_same_number() -> None:
    first = HouseholdRecord(id=1, owner=None, numbers=("+79161234567",))
    second = HouseholdRecord(id=2, owner=None, numbers=("+79161234567",))
    idx = index(first, second)
    idx.remove(2)
    assert [s.household for s in ask(idx, numbers=("+79161234568",))] == [1]
