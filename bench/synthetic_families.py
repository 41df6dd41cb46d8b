"""A labelled synthetic directory of Russian families, to measure suggestion quality.

What a travel agency's directory looks like, as far as matching is concerned:

- surnames: a few hundred common ones with a Zipf-like weight (Ivanov is
  about 1 % of households at full size) and a long tail of rare ones; a wife
  carries the feminine form (Иванова, Соколовская, Толстая, Шевченко);
- given names with skewed frequencies, patronymics from the father's name;
- households of a couple (both listed, or only one of them) or of one person,
  typed in Cyrillic, sometimes in Latin, mostly with the patronymic;
- a husband's mobile and often a shared home landline linked; sometimes an
  email and an address.

`cases` are the labelled questions: a spouse calling from her unlinked
mobile, a client calling from a second phone (often a work line in the same
PBX block as a linked work number, or a number one digit off a mistyped
one), a spouse the household does not list, and new callers with no family
in the directory (the truth is None). Each query's name is typed the way a
manager types on the phone: any order, short forms, Latin spellings of any
romanization, a typo now and then.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from identity.names import PersonName
from identity.records import HouseholdRecord, Query

SPOUSE, SECOND_PHONE, UNLISTED_SPOUSE, NEW_CALLER = (
    "spouse",
    "second phone",
    "unlisted spouse",
    "new caller",
)

_COMMON_SURNAMES = """Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров
Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев
Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев
Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин
Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов Беляев
Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов Власов
Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов
Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов
Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов
Журавлёв Овчинников Трофимов Леонов Соболев Ермаков Колесников Гончаров Емельянов Никифоров
Грачёв Котов Гришин Ефремов Архипов Громов Кириллов Малышев Панов Моисеев Румянцев Акимов
Кондратьев Бирюков Горбунов Анисимов Ерёмин Тихомиров Галкин Лукьянов Михеев Скворцов Юдин
Белоусов Нестеров Симонов Прокофьев Харитонов Князев Цветков Левин Митрофанов Воронов Аксёнов
Мальцев Логинов Горшков Савин Краснов Майоров Демидов Елисеев Рыбаков Сафонов Плотников Дёмин
Хохлов Носов Зуев Щукин Соколовский Толстой Шевченко Ковальчук Бондаренко Петренко Иванченко
Ткаченко Кравченко Черных Седых Тарасенко Мельник Ким Цой Трубецкой Вяземский Достоевский
Островский Жуковский Ковальский Городецкий""".split()  # noqa: SIM905 (a word list reads as text)
_MEN = """Александр Сергей Дмитрий Андрей Алексей Максим Евгений Иван Михаил Артём Николай
Владимир Павел Роман Игорь Олег Денис Виктор Юрий Константин Илья Никита Антон Вадим Григорий
Борис Пётр Фёдор Леонид Станислав Вячеслав Анатолий Геннадий Валерий Кирилл Егор Тимур Георгий
Василий Семён""".split()  # noqa: SIM905
_WOMEN = """Елена Ольга Наталья Татьяна Ирина Мария Анна Екатерина Светлана Юлия Анастасия
Марина Людмила Галина Ксения Дарья Виктория Елизавета Полина Софья Надежда Любовь Валентина
Кристина Вера Евгения Александра Тамара Маргарита Антонина Зинаида Валерия Алина Оксана Жанна
Лариса Инна""".split()  # noqa: SIM905
# Everyday forms as managers hear them; a few are deliberately not in identity's data.
_SHORT = {
    "Александр": ("Саша", "Шура", "Шурик"), "Сергей": ("Серёжа",), "Дмитрий": ("Дима",),
    "Алексей": ("Лёша",), "Евгений": ("Женя",), "Иван": ("Ваня",), "Михаил": ("Миша",),
    "Николай": ("Коля",), "Владимир": ("Вова", "Володя"), "Павел": ("Паша",),
    "Константин": ("Костя",), "Пётр": ("Петя",), "Елена": ("Лена",), "Ольга": ("Оля",),
    "Наталья": ("Наташа",), "Татьяна": ("Таня", "Танюша"), "Ирина": ("Ира",),
    "Мария": ("Маша", "Машуля"), "Анна": ("Аня",), "Екатерина": ("Катя",),
    "Светлана": ("Света",), "Юлия": ("Юля",), "Анастасия": ("Настя",), "Ксения": ("Ксюша",),
    "Дарья": ("Даша",), "Виктория": ("Вика",), "Елизавета": ("Лиза",), "Евгения": ("Женя",),
    "Александра": ("Саша",), "Людмила": ("Люда",), "Галина": ("Галя",), "Надежда": ("Надя",),
}  # fmt: skip
_SYLLABLES = """бар бел бор вас вер вол гал гор дан дер доб жар зол кал кар кит кор крас
лав лес лип мал мар мед мир мол нав нес пал пар пес пол рад рож рус сав сал сев сол сох там
тар тих топ фал фед хар хол цар чер шар шел шир шум щег юр яр""".split()  # noqa: SIM905
_MIDDLES = ("", "ан", "ен", "ин", "ат", "уш", "ик", "ол", "ар", "ыш", "ед", "ох")
_ENDINGS = ("ов", "ов", "ев", "ин", "ский", "енко", "ук", "ых")
_LATIN = {
    "а": ("a",), "б": ("b",), "в": ("v",), "г": ("g",), "д": ("d",), "е": ("e",),
    "ё": ("e", "yo"), "ж": ("zh",), "з": ("z",), "и": ("i",), "й": ("y", "i", "j"),
    "к": ("k",), "л": ("l",), "м": ("m",), "н": ("n",), "о": ("o",), "п": ("p",), "р": ("r",),
    "с": ("s",), "т": ("t",), "у": ("u",), "ф": ("f",), "х": ("kh", "h"), "ц": ("ts", "tz"),
    "ч": ("ch",), "ш": ("sh",), "щ": ("shch", "sch"), "ъ": ("",), "ы": ("y",), "ь": ("", "'"),
    "э": ("e",), "ю": ("yu", "iu", "ju"), "я": ("ya", "ia", "ja"),
}  # fmt: skip
_ENGLISH = {"Александр": "Alexander", "Юлия": "Julia", "Мария": "Maria", "Наталья": "Natalia",
            "Екатерина": "Catherine", "Пётр": "Peter", "Михаил": "Michael"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Case:
    kind: str
    query: Query
    truth: int | None
    # Who is really calling, with the patronymic only when the caller said it, and
    # whether the query carries more than the caller's name (email, address, partner).
    said: PersonName = field(default_factory=PersonName)
    more: bool = False


@dataclass(frozen=True, slots=True)
class _Person:
    surname: str
    given: str
    patronymic: str
    mobile: str


@dataclass
class SyntheticDirectory:
    """`records()` yields the households once; `cases` fill up while it runs."""

    size: int
    seed: int = 6
    case_every: int = 200
    cases: list[Case] = field(default_factory=list)

    def records(self) -> Iterator[HouseholdRecord]:
        rng = random.Random(self.seed)
        tail = [_tail_surname(rng) for _ in range(max(1000, self.size // 4))]
        picks = _Pickers(rng, tail)
        serial = iter(range(10**7))
        for household_id in range(1, self.size + 1):
            couple = rng.random() < 0.65
            him = picks.person(male=True, serial=next(serial))
            her = picks.person(male=False, serial=next(serial), surname=him.surname)
            listed = [him, her] if couple else [rng.choice((him, her))]
            if couple and rng.random() < 0.12:
                listed = [him]
            rng.shuffle(listed)
            numbers = [listed[0].mobile]
            home = picks.number(landline=True, serial=next(serial))
            if couple and rng.random() < 0.5:
                numbers.append(home)
            work = picks.number(landline=True, serial=next(serial))
            if rng.random() < 0.2:
                numbers.append(work)
            email = f"{_slug(him.surname)}{household_id}@mail.ru" if rng.random() < 0.35 else ""
            address = picks.address(household_id) if rng.random() < 0.3 else ""
            yield HouseholdRecord(
                id=household_id,
                owner=f"agent{rng.randrange(200)}",
                members=tuple(picks.typed(p, for_record=True)[0] for p in listed),
                numbers=tuple(numbers),
                email=email,
                address=address,
            )
            if household_id % self.case_every == 0:
                self.cases.append(self._case(picks, household_id, couple, listed, him, her,
                                             numbers, work, email, address))  # fmt: skip

    def _case(
        self,
        picks: _Pickers,
        household_id: int,
        couple: bool,
        listed: list[_Person],
        him: _Person,
        her: _Person,
        numbers: list[str],
        work: str,
        email: str,
        address: str,
    ) -> Case:
        rng = picks.rng
        kind = rng.choice((SPOUSE, SECOND_PHONE, SECOND_PHONE, NEW_CALLER))
        if kind == SPOUSE and couple:
            caller = her if listed[0] is him else him
            if caller not in listed:
                kind = UNLISTED_SPOUSE
            number = caller.mobile
        elif kind in (SPOUSE, SECOND_PHONE):
            kind, caller = SECOND_PHONE, rng.choice(listed)
            number = picks.second_number(numbers, work)
        else:
            stranger = picks.person(male=rng.random() < 0.5, serial=household_id + 10**6)
            name, _ = picks.typed(stranger)
            said = PersonName(stranger.surname, stranger.given)
            return Case(NEW_CALLER, Query((stranger.mobile,), (name,)), None, said)
        name, with_patronymic = picks.typed(caller)
        names = [name]
        if kind == SPOUSE and rng.random() < 0.4:
            names.append(picks.typed(listed[0])[0])  # "I am Sergey Ivanov's wife"
        query = Query(
            numbers=(number,),
            names=tuple(names),
            email=email if email and rng.random() < 0.3 else "",
            address=address if address and rng.random() < 0.2 else "",
        )
        said = PersonName(caller.surname, caller.given, caller.patronymic if with_patronymic else "")
        more = len(names) > 1 or bool(query.email or query.address)
        return Case(kind, query, household_id, said, more)


class _Pickers:
    def __init__(self, rng: random.Random, tail: list[str]) -> None:
        self.rng = rng
        self.tail = tail
        self.surname_weights = [1 / (k + 1) ** 0.6 for k in range(len(_COMMON_SURNAMES))]
        self.men_weights = [1 / (k + 1) ** 0.8 for k in range(len(_MEN))]
        self.women_weights = [1 / (k + 1) ** 0.8 for k in range(len(_WOMEN))]

    def person(self, *, male: bool, serial: int, surname: str = "") -> _Person:
        rng = self.rng
        if not surname:
            if rng.random() < 0.3:
                surname = rng.choices(_COMMON_SURNAMES, self.surname_weights)[0]
            else:
                surname = rng.choice(self.tail)
        names, weights = (_MEN, self.men_weights) if male else (_WOMEN, self.women_weights)
        father = rng.choices(_MEN, self.men_weights)[0]
        return _Person(
            surname=surname if male else _feminine(surname),
            given=rng.choices(names, weights)[0],
            patronymic=_patronymic(father, male),
            mobile=self.number(landline=False, serial=serial),
        )

    def number(self, *, landline: bool, serial: int) -> str:
        """A unique number: the serial scrambled into the subscriber part."""
        subscriber = (serial * 2_654_435_761) % 10**7
        prefix = self.rng.choice(("495", "499", "812")) if landline else f"9{serial % 90 + 10:02d}"
        return f"+7{prefix}{subscriber:07d}"

    def second_number(self, numbers: list[str], work: str) -> str:
        """A number the client calls from that no household holds yet."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return work[:-2] + f"{(int(work[-2:]) + rng.randrange(1, 99)) % 100:02d}"
        if roll < 0.35:
            typo = numbers[0]
            at = rng.randrange(5, len(typo))
            return typo[:at] + str((int(typo[at]) + rng.randrange(1, 10)) % 10) + typo[at + 1 :]
        return self.number(landline=False, serial=rng.randrange(10**7, 2 * 10**7))

    def address(self, household_id: int) -> str:
        street = self.rng.choice(self.tail)
        return f"г. Москва, ул. {street}, д. {household_id % 97 + 1}, кв. {household_id % 311 + 1}"

    def typed(self, person: _Person, *, for_record: bool = False) -> tuple[str, bool]:
        """A person's name as a manager types it, and whether it has the patronymic."""
        rng = self.rng
        given = person.given
        if not for_record and given in _SHORT and rng.random() < 0.3:
            given = rng.choice(_SHORT[given])
        parts = [person.surname, given]
        with_patronymic = rng.random() < (0.8 if for_record else 0.5)
        if with_patronymic:
            parts.append(person.patronymic)
        latin = rng.random() < (0.1 if for_record else 0.35)
        if latin:
            parts = [_ENGLISH.get(p, _romanize(p, rng)) if p == given else _romanize(p, rng)
                     for p in parts]  # fmt: skip
        if not for_record and rng.random() < 0.08:
            at = rng.randrange(2)
            parts[at] = _typo(parts[at], rng)
        if not for_record and rng.random() < 0.5:
            parts = [parts[1], *parts[2:], parts[0]]
        return " ".join(parts), with_patronymic


def _feminine(surname: str) -> str:
    for male, female in (("ский", "ская"), ("цкий", "цкая"), ("ой", "ая"), ("ов", "ова"),
                         ("ёв", "ёва"), ("ев", "ева"), ("ин", "ина"), ("ын", "ына")):  # fmt: skip
        if surname.endswith(male):
            return surname[: -len(male)] + female
    return surname


def _patronymic(father: str, male: bool) -> str:
    base = {"Пётр": "Петр", "Павел": "Павл", "Лев": "Льв"}.get(father, father)
    if father == "Илья":
        return "Ильич" if male else "Ильинична"
    if father == "Никита":
        return "Никитич" if male else "Никитична"
    if father.endswith("ий"):
        return father[:-2] + ("ьевич" if male else "ьевна")
    if father.endswith("й"):
        return father[:-1] + ("евич" if male else "евна")
    if father.endswith("ь"):
        return father[:-1] + ("евич" if male else "евна")
    return base + ("ович" if male else "овна")


def _romanize(word: str, rng: random.Random) -> str:
    scheme = rng.randrange(3)
    out = []
    for i, char in enumerate(word.lower()):
        if char == "й" and i == len(word) - 1 and word.lower().endswith("ий"):
            out[-1] = rng.choice(("y", "iy", "ij", "ii"))
            continue
        if char == "е" and i == 0 and rng.random() < 0.3:
            out.append("ye")
            continue
        variants = _LATIN.get(char, (char,))
        out.append(variants[min(scheme, len(variants) - 1)])
    return "".join(out).capitalize()


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    at = rng.randrange(2, len(word) - 1)
    op = rng.randrange(3)
    if op == 0:
        return word[:at] + word[at + 1 :]
    if op == 1:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    letters = "aeioklmnrst" if word.isascii() else "аеиоуклмнрст"
    return word[:at] + rng.choice(letters) + word[at + 1 :]


def _tail_surname(rng: random.Random) -> str:
    root = rng.choice(_SYLLABLES) + rng.choice(_MIDDLES) + rng.choice(_SYLLABLES)[:2]
    return (root + rng.choice(_ENDINGS)).capitalize()


def _slug(surname: str) -> str:
    return _romanize(surname, random.Random(0)).lower().replace("'", "")
