"""The demo agency: two offices, twelve managers, a directory of families.

Names are Russian families as a Moscow or St Petersburg travel agency sees
them: gendered surnames shared by spouses, each spouse with their own phone.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

OFFICES = {"msk": ("Москва", "+74951234567"), "spb": ("Санкт-Петербург", "+78121234567")}
AGENTS = [
    ("smirnova", "Анна Смирнова", "msk"),
    ("kuznetsov", "Олег Кузнецов", "msk"),
    ("popova", "Ирина Попова", "msk"),
    ("vasiliev", "Денис Васильев", "msk"),
    ("novikova", "Елена Новикова", "msk"),
    ("fedorov", "Павел Фёдоров", "msk"),
    ("morozova", "Ольга Морозова", "spb"),
    ("volkov", "Игорь Волков", "spb"),
    ("alekseeva", "Мария Алексеева", "spb"),
    ("lebedev", "Артём Лебедев", "spb"),
    ("semenova", "Юлия Семёнова", "spb"),
    ("egorov", "Никита Егоров", "spb"),
]
# A manager the supervisor paused today: never rung, owner or not.
PAUSED = "fedorov"
SURNAMES = [
    ("Иванов", "Иванова"),
    ("Петров", "Петрова"),
    ("Соколов", "Соколова"),
    ("Михайлов", "Михайлова"),
    ("Новиков", "Новикова"),
    ("Козлов", "Козлова"),
    ("Орлов", "Орлова"),
    ("Зайцев", "Зайцева"),
    ("Павлов", "Павлова"),
    ("Белов", "Белова"),
    ("Комаров", "Комарова"),
    ("Ильин", "Ильина"),
    ("Гусев", "Гусева"),
    ("Титов", "Титова"),
    ("Кудрявцев", "Кудрявцева"),
    ("Баранов", "Баранова"),
    ("Куликов", "Куликова"),
    ("Алексеев", "Алексеева"),
    ("Степанов", "Степанова"),
    ("Яковлев", "Яковлева"),
    ("Сорокин", "Сорокина"),
    ("Сергеев", "Сергеева"),
    ("Романов", "Романова"),
    ("Захаров", "Захарова"),
    ("Борисов", "Борисова"),
    ("Королёв", "Королёва"),
    ("Герасимов", "Герасимова"),
    ("Пономарёв", "Пономарёва"),
    ("Толстой", "Толстая"),
    ("Соколовский", "Соколовская"),
]
MEN = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Иван", "Михаил", "Николай", "Егор"]
WOMEN = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Юлия", "Екатерина", "Светлана", "Ирина"]


@dataclass(frozen=True)
class Family:
    id: int
    name: str
    owner: str
    mobile: str
    spouse: str | None


def families(count: int, rng: random.Random) -> list[Family]:
    """`count` households; about a third have the spouse's phone linked too."""
    owners = [login for login, _, _ in AGENTS]
    numbers = rng.sample(range(1_000_000, 10_000_000), count * 2)
    found = []
    for i in range(count):
        man, woman = rng.choice(SURNAMES)
        spouse = f"+7916{numbers[count + i]}" if rng.random() < 0.35 else None
        found.append(
            Family(
                id=i + 1,
                name=f"{man}ы" if man.endswith(("ов", "ев", "ёв", "ин")) else f"{man} и {woman}",
                owner=rng.choice(owners),
                mobile=f"+7903{numbers[i]}",
                spouse=spouse,
            )
        )
    return found


def write_households_csv(path: Path, found: list[Family], rng: random.Random) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "owner", "members", "numbers"])
        for family in found:
            man, woman = next(pair for pair in SURNAMES if family.name.startswith(pair[0]))
            members = [f"{man} {rng.choice(MEN)}", f"{woman} {rng.choice(WOMEN)}"]
            numbers = [f"{family.mobile}=mobile"] + ([f"{family.spouse}=spouse"] if family.spouse else [])
            writer.writerow([family.id, family.name, family.owner, ";".join(members), ";".join(numbers)])
