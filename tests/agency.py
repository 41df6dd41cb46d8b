"""A small agency for end-to-end tests: two offices, five agents, two households."""

from __future__ import annotations

from router.directory import household_reads, households, offices
from router.storage.db import Database

MSK_LINE = "+74951234567"
SPB_LINE = "+78121234567"
IVANOV_MOBILE = "+79161234567"
IVANOV_SPOUSE = "+79167654321"
PETROV_MOBILE = "+79035550101"
DIAL = {
    "ivanova": "PJSIP/101",
    "orlov": "PJSIP/102",
    "kim": "PJSIP/103",
    "sidorov": "PJSIP/201",
    "belova": "PJSIP/202",
}


def seed(db: Database) -> dict[str, int]:
    """Create the agency; returns household ids by family name."""
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", name="Moscow", lines=[MSK_LINE], region="RU")
        offices.add_office(s, "spb", name="St Petersburg", lines=[SPB_LINE], region="RU")
        for login, dial in DIAL.items():
            offices.add_agent(s, login, office="msk" if dial.startswith("PJSIP/1") else "spb", dial=dial)
        ivanov = households.add_household(
            s,
            name="Ивановы",
            members=["Иванов Иван", "Иванова Мария"],
            owner="ivanova",
            actor="test",
            numbers=[
                household_reads.NumberSpec(IVANOV_MOBILE),
                household_reads.NumberSpec(IVANOV_SPOUSE, "spouse"),
            ],
        )
        petrov = households.add_household(
            s,
            name="Петровы",
            owner="sidorov",
            actor="test",
            numbers=[household_reads.NumberSpec(PETROV_MOBILE)],
        )
    return {"ivanov": ivanov.id, "petrov": petrov.id}
