"""Name folding rules: one test per rule of the issue, on plain strings."""

from __future__ import annotations

import pytest

from identity.names import (
    PersonName,
    family_stem,
    family_stems,
    father_root,
    fold,
    given_gender,
    given_names,
    is_father,
    is_short_form,
    parse_name,
    parse_shapes,
    patronymic_stem,
    short_form_pairs,
    surname_gender,
    word,
)


@pytest.mark.parametrize(
    ("spellings"),
    [
        ("Иванова", "Ivanova"),
        ("Юлия", "Yulia", "Iuliia", "Julia", "Yuliya"),
        ("Алексей", "Alexey", "Aleksei", "Aleksey", "Alexei"),
        ("Щукин", "Shchukin", "Schukin"),
        ("Михаил", "Mikhail", "Mihail"),
        ("Цветков", "Tsvetkov", "Tzvetkov"),
        ("Жуков", "Zhukov"),
        ("Фёдор", "Федор", "Fyodor", "Fedor"),
        ("Дмитрий", "Dmitry", "Dmitriy", "Dmitrij", "Dmitrii"),
        ("Наталья", "Наталия", "Natalya", "Natalia"),
        ("Соловьёв", "Solovyov", "Soloviev", "Solovyev"),
        ("Яковлев", "Yakovlev", "Iakovlev", "Jakovlev"),
        ("Ксения", "Ksenia", "Xenia", "Kseniya"),
        ("Ильин", "Ilyin", "Il'in"),
        ("Анна", "Anna", "Ana"),
        ("Елена", "Yelena", "Elena"),
    ],
)
def test_latin_spelling_matches_cyrillic_surname(spellings: tuple[str, ...]) -> None:
    assert len({fold(s) for s in spellings}) == 1, [fold(s) for s in spellings]


def test_fold_keeps_different_names_apart() -> None:
    assert fold("Иванов") != fold("Иванченко")
    assert fold("Мария") != fold("Марина")
    assert fold("Александр") != fold("Александра")


@pytest.mark.parametrize(
    ("man", "woman"),
    [
        ("Ivanov", "Ivanova"),
        ("Sokolovsky", "Sokolovskaya"),
        ("Соколовский", "Sokolovskaia"),
        ("Ilyin", "Ilyina"),
        ("Tolstoy", "Tolstaya"),
        ("Толстой", "Толстая"),
        ("Воробьёв", "Vorobyova"),
        ("Королёв", "Королева"),
        ("Пушкин", "Пушкина"),
        ("Достоевский", "Dostoevskaya"),
        ("Вяземский", "Вяземская"),
        ("Трубецкой", "Трубецкая"),
        ("Шевченко", "Shevchenko"),
    ],
)
def test_gendered_surname_forms_one_family(man: str, woman: str) -> None:
    assert family_stem(fold(man)) == family_stem(fold(woman))


def test_different_surnames_are_different_families() -> None:
    assert family_stem(fold("Ivanov")) != family_stem(fold("Ivanchenko"))
    assert family_stem(fold("Petrova")) != family_stem(fold("Petrenko"))


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("Маша", "Мария"),
        ("Masha", "Maria"),
        ("Саша", "Александр"),
        ("Sasha", "Alexandra"),
        ("Дима", "Dmitry"),
        ("Lena", "Елена"),
        ("Seryozha", "Сергей"),
        ("Natasha", "Natalia"),
        ("Женя", "Евгения"),
        ("Ксюша", "Xenia"),
    ],
)
def test_short_form_of_given_name(short: str, full: str) -> None:
    assert given_names(fold(short)) & given_names(fold(full))
    assert is_short_form(fold(short))
    assert not is_short_form(fold(full))


def test_short_forms_are_data_with_at_least_forty_pairs() -> None:
    assert short_form_pairs() >= 40


def test_unknown_spelling_of_a_full_name_is_recognised() -> None:
    assert given_names(fold("Alexandr")) == given_names(fold("Александр"))


def test_unknown_given_name_stands_for_itself() -> None:
    assert given_names(fold("Эдельвейс")) == frozenset({fold("Эдельвейс")})


@pytest.mark.parametrize(
    ("son", "daughter"),
    [("Петрович", "Петровна"), ("Sergeevich", "Sergeevna"), ("Ильич", "Ильинична")],
)
def test_patronymics_of_one_father_share_a_stem(son: str, daughter: str) -> None:
    assert patronymic_stem(fold(son)) == patronymic_stem(fold(daughter)) is not None


def test_patronymic_is_optional() -> None:
    assert parse_name("Иванова Мария Петровна") == PersonName("Иванова", "Мария", "Петровна")
    assert parse_name("Иванова Мария") == PersonName("Иванова", "Мария", "")


def test_word_order_does_not_matter() -> None:
    expected = PersonName("Ivanov", "Sergey", "Petrovich")
    assert parse_name("Ivanov Sergey Petrovich") == expected
    assert parse_name("Sergey Petrovich Ivanov") == expected
    assert parse_name("Sergey Ivanov Petrovich") == expected
    assert parse_name("Masha Ivanova") == PersonName("Ivanova", "Masha")
    assert parse_name("Ivanova Masha") == PersonName("Ivanova", "Masha")


def test_one_word_is_a_surname_unless_it_is_a_given_name() -> None:
    assert parse_name("Ivanova") == PersonName(surname="Ivanova")
    assert parse_name("Юля") == PersonName(given="Юля")
    assert parse_name("  ") == PersonName()


def test_given_name_with_patronymic_and_no_surname() -> None:
    assert parse_name("Сергей Петрович") == PersonName(given="Сергей", patronymic="Петрович")


@pytest.mark.parametrize(
    "text",
    ["Иванова Мария Петровна", "Masha Ivanova", "Ivanov", "Сергей Петрович", "Юля",
     "Sergey Petrovich Ivanov", "Roman Abramovich", "Иванов - Сергей", "Денис Максим"],
)  # fmt: skip
def test_parsing_by_word_shapes_agrees_with_parsing_words(text: str) -> None:
    words = [word(w) for w in text.split()]
    parts = parse_shapes(tuple(w.shape for w in words))
    by_shape = PersonName(*(words[i].text if i >= 0 else "" for i in parts))
    assert by_shape == parse_name(text)


@pytest.mark.parametrize(
    ("surname", "sex"),
    [("Иванова", "f"), ("Ivanov", "m"), ("Толстая", "f"), ("Толстой", "m"), ("Ильина", "f"),
     ("Ilyin", "m"), ("Соколовская", "f"), ("Sokolovsky", "m"), ("Шевченко", ""), ("Черных", ""),
     ("Седых", ""), ("Петросян", ""), ("Ким", "")],
)  # fmt: skip
def test_surname_form_tells_a_wife_from_her_husband_but_not_indeclinables(surname: str, sex: str) -> None:
    assert surname_gender(fold(surname)) == sex


def test_given_name_tells_the_sex_when_every_full_name_agrees() -> None:
    assert given_gender(given_names(fold("Лена"))) == "f"
    assert given_gender(given_names(fold("Илья"))) == "m"
    assert given_gender(given_names(fold("Любовь"))) == "f"
    assert given_gender(given_names(fold("Саша"))) == ""


@pytest.mark.parametrize(
    ("surname", "stems"),
    [("Римская-Корсакова", ("rimsk-korsakov", "rimsk", "korsakov")),
     ("Rimsky-Korsakov", ("rimsk-korsakov", "rimsk", "korsakov")),
     ("Иванова-Петрова", ("ivanov-petrov", "ivanov", "petrov")),
     ("Иванова", ("ivanov",))],
)  # fmt: skip
def test_double_barrelled_surname_is_filed_whole_and_by_each_part(
    surname: str, stems: tuple[str, ...]
) -> None:
    assert family_stems(surname) == stems


@pytest.mark.parametrize(
    ("patronymic", "father", "not_father"),
    [("Сергеевна", "Сергей", "Семён"), ("Pavlovich", "Павел", "Пётр"), ("Львович", "Лев", "Леонид"),
     ("Ильинична", "Илья", "Игорь"), ("Алексеевна", "Алексей", "Александр"),
     ("Дмитриевич", "Dmitry", "Денис")],
)  # fmt: skip
def test_patronymic_names_the_fathers_given_name(patronymic: str, father: str, not_father: str) -> None:
    root = father_root(fold(patronymic))
    assert root is not None
    assert is_father(root, min(given_names(fold(father))))
    assert not is_father(root, min(given_names(fold(not_father))))
