"""The demo agency: two offices, twelve managers, a directory of families.

Names are Russian families as a Moscow or St Petersburg travel agency sees
them: gendered surnames shared by spouses, each spouse with their own phone.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agi.fake.fakeday import DayCall

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
# The agency's working day, in its own time zone.
ZONE = ZoneInfo("Europe/Moscow")
OPENS, CLOSES = time(9, 0), time(19, 0)
# The managers log in a quarter of an hour before the first call.
LOGIN_BEFORE = timedelta(minutes=15)
# How the calls spread over the day's hours: a slow start, a dip at lunch, a busy afternoon.
HOURLY = (0.6, 1.0, 1.2, 1.1, 0.7, 1.0, 1.1, 1.1, 0.8, 0.5)
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


def write_households_csv(path: Path, found: list[Family], rng: random.Random, day: date) -> None:
    """The directory as the agency had it that morning: each family a client for up to three years."""
    opened = opening(day)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "owner", "members", "numbers", "created_at"])
        for family in found:
            man, woman = next(pair for pair in SURNAMES if family.name.startswith(pair[0]))
            members = [f"{man} {rng.choice(MEN)}", f"{woman} {rng.choice(WOMEN)}"]
            numbers = [f"{family.mobile}=mobile"] + ([f"{family.spouse}=spouse"] if family.spouse else [])
            created = opened - timedelta(days=rng.randrange(1, 3 * 365), minutes=rng.randrange(600))
            writer.writerow(
                [
                    family.id,
                    family.name,
                    family.owner,
                    ";".join(members),
                    ";".join(numbers),
                    created.isoformat(timespec="seconds"),
                ]
            )


def opening(day: date) -> datetime:
    """When the agency opens on `day`, in its time zone."""
    return datetime.combine(day, OPENS, ZONE)


def arrivals(count: int, rng: random.Random) -> list[float]:
    """`count` moments of the working day (seconds after opening), in order, shaped by HOURLY."""
    hour = 3600.0
    return sorted(
        rng.choices(range(len(HOURLY)), weights=HOURLY)[0] * hour + rng.random() * hour for _ in range(count)
    )


def day_of_calls(count: int, found: list[Family], rng: random.Random) -> list[DayCall]:
    """The day's callers: families from either phone, new callers (some twice), withheld numbers."""
    new_callers = [f"+7925{n}" for n in rng.sample(range(1_000_000, 10_000_000), max(count // 4, 1))]
    lines = [line for _, line in OFFICES.values()]
    calls = []
    for at in arrivals(count, rng):
        roll = rng.random()
        line = rng.choice(lines)
        if roll < 0.55:
            family = rng.choice(found)
            caller = family.spouse if family.spouse and rng.random() < 0.4 else family.mobile
        elif roll < 0.95:
            caller = rng.choice(new_callers)  # some new callers call twice or more
        else:
            caller = "anonymous"
        calls.append(DayCall(at, caller, dnid=line))
    return calls
